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

uint64_t pair_hash(const Xattr& x) {
    uint64_t h = std::hash<std::string_view>{}(x.name);
    return h ^ (std::hash<std::string_view>{}(x.value) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
}

// §7.3: a (name, value) pair on more than one inode goes to the shared table, ordered by name
// descending, then longer value first, then value bytes descending. Two passes keep memory
// small: 8 bytes per xattr for the hashes, then exact counts only for pairs whose hash repeats.
void share_xattrs(Build& b) {
    std::vector<Xattr> xs;
    std::vector<uint64_t> hashes;
    for (uint32_t k = 0; k < b.nodes.size(); ++k) {
        node_xattrs(b, k, xs);
        for (const auto& x : xs) hashes.push_back(pair_hash(x));
    }
    std::sort(hashes.begin(), hashes.end());
    std::vector<uint64_t> repeated;
    for (size_t i = 1; i < hashes.size(); ++i)
        if (hashes[i] == hashes[i - 1] && (repeated.empty() || repeated.back() != hashes[i])) repeated.push_back(hashes[i]);
    std::vector<uint64_t>().swap(hashes);
    std::unordered_map<std::string, uint32_t> counts;  // "name\0value" -> inodes
    if (!repeated.empty()) {
        for (uint32_t k = 0; k < b.nodes.size(); ++k) {
            node_xattrs(b, k, xs);
            for (const auto& x : xs)
                if (std::binary_search(repeated.begin(), repeated.end(), pair_hash(x))) ++counts[shared_key(x)];
        }
    }
    b.shared.clear();
    b.shared_offset.clear();
    for (const auto& [key, count] : counts) {
        if (count < 2) continue;
        size_t nul = key.find('\0');
        b.shared.push_back(Xattr{key.substr(0, nul), key.substr(nul + 1)});
    }
    std::sort(b.shared.begin(), b.shared.end(), [](const Xattr& x, const Xattr& y) {
        if (x.name != y.name) return x.name > y.name;
        if (x.value.size() != y.value.size()) return x.value.size() > y.value.size();
        return std::memcmp(x.value.data(), y.value.data(), x.value.size()) > 0;
    });
    uint32_t off = 0;
    for (const auto& x : b.shared) {
        b.shared_offset.emplace(shared_key(x), off);
        off += xattr_entry_size(x);
    }
    b.shared_size = off;
}

// Header size, xattr area, data layout and tail before placement.
void size_node(Build& b, uint32_t k, std::vector<Xattr>& xs, std::vector<Entry>& ents) {
    Node& n = b.nodes[k];
    // Xattr area (§7.2): the first (up to 128) shared pairs become refs, the rest are inline.
    node_xattrs(b, k, xs);
    n.n_shared = 0;
    n.xattr_size = 0;
    if (!xs.empty()) {
        uint32_t x = 12;
        for (const auto& e : xs) {
            if (n.n_shared < kMaxSharedRefs && !b.shared.empty() && b.shared_offset.count(shared_key(e))) {
                ++n.n_shared;
                x += 4;
            } else {
                x += xattr_entry_size(e);
            }
        }
        n.xattr_size = x;
    }
    n.n_blocks = 0;
    n.tail = 0;
    if (S_ISDIR(n.mode)) {
        dir_entries(*n.src, k == 0, ents);
        auto split = split_dirents(ents.size(), [&](size_t i) { return ents[i].name.size(); });
        n.n_blocks = split.n_blocks;
        n.tail = static_cast<uint16_t>(split.tail);
        n.size = uint64_t{n.n_blocks} * kBlockSize + n.tail;
    } else if (n.external) {
        n.tail = static_cast<uint16_t>(4 * n.chunk_count());  // block map of null addresses
    } else if (S_ISREG(n.mode) || S_ISLNK(n.mode)) {
        uint64_t len = node_data(n).size();
        n.n_blocks = static_cast<uint32_t>(len / kBlockSize);
        n.tail = static_cast<uint16_t>(len % kBlockSize);
        if (S_ISREG(n.mode) && n.tail > kBlockSize / 2) {
            n.tail = 0;
            n.n_blocks += 1;
        }
    }
    const Inode& meta = n.src ? *n.src : *b.nodes[0].src;
    uint32_t uid = meta.uid, gid = meta.gid;
    n.compact = meta.mtime_sec == b.build_time && meta.mtime_nsec == b.build_time_nsec && n.nlink <= 0xffff &&
                uid <= 0xffff && gid <= 0xffff && n.size <= 0xffffffffULL;
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
    share_xattrs(b);
    std::vector<Xattr> xs;
    std::vector<Entry> ents;
    uint64_t pos = kInodeStart;
    for (uint32_t k = 0; k < b.nodes.size(); ++k) {
        Node& n = b.nodes[k];
        size_node(b, k, xs, ents);
        pos = round_up(pos, kSlot);
        pos = place(n, pos);
        n.datalayout = n.external ? kChunkBased : (n.tail > 0 ? kFlatInline : kFlatPlain);
        n.pos = pos;
        pos += (n.compact ? 32 : 64) + n.xattr_size + n.tail;
    }
    b.inodes_end = round_up(pos, kSlot);
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
