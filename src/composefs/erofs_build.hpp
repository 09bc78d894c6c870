#pragma once
// Internal to the EROFS writer: the flat, rewritten copy of the tree (FORMAT-NOTES §3) that the
// layout pass (§5-§9) annotates and the serialisation pass turns into bytes.

#include <array>
#include <memory>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
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

// One node of the image, in breadth-first order: 24 bytes. It holds no copy of the tree's
// data: names, xattrs, inline data, directory entries and the inode's shape (Shape) are
// derived from `src` in each pass that needs them.
struct Node {
    const Inode* src = nullptr;  // nullptr for the whiteout stubs (their metadata is the root's)
    uint32_t slot = 0;           // byte offset of the inode / 32, i.e. the nid
    uint32_t blkaddr = 0;        // first data block, when the inode has data blocks
    uint32_t parent = 0;         // node index of the parent directory (the root's is 0)
    uint8_t flags = 0;           // kWhiteout | kHasWhiteouts | kTailMoved

    static constexpr uint8_t kWhiteout = 1;      // a chardev 0:0 converted to a regular file (§3.2d)
    static constexpr uint8_t kHasWhiteouts = 2;  // a directory with a converted whiteout among its entries
    static constexpr uint8_t kTailMoved = 4;     // placement moved the inline tail into a data block (§5.3)
    bool is(uint8_t f) const { return flags & f; }
    uint64_t pos() const { return uint64_t{slot} * 32; }
};

// The on-disk shape of a node, derived from its source inode and flags (shape_of).
struct Shape {
    uint64_t size = 0;        // i_size
    uint32_t mode = 0;        // after the whiteout conversion
    uint32_t nlink = 1;       // directories: recomputed (§3.5)
    uint32_t xattr_size = 0;  // X (0 until xattr_shape)
    uint32_t n_blocks = 0;
    uint32_t tail = 0;        // T
    uint8_t chunkbits = 0;
    uint8_t n_shared = 0;     // shared refs (the first xattrs that are shared, by name)
    uint8_t datalayout = kFlatPlain;
    bool external = false;    // chunk-based regular file
    bool compact = false;
    bool huge_chunk_quirk = false;

    uint32_t chunk_count() const {
        return static_cast<uint32_t>((size >> chunkbits) + ((size & ((uint64_t{1} << chunkbits) - 1)) != 0));
    }
    uint64_t header_size() const { return (compact ? 32 : 64) + uint64_t{xattr_size}; }
};

// Where a hardlinked inode is owned: its parent directory and the name inside it.
struct Owner {
    const Inode* parent;
    std::string_view name;
};

/// An xattr by reference (into a SharedXattrs table or an Xattr).
struct XattrRef {
    std::string_view name;
    std::string_view value;
    friend bool operator==(const XattrRef& a, const Xattr& b) { return a.name == b.name && a.value == b.value; }
};

/// The shared xattr table (§7.3): each pair once, packed as [u16 name size][u32 value size]
/// [name][value] in chunks of 4 KiB doubling up to 256 KiB (a larger pair gets its own):
/// 14 bytes more than the pair itself (a std::vector<Xattr> costs ~100 more).
class SharedXattrs {
public:
    size_t size() const { return at_.size(); }
    bool empty() const { return at_.empty(); }
    XattrRef operator[](size_t i) const;
    /// Appends a pair; returns its index.
    uint32_t add(std::string_view name, std::string_view value);
    /// Keeps the entries `order` names, in that order (the chunks stay).
    void select(const std::vector<uint32_t>& order);
    void clear();

private:
    static constexpr size_t kChunk = 256 * 1024;
    std::vector<std::unique_ptr<char[]>> chunks_;
    size_t used_ = 0, cap_ = 0;   // of the last chunk
    std::vector<uint64_t> at_;  // chunk << 32 | offset
};

