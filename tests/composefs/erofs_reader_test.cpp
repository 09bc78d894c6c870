// The EROFS reader on images made by an independent tool (mkfs.erofs from erofs-utils) and on
// damaged or hostile images. Round trips through imgctl's own writer are in
// erofs_roundtrip_test.cpp.
#include "composefs/erofs_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "base/file_util.hpp"
#include "base/temp_dir.hpp"
#include "composefs/erofs_image.hpp"
#include "tree_listing.hpp"

namespace imgctl::composefs {
namespace {

int sh(const std::string& cmd) { return std::system(("set -e; " + cmd).c_str()); }

// Makes the first 32 bytes of an EROFS image a composefs header (EROFS ignores bytes 0..1023).
void add_composefs_header(std::string& img, uint32_t flags = 0, uint32_t version = 0) {
    ASSERT_GE(img.size(), 1024u);
    uint32_t h[4] = {erofs::kComposefsMagic, 1, flags, version};
    std::memcpy(img.data(), h, sizeof h);
}

std::span<const std::byte> bytes(const std::string& s) { return {reinterpret_cast<const std::byte*>(s.data()), s.size()}; }

// A source tree with one of each kind of file, as mkfs.erofs will see it (root needed for
// mknod, chown and trusted.* xattrs; the CI runs as root).
class MkfsErofsTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_EQ(geteuid(), 0u) << "these tests need root (mknod, trusted.* xattrs), as the CI has";
        auto t = TempDir::create("imgctl-reader-");
        ASSERT_TRUE(t);
        dir_ = std::make_unique<TempDir>(std::move(t).value());
        src_ = dir_->path() + "/src";
        ASSERT_EQ(sh("cd " + dir_->path() + " && mkdir -p src/sub/deeper && cd src && "
                     "printf hello > small && "
                     "awk 'BEGIN{for(i=0;i<5000;i++) printf \"%c\", 97+i%26}' > big && "
                     "ln -s small link && mkfifo fifo && mknod chr c 1 3 && mknod blk b 8 1 && "
                     "mknod stub c 0 0 && ln big sub/hard && printf x > sub/wh && "
                     "setfattr -n trusted.overlay.overlay.whiteout -v '' sub/wh && "
                     "setfattr -n user.overlay.whiteout -v '' sub/wh && "
                     "setfattr -n user.x -v val small && setfattr -n user.x -v val big && "
                     "setfattr -n trusted.overlay.overlay.opaque -v y sub && "
                     "setfattr -n trusted.overlay.opaque -v y . && setfattr -n security.t -v 1 . && "
                     "truncate -s 10000 ext && setfattr -n trusted.overlay.redirect -v /ab/cdef ext && "
                     "setfattr -n trusted.overlay.metacopy -v 0x00240001" + std::string(64, '7') + " ext && "
                     "chown 1234:5678 small && chown 70000:70001 big && chmod 4751 small && "
                     "find . -exec touch -h -d @1700000000 {} + && touch -h -d @1600000000.25 link"),
                  0);
    }
    std::string make_image(const std::string& extra_opts) {
        std::string img = dir_->path() + "/img";
        EXPECT_EQ(sh("mkfs.erofs --quiet --preserve-mtime " + extra_opts + " " + img + " " + src_ + " >/dev/null"), 0);
        auto data = read_file_at(AT_FDCWD, img);
        EXPECT_TRUE(data);
        std::string s = data ? *data : std::string();
        add_composefs_header(s);
        return s;
    }
    std::unique_ptr<TempDir> dir_;
    std::string src_;
};

