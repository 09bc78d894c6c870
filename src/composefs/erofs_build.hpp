#pragma once
// Internal to the EROFS writer: the flat, rewritten copy of the tree (FORMAT-NOTES §3) that the
// layout pass (§5-§9) annotates and the serialisation pass turns into bytes.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "composefs/erofs_writer.hpp"
#include "composefs/tree.hpp"

namespace imgctl::composefs::erofs {

inline constexpr uint32_t kBlockSize = 4096;
inline constexpr uint32_t kSlot = 32;
inline constexpr uint64_t kInodeStart = 1152;  // 1024 + superblock
inline constexpr uint32_t kMaxSharedRefs = 128;
inline constexpr uint32_t kMaxChunks = 1024;

enum DataLayout : uint8_t { kFlatPlain = 0, kFlatInline = 2, kChunkBased = 4 };

struct Dirent {
    std::string_view name;          // points into the source tree or static storage
    uint32_t target = 0;            // node index (resolved after BFS)
    const Inode* alias = nullptr;   // hardlink alias: resolved to the owner's index later
};

struct Node {
    const Inode* src = nullptr;  // nullptr for the whiteout stubs
    uint32_t mode = 0, nlink = 1, uid = 0, gid = 0;
    uint64_t rdev = 0;
    int64_t mtime_sec = 0;
    uint32_t mtime_nsec = 0;
    uint64_t size = 0;         // i_size
    std::string_view data;     // inline content or symlink target (points into src)
    bool external = false;     // chunk-based regular file
    std::vector<Xattr> xattrs; // rewritten, sorted by name after the BFS
    std::vector<Dirent> dirents;  // directories: sorted, including "." and ".."

    // Layout (filled by layout()).
    bool compact = false;
    uint8_t datalayout = kFlatPlain;
    uint8_t n_shared = 0;        // shared refs (the first xattrs that are shared, by name)
    uint32_t xattr_size = 0;     // X
    uint32_t tail = 0;           // T
    uint32_t n_blocks = 0;
    uint32_t chunkbits = 0;
    uint32_t chunk_count = 0;
    bool huge_chunk_quirk = false;
    uint64_t pos = 0;            // byte offset of the inode; nid = pos / 32
    uint32_t blkaddr = 0;
    std::vector<uint32_t> shared_ids;      // in xattr name order
    std::vector<bool> is_ref;              // per xattr: written as a shared ref (empty: none)
    std::vector<uint32_t> dir_block_ends;  // dirent index where each block (and the tail) ends
};

struct SharedXattr {
    const Xattr* x;      // a representative
    uint32_t offset;     // inside the table
};

struct Build {
    std::vector<Node> nodes;  // BFS order; index 0 is the root
    uint32_t version = 0;
    bool has_acl = false;
    int64_t build_time = 0;
    uint32_t build_time_nsec = 0;
    std::vector<SharedXattr> shared;  // table order
    std::vector<Xattr> shared_entries;  // storage of the table's entries
    uint32_t shared_size = 0;
    uint64_t inodes_end = 0;
    uint64_t data_start = 0;
    uint64_t total_size = 0;
};

/// "00".."ff": the names of the whiteout stubs of §8.
const std::array<std::string, 256>& stub_names();
/// The rewrite pass and BFS (§3): validates and flattens the tree.
Result<Build> rewrite(const Tree& tree, const ErofsOptions& options);
/// Xattr sharing, inode placement and data block addresses (§5-§9).
void layout(Build& b);
/// Serialises a laid-out build, handing the image bytes to `sink` in file order.
Result<void> serialize(const Build& b, const ImageSink& sink);

/// Xattr name prefix index and suffix (§7.1).
struct XattrPrefix {
    uint8_t index;
    std::string_view suffix;
};
XattrPrefix split_xattr_name(std::string_view name);
inline uint32_t xattr_entry_size(const Xattr& x) {
    return (4 + static_cast<uint32_t>(split_xattr_name(x.name).suffix.size() + x.value.size()) + 3) & ~3u;
}
/// Dirents split into blocks (§6): `ends[k]` is the index after the last entry of chunk k;
/// the last chunk is the inline tail when `tail` > 0, otherwise every chunk is a full block.
struct DirSplit {
    std::vector<uint32_t> ends;
    uint32_t n_blocks = 0;
    uint32_t tail = 0;
};
/// `name_len(i)` is the length of the i-th of `n` sorted entry names.
template <typename F>
DirSplit split_dirents(size_t n, F name_len) {
    DirSplit s;
    uint32_t used = 0;
    for (size_t i = 0; i < n; ++i) {
        uint32_t cost = 12 + static_cast<uint32_t>(name_len(i));
        if (used + cost > kBlockSize) {
            s.ends.push_back(static_cast<uint32_t>(i));
            used = 0;
        }
        used += cost;
    }
    s.ends.push_back(static_cast<uint32_t>(n));
    s.n_blocks = static_cast<uint32_t>(s.ends.size() - 1);
    if (used <= kBlockSize / 2) {
        s.tail = used;  // the last, partial block is stored inline
    } else {
        s.n_blocks += 1;
    }
    return s;
}

}  // namespace imgctl::composefs::erofs
