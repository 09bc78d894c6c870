#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "composefs/tree.hpp"
#include "crypto/digest.hpp"

namespace imgctl::composefs {

/// The composefs image format versions (FORMAT-NOTES §12). The writer's output for a given
/// tree and options is part of the on-disk contract: it is byte-identical with mkcomposefs
/// (composefs 1.0.x) and must never change silently.
inline constexpr uint32_t kFormatVersionMax = 1;

/// Options of the EROFS writer (mkcomposefs's --min-version/--max-version).
struct ErofsOptions {
    uint32_t min_version = 0;
    uint32_t max_version = 1;  ///< bumps to 1 only when the tree has whiteouts (chardev 0:0)
};

/// A composefs image: the whole file and its fs-verity digest (the image's identity).
struct Image {
    std::string bytes;
    crypto::Digest fsverity;
    uint32_t version = 0;  ///< the format version actually written (header offset 12)
};

/// What a streaming write reports: the image's identity and size.
struct WrittenImage {
    crypto::Digest fsverity;
    uint32_t version = 0;  ///< the format version actually written (header offset 12)
    uint64_t size = 0;     ///< bytes handed to the sink
};

/// Receives the image bytes in file order, in chunks of up to a few hundred KiB. An error
/// stops the write (no further calls) and is returned by write_erofs.
using ImageSink = std::function<Result<void>(std::string_view chunk)>;

/// Writes `tree` as a composefs EROFS image, byte-identical with mkcomposefs for the same
/// tree and options (FORMAT-NOTES §1-§12). The tree is not modified; the composefs rewrite
/// (overlay xattr escaping, metacopy/redirect xattrs, whiteout conversion, '.'/'..', the
/// 256 whiteout stubs) happens on the writer's own copy.
///
/// What it expects from the tree: regular files carry `size`, and either `content()` (inline,
/// size bytes, <= 5000) or optionally `payload()`/`fsverity()` (external, in the object store);
/// symlinks carry `symlink_target()` (1..4095 bytes); devices `rdev`; directory `nlink` and
/// `size` are recomputed, file nlink is kept. Hardlinks are entries sharing one InodePtr
/// (see Inode::primary_path() for which name owns it); directory hardlinks are refused.
///
/// Errors: EINVAL for an unknown file type, bad names, symlink targets or xattrs; EMLINK for a
/// directory reachable twice; EFBIG for a file needing more than 1024 chunks (> 8 PiB);
/// EINVAL for bad version options. Thread-safe for distinct trees; runs on the calling thread.
Result<Image> write_erofs(const Tree& tree, const ErofsOptions& options = {});

/// The same bytes as write_erofs, streamed to `sink` without holding the image in memory;
/// the fs-verity digest is computed on the way. Errors as write_erofs, plus the sink's.
Result<WrittenImage> write_erofs(const Tree& tree, const ImageSink& sink, const ErofsOptions& options = {});

/// The EROFS i_size of directory `dir` in the image the writer produces: its dirents
/// (children, '.', '..', and for the root the whiteout stubs of §8 not shadowed by a child)
/// packed as in §6. This is the SIZE composefs-info prints for directories.
uint64_t erofs_dir_size(const Inode& dir, bool is_root);

}  // namespace imgctl::composefs
