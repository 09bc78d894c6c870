// The serialisation pass of the composefs writer: header, superblock, inodes, shared xattrs and
// data blocks (FORMAT-NOTES §1, §2, §5-§9; EROFS erofs_fs.h structures, little-endian).
#include <algorithm>
#include <cstring>

#include <vector>

#include <xxhash.h>

#include "composefs/erofs_build.hpp"
#include "composefs/limits.hpp"

namespace imgctl::composefs::erofs {

namespace {

constexpr uint32_t kComposefsMagic = 0xd078629a;
constexpr uint32_t kErofsMagic = 0xE0F5E1E2;
constexpr uint32_t kXattrFilterSeed = 0x25BBE08F;
constexpr uint32_t kNullAddr = 0xFFFFFFFF;

// Hands the image to the sink in file order through a small buffer: every region is
// requested (zero-filled) at an offset not below the previous region's start, so the bytes
// before it are final.
class Out {
public:
    explicit Out(const ImageSink& sink) : sink_(sink) { buf_.reserve(kChunk + kBlockSize); }

    uint8_t* at(uint64_t off, uint64_t len) {
        if (off >= base_ + kChunk) flush_before(off);
        uint64_t end = off - base_ + len;
        if (buf_.size() < end) buf_.resize(end, '\0');
        return reinterpret_cast<uint8_t*>(buf_.data()) + (off - base_);
    }

    Result<void> finish(uint64_t total) {
        if (total > base_) at(total, 0);
        flush_before(total);
        return std::move(result_);
    }

private:
    static constexpr uint64_t kChunk = 256 * 1024;

    // Emits every byte before `off` (zeros past the buffered ones).
    void flush_before(uint64_t off) {
        while (base_ < off) {
            uint64_t want = off - base_;
            if (buf_.size() < want) buf_.resize(std::min<uint64_t>(want, std::max<uint64_t>(buf_.size(), kChunk)), '\0');
            size_t n = std::min<uint64_t>(buf_.size(), off - base_);
            if (result_) result_ = sink_(std::string_view(buf_.data(), n));
            buf_.erase(0, n);
            base_ += n;
        }
    }

