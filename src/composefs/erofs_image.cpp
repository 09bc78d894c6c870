#include "composefs/erofs_image.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <unordered_set>

namespace imgctl::composefs::erofs {

namespace {

template <typename T>
T load(std::span<const std::byte> s, size_t off) {
    // Callers have checked off + sizeof(T) <= s.size(); the format is little-endian and so is
    // every platform imgctl builds for (static_assert below).
    T v;
    std::memcpy(&v, s.data() + off, sizeof v);
    return v;
}
static_assert(std::endian::native == std::endian::little, "EROFS is little-endian; add byte swaps");

constexpr uint64_t kCompactSize = 32;
constexpr uint64_t kExtendedSize = 64;
constexpr uint64_t kDirentSize = 12;
constexpr uint64_t kXattrHeaderSize = 12;
constexpr uint64_t kMaxNameLen = 255;

bool is_known_type(uint32_t mode) {
    switch (mode & S_IFMT) {
        case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR: case S_IFBLK: case S_IFIFO: case S_IFSOCK:
            return true;
        default:
            return false;
    }
}

// EROFS xattr name indexes (erofs_fs.h EROFS_XATTR_INDEX_*); index 0 stores the full name.
std::string_view xattr_prefix(uint8_t index) {
    switch (index) {
        case 1: return "user.";
        case 2: return "system.posix_acl_access";
        case 3: return "system.posix_acl_default";
        case 4: return "trusted.";
        case 5: return "lustre.";
        case 6: return "security.";
        default: return {};
    }
}

}  // namespace

bool ErofsImage::slice(uint64_t off, uint64_t len, std::span<const std::byte>& out) const {
    if (off > data_.size() || len > data_.size() - off) return false;
    out = data_.subspan(off, len);
    return true;
}

Result<void> ErofsImage::charge(uint64_t bytes) const {
    if (bytes > budget_) return make_error(EFBIG, "decoded data exceeds the image's plausible size (overlapping structures?)");
    budget_ -= bytes;
    return {};
}

Result<ErofsImage> ErofsImage::open(std::span<const std::byte> data) {
    ErofsImage img(data);
    std::span<const std::byte> hdr, sb;
    if (!img.slice(0, 32, hdr)) return make_error(EINVAL, "too small for a composefs header ({} bytes)", data.size());
    if (load<uint32_t>(hdr, 0) != kComposefsMagic) return make_error(EINVAL, "not a composefs image (bad header magic)");
    if (uint32_t v = load<uint32_t>(hdr, 4); v != kComposefsHeaderVersion)
        return make_error(EINVAL, "unsupported composefs header version {}", v);
    Superblock& s = img.sb_;
    s.composefs_flags = load<uint32_t>(hdr, 8);
    s.format_version = load<uint32_t>(hdr, 12);
    if (s.format_version > 1) return make_error(EINVAL, "unsupported composefs format version {}", s.format_version);
    if (!img.slice(kSuperblockOffset, 128, sb)) return make_error(EINVAL, "truncated before the end of the EROFS superblock");
    if (load<uint32_t>(sb, 0) != kErofsMagic) return make_error(EINVAL, "bad EROFS superblock magic");
    if (sb[12] != std::byte{12}) return make_error(EINVAL, "unsupported EROFS block size 2^{}", static_cast<int>(sb[12]));
    s.root_nid = load<uint16_t>(sb, 14);
    s.inos = load<uint64_t>(sb, 16);
    s.build_time = static_cast<int64_t>(load<uint64_t>(sb, 24));
    s.build_time_nsec = load<uint32_t>(sb, 32);
    s.blocks = load<uint32_t>(sb, 36);
    s.meta_blkaddr = load<uint32_t>(sb, 40);
    s.xattr_blkaddr = load<uint32_t>(sb, 44);
    s.feature_incompat = load<uint32_t>(sb, 80);
    if (s.feature_incompat & ~kFeatureIncompatChunkedFile)
        return make_error(EINVAL, "unsupported EROFS incompatible features 0x{:x}", s.feature_incompat);
    // The image is exactly `blocks` blocks; bytes after them (e.g. padding added by a copy) are
    // not part of it, and nothing may point there.
    if (uint64_t{s.blocks} * kBlockSize > data.size())
        return make_error(EINVAL, "truncated: the superblock says {} blocks but the file has {} bytes", s.blocks,
                          data.size());
    img.data_ = data.first(uint64_t{s.blocks} * kBlockSize);
    img.budget_ = 64 * 1024 * 1024 + 16 * static_cast<uint64_t>(data.size());
    return img;
}

Result<RawInode> ErofsImage::inode(uint64_t nid) const {
    auto err = [nid](std::string_view what) { return make_error(EINVAL, "inode at nid {}: {}", nid, what); };
    uint64_t meta = uint64_t{sb_.meta_blkaddr} * kBlockSize;
    if (meta >= data_.size() || nid >= (data_.size() - meta) / 32) return err("outside the image");
    RawInode ino;
    ino.nid = nid;
    ino.offset = meta + nid * 32;
    std::span<const std::byte> h;
    if (!slice(ino.offset, kCompactSize, h)) return err("truncated inode");
    uint16_t format = load<uint16_t>(h, 0);
    bool extended = format & 1;
    if (format & ~uint16_t{0xf}) return err("unknown i_format bits");
    ino.layout = static_cast<Layout>((format >> 1) & 7);
    uint16_t icount = load<uint16_t>(h, 2);
    ino.xattr_size = icount == 0 ? 0 : static_cast<uint32_t>(kXattrHeaderSize + (icount - 1) * 4u);
    ino.mode = load<uint16_t>(h, 4);
    if (!extended) {
        ino.header_size = kCompactSize;
        ino.nlink = load<uint16_t>(h, 6);
        ino.size = load<uint32_t>(h, 8);
        ino.i_u = load<uint32_t>(h, 16);
        ino.i_ino = load<uint32_t>(h, 20);
        ino.uid = load<uint16_t>(h, 24);
        ino.gid = load<uint16_t>(h, 26);
        ino.mtime_sec = sb_.build_time;
        ino.mtime_nsec = sb_.build_time_nsec;
    } else {
        if (!slice(ino.offset, kExtendedSize, h)) return err("truncated extended inode");
        ino.header_size = kExtendedSize;
        ino.size = load<uint64_t>(h, 8);
        ino.i_u = load<uint32_t>(h, 16);
        ino.i_ino = load<uint32_t>(h, 20);
        ino.uid = load<uint32_t>(h, 24);
        ino.gid = load<uint32_t>(h, 28);
        ino.mtime_sec = static_cast<int64_t>(load<uint64_t>(h, 32));
        ino.mtime_nsec = load<uint32_t>(h, 40);
        ino.nlink = load<uint32_t>(h, 44);
    }
    if (!is_known_type(ino.mode)) return make_error(EINVAL, "inode at nid {}: unknown file type in mode 0{:o}", nid, ino.mode);
    if (ino.mtime_nsec >= 1000000000u) return err("mtime nanoseconds out of range");
    std::span<const std::byte> x;
    if (!slice(ino.offset + ino.header_size, ino.xattr_size, x)) return err("xattr area runs past the end of the image");
    if (ino.layout != Layout::FlatPlain && ino.layout != Layout::FlatInline && ino.layout != Layout::ChunkBased)
        return make_error(EINVAL, "inode at nid {}: unsupported data layout {}", nid, static_cast<int>(ino.layout));
    if (ino.layout == Layout::ChunkBased && !S_ISREG(ino.mode)) return err("chunk-based layout on a non-regular file");
    return ino;
}

Result<void> ErofsImage::read_xattr_entry(uint64_t off, uint64_t end, RawXattr& out, uint64_t& next) const {
    std::span<const std::byte> e;
    if (end > data_.size() || off > end || end - off < 4 || !slice(off, 4, e)) return make_error(EINVAL, "truncated xattr entry");
    uint8_t name_len = static_cast<uint8_t>(e[0]);
    uint8_t index = static_cast<uint8_t>(e[1]);
    uint16_t value_size = load<uint16_t>(e, 2);
    uint64_t total = (4 + uint64_t{name_len} + value_size + 3) & ~uint64_t{3};
    if (total > end - off) return make_error(EINVAL, "xattr entry runs past its area");
    if (index & 0x80) return make_error(EINVAL, "long xattr name prefixes are not supported");
    std::string_view prefix = xattr_prefix(index);
    if (index != 0 && prefix.empty()) return make_error(EINVAL, "unknown xattr name index {}", index);
    IMGCTL_TRY(charge(prefix.size() + name_len + value_size));
    const char* p = reinterpret_cast<const char*>(data_.data() + off + 4);
    out.name.assign(prefix).append(p, name_len);
    out.value.assign(p + name_len, value_size);
    if (out.name.empty() || out.name.size() > kMaxNameLen) return make_error(EINVAL, "xattr name of length {}", out.name.size());
    if (out.name.find('\0') != std::string::npos) return make_error(EINVAL, "xattr name contains a NUL byte");
    next = off + total;
    return {};
}

Result<std::vector<RawXattr>> ErofsImage::xattrs(const RawInode& ino) const {
    std::vector<RawXattr> out;
    if (ino.xattr_size == 0) return out;
    auto err = [&](const Error& e) { return Error(e).context(fmt::format("inode at nid {}: xattrs", ino.nid)); };
    uint64_t base = ino.offset + ino.header_size;  // checked by inode()
    uint64_t end = base + ino.xattr_size;
    uint8_t shared = static_cast<uint8_t>(data_[base + 4]);
    uint64_t pos = base + kXattrHeaderSize + 4ull * shared;
    if (pos > end) return err(make_error(EINVAL, "{} shared xattr ids do not fit the xattr area", shared));
    uint64_t table = uint64_t{sb_.xattr_blkaddr} * kBlockSize;
    for (unsigned i = 0; i < shared; ++i) {
        uint32_t id = load<uint32_t>(data_, base + kXattrHeaderSize + 4ull * i);
        RawXattr x;
        uint64_t next;
        auto r = read_xattr_entry(table + 4ull * id, data_.size(), x, next);
        if (!r) return err(std::move(r).error().context(fmt::format("shared xattr id {}", id)));
        out.push_back(std::move(x));
    }
    while (pos < end) {
        RawXattr x;
        auto r = read_xattr_entry(pos, end, x, pos);
        if (!r) return err(r.error());
        out.push_back(std::move(x));
    }
    std::unordered_set<std::string_view> names;
    for (auto& x : out)
        if (!names.insert(x.name).second) return err(make_error(EINVAL, "duplicate xattr '{}'", x.name));
    return out;
}

Result<std::string> ErofsImage::flat_data(const RawInode& ino) const {
    auto err = [&](std::string_view what) { return make_error(EINVAL, "inode at nid {}: {}", ino.nid, what); };
    if (ino.layout != Layout::FlatPlain && ino.layout != Layout::FlatInline) return err("data is not flat");
    if (ino.size > data_.size()) return err("size larger than the image");
    uint64_t full = ino.layout == Layout::FlatInline ? ino.size / kBlockSize : (ino.size + kBlockSize - 1) / kBlockSize;
    uint64_t in_blocks = std::min(ino.size, full * kBlockSize);
    uint64_t tail = ino.size - in_blocks;
    IMGCTL_TRY(charge(ino.size));
    std::string out;
    out.reserve(ino.size);
    std::span<const std::byte> s;
    if (in_blocks > 0) {
        if (!slice(uint64_t{ino.i_u} * kBlockSize, in_blocks, s)) return err("data blocks outside the image");
        out.append(reinterpret_cast<const char*>(s.data()), s.size());
    }
    if (tail > 0) {
        if (!slice(ino.offset + ino.header_size + ino.xattr_size, tail, s)) return err("inline data runs past the end of the image");
        out.append(reinterpret_cast<const char*>(s.data()), s.size());
    }
    return out;
}

Result<void> ErofsImage::parse_dirent_block(std::span<const std::byte> blk, std::vector<RawDirent>& out) const {
    if (blk.size() < kDirentSize) return make_error(EINVAL, "directory block of {} bytes", blk.size());
    uint16_t first = load<uint16_t>(blk, 8);
    if (first < kDirentSize || first % kDirentSize != 0 || first > blk.size())
        return make_error(EINVAL, "bad first name offset {}", first);
    size_t n = first / kDirentSize;
    for (size_t i = 0; i < n; ++i) {
        size_t rec = i * kDirentSize;
        uint16_t off = load<uint16_t>(blk, rec + 8);
        size_t end = i + 1 < n ? load<uint16_t>(blk, rec + kDirentSize + 8) : blk.size();
        if (off < first || end > blk.size() || off >= end)
            return make_error(EINVAL, "bad name offsets {}..{} in a block of {}", off, end, blk.size());
        std::string_view name(reinterpret_cast<const char*>(blk.data()) + off, end - off);
        if (i + 1 == n) name = name.substr(0, name.find('\0'));  // the last name is NUL-padded
        if (name.empty() || name.size() > kMaxNameLen || name.find_first_of(std::string_view("/\0", 2)) != name.npos)
            return make_error(EINVAL, "invalid entry name of {} bytes", name.size());
        out.push_back(RawDirent{load<uint64_t>(blk, rec), static_cast<uint8_t>(blk[rec + 10]), name});
    }
    return {};
}

Result<std::vector<RawDirent>> ErofsImage::dirents(const RawInode& ino) const {
    auto ctx = [&](Error e) { return std::move(e).context(fmt::format("inode at nid {}: directory", ino.nid)); };
    if (ino.layout != Layout::FlatPlain && ino.layout != Layout::FlatInline)
        return ctx(make_error(EINVAL, "unsupported directory layout"));
    if (ino.size > data_.size()) return ctx(make_error(EINVAL, "size {} larger than the image", ino.size));
    auto r = charge(ino.size);
    if (!r) return ctx(std::move(r).error());
    std::vector<RawDirent> out;
    uint64_t full = ino.layout == Layout::FlatInline ? ino.size / kBlockSize : (ino.size + kBlockSize - 1) / kBlockSize;
    for (uint64_t b = 0; b < full; ++b) {
        std::span<const std::byte> blk;
        uint64_t len = std::min(kBlockSize, ino.size - b * kBlockSize);
        if (!slice((uint64_t{ino.i_u} + b) * kBlockSize, len, blk)) return ctx(make_error(EINVAL, "block {} outside the image", b));
        auto p = parse_dirent_block(blk, out);
        if (!p) return ctx(std::move(p).error().context(fmt::format("block {}", b)));
    }
    uint64_t tail = ino.size - std::min(ino.size, full * kBlockSize);
    if (tail > 0) {
        std::span<const std::byte> blk;
        if (!slice(ino.offset + ino.header_size + ino.xattr_size, tail, blk))
            return ctx(make_error(EINVAL, "inline entries run past the end of the image"));
        auto p = parse_dirent_block(blk, out);
        if (!p) return ctx(std::move(p).error().context("inline block"));
    }
    return out;
}

}  // namespace imgctl::composefs::erofs
