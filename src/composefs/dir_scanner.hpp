#pragma once

#include <string>

#include "base/result.hpp"
#include "composefs/content_sink.hpp"
#include "composefs/tree.hpp"

namespace imgctl::store {
class DigestCache;
}

namespace imgctl::composefs {

/// Which xattrs a directory scan keeps (mkcomposefs: default, --user-xattrs, --skip-xattrs).
enum class XattrMode { All, User, None };

struct ScanOptions {
    XattrMode xattrs = XattrMode::All;
    bool use_epoch = false;       ///< every mtime (sec and nsec) becomes 0
    bool skip_devices = false;    ///< leave out block and character devices (whiteouts too)
    /// Keep hardlinks (by st_dev/st_ino): the names share one InodePtr and nlink counts the
    /// names inside the tree. Off by default, as mkcomposefs (every name its own inode,
    /// nlink 1); importers turn it on.
    bool keep_hardlinks = false;
    unsigned threads = 0;         ///< digest threads; 0 = CPUs in the affinity mask
    /// Digests of unchanged files from an earlier import (may be null): a hit is not read; every
    /// external file (hashed or hit) is recorded in it. The sink is not called for a hit (the
    /// cache only hits when the store holds the object).
    store::DigestCache* digest_cache = nullptr;
};

/// Turns the directory `path` into a Tree exactly as mkcomposefs's directory mode does
/// (FORMAT-NOTES §13): lstat of every entry (mode, uid, gid, rdev, size, mtime), symlink
/// targets, xattrs (symlinks included), the directory itself as the root. Regular files of
/// 1..64 bytes get inline `content`; larger ones get `fsverity` (computed on a thread pool)
/// and `payload` "XX/<62 hex>", and their content is handed to `sink` (may be null) from the
/// worker threads. Errors name the path: unreadable entries, xattrs over the limits of §13,
/// files that change size while being read.
Result<Tree> scan_directory(const std::string& path, const ScanOptions& options, ContentSink* sink = nullptr);

}  // namespace imgctl::composefs
