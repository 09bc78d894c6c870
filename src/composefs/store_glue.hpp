#pragma once
// The seam between the store and composefs: the store never reads EROFS (it sits below
// composefs), so what it needs to know about images comes from here.
//   - image_objects(): "which objects does this image use" for store gc and fsck;
//   - store_tree_image(): tree → EROFS image → images/ (+ metadata) → ref (import, oci, ostree).

#include <string>
#include <string_view>

#include "base/result.hpp"
#include "composefs/content_sink.hpp"
#include "composefs/erofs_writer.hpp"
#include "composefs/tree.hpp"
#include "crypto/digest.hpp"
#include "store/maintenance.hpp"
#include "store/store.hpp"

namespace imgctl::composefs {

/// The store::ImageObjectsFn backed by the EROFS reader: every external regular file of the
/// image, named by its metacopy fs-verity digest (or, without one, by its "XX/<62 hex>" redirect).
/// An external file whose redirect is not a store object path is an error (EINVAL).
store::ImageObjectsFn image_objects();

/// Reads `image_fd` (a verified image) and lists its objects; the body of image_objects().
Result<std::vector<store::ObjectUse>> list_image_objects(int image_fd);

/// A ContentSink that puts file contents into the store as objects (thread-safe, like the
/// store's insertion). finish() commits the store's pending batch.
class StoreSink : public ContentSink {
public:
    explicit StoreSink(store::Store& store) : store_(store) {}
    Result<void> store(int fd, uint64_t size, const crypto::Digest& digest) override;
    Result<void> finish() override;

private:
    store::Store& store_;
};

/// Writes `tree` (whose external files are already objects of `store`) as a composefs image,
/// stores it with `meta_json` (a JSON object, may be empty) and points `ref` at it (unless
/// empty). Commits a pending object batch before the image lands, so an image in images/
/// always has its objects. Returns the image digest.
Result<crypto::Digest> store_tree_image(store::Store& store, const Tree& tree, const ErofsOptions& erofs,
                                        std::string_view ref, std::string_view meta_json);

struct ImportOptions {
    std::string ref;             ///< required: the ref that keeps the image alive
    bool keep_hardlinks = true;  ///< DESIGN §4: imports keep hardlinks (compose --keep-hardlinks)
    unsigned threads = 0;        ///< digest threads; 0 = every CPU
    /// Use and rewrite the store's digest cache (docs/store-format.md): files unchanged since
    /// the last import (same device, inode, size, mtime, ctime) are not read again.
    bool use_cache = true;
};

/// `imgctl import`: scans `dir` as mkcomposefs's directory mode does (default options: all
/// xattrs, real mtimes, devices kept), stores every external file as an object (batched, one
/// syncfs), writes the image and sets the ref. The digest equals `imgctl compose
/// [--keep-hardlinks] DIR` for the same tree.
Result<crypto::Digest> import_directory(store::Store& store, const std::string& dir, const ImportOptions& opts);

}  // namespace imgctl::composefs
