#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "composefs/tree.hpp"
#include "crypto/digest.hpp"

namespace imgctl::composefs {

/// The header facts of a composefs image (FORMAT-NOTES §1).
struct ImageInfo {
    /// The image format version (0 or 1). `compose --min-version=V --max-version=V` on the
    /// image's tree reproduces the image bytes.
    uint32_t format_version = 0;
    bool has_acl = false;  ///< header flag HAS_ACL: mount the EROFS without `noacl`
};

/// An image read back into a tree.
struct ImageContents {
    Tree tree;
    ImageInfo info;
};

/// Reads and checks only the 32-byte composefs header and the EROFS superblock.
/// Errors (EINVAL) name `name` ("image 'x': bad EROFS superblock magic").
Result<ImageInfo> read_image_info(std::span<const std::byte> image, std::string_view name);

/// Reads a composefs EROFS image into a Tree, inverting the writer exactly (FORMAT-NOTES §14
/// "Output of composefs-info dump"): composefs-internal xattrs are dropped, metacopy/redirect
/// become the fs-verity digest and payload, `trusted.overlay.overlay.X` becomes
/// `trusted.overlay.X`, converted whiteouts become chardevs 0:0 again and the 0:0 stubs are
/// skipped. Hardlinks share one InodePtr; its primary_path() names the name the inode was placed
/// at, so writing the tree again gives the same bytes. Directories keep their EROFS i_size.
/// Safe on hostile bytes: every offset, count and size is bounds-checked, directory cycles,
/// directory hardlinks and nesting deeper than kMaxDepth are refused with an Error (EINVAL,
/// or EFBIG when decoded data would far exceed the image size) naming the image and the nid.
Result<ImageContents> read_image(std::span<const std::byte> image, std::string_view name);

/// Maps the file `path` (relative to `dir_fd`) and reads it with read_image().
Result<ImageContents> read_image_at(int dir_fd, const std::string& path);

/// Deepest directory nesting read_image() accepts (PATH_MAX allows at most 2048 levels).
inline constexpr unsigned kMaxDepth = 2048;

/// One name of an external (object-backed) regular file of an image.
struct ExternalFile {
    std::string payload;                     ///< redirect target without the leading '/' ("ab/cd…")
    std::optional<crypto::Digest> fsverity;  ///< from the metacopy xattr, if present
    std::string path;                        ///< absolute path in the image
};

/// Lists every name of every external regular file, in directory-walk order, without building
/// a tree or decoding inline content: the store's gc/fsck use it to know which objects an
/// image references. Same safety guarantees as read_image().
Result<std::vector<ExternalFile>> list_external_files(std::span<const std::byte> image, std::string_view name);

}  // namespace imgctl::composefs
