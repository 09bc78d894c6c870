#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "composefs/tree.hpp"

namespace imgctl::composefs {

/// Limits of the composefs format as mkcomposefs enforces them (FORMAT-NOTES §13, §16).
inline constexpr size_t kMaxNameLen = 255;
inline constexpr size_t kMaxSymlinkLen = 4095;   ///< PATH_MAX - 1
inline constexpr size_t kMaxPayloadLen = 4095;
inline constexpr size_t kMaxInlineContent = 5000;  ///< LCFS_INLINE_CONTENT_MAX (dump files only)
inline constexpr size_t kRecommendedInline = 64;   ///< directory scans inline files up to this size
inline constexpr size_t kMaxXattrNameLen = 255;
inline constexpr size_t kMaxXattrValueLen = 65535;
inline constexpr size_t kMaxXattrBudget = 32767;   ///< per inode: sum(7 + name + value) + 12
inline constexpr size_t kMaxDumpXattrBytes = 65535;  ///< xattr part of one dump line

/// The EROFS dirent file_type of an inode's mode (FORMAT-NOTES §6); 0 for an unknown type.
inline uint8_t dirent_file_type(uint32_t mode) {
    switch (mode & S_IFMT) {
        case S_IFREG: return 1;
        case S_IFDIR: return 2;
        case S_IFCHR: return 3;
        case S_IFBLK: return 4;
        case S_IFIFO: return 5;
        case S_IFSOCK: return 6;
        case S_IFLNK: return 7;
        default: return 0;
    }
}

/// The per-inode xattr budget of §13: sum(7 + namelen + valuelen) + 12.
inline size_t xattr_budget(std::span<const Xattr> xattrs) {
    size_t total = 12;
    for (const auto& x : xattrs) total += 7 + x.name.size() + x.value.size();
    return total;
}

}  // namespace imgctl::composefs