struct Build {
    std::vector<Node> nodes;  // BFS order; index 0 is the root
    uint32_t version = 0;
    bool has_acl = false;
    int64_t build_time = 0;
    uint32_t build_time_nsec = 0;
    // Inodes with several names: the owning name, and the node placed for them.
    std::unordered_map<const Inode*, Owner> owners;
    std::unordered_map<const Inode*, uint32_t> index_of_shared;
    // The shared xattr table (§7.3) in table order, each entry's offset, and (pair_hash,
    // entry) sorted for lookups.
    SharedXattrs shared;
    std::vector<uint32_t> shared_offsets;
    std::vector<std::pair<uint64_t, uint32_t>> shared_index;
    uint32_t shared_size = 0;
    uint64_t inodes_end = 0;
    uint64_t data_start = 0;
    uint64_t total_size = 0;
};

/// The rewritten, name-sorted xattrs of node `k` (§3.2, §3.3), in `out` (reused).
void node_xattrs(const Build& b, uint32_t k, std::vector<Xattr>& out);
/// log2 of the chunk size of an external file of `size` bytes (12..43).
uint32_t chunkbits_for(uint64_t size);
/// Whether node `n` is an external (chunk-based) regular file (§3.2c).
bool is_external(const Node& n);
/// The offset of `x` in the shared xattr table, or -1 when it is not shared.
int64_t shared_offset_of(const Build& b, const Xattr& x);
/// A 64-bit hash of an xattr's name and value.
uint64_t pair_hash(std::string_view name, std::string_view value);
inline uint64_t pair_hash(const Xattr& x) { return pair_hash(x.name, x.value); }
/// The inline content or symlink target of a node.
std::string_view node_data(const Node& n);

/// One directory entry in image order; `child` is nullptr for ".", ".." and the stubs.
struct Entry {
    std::string_view name;
    const InodePtr* child;
};
/// The entries of directory `src` in image order (§4): children, "." and "..", and for the
/// root the whiteout stubs not shadowed by a child. Does not validate names.
void dir_entries(const Inode& src, bool is_root, std::vector<Entry>& out);
/// Node indices of the entries of directory node `k`, in dir_entries order. `next` is the
/// index of the directory's first placed entry (the nodes of one directory's entries are
/// consecutive, and directories hand them out in node order); returns the next directory's.
uint32_t dir_targets(const Build& b, uint32_t k, uint32_t next, const std::vector<Entry>& ents, std::vector<uint32_t>& out);

/// Everything of a node's shape except the xattr area; for directories `ents` gets the
/// entries. Needs the build time (rewrite) and the node's flags (layout).
Shape shape_of(const Build& b, uint32_t k, std::vector<Entry>& ents);
/// Adds the xattr area (§7.2) to `sh` (needs the shared table); `xs` gets the xattrs.
void xattr_shape(const Build& b, uint32_t k, Shape& sh, std::vector<Xattr>& xs);

/// "00".."ff": the names of the whiteout stubs of §8.
const std::array<std::string, 256>& stub_names();
/// The rewrite pass and BFS (§3): validates and flattens the tree.
Result<Build> rewrite(const Tree& tree, const ErofsOptions& options);
/// Xattr sharing, inode placement and data block addresses (§5-§9). EFBIG when the inode
/// area exceeds 128 GiB (nids beyond 32 bits).
Result<void> layout(Build& b);
/// Serialises a laid-out build, handing the image bytes to `sink` in file order.
Result<void> serialize(const Build& b, const ImageSink& sink);

/// Xattr name prefix index and suffix (§7.1).
struct XattrPrefix {
    uint8_t index;
    std::string_view suffix;
};
XattrPrefix split_xattr_name(std::string_view name);
inline uint32_t xattr_entry_size(std::string_view name, std::string_view value) {
    return (4 + static_cast<uint32_t>(split_xattr_name(name).suffix.size() + value.size()) + 3) & ~3u;
}
inline uint32_t xattr_entry_size(const Xattr& x) { return xattr_entry_size(x.name, x.value); }
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