TEST_F(MkfsErofsTest, ReadsEveryKindOfFile) {
    std::string img = make_image("");
    auto r = read_image(bytes(img), "mkfs");
    ASSERT_TRUE(r) << r.error().message;
    const Tree& t = r->tree;
    auto small = t.lookup("/small");
    ASSERT_TRUE(small);
    EXPECT_EQ(small->mode, S_IFREG | 04751);
    EXPECT_EQ(small->uid, 1234u);
    EXPECT_EQ(small->gid, 5678u);
    EXPECT_EQ(small->content(), "hello");
    EXPECT_EQ(small->size, 5u);
    EXPECT_EQ(small->mtime_sec, 1700000000);
    ASSERT_EQ(small->xattrs.size(), 1u);
    EXPECT_EQ(small->xattrs[0], (Xattr{"user.x", "val"}));
    auto big = t.lookup("/big");
    ASSERT_TRUE(big && big->content());
    EXPECT_EQ(big->content()->size(), 5000u);
    EXPECT_EQ(big->content()->substr(4990), "yzabcdefgh");  // byte i is 'a' + i % 26
    EXPECT_EQ(big->uid, 70000u);
    EXPECT_EQ(t.lookup("/sub/hard"), big) << "hardlinks share one inode";
    EXPECT_EQ(big->nlink, 2u);
    auto link = t.lookup("/link");
    ASSERT_TRUE(link);
    EXPECT_EQ(link->symlink_target(), "small");
    EXPECT_EQ(link->mtime_sec, 1600000000);
    EXPECT_EQ(link->mtime_nsec, 250000000u);
    EXPECT_EQ(t.lookup("/chr")->rdev, 0x103u);
    EXPECT_EQ(t.lookup("/blk")->rdev, 0x801u);
    EXPECT_TRUE(S_ISBLK(t.lookup("/blk")->mode));
    EXPECT_TRUE(S_ISFIFO(t.lookup("/fifo")->mode));
    EXPECT_FALSE(t.lookup("/stub")) << "0:0 chardevs are the writer's stubs and are skipped";
    auto wh = t.lookup("/sub/wh");
    ASSERT_TRUE(wh);
    EXPECT_EQ(wh->mode, S_IFCHR | 0644u) << "a converted whiteout is a chardev 0:0 again";
    EXPECT_EQ(wh->rdev, 0u);
    EXPECT_TRUE(wh->xattrs.empty());
    auto sub = t.lookup("/sub");
    ASSERT_EQ(sub->xattrs.size(), 1u);
    EXPECT_EQ(sub->xattrs[0], (Xattr{"trusted.overlay.opaque", "y"})) << "escaped names are restored";
    ASSERT_EQ(t.root()->xattrs.size(), 1u) << "the root's opaque marker is the writer's";
    EXPECT_EQ(t.root()->xattrs[0].name, "security.t");
    EXPECT_TRUE(t.lookup("/sub/deeper")->is_dir());
    EXPECT_EQ(r->info.format_version, 0u);
}

TEST_F(MkfsErofsTest, ChunkedFilesBecomeExternalWithPayloadAndDigest) {
    std::string img = make_image("--chunksize=4096");
    auto r = read_image(bytes(img), "mkfs");
    ASSERT_TRUE(r) << r.error().message;
    auto ext = r->tree.lookup("/ext");
    ASSERT_TRUE(ext);
    EXPECT_FALSE(ext->content());
    EXPECT_EQ(ext->size, 10000u);
    EXPECT_EQ(ext->payload(), "ab/cdef");
    ASSERT_TRUE(ext->fsverity());
    EXPECT_EQ(ext->fsverity()->hex(), std::string(64, '7'));
    EXPECT_TRUE(ext->xattrs.empty());
    auto files = list_external_files(bytes(img), "mkfs");
    ASSERT_TRUE(files) << files.error().message;
    bool found = false;
    for (const auto& f : *files) {
        if (f.path != "/ext") continue;
        found = true;
        EXPECT_EQ(f.payload, "ab/cdef");
        ASSERT_TRUE(f.fsverity);
        EXPECT_EQ(f.fsverity->hex(), std::string(64, '7'));
    }
    EXPECT_TRUE(found);
}

TEST_F(MkfsErofsTest, TruncatedImagesGiveErrorsNotCrashes) {
    std::string img = make_image("");
    for (size_t len = 0; len < img.size(); len += 512) {
        std::string cut = img.substr(0, len);
        auto r = read_image(bytes(cut), "cut");
        EXPECT_FALSE(r) << "truncated at " << len;
        if (!r) {
            EXPECT_NE(r.error().message.find("image 'cut'"), std::string::npos) << r.error().message;
        }
        EXPECT_FALSE(list_external_files(bytes(cut), "cut"));
    }
}

