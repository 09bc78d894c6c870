#pragma once
// gc and fsck of a store. Both need to know which objects an image uses; the store cannot read
// EROFS itself (composefs sits above it), so the caller passes that knowledge in as a callback:
// composefs/store_glue.hpp provides the real one.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "crypto/digest.hpp"
#include "store/store.hpp"

namespace imgctl::store {

/// One regular file of an image whose content is an object: the object's digest and the file's
/// absolute path inside the image ("/usr/bin/sh").
struct ObjectUse {
    crypto::Digest object;
    std::string path;
};

/// Lists the objects an image references, given a read-only fd of a verified image.
using ImageObjectsFn = std::function<Result<std::vector<ObjectUse>>(int image_fd)>;

struct GcOptions {
    bool dry_run = false;
};

/// What gc removed (or would remove with dry_run). Paths are relative to the store root.
struct GcReport {
    std::vector<std::string> removed;
    uint64_t bytes = 0;  ///< apparent size (st_size) of the removed files
    size_t images = 0, objects = 0, blobs = 0, tmp_entries = 0;
    size_t kept_images = 0, kept_objects = 0;
};

/// refs → images (+ metadata → blobs) → objects; removes every other image, object and blob, then
/// everything in tmp/. Requires the exclusive lock. Refuses (EBADMSG) to remove anything when
/// a referenced image cannot be read, since its objects would then look unreachable.
Result<GcReport> collect_garbage(Store& store, const ImageObjectsFn& image_objects, const GcOptions& opts);

struct FsckOptions {
    bool repair = false;  ///< move damaged objects/images/blobs into tmp/quarantine/ (exclusive lock)
};

/// One thing wrong: the path (relative to the store root), what is wrong, and for a damaged or
/// missing object the image files that use it ("images/<hex>:/usr/bin/sh").
struct FsckProblem {
    std::string path;
    std::string message;
    std::vector<std::string> used_by;
};

struct FsckReport {
    std::vector<FsckProblem> problems;
    std::vector<std::string> quarantined;  ///< "objects/ab/cd… -> tmp/quarantine/objects/abcd…"
    size_t objects = 0, images = 0, refs = 0, blobs = 0;
    uint64_t object_bytes = 0;
    bool is_clean() const { return problems.empty(); }
};

/// Checks everything (docs/store-format.md "Reachability, gc and fsck"); the report lists every
/// problem. Returns an error only when the check itself cannot run.
Result<FsckReport> check_store(Store& store, const ImageObjectsFn& image_objects, const FsckOptions& opts);

/// Every "sha256:<64 hex>" in an image's metadata: the blobs gc keeps for it.
std::vector<crypto::Digest> blobs_named_in(std::string_view meta_json);

}  // namespace imgctl::store
