#include <sys/sysmacros.h>

// The tables below name only the fields that matter per entry.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <functional>
#include <map>

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include "crypto/fsverity.hpp"
#include "crypto/sha256.hpp"
#include "oci/layer_applier.hpp"
#include "oci/layer_record.hpp"

namespace imgctl::oci {
namespace {

using composefs::Tree;

// Objects kept in memory, digests from the crypto module (checked against `fsverity digest`).
class MemorySink : public ObjectSink {
public:
    std::map<std::string, std::string> objects;
    class W : public Writer {
    public:
        W(MemorySink& s, uint64_t size) : s_(s), size_(size) {}
        Result<void> write(std::span<const std::byte> d) override {
            buf_.append(reinterpret_cast<const char*>(d.data()), d.size());
            return {};
        }
        Result<crypto::Digest> commit() override {
            EXPECT_EQ(buf_.size(), size_);
            auto d = crypto::fsverity_digest(buf_);
            s_.objects[d.hex()] = buf_;
            return d;
        }

    private:
        MemorySink& s_;
        uint64_t size_;
        std::string buf_;
    };
    Result<std::unique_ptr<Writer>> begin(uint64_t size) override { return std::unique_ptr<Writer>(new W(*this, size)); }
};

struct E {
    std::string name;
    mode_t type = AE_IFREG;
    mode_t perm = 0644;
    std::string data;           // file content or link target
    std::string hardlink;
    std::map<std::string, std::string> xattrs;
    int64_t mtime = 1700000000;
    long nsec = 0;
    unsigned uid = 0, gid = 0;
    unsigned maj = 0, min = 0;
};

std::string make_tar(const std::vector<E>& entries) {
    archive* a = archive_write_new();
    archive_write_set_format_pax(a);
    std::string out(1 << 20, '\0');
    size_t used = 0;
    EXPECT_EQ(archive_write_open_memory(a, out.data(), out.size(), &used), ARCHIVE_OK);
    for (const auto& e : entries) {
        archive_entry* ae = archive_entry_new();
        archive_entry_set_pathname(ae, e.name.c_str());
        archive_entry_set_perm(ae, e.perm);
        archive_entry_set_uid(ae, e.uid);
        archive_entry_set_gid(ae, e.gid);
        archive_entry_set_mtime(ae, e.mtime, e.nsec);
        for (auto& [k, v] : e.xattrs) archive_entry_xattr_add_entry(ae, k.c_str(), v.data(), v.size());
        if (!e.hardlink.empty()) {
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_hardlink(ae, e.hardlink.c_str());
            archive_entry_set_size(ae, 0);
        } else {
            archive_entry_set_filetype(ae, e.type);
            if (e.type == AE_IFLNK) archive_entry_set_symlink(ae, e.data.c_str());
            if (e.type == AE_IFCHR || e.type == AE_IFBLK) {
                archive_entry_set_rdevmajor(ae, e.maj);
                archive_entry_set_rdevminor(ae, e.min);
            }
            archive_entry_set_size(ae, e.type == AE_IFREG ? static_cast<la_int64_t>(e.data.size()) : 0);
        }
        // ARCHIVE_WARN: a non-UTF-8 name is written with hdrcharset=BINARY.
        EXPECT_GE(archive_write_header(a, ae), ARCHIVE_WARN) << archive_error_string(a);
        if (e.type == AE_IFREG && e.hardlink.empty() && !e.data.empty()) {
            EXPECT_EQ(archive_write_data(a, e.data.data(), e.data.size()), static_cast<la_ssize_t>(e.data.size()));
        }
        archive_entry_free(ae);
    }
    archive_write_close(a);
    archive_write_free(a);
    out.resize(used);
    return out;
}

std::span<const std::byte> bytes(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

Result<LayerStats> apply_tar(LayerApplier& ap, const std::string& tar) {
    BufferSource src(bytes(tar));
    return ap.apply(src);
}

const std::string kBig(5000, 'x');

TEST(LayerApplier, BuildsTreeWithAllFileTypes) {
    Tree t;
    MemorySink sink;
    LayerApplier ap(t, sink);
    auto r = apply_tar(ap, make_tar({
        {.name = "./", .type = AE_IFDIR, .perm = 0755},
        {.name = "./etc", .type = AE_IFDIR, .perm = 0750, .uid = 5, .gid = 6},
        {.name = "./etc/small", .data = "hello\n", .nsec = 123456789},
        {.name = "./etc/empty"},
        {.name = "usr/bin/big", .perm = 0755, .data = kBig,
         .xattrs = {{"security.capability", std::string("\x01\x00\x00\x02\x00\x20\x00\x00", 8)}, {"user.k", "v"}}},
        {.name = "/usr/bin/link", .hardlink = "usr/bin/big"},
        {.name = "usr/lib", .type = AE_IFLNK, .perm = 0777, .data = "../lib"},
        {.name = "dev/null", .type = AE_IFCHR, .perm = 0666, .maj = 1, .min = 3},
        {.name = "run/fifo", .type = AE_IFIFO, .perm = 0600},
    }));
    ASSERT_TRUE(r) << r.error().message;
    ap.finalize();
    EXPECT_EQ(r->objects, 1u);
    EXPECT_EQ(r->inline_files, 1u);
    auto etc = t.lookup("etc");
    ASSERT_TRUE(etc);
    EXPECT_EQ(etc->mode, S_IFDIR | 0750);
    EXPECT_EQ(etc->uid, 5u);
    auto small = t.lookup("etc/small");
    ASSERT_TRUE(small && small->content());
    EXPECT_EQ(*small->content(), "hello\n");
    EXPECT_EQ(small->mtime_sec, 1700000000);
    EXPECT_EQ(small->mtime_nsec, 123456789u);
    auto empty = t.lookup("etc/empty");
    ASSERT_TRUE(empty);
    EXPECT_FALSE(empty->content());
    EXPECT_TRUE(empty->payload().empty());
    auto big = t.lookup("usr/bin/big");
    ASSERT_TRUE(big);
    EXPECT_EQ(big, t.lookup("usr/bin/link"));  // hardlink = same inode
    EXPECT_EQ(big->nlink, 2u);
    auto d = crypto::fsverity_digest(kBig);
    EXPECT_EQ(big->fsverity(), d);
    EXPECT_EQ(big->payload(), d.hex().substr(0, 2) + "/" + d.hex().substr(2));
    EXPECT_EQ(sink.objects.at(d.hex()), kBig);
    ASSERT_EQ(big->xattrs.size(), 2u);
    EXPECT_EQ(t.lookup("usr/lib")->symlink_target(), "../lib");
    EXPECT_EQ(t.lookup("dev/null")->rdev, makedev(1, 3));
    EXPECT_TRUE(S_ISFIFO(t.lookup("run/fifo")->mode));
    EXPECT_TRUE(t.lookup("usr")->is_dir());  // implicit parent
}

TEST(LayerApplier, AppliesWhiteoutsOpaqueDirsAndCrossLayerHardlinks) {
    Tree t;
    MemorySink sink;
    LayerApplier ap(t, sink);
    ASSERT_TRUE(apply_tar(ap, make_tar({
        {.name = "a", .type = AE_IFDIR, .perm = 0755},
        {.name = "a/keep", .data = "1"},
        {.name = "a/gone", .data = "2"},
        {.name = "o", .type = AE_IFDIR, .perm = 0755},
        {.name = "o/old", .data = "3"},
        {.name = "o/sub", .type = AE_IFDIR, .perm = 0755},
        {.name = "f", .data = kBig},
    })));
    auto r = apply_tar(ap, make_tar({
        {.name = "a/.wh.gone"},
        {.name = "o", .type = AE_IFDIR, .perm = 0700},
        {.name = "o/.wh..wh..opq"},
        {.name = "o/new", .data = "4"},
        {.name = "g", .hardlink = "f"},
        {.name = ".wh.missing"},
    }));
    ASSERT_TRUE(r) << r.error().message;
    ap.finalize();
    EXPECT_EQ(r->whiteouts, 3u);
    EXPECT_TRUE(t.lookup("a/keep"));
    EXPECT_FALSE(t.lookup("a/gone"));
    EXPECT_FALSE(t.lookup("o/old"));
    EXPECT_FALSE(t.lookup("o/sub"));
    EXPECT_TRUE(t.lookup("o/new"));
    EXPECT_EQ(t.lookup("o")->mode, S_IFDIR | 0700);
    EXPECT_EQ(t.lookup("f"), t.lookup("g"));
    EXPECT_EQ(t.lookup("f")->nlink, 2u);
    EXPECT_FALSE(t.lookup(".wh.missing"));
    // A third layer replaces f: the link breaks, g keeps the old content.
    ASSERT_TRUE(apply_tar(ap, make_tar({{.name = "f", .data = "new"}})));
    ap.finalize();
    EXPECT_EQ(*t.lookup("f")->content(), "new");
    EXPECT_EQ(t.lookup("g")->nlink, 1u);
    EXPECT_EQ(t.lookup("g")->size, kBig.size());
}

TEST(LayerApplier, RefusesEscapes) {
    const struct {
        std::vector<E> entries;
        const char* why;
    } cases[] = {
        {{{.name = "../etc/passwd", .data = "x"}}, "'../etc/passwd' has a '..' component"},
        {{{.name = "a/../../b", .data = "x"}}, "has a '..' component"},
        {{{.name = "l", .type = AE_IFLNK, .perm = 0777, .data = "/etc"}, {.name = "l/passwd", .data = "x"}},
         "'l/passwd' would pass through the symlink 'l'"},
        {{{.name = "f", .data = "x"}, {.name = "f/x", .data = "x"}}, "non-directory 'f'"},
        {{{.name = "l", .type = AE_IFLNK, .perm = 0777, .data = "/"}, {.name = "l/.wh.x"}}, "symlink 'l'"},
        {{{.name = "h", .hardlink = "nothere"}}, "points to missing 'nothere'"},
        {{{.name = "d", .type = AE_IFDIR}, {.name = "h", .hardlink = "d"}}, "points to the directory"},
    };
    for (const auto& c : cases) {
        Tree t;
        MemorySink sink;
        LayerApplier ap(t, sink);
        auto r = apply_tar(ap, make_tar(c.entries));
        ASSERT_FALSE(r) << c.why;
        EXPECT_NE(r.error().message.find(c.why), std::string::npos) << r.error().message;
    }
}

TEST(LayerApplier, NormalizesNames) {
    EXPECT_EQ(*normalize_entry_name("./a/b/"), "a/b");
    EXPECT_EQ(*normalize_entry_name("/a"), "a");
    EXPECT_EQ(*normalize_entry_name("."), "");
    EXPECT_EQ(*normalize_entry_name("./"), "");
    EXPECT_EQ(*normalize_entry_name("././x"), "x");
    EXPECT_FALSE(normalize_entry_name("a/./b"));
    EXPECT_FALSE(normalize_entry_name(".."));
}

std::string gzip(const std::string& in) {
    z_stream z{};
    deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    std::string out(deflateBound(&z, in.size()) + 32, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

std::string zstd(const std::string& in) {
    std::string out(ZSTD_compressBound(in.size()), '\0');
    out.resize(ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3));
    return out;
}

Result<std::string> decode(const std::string& blob, Compression c, const std::string& plain, bool bad_digest = false,
                           size_t chunk = 1000) {
    BufferSource raw(bytes(blob));
    auto bd = crypto::Sha256::of(blob);
    if (bad_digest) bd.bytes[0] ^= 1;
    LayerStream ls(raw, c, bd, crypto::Sha256::of(plain));
    std::string out;
    std::vector<char> buf(chunk);
    while (true) {
        auto n = ls.read(std::as_writable_bytes(std::span(buf.data(), buf.size())));
        if (!n) return std::move(n).error();
        if (*n == 0) break;
        out.append(buf.data(), *n);
    }
    IMGCTL_TRY(ls.finish());
    return out;
}

TEST(LayerStream, DecodesConcatenatedGzipMembersAndZstdFramesWithSkippableFrames) {
    std::string a(70000, 'a'), b = "second part of the layer";
    EXPECT_EQ(*decode(a + b, Compression::None, a + b), a + b);
    EXPECT_EQ(*decode(gzip(a) + gzip(b), Compression::Gzip, a + b), a + b);
    // A skippable frame (magic 0x184D2A50..5F, little-endian size) between and after frames,
    // as zstd:chunked writes its TOC and footer.
    std::string skip("\x50\x2a\x4d\x18\x04\x00\x00\x00TOC!", 12);
    EXPECT_EQ(*decode(zstd(a) + skip + zstd(b) + skip, Compression::Zstd, a + b), a + b);
}

TEST(LayerStream, DrainsBufferedOutputWithTinyReads) {
    // Output buffers smaller than what the decoders hold back after the last input byte.
    std::string a(200000, 'q'), b = "tail";
    for (size_t chunk : {1, 7, 4096}) {
        EXPECT_EQ(*decode(gzip(a) + gzip(b), Compression::Gzip, a + b, false, chunk), a + b) << chunk;
        EXPECT_EQ(*decode(zstd(a) + zstd(b), Compression::Zstd, a + b, false, chunk), a + b) << chunk;
    }
}

TEST(LayerStream, RejectsBadDigestsAndTruncation) {
    std::string a(70000, 'a');
    auto r = decode(gzip(a), Compression::Gzip, a, /*bad_digest=*/true);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("blob digest mismatch"), std::string::npos);
    r = decode(gzip(a), Compression::Gzip, a + "x");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("diff_id"), std::string::npos);
    std::string gz = gzip(a);
    EXPECT_FALSE(decode(gz.substr(0, gz.size() - 10), Compression::Gzip, a));
    std::string zs = zstd(a);
    EXPECT_FALSE(decode(zs.substr(0, zs.size() - 3), Compression::Zstd, a));
}

// Text that deflate cannot shrink to a few bytes (real Huffman blocks, several of them).
std::string varied(size_t n) {
    std::string out;
    uint32_t x = 12345;
    while (out.size() < n) {
        x = x * 1103515245 + 12345;
        out += "word" + std::to_string((x >> 16) % 1000) + (x % 7 == 0 ? "\n" : " ");
    }
    out.resize(n);
    return out;
}

Result<std::string> decode_blob(const std::string& blob, const std::string& plain, const crypto::Digest& blob_digest) {
    BufferSource raw(bytes(blob));
    LayerStream ls(raw, Compression::Gzip, blob_digest, crypto::Sha256::of(plain));
    std::vector<char> buf(4096);
    while (true) {
        auto n = ls.read(std::as_writable_bytes(std::span(buf.data(), buf.size())));
        if (!n) break;  // finish() reports the cause
        if (*n == 0) break;
    }
    IMGCTL_TRY(ls.finish());
    return plain;
}

TEST(LayerStream, GzipTrailerAndHeaderAreChecked) {
    // The blob digest is that of the altered blob, so only the gzip checks can catch these.
    std::string a = varied(300000), gz = gzip(a);
    auto altered = [&](size_t pos) {
        std::string b = gz;
        b[pos] = static_cast<char>(b[pos] ^ 0x01);
        return b;
    };
    auto expect_error = [&](const std::string& blob, std::string_view what, const char* label) {
        auto r = decode_blob(blob, a, crypto::Sha256::of(blob));
        ASSERT_FALSE(r) << label;
        EXPECT_NE(r.error().message.find(what), std::string::npos) << label << ": " << r.error().message;
    };
    ASSERT_TRUE(decode_blob(gz, a, crypto::Sha256::of(gz))) << "the unaltered blob decodes";
    expect_error(altered(gz.size() - 8), "CRC-32", "CRC-32 in the trailer");
    expect_error(altered(gz.size() - 4), "length in the gzip trailer", "ISIZE in the trailer");
    expect_error(altered(0), "gzip", "magic number");
    expect_error(altered(2), "gzip", "compression method");
    expect_error(gz + "trailing garbage", "gzip", "garbage after the last member");
    expect_error(gz.substr(0, gz.size() - 1), "truncated", "a trailer byte missing");
    // Three members, the middle one empty, decode to the concatenation.
    EXPECT_EQ(*decode(gzip(a) + gzip("") + gzip("end"), Compression::Gzip, a + "end"), a + "end");
}

TEST(LayerStream, DamagedBlobIsReportedAsADigestMismatch) {
    // A flipped byte in the deflate data breaks decoding; with the blob's real digest the
    // report names the digest (the cause), not the decoder's complaint.
    std::string a = varied(300000), gz = gzip(a), bad = gz;
    bad[gz.size() / 2] = static_cast<char>(bad[gz.size() / 2] ^ 0x55);
    auto r = decode_blob(bad, a, crypto::Sha256::of(gz));
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("blob digest mismatch"), std::string::npos) << r.error().message;
    // With a matching blob digest (a blob that is wrong at its source) the decoder's error stays.
    r = decode_blob(bad, a, crypto::Sha256::of(bad));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message.find("blob digest mismatch"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace imgctl::oci

namespace imgctl::oci {
namespace {

// Structural equality of two trees (hardlink sharing included, by first-seen path).
void expect_same_tree(const Tree& a, const Tree& b) {
    std::map<const composefs::Inode*, std::string> seen_a, seen_b;
    std::function<void(const composefs::Inode&, const composefs::Inode&, const std::string&)> walk =
        [&](const composefs::Inode& x, const composefs::Inode& y, const std::string& p) {
            EXPECT_EQ(x.mode, y.mode) << p;
            EXPECT_EQ(x.uid, y.uid) << p;
            EXPECT_EQ(x.gid, y.gid) << p;
            EXPECT_EQ(x.rdev, y.rdev) << p;
            EXPECT_EQ(x.mtime_sec, y.mtime_sec) << p;
            EXPECT_EQ(x.mtime_nsec, y.mtime_nsec) << p;
            EXPECT_EQ(x.size, y.size) << p;
            EXPECT_EQ(x.nlink, y.nlink) << p;
            EXPECT_EQ(x.xattrs, y.xattrs) << p;
            EXPECT_EQ(x.symlink_target(), y.symlink_target()) << p;
            EXPECT_EQ(x.content(), y.content()) << p;
            EXPECT_EQ(x.payload(), y.payload()) << p;
            EXPECT_EQ(x.fsverity(), y.fsverity()) << p;
            ASSERT_EQ(x.children().size(), y.children().size()) << p;
            for (auto ix = x.children().begin(), iy = y.children().begin(); ix != x.children().end(); ++ix, ++iy) {
                ASSERT_EQ(ix->first, iy->first) << p;
                std::string cp = p + "/" + ix->first;
                auto [fa, new_a] = seen_a.emplace(ix->second.get(), cp);
                auto [fb, new_b] = seen_b.emplace(iy->second.get(), cp);
                EXPECT_EQ(fa->second, fb->second) << "hardlink structure at " << cp;
                if (new_a && new_b) walk(*ix->second, *iy->second, cp);
            }
        };
    walk(*a.root(), *b.root(), "");
}

TEST(LayerRecord, ReplayGivesTheSameTree) {
    std::vector<std::string> tars = {
        make_tar({{.name = "./", .type = AE_IFDIR, .perm = 0711},
                  {.name = "d", .type = AE_IFDIR},
                  {.name = "d/big", .data = kBig, .xattrs = {{"user.bin", std::string("\xff\x00\x01", 3)}}},
                  {.name = "d/small", .data = "tiny", .nsec = 5},
                  {.name = "d/link", .hardlink = "d/big"},
                  {.name = "dev/sda", .type = AE_IFBLK, .perm = 0660, .maj = 8, .min = 0},
                  {.name = "s", .type = AE_IFLNK, .perm = 0777, .data = "d/small"},
                  {.name = "o", .type = AE_IFDIR},
                  {.name = "o/x", .data = "x"},
                  {.name = "name-\xe9", .data = "latin1 name"}}),
        make_tar({{.name = "d/.wh.small"}, {.name = "o/.wh..wh..opq"}, {.name = "o/y", .data = "y"},
                  {.name = "l2", .hardlink = "d/big"}}),
    };
    Tree direct, replayed;
    MemorySink sink;
    LayerApplier a(direct, sink), b(replayed, sink);
    for (const auto& tar : tars) {
        BufferSource src(bytes(tar));
        std::vector<LayerEntry> rec;
        ASSERT_TRUE(a.apply(src, &rec));
        auto parsed = parse_layer_record(serialize_layer_record(rec));
        ASSERT_TRUE(parsed) << parsed.error().message;
        auto st = b.apply_entries(*parsed);
        ASSERT_TRUE(st) << st.error().message;
    }
    a.finalize();
    b.finalize();
    expect_same_tree(direct, replayed);
    EXPECT_EQ(replayed.lookup("l2")->nlink, 3u);
    EXPECT_FALSE(replayed.lookup("o/x"));
    EXPECT_TRUE(replayed.lookup("name-\xe9"));
}

TEST(LayerRecord, RefusesMalformedRecords) {
    EXPECT_FALSE(parse_layer_record("[]"));
    EXPECT_FALSE(parse_layer_record(R"({"version":2,"entries":[]})"));
    EXPECT_FALSE(parse_layer_record(R"({"version":1,"entries":[{"m":1}]})"));
    EXPECT_FALSE(parse_layer_record(R"({"version":1,"entries":[{"n":"Li4vZQ=="}]})"));  // "../e"
    EXPECT_FALSE(parse_layer_record(R"({"version":1,"entries":[{"n":"YQ==","m":33188,"o":"zz"}]})"));
    EXPECT_TRUE(parse_layer_record(R"({"version":1,"entries":[{"n":"YQ==","m":33188}]})"));
    // An entry that is neither a whiteout, a hardlink nor a file is refused when applied.
    auto no_data = parse_layer_record(R"({"version":1,"entries":[{"n":"YQ=="}]})");
    ASSERT_TRUE(no_data);
    Tree t;
    MemorySink sink;
    LayerApplier ap(t, sink);
    EXPECT_FALSE(ap.apply_entries(*no_data));
}

}  // namespace
}  // namespace imgctl::oci
