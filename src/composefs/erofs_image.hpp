#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace imgctl::composefs::erofs {

/// Low-level, bounds-checked view of a composefs EROFS image (FORMAT-NOTES §1, §2, §5-§7).
/// Every offset, count and size read from the image is checked against the image size before
/// use, so hostile bytes give an Error, never an out-of-bounds access. Errors name the nid
/// ("inode at nid N: ..."); callers add the image name.

constexpr uint32_t kComposefsMagic = 0xd078629a;
constexpr uint32_t kComposefsHeaderVersion = 1;
constexpr uint32_t kComposefsFlagHasAcl = 1;
constexpr uint32_t kErofsMagic = 0xE0F5E1E2;
constexpr uint64_t kSuperblockOffset = 1024;
constexpr uint64_t kBlockSize = 4096;
constexpr uint32_t kFeatureIncompatChunkedFile = 0x4;

/// EROFS i_format data layouts (erofs_fs.h).
enum class Layout : uint8_t { FlatPlain = 0, CompressedFull = 1, FlatInline = 2, CompressedCompact = 3, ChunkBased = 4 };

/// The decoded header and superblock fields a reader needs.
struct Superblock {
    uint32_t composefs_flags = 0;
    uint32_t format_version = 0;  ///< composefs image format version (header offset 12)
    uint64_t root_nid = 0;
    uint64_t inos = 0;
    int64_t build_time = 0;
    uint32_t build_time_nsec = 0;
    uint32_t blocks = 0;
    uint32_t meta_blkaddr = 0;
    uint32_t xattr_blkaddr = 0;
    uint32_t feature_incompat = 0;
};

/// One decoded on-disk inode (compact inodes get the superblock's build time as mtime).
struct RawInode {
    uint64_t nid = 0;
    uint64_t offset = 0;       ///< byte offset of the inode header in the image
    uint32_t header_size = 0;  ///< 32 (compact) or 64 (extended)
    uint32_t xattr_size = 0;   ///< size of the inline xattr area following the header
    Layout layout = Layout::FlatPlain;
    uint32_t mode = 0;
    uint32_t nlink = 0;
    uint32_t uid = 0;
    uint32_t gid = 0;
    uint64_t size = 0;
    uint32_t i_u = 0;  ///< raw block address / rdev / chunk format
    uint32_t i_ino = 0;  ///< the writer's breadth-first index of the inode
    int64_t mtime_sec = 0;
    uint32_t mtime_nsec = 0;
};

struct RawXattr {
    std::string name;  ///< full name, prefix restored
    std::string value;
};

struct RawDirent {
    uint64_t nid = 0;
    uint8_t file_type = 0;
    std::string_view name;  ///< points into the image
};

/// A parsed image. Holds a span only: the caller keeps the bytes alive.
class ErofsImage {
public:
    /// Checks the composefs header and the EROFS superblock.
    static Result<ErofsImage> open(std::span<const std::byte> data);

    const Superblock& superblock() const { return sb_; }
    uint64_t image_size() const { return data_.size(); }

    /// Decodes the inode at `nid` (type checked against the known file types).
    Result<RawInode> inode(uint64_t nid) const;
    /// All xattrs of `ino`, shared and inline, in on-disk order. Duplicate names are refused.
    Result<std::vector<RawXattr>> xattrs(const RawInode& ino) const;
    /// The bytes of a flat (plain or inline) file or symlink: size bytes.
    Result<std::string> flat_data(const RawInode& ino) const;
    /// The directory entries of `ino`, including "." and "..", in on-disk order.
    Result<std::vector<RawDirent>> dirents(const RawInode& ino) const;

    /// Charges `bytes` of decoded output (xattrs, content, dirents) against a budget that is a
    /// multiple of the image size, so overlapping hostile structures cannot explode memory/time.
    Result<void> charge(uint64_t bytes) const;

private:
    explicit ErofsImage(std::span<const std::byte> data) : data_(data) {}
    /// True (and `out` set) if [off, off+len) lies inside the image.
    bool slice(uint64_t off, uint64_t len, std::span<const std::byte>& out) const;
    Result<void> read_xattr_entry(uint64_t off, uint64_t end, RawXattr& out, uint64_t& next) const;
    Result<void> parse_dirent_block(std::span<const std::byte> blk, std::vector<RawDirent>& out) const;

    std::span<const std::byte> data_;
    Superblock sb_;
    mutable uint64_t budget_ = 0;
};

}  // namespace imgctl::composefs::erofs
