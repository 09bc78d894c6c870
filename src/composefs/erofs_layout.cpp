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


// §7.3: a (name, value) pair on more than one inode goes to the shared table, ordered by name
// descending, then longer value first, then value bytes descending. Two passes keep memory
// small: 8 bytes per xattr for the hashes, then exact counts only for pairs whose hash
// repeats, each such pair stored once in the table (candidates with the same hash chained).
void share_xattrs(Build& b) {
    std::vector<Xattr> xs;
    std::vector<uint64_t> hashes;
    size_t bound = 1;  // an upper bound of the xattrs node_xattrs gives: no reallocation
    for (const auto& n : b.nodes)
        bound += (n.src ? n.src->xattrs.size() : b.nodes[0].src->xattrs.size()) + 2 * is_external(n) +
                 2 * n.is(Node::kWhiteout) + 4 * n.is(Node::kHasWhiteouts);
    hashes.reserve(bound);
    for (uint32_t k = 0; k < b.nodes.size(); ++k) {
        node_xattrs(b, k, xs);
        for (const auto& x : xs) hashes.push_back(pair_hash(x));
    }
    std::sort(hashes.begin(), hashes.end());
    std::vector<uint64_t> repeated;
    for (size_t i = 1; i < hashes.size(); ++i)
        if (hashes[i] == hashes[i - 1] && (repeated.empty() || repeated.back() != hashes[i])) repeated.push_back(hashes[i]);
    std::vector<uint64_t>().swap(hashes);
    b.shared.clear();
    constexpr uint32_t kNone = UINT32_MAX;
    std::vector<uint32_t> head(repeated.size(), kNone);  // per repeated hash: its first candidate
    std::vector<uint32_t> next, count;                   // per candidate (table entry)
    for (uint32_t k = 0; !repeated.empty() && k < b.nodes.size(); ++k) {
        node_xattrs(b, k, xs);
        for (const auto& x : xs) {
            auto it = std::lower_bound(repeated.begin(), repeated.end(), pair_hash(x));
            if (it == repeated.end() || *it != pair_hash(x)) continue;
            uint32_t& first = head[it - repeated.begin()];
            uint32_t c = first;
            while (c != kNone && !(b.shared[c] == x)) c = next[c];
            if (c == kNone) {
                c = b.shared.add(x.name, x.value);
                next.push_back(first);
                count.push_back(0);
                first = c;
            }
            ++count[c];
        }
    }
    std::vector<uint64_t>().swap(repeated);
    std::vector<uint32_t>().swap(head);
    std::vector<uint32_t>().swap(next);
    std::vector<uint32_t> order;
    for (uint32_t c = 0; c < count.size(); ++c)
        if (count[c] > 1) order.push_back(c);
    std::vector<uint32_t>().swap(count);
    std::sort(order.begin(), order.end(), [&](uint32_t i, uint32_t j) {
        XattrRef x = b.shared[i], y = b.shared[j];
        if (x.name != y.name) return x.name > y.name;
        if (x.value.size() != y.value.size()) return x.value.size() > y.value.size();
        return std::memcmp(x.value.data(), y.value.data(), x.value.size()) > 0;
    });
    b.shared.select(order);
    uint32_t off = 0;
    b.shared_offsets.clear();
    b.shared_index.clear();
    b.shared_offsets.reserve(b.shared.size());
    b.shared_index.reserve(b.shared.size());
    for (uint32_t i = 0; i < b.shared.size(); ++i) {
        b.shared_offsets.push_back(off);
        auto [name, value] = b.shared[i];
        b.shared_index.emplace_back(pair_hash(name, value), i);
        off += xattr_entry_size(name, value);
    }
    std::sort(b.shared_index.begin(), b.shared_index.end());
    b.shared_size = off;
}

