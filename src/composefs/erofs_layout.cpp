// The layout pass of the composefs writer: xattr sharing (FORMAT-NOTES §7), inode sizes and
// placement with the tail-padding rules (§5), and data block addresses (§9).
#include <algorithm>
#include <cstring>
#include <functional>
#include <unordered_map>

#include "composefs/erofs_build.hpp"

namespace imgctl::composefs::erofs {

namespace {

uint64_t round_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

struct PairKey {
    std::string_view name, value;
    bool operator==(const PairKey&) const = default;
};
struct PairHash {
    size_t operator()(const PairKey& k) const {
        size_t h = std::hash<std::string_view>{}(k.name);
        return h ^ (std::hash<std::string_view>{}(k.value) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
    }
};

// §7.3: a (name, value) pair on more than one inode goes to the shared table, ordered by name
// descending, then longer value first, then value bytes descending.
std::unordered_map<PairKey, uint32_t, PairHash> share_xattrs(Build& b) {
    std::unordered_map<PairKey, uint32_t, PairHash> count;
    for (const auto& n : b.nodes)
        for (const auto& x : n.xattrs) ++count[PairKey{x.name, x.value}];
    std::vector<const Xattr*> shared;
    std::unordered_map<PairKey, uint32_t, PairHash> ids;  // key -> table index (later: id)
    for (const auto& n : b.nodes) {
        for (const auto& x : n.xattrs) {
            PairKey k{x.name, x.value};
            if (count[k] > 1 && ids.emplace(k, 0).second) shared.push_back(&x);
        }
    }
    std::sort(shared.begin(), shared.end(), [](const Xattr* a, const Xattr* c) {
        if (a->name != c->name) return a->name > c->name;
        if (a->value.size() != c->value.size()) return a->value.size() > c->value.size();
        return std::memcmp(a->value.data(), c->value.data(), a->value.size()) > 0;
    });
    uint32_t off = 0;
    b.shared.clear();
    for (const Xattr* x : shared) {
        b.shared.push_back(SharedXattr{x, off});
        ids[PairKey{x->name, x->value}] = off;
        off += xattr_entry_size(*x);
    }
    b.shared_size = off;
    return ids;  // values: byte offsets inside the table
}

// Header size, xattr area, data layout and tail before placement.
void size_node(Node& n, const Build& b, const std::unordered_map<PairKey, uint32_t, PairHash>& table) {
    // Xattr area (§7.2): the first (up to 128) shared pairs become refs, the rest are inline.
    n.n_shared = 0;
    n.xattr_size = 0;
    if (!n.xattrs.empty()) {
        uint32_t x = 12;
        for (const auto& xa : n.xattrs) {
            if (n.n_shared < kMaxSharedRefs && table.count(PairKey{xa.name, xa.value})) {
                ++n.n_shared;
                x += 4;
            } else {
                x += xattr_entry_size(xa);
            }
        }
        n.xattr_size = x;
    }
    n.n_blocks = 0;
    n.tail = 0;
    if (S_ISDIR(n.mode)) {
        auto split = split_dirents(n.dirents.size(), [&](size_t i) { return n.dirents[i].name.size(); });
        n.dir_block_ends = std::move(split.ends);
        n.n_blocks = split.n_blocks;
        n.tail = split.tail;
        n.size = uint64_t{n.n_blocks} * kBlockSize + n.tail;
    } else if (n.external) {
        n.tail = 4 * n.chunk_count;  // block map of null addresses
    } else if (S_ISREG(n.mode) || S_ISLNK(n.mode)) {
        uint64_t len = n.data.size();
        n.n_blocks = static_cast<uint32_t>(len / kBlockSize);
        n.tail = static_cast<uint32_t>(len % kBlockSize);
        if (S_ISREG(n.mode) && n.tail > kBlockSize / 2) {
            n.tail = 0;
            n.n_blocks += 1;
        }
    }
    n.compact = n.mtime_sec == b.build_time && n.mtime_nsec == b.build_time_nsec && n.nlink <= 0xffff &&
                n.uid <= 0xffff && n.gid <= 0xffff && n.size <= 0xffffffffULL;
}

// §5.3: pads `pos` so that the inline tail does not cross a block boundary; may move the tail
// into a data block.
uint64_t place(Node& n, uint64_t pos) {
    uint64_t h = (n.compact ? 32 : 64) + n.xattr_size;
    if (S_ISLNK(n.mode)) {
        uint64_t total = h + n.tail;
        if (total >= kBlockSize) {
            n.n_blocks = 1;
            n.tail = 0;
        }
        if (total > 0 && pos / kBlockSize != (pos + total - 1) / kBlockSize) pos = round_up(pos, kBlockSize);
        return pos;
    }
    if (n.tail == 0) return pos;
    uint64_t rem = kBlockSize - (pos + h) % kBlockSize;
    if (rem >= n.tail) return pos;
    uint64_t pad = round_up(rem, kSlot);
    uint64_t rem2 = kBlockSize - (pos + pad + h) % kBlockSize;
    if (n.tail <= rem2) return pos + pad;
    // The tail does not fit: only chunk tables above ~8 TiB get here (§5.4 quirk).
    n.n_blocks += 1;
    n.tail = 0;
    if (n.external) n.huge_chunk_quirk = true;
    return round_up(pos, kBlockSize);
}

}  // namespace

void layout(Build& b) {
    auto table = share_xattrs(b);
    uint64_t pos = kInodeStart;
    for (auto& n : b.nodes) {
        size_node(n, b, table);
        pos = round_up(pos, kSlot);
        pos = place(n, pos);
        n.datalayout = n.external ? kChunkBased : (n.tail > 0 ? kFlatInline : kFlatPlain);
        n.pos = pos;
        pos += (n.compact ? 32 : 64) + n.xattr_size + n.tail;
    }
    b.inodes_end = round_up(pos, kSlot);
    // Shared ids count 4-byte units from the start of block xattr_blkaddr.
    uint32_t base = static_cast<uint32_t>(b.inodes_end % kBlockSize);
    for (auto& n : b.nodes) {
        n.shared_ids.clear();
        n.is_ref.clear();
        if (n.n_shared == 0) continue;
        n.is_ref.resize(n.xattrs.size(), false);
        uint32_t left = n.n_shared;
        for (size_t i = 0; i < n.xattrs.size() && left > 0; ++i) {
            auto it = table.find(PairKey{n.xattrs[i].name, n.xattrs[i].value});
            if (it == table.end()) continue;
            n.shared_ids.push_back((base + it->second) / 4);
            n.is_ref[i] = true;
            --left;
        }
    }
    b.data_start = round_up(b.inodes_end + b.shared_size, kBlockSize);
    uint64_t block = b.data_start / kBlockSize;
    for (auto& n : b.nodes) {
        if (n.n_blocks == 0) continue;
        n.blkaddr = static_cast<uint32_t>(block);
        block += n.n_blocks;
    }
    b.total_size = block * kBlockSize;
}

}  // namespace imgctl::composefs::erofs