    const ImageSink& sink_;
    std::string buf_;
    uint64_t base_ = 0;  // image offset of buf_[0]
    Result<void> result_;
};

void put16(uint8_t* p, uint16_t v) { p[0] = v & 0xff; p[1] = v >> 8; }
void put32(uint8_t* p, uint32_t v) { for (int i = 0; i < 4; ++i) p[i] = (v >> (8 * i)) & 0xff; }
void put64(uint8_t* p, uint64_t v) { for (int i = 0; i < 8; ++i) p[i] = (v >> (8 * i)) & 0xff; }


uint8_t* write_xattr_entry(uint8_t* p, std::string_view name, std::string_view value) {
    auto [index, suffix] = split_xattr_name(name);
    p[0] = static_cast<uint8_t>(suffix.size());
    p[1] = index;
    put16(p + 2, static_cast<uint16_t>(value.size()));
    std::memcpy(p + 4, suffix.data(), suffix.size());
    std::memcpy(p + 4 + suffix.size(), value.data(), value.size());
    return p + xattr_entry_size(name, value);  // the padding is already zero
}
uint8_t* write_xattr_entry(uint8_t* p, const Xattr& x) { return write_xattr_entry(p, x.name, x.value); }

// Per-node scratch for the serialisation: the node's xattrs and directory entries, and the
// node index of the next directory's first entry (directories are met in node order).
struct Scratch {
    std::vector<Xattr> xs;
    std::vector<Entry> ents;
    std::vector<uint32_t> targets;
    uint32_t next_child = 1;
};

// The file type a dirent reports for node `t` (after the whiteout conversion).
uint32_t mode_of(const Build& b, uint32_t t) {
    const Node& n = b.nodes[t];
    if (!n.src) return S_IFCHR;
    if (n.is(Node::kWhiteout)) return S_IFREG;
    return n.src->mode;
}

// Entries [begin, end) of a directory as one block or tail: records first, then the names (§6).
void write_dirents(uint8_t* p, const Build& b, const Scratch& s, uint32_t begin, uint32_t end) {
    uint32_t nameoff = 12 * (end - begin);
    for (uint32_t i = begin; i < end; ++i) {
        std::string_view name = s.ents[i].name;
        uint32_t t = s.targets[i];
        uint8_t* rec = p + 12 * (i - begin);
        put64(rec, b.nodes[t].slot);
        put16(rec + 8, static_cast<uint16_t>(nameoff));
        rec[10] = dirent_file_type(mode_of(b, t));
        std::memcpy(p + nameoff, name.data(), name.size());
        nameoff += static_cast<uint32_t>(name.size());
    }
}

uint32_t inode_u(const Node& n, const Shape& sh) {
    if (sh.external) {
        uint32_t format = sh.chunkbits - 12u;
        return sh.huge_chunk_quirk ? ((n.blkaddr & 0xffff0000u) | format) : format;
    }
    if (S_ISCHR(sh.mode) || S_ISBLK(sh.mode)) return n.src ? static_cast<uint32_t>(n.src->rdev) : 0;
    if (S_ISDIR(sh.mode) || S_ISREG(sh.mode) || S_ISLNK(sh.mode)) return sh.n_blocks > 0 ? n.blkaddr : 0;
    return 0;
}

uint8_t* write_header(uint8_t* p, const Build& b, const Node& n, const Shape& sh, uint32_t ino) {
    const Inode& meta = n.src ? *n.src : *b.nodes[0].src;
    uint16_t icount = sh.xattr_size ? static_cast<uint16_t>((sh.xattr_size - 12) / 4 + 1) : 0;
    if (sh.compact) {
        put16(p, static_cast<uint16_t>(sh.datalayout << 1));
        put16(p + 2, icount);
        put16(p + 4, static_cast<uint16_t>(sh.mode));
        put16(p + 6, static_cast<uint16_t>(sh.nlink));
        put32(p + 8, static_cast<uint32_t>(sh.size));
        put32(p + 16, inode_u(n, sh));
        put32(p + 20, ino);
        put16(p + 24, static_cast<uint16_t>(meta.uid));
        put16(p + 26, static_cast<uint16_t>(meta.gid));
        return p + 32;
    }
    put16(p, static_cast<uint16_t>(sh.datalayout << 1 | 1));
    put16(p + 2, icount);
    put16(p + 4, static_cast<uint16_t>(sh.mode));
    put64(p + 8, sh.size);
    put32(p + 16, inode_u(n, sh));
    put32(p + 20, ino);
    put32(p + 24, meta.uid);
    put32(p + 28, meta.gid);
    put64(p + 32, static_cast<uint64_t>(meta.mtime_sec));
    put32(p + 40, meta.mtime_nsec);
    put32(p + 44, sh.nlink);
    return p + 64;
}

// The xattr area (§7.2): filter, shared refs (ids count 4-byte units from the start of block
// xattr_blkaddr), then the inline entries.
uint8_t* write_xattrs(uint8_t* p, const Build& b, const Shape& sh, const std::vector<Xattr>& xs) {
    uint32_t bits = 0;
    for (const auto& x : xs) {
        auto [index, suffix] = split_xattr_name(x.name);
        bits |= 1u << (XXH32(suffix.data(), suffix.size(), kXattrFilterSeed + index) & 31);
    }
    put32(p, ~bits);
    p[4] = sh.n_shared;
    uint8_t* refs = p + 12;
    uint8_t* inl = refs + 4 * sh.n_shared;
    uint32_t base = static_cast<uint32_t>(b.inodes_end % kBlockSize);
    uint32_t left = sh.n_shared;
    for (const auto& x : xs) {
        if (left > 0) {
            if (int64_t off = shared_offset_of(b, x); off >= 0) {
                put32(refs, (base + static_cast<uint32_t>(off)) / 4);
                refs += 4;
                --left;
                continue;
            }
        }
        inl = write_xattr_entry(inl, x);
    }
    return inl;
}

// The entries of directory `k`, their targets and where each block ends.
std::vector<uint32_t> load_dir(const Build& b, uint32_t k, Scratch& s) {
    s.next_child = dir_targets(b, k, s.next_child, s.ents, s.targets);
    return split_dirents(s.ents.size(), [&](size_t i) { return s.ents[i].name.size(); }).ends;
}

void write_inode(Out& out, const Build& b, uint32_t k, Scratch& s) {
    const Node& n = b.nodes[k];
    Shape sh = shape_of(b, k, s.ents);
    xattr_shape(b, k, sh, s.xs);
    uint8_t* p = write_header(out.at(n.pos(), sh.header_size() + sh.tail), b, n, sh, k);
    if (sh.xattr_size) p = write_xattrs(p, b, sh, s.xs);
    if (S_ISDIR(sh.mode)) {
        auto ends = load_dir(b, k, s);
        size_t c = ends.size();
        if (sh.tail > 0) write_dirents(p, b, s, c >= 2 ? ends[c - 2] : 0, ends[c - 1]);
    } else if (sh.tail == 0) {
        return;
    } else if (sh.external) {
        for (uint32_t c = 0; c < sh.chunk_count(); ++c) put32(p + 4 * c, kNullAddr);
    } else {
        std::string_view data = node_data(n);
        std::memcpy(p, data.data() + (data.size() - sh.tail), sh.tail);
    }
}

void write_blocks(Out& out, const Build& b, uint32_t k, Scratch& s) {
    const Node& n = b.nodes[k];
    Shape sh = shape_of(b, k, s.ents);
    std::vector<uint32_t> ends;
    if (S_ISDIR(sh.mode)) ends = load_dir(b, k, s);
    if (sh.n_blocks == 0) return;
    uint64_t start = uint64_t{n.blkaddr} * kBlockSize;
    if (S_ISDIR(sh.mode)) {
        uint32_t begin = 0;
        for (uint32_t c = 0; c < sh.n_blocks; ++c) {
            write_dirents(out.at(start + uint64_t{c} * kBlockSize, kBlockSize), b, s, begin, ends[c]);
            begin = ends[c];
        }
    } else if (sh.huge_chunk_quirk) {
        std::memset(out.at(start, kBlockSize), 0xff, kBlockSize);
    } else {
        std::string_view data = node_data(n);
        size_t len = std::min<size_t>(data.size(), uint64_t{sh.n_blocks} * kBlockSize);
        if (len > 0) std::memcpy(out.at(start, len), data.data(), len);
    }
}

}  // namespace

XattrPrefix split_xattr_name(std::string_view name) {
    static constexpr std::pair<uint8_t, std::string_view> kPrefixes[] = {
        {1, "user."}, {2, "system.posix_acl_access"}, {3, "system.posix_acl_default"}, {4, "trusted."}, {6, "security."}};
    for (const auto& [index, prefix] : kPrefixes)
        if (name.starts_with(prefix)) return {index, name.substr(prefix.size())};
    return {0, name};
}

Result<void> serialize(const Build& b, const ImageSink& sink) {
    Out out(sink);
    uint8_t* img = out.at(0, kInodeStart);
    put32(img, kComposefsMagic);
    put32(img + 4, 1);  // header layout version
    put32(img + 8, b.has_acl ? 1 : 0);
    put32(img + 12, b.version);
    uint8_t* sb = img + 1024;
    put32(sb, kErofsMagic);
    put32(sb + 8, 0x2 | 0x4);  // COMPAT_MTIME | COMPAT_XATTR_FILTER
    sb[12] = 12;               // blkszbits
    put16(sb + 14, static_cast<uint16_t>(b.nodes[0].slot));
    put64(sb + 16, b.nodes.size());
    put64(sb + 24, static_cast<uint64_t>(b.build_time));
    put32(sb + 32, b.build_time_nsec);
    put32(sb + 36, static_cast<uint32_t>(b.total_size / kBlockSize));
    put32(sb + 44, static_cast<uint32_t>(b.inodes_end / kBlockSize));
    // In file order: inodes (placed in node order), the shared xattr table, data blocks
    // (allocated in node order).
    Scratch s;
    for (uint32_t k = 0; k < b.nodes.size(); ++k) write_inode(out, b, k, s);
    s.next_child = 1;
    uint64_t off = b.inodes_end;
    for (size_t i = 0; i < b.shared.size(); ++i) {
        auto [name, value] = b.shared[i];
        write_xattr_entry(out.at(off, xattr_entry_size(name, value)), name, value);
        off += xattr_entry_size(name, value);
    }
    for (uint32_t k = 0; k < b.nodes.size(); ++k) write_blocks(out, b, k, s);
    return out.finish(b.total_size);
}

}  // namespace imgctl::composefs::erofs
