// The layout pass of the composefs writer: xattr sharing (FORMAT-NOTES §7), inode sizes and
// placement with the tail-padding rules (§5), and data block addresses (§9).
#include <algorithm>
#include <cstring>
#include <functional>
#include <span>
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

struct PairInfo {
    uint32_t count = 0;
    uint32_t offset = 0;  // inside the shared table, when count > 1
};

// Per xattr of every node (in node order, then xattr order): its pair's info.
struct Sharing {
    std::unordered_map<PairKey, PairInfo, PairHash> pairs;
    std::vector<PairInfo*> of;  // flat: node k's xattrs start at first[k]
    std::vector<uint32_t> first;
    std::span<PairInfo* const> node(size_t k) const { return {of.data() + first[k], of.data() + first[k + 1]}; }
};

// §7.3: a (name, value) pair on more than one inode goes to the shared table, ordered by name
// descending, then longer value first, then value bytes descending.
Sharing share_xattrs(Build& b) {
    Sharing s;
    s.first.reserve(b.nodes.size() + 1);
    for (const auto& n : b.nodes) {
        s.first.push_back(static_cast<uint32_t>(s.of.size()));
        for (const auto& x : n.xattrs) {
            PairInfo* info = &s.pairs[PairKey{x.name, x.value}];
            ++info->count;
            s.of.push_back(info);
        }
    }
    s.first.push_back(static_cast<uint32_t>(s.of.size()));
    std::vector<std::pair<const PairKey*, PairInfo*>> shared;
    for (auto& [k, info] : s.pairs)
        if (info.count > 1) shared.emplace_back(&k, &info);
    std::sort(shared.begin(), shared.end(), [](const auto& a, const auto& c) {
        const PairKey& x = *a.first;
        const PairKey& y = *c.first;
        if (x.name != y.name) return x.name > y.name;
        if (x.value.size() != y.value.size()) return x.value.size() > y.value.size();
        return std::memcmp(x.value.data(), y.value.data(), x.value.size()) > 0;
    });
    uint32_t off = 0;
    b.shared.clear();
    b.shared_entries.clear();
    for (auto& [k, info] : shared) {
        info->offset = off;
        b.shared_entries.push_back(Xattr{std::string(k->name), std::string(k->value)});
        off += xattr_entry_size(b.shared_entries.back());
    }
    for (size_t i = 0; i < b.shared_entries.size(); ++i) b.shared.push_back(SharedXattr{&b.shared_entries[i], shared[i].second->offset});
    b.shared_size = off;
    return s;
}

// Header size, xattr area, data layout and tail before placement.
void size_node(Node& n, const Build& b, std::span<PairInfo* const> pairs) {
    // Xattr area (§7.2): the first (up to 128) shared pairs become refs, the rest are inline.
    n.n_shared = 0;
    n.xattr_size = 0;
    if (!n.xattrs.empty()) {
        uint32_t x = 12;
        for (size_t i = 0; i < n.xattrs.size(); ++i) {
            if (n.n_shared < kMaxSharedRefs && pairs[i]->count > 1) {
                ++n.n_shared;
                x += 4;
            } else {
                x += xattr_entry_size(n.xattrs[i]);
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
    Sharing sharing = share_xattrs(b);
    uint64_t pos = kInodeStart;
    for (size_t k = 0; k < b.nodes.size(); ++k) {
        Node& n = b.nodes[k];
        size_node(n, b, sharing.node(k));
        pos = round_up(pos, kSlot);
        pos = place(n, pos);
        n.datalayout = n.external ? kChunkBased : (n.tail > 0 ? kFlatInline : kFlatPlain);
        n.pos = pos;
        pos += (n.compact ? 32 : 64) + n.xattr_size + n.tail;
    }
    b.inodes_end = round_up(pos, kSlot);
    // Shared ids count 4-byte units from the start of block xattr_blkaddr.
    uint32_t base = static_cast<uint32_t>(b.inodes_end % kBlockSize);
    for (size_t k = 0; k < b.nodes.size(); ++k) {
        Node& n = b.nodes[k];
        n.shared_ids.clear();
        n.is_ref.clear();
        if (n.n_shared == 0) continue;
        n.is_ref.resize(n.xattrs.size(), false);
        uint32_t left = n.n_shared;
        auto pairs = sharing.node(k);
        for (size_t i = 0; i < n.xattrs.size() && left > 0; ++i) {
            if (pairs[i]->count < 2) continue;
            n.shared_ids.push_back((base + pairs[i]->offset) / 4);
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