// §5.3: pads `pos` so that the inline tail does not cross a block boundary; may move the tail
// into a data block (then returns true in `moved`).
uint64_t place(const Shape& sh, uint64_t pos, bool& moved) {
    uint64_t h = sh.header_size();
    moved = false;
    if (S_ISLNK(sh.mode)) {
        uint64_t total = h + sh.tail;
        moved = total >= kBlockSize;
        if (total > 0 && pos / kBlockSize != (pos + total - 1) / kBlockSize) pos = round_up(pos, kBlockSize);
        return pos;
    }
    if (sh.tail == 0) return pos;
    uint64_t rem = kBlockSize - (pos + h) % kBlockSize;
    if (rem >= sh.tail) return pos;
    uint64_t pad = round_up(rem, kSlot);
    uint64_t rem2 = kBlockSize - (pos + pad + h) % kBlockSize;
    if (sh.tail <= rem2) return pos + pad;
    // The tail does not fit: only chunk tables above ~8 TiB get here (§5.4 quirk).
    moved = true;
    return round_up(pos, kBlockSize);
}

}  // namespace

uint64_t pair_hash(std::string_view name, std::string_view value) {
    uint64_t h = std::hash<std::string_view>{}(name);
    return h ^ (std::hash<std::string_view>{}(value) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
}

XattrRef SharedXattrs::operator[](size_t i) const {
    const char* p = chunks_[at_[i] >> 32].get() + (at_[i] & UINT32_MAX);
    uint16_t name_size;
    uint32_t value_size;
    std::memcpy(&name_size, p, sizeof name_size);
    std::memcpy(&value_size, p + 2, sizeof value_size);
    return {{p + 6, name_size}, {p + 6 + name_size, value_size}};
}

uint32_t SharedXattrs::add(std::string_view name, std::string_view value) {
    size_t need = 6 + name.size() + value.size();
    if (cap_ - used_ < need) {  // chunks of 4 KiB, 8 KiB, ... up to kChunk; a larger pair gets its own
        cap_ = std::max(std::min(kChunk, size_t{4096} << std::min<size_t>(chunks_.size(), 6)), need);
        chunks_.push_back(std::make_unique_for_overwrite<char[]>(cap_));
        used_ = 0;
    }
    char* p = chunks_.back().get() + used_;
    auto name_size = static_cast<uint16_t>(name.size());  // checked by the rewrite: < 64 KiB
    auto value_size = static_cast<uint32_t>(value.size());
    std::memcpy(p, &name_size, sizeof name_size);
    std::memcpy(p + 2, &value_size, sizeof value_size);
    std::memcpy(p + 6, name.data(), name.size());
    std::memcpy(p + 6 + name.size(), value.data(), value.size());
    at_.push_back(uint64_t{chunks_.size() - 1} << 32 | used_);
    used_ += need;
    return static_cast<uint32_t>(at_.size() - 1);
}

void SharedXattrs::select(const std::vector<uint32_t>& order) {
    std::vector<uint64_t> at;
    at.reserve(order.size());
    for (uint32_t i : order) at.push_back(at_[i]);
    at_ = std::move(at);
}

void SharedXattrs::clear() {
    chunks_.clear();
    at_.clear();
    used_ = cap_ = 0;
}

int64_t shared_offset_of(const Build& b, const Xattr& x) {
    uint64_t h = pair_hash(x);
    auto it = std::lower_bound(b.shared_index.begin(), b.shared_index.end(), std::pair<uint64_t, uint32_t>(h, 0));
    for (; it != b.shared_index.end() && it->first == h; ++it)
        if (b.shared[it->second] == x) return b.shared_offsets[it->second];
    return -1;
}

Shape shape_of(const Build& b, uint32_t k, std::vector<Entry>& ents) {
    const Node& n = b.nodes[k];
    const Inode& meta = n.src ? *n.src : *b.nodes[0].src;
    Shape sh;
    if (!n.src) {
        sh.mode = S_IFCHR | 0644;
    } else if (n.is(Node::kWhiteout)) {
        sh.mode = S_IFREG | (n.src->mode & 07777);
        sh.nlink = n.src->nlink;
    } else {
        sh.mode = n.src->mode;
        sh.nlink = n.src->nlink;
    }
    if (n.src && n.src->is_dir()) {
        dir_entries(*n.src, k == 0, ents);
        uint32_t subdirs = 0;
        for (const auto& e : ents) subdirs += e.child && (*e.child)->is_dir();
        sh.nlink = 2 + subdirs;
        auto split = split_dirents(ents.size(), [&](size_t i) { return ents[i].name.size(); });
        sh.n_blocks = split.n_blocks;
        sh.tail = split.tail;
        sh.size = uint64_t{sh.n_blocks} * kBlockSize + sh.tail;
    } else if (is_external(n)) {
        sh.external = true;
        sh.size = n.src->size;
        sh.chunkbits = static_cast<uint8_t>(chunkbits_for(sh.size));
        sh.tail = 4 * sh.chunk_count();  // block map of null addresses
    } else if (S_ISREG(sh.mode) || S_ISLNK(sh.mode)) {
        uint64_t len = node_data(n).size();
        sh.size = len;
        sh.n_blocks = static_cast<uint32_t>(len / kBlockSize);
        sh.tail = static_cast<uint32_t>(len % kBlockSize);
        if (S_ISREG(sh.mode) && sh.tail > kBlockSize / 2) {
            sh.tail = 0;
            sh.n_blocks += 1;
        }
    }
    if (n.is(Node::kTailMoved)) {
        sh.n_blocks = S_ISLNK(sh.mode) ? 1 : sh.n_blocks + 1;
        sh.tail = 0;
        sh.huge_chunk_quirk = sh.external;
    }
    sh.datalayout = sh.external ? kChunkBased : (sh.tail > 0 ? kFlatInline : kFlatPlain);
    sh.compact = meta.mtime_sec == b.build_time && meta.mtime_nsec == b.build_time_nsec && sh.nlink <= 0xffff &&
                 meta.uid <= 0xffff && meta.gid <= 0xffff && sh.size <= 0xffffffffULL;
    return sh;
}

void xattr_shape(const Build& b, uint32_t k, Shape& sh, std::vector<Xattr>& xs) {
    // The first (up to 128) shared pairs become refs, the rest are inline.
    node_xattrs(b, k, xs);
    sh.n_shared = 0;
    sh.xattr_size = 0;
    if (xs.empty()) return;
    uint32_t x = 12;
    for (const auto& e : xs) {
        if (sh.n_shared < kMaxSharedRefs && !b.shared.empty() && shared_offset_of(b, e) >= 0) {
            ++sh.n_shared;
            x += 4;
        } else {
            x += xattr_entry_size(e);
        }
    }
    sh.xattr_size = x;
}

Result<void> layout(Build& b) {
    share_xattrs(b);
    std::vector<Xattr> xs;
    std::vector<Entry> ents;
    uint64_t pos = kInodeStart;
    uint64_t blocks = 0;  // data blocks before the node's, counted from data_start
    for (uint32_t k = 0; k < b.nodes.size(); ++k) {
        Node& n = b.nodes[k];
        Shape sh = shape_of(b, k, ents);
        xattr_shape(b, k, sh, xs);
        pos = round_up(pos, kSlot);
        bool moved;
        pos = place(sh, pos, moved);
        if (moved) {
            n.flags |= Node::kTailMoved;
            sh = shape_of(b, k, ents);
            xattr_shape(b, k, sh, xs);
        }
        if (pos / kSlot > UINT32_MAX) return make_error(EFBIG, "the inodes need more than 128 GiB");
        n.slot = static_cast<uint32_t>(pos / kSlot);
        n.blkaddr = static_cast<uint32_t>(blocks);  // made absolute below
        blocks += sh.n_blocks;
        pos += sh.header_size() + sh.tail;
    }
    b.inodes_end = round_up(pos, kSlot);
    b.data_start = round_up(b.inodes_end + b.shared_size, kBlockSize);
    uint64_t first = b.data_start / kBlockSize;
    if (first + blocks > UINT32_MAX) return make_error(EFBIG, "the image needs more than 2^32 blocks");
    for (auto& n : b.nodes) n.blkaddr += static_cast<uint32_t>(first);
    b.total_size = (first + blocks) * kBlockSize;
    return {};
}

}  // namespace imgctl::composefs::erofs