TEST_F(MkfsErofsTest, FlippedBytesNeverCrash) {
    std::string img = make_image("");
    std::mt19937 rng(42);
    int errors = 0;
    for (int i = 0; i < 3000; ++i) {
        std::string bad = img;
        int flips = 1 + static_cast<int>(rng() % 4);
        for (int f = 0; f < flips; ++f) {
            // Most flips go into the metadata (the first 4 KiB), where they matter.
            size_t at = (rng() % 4 == 0 ? rng() % bad.size() : 1024 + rng() % 3072) % bad.size();
            bad[at] = static_cast<char>(bad[at] ^ (1u << (rng() % 8)));
        }
        auto r = read_image(bytes(bad), "flipped");
        if (!r) ++errors;
        (void)list_external_files(bytes(bad), "flipped");
    }
    EXPECT_GT(errors, 100) << "some corruptions must be detected";
}

// Points the directory entry `name` of directory `dir_path` at `new_nid` (dirents are inline).
void repoint_entry(std::string& img, const std::string& dir_path, std::string_view name, uint64_t new_nid) {
    auto e = erofs::ErofsImage::open(bytes(img));
    ASSERT_TRUE(e);
    auto dir = e->inode(e->superblock().root_nid);
    ASSERT_TRUE(dir);
    auto comps = Tree::split(dir_path);
    ASSERT_TRUE(comps);
    for (auto comp : *comps) {
        auto ents = e->dirents(*dir);
        ASSERT_TRUE(ents);
        bool found = false;
        for (auto& d : *ents)
            if (d.name == comp) dir = e->inode(d.nid), found = true;
        ASSERT_TRUE(found && dir);
    }
    auto ents = e->dirents(*dir);
    ASSERT_TRUE(ents);
    for (auto& d : *ents) {
        if (d.name != name) continue;
        // The 12-byte record holding d.nid lies in the directory's inline data after the inode.
        for (size_t off = dir->offset; off + 8 <= dir->offset + 4096 && off + 8 <= img.size(); off += 4) {
            uint64_t v;
            std::memcpy(&v, img.data() + off, 8);
            if (v != d.nid) continue;
            std::memcpy(img.data() + off, &new_nid, 8);
            return;
        }
    }
    FAIL() << "entry " << name << " not found in " << dir_path;
}

TEST_F(MkfsErofsTest, DirectoryCyclesAndDirectoryHardlinksAreRefused) {
    std::string img = make_image("");
    auto e = erofs::ErofsImage::open(bytes(img));
    ASSERT_TRUE(e);
    uint64_t root = e->superblock().root_nid;
    std::string cyc = img;
    repoint_entry(cyc, "/sub", "deeper", root);
    auto r = read_image(bytes(cyc), "cycle");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("reached twice"), std::string::npos) << r.error().message;
    EXPECT_FALSE(list_external_files(bytes(cyc), "cycle"));
    // A loop below the root: /sub/deeper is /sub again.
    auto sub = read_image(bytes(img), "ok");
    ASSERT_TRUE(sub);
    std::string loop = img;
    auto subdir = e->dirents(*e->inode(root));
    ASSERT_TRUE(subdir);
    uint64_t sub_nid = 0;
    for (auto& d : *subdir)
        if (d.name == "sub") sub_nid = d.nid;
    repoint_entry(loop, "/sub", "deeper", sub_nid);
    r = read_image(bytes(loop), "loop");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("reached twice"), std::string::npos) << r.error().message;
}

TEST_F(MkfsErofsTest, RefusesNonComposefsAndUnknownVersions) {
    std::string img = make_image("");
    std::string plain = img;
    std::memset(plain.data(), 0, 32);
    auto r = read_image(bytes(plain), "plain");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("not a composefs image"), std::string::npos) << r.error().message;
    std::string v2 = img;
    add_composefs_header(v2, 0, 2);
    EXPECT_FALSE(read_image(bytes(v2), "v2"));
    std::string v1 = img;
    add_composefs_header(v1, 1, 1);
    auto i = read_image_info(bytes(v1), "v1");
    ASSERT_TRUE(i);
    EXPECT_EQ(i->format_version, 1u);
    EXPECT_TRUE(i->has_acl);
}

}  // namespace
}  // namespace imgctl::composefs
