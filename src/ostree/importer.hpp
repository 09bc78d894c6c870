#pragma once

#include <string>

#include "base/result.hpp"
#include "crypto/digest.hpp"
#include "ostree/commit_reader.hpp"
#include "ostree/ostree_source.hpp"
#include "ostree/repo.hpp"

namespace imgctl::store {
class Store;
}

namespace imgctl::ostree {

/// Options of import_commit (defaults: verify GPG for URLs, /usr/etc → /etc).
struct ImportOptions {
    PullOptions pull;
    ReadOptions read;
    /// Where URLs are pulled to; empty means "<store>/ostree-cache" (an archive-mode repo kept
    /// between pulls so an upgrade downloads only new objects).
    std::string cache_dir;
};

/// What one import produced.
struct ImportResult {
    crypto::Digest image;   ///< the composefs image in the store
    std::string store_ref;  ///< "ostree/<location>/<ref>", set to `image`
    CommitInfo commit;
    ReadStats stats;
};

/// Imports the commit `src` names into `store` (opened with LockMode::Exclusive): pulls it
/// first when it is a URL, stores every file of more than 64 bytes as an object, writes the
/// composefs image, its metadata (images/<hex>.json, "ostree" key: docs/ostree.md) and the ref.
/// A local path is made absolute (realpath) for the ref and the metadata. The ref is written last: a failure at any step leaves no image or ref behind (objects already
/// stored are only garbage that `gc` removes). Errors name the source and the step.
Result<ImportResult> import_commit(store::Store& store, const OstreeSource& src, const ImportOptions& opts = {});

}  // namespace imgctl::ostree
