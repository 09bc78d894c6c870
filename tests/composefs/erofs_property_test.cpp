// Property test: random trees with every kind of entry and the format's limits round-trip
// tree -> image -> tree -> image and image -> dump -> image byte-identically, the tree read
// back equals the source tree, and fsck.erofs (erofs-utils) accepts the images.
#include <fcntl.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <random>

#include "base/atomic_file.hpp"
#include "base/file_util.hpp"
#include "base/temp_dir.hpp"
#include "composefs/dump_parser.hpp"
#include "composefs/dump_writer.hpp"
#include "composefs/erofs_reader.hpp"
#include "composefs/erofs_writer.hpp"
#include "tree_listing.hpp"

namespace imgctl::composefs {
namespace {

std::span<const std::byte> bytes(const std::string& s) { return {reinterpret_cast<const std::byte*>(s.data()), s.size()}; }

class TreeGen {
public:
    explicit TreeGen(unsigned seed) : rng_(seed) {}

    Tree make() {
        Tree t;
        stamp(*t.root());
        t.root()->mode = S_IFDIR | 0755;
        fill(*t.root(), 0, 40);
        // Deep: a chain of nested directories with files at the bottom.
        Inode* d = t.root().get();
        for (int i = 0; i < 70; ++i) d = add_dir(*d, "deep" + std::to_string(i % 3));
        fill(*d, 3, 5);
        // Wide: enough long names to span many 4096-byte dirent blocks.
        Inode* w = add_dir(*t.root(), "wide");
        for (int i = 0; i < 120; ++i) add_leaf(*w, fmt::format("{:03}", i) + std::string(20 + rng_() % 230, 'w'));
        // Every name length 1..255 and every byte except '/' and NUL.
        Inode* n = add_dir(*t.root(), "names");
        for (size_t len = 1; len <= 255; len += 1 + rng_() % 16) add_leaf(*n, random_name(len));
        for (int b = 1; b < 256; ++b)
            if (b != '/') add_leaf(*n, std::string(1, static_cast<char>(b)) + "x");
        if (rng_() % 2) add_leaf(*t.root(), "ab");  // shadows one of the 00..ff stubs
        add_hardlinks(t);
        return t;
    }

private:
    uint32_t pick(std::initializer_list<uint32_t> v) { return *(v.begin() + rng_() % v.size()); }

    std::string random_bytes(size_t n, bool printable = false) {
        std::string s(n, '\0');
        for (auto& c : s) c = static_cast<char>(printable ? 'a' + rng_() % 26 : rng_());
        return s;
    }
    std::string random_name(size_t len) {
        std::string s;
        while (s.size() < len) {
            char c = static_cast<char>(1 + rng_() % 255);
            if (c != '/') s += c;
        }
        if (s == "." || s == "..") s = "x" + s.substr(1);
        return s;
    }
    void stamp(Inode& i) {
        switch (rng_() % 4) {
            case 0: i.mtime_sec = 0, i.mtime_nsec = 0; break;  // shared minimum: compact inodes
            case 1: i.mtime_sec = 1700000000, i.mtime_nsec = 123456789; break;
            default: i.mtime_sec = rng_() % 4000000000u, i.mtime_nsec = rng_() % 1000000000u;
        }
        if (rng_() % 8 == 0) i.uid = 70000 + rng_() % 1000, i.gid = rng_() % 100000;
        i.mode = (i.mode & S_IFMT) | (rng_() % 07777);
        int nx = rng_() % 4 == 0 ? 1 + rng_() % 4 : 0;
        size_t budget = 32767 - 12;
        for (int k = 0; k < nx; ++k) {
            std::string name = std::string(pick({0, 1, 2, 3}) == 0 ? "user." : pick({0, 1}) ? "trusted." : "security.") +
                               random_name(1 + rng_() % 40);
            if (rng_() % 6 == 0) name = pick({0, 1}) ? "trusted.overlay.metacopy" : "trusted.overlay.x" + name.substr(5);
            for (auto& c : name) c = (c == '\0') ? 'z' : c;
            // Large values are printable so the dump line (escaped) stays under 65535 bytes.
            bool large = rng_() % 10 == 0;
            std::string value = large ? random_bytes(8000 + rng_() % 8000, true) : random_bytes(rng_() % 60);
            if (name.size() > 255 || 7 + name.size() + value.size() > budget) continue;
            bool dup = false;
            for (auto& x : i.xattrs) dup |= x.name == name;
            if (dup) continue;
            budget -= 7 + name.size() + value.size();
            i.xattrs.push_back({name, value});
        }
    }
    Inode* add_dir(Inode& parent, const std::string& name) {
        auto d = Inode::make(S_IFDIR);
        stamp(*d);
        auto* raw = d.get();
        parent.children()[name] = d;
        return raw;
    }
    void add_leaf(Inode& parent, const std::string& name) {
        InodePtr i;
        switch (rng_() % 9) {
            case 0: case 1: {  // inline content at and around the limits
                i = Inode::make(S_IFREG);
                size_t n = pick({1, 2, 64, 2047, 2048, 2049, 4095, 4096, 4097, 5000});
                i->set_content(random_bytes(rng_() % 3 ? rng_() % 65 : n));
                i->size = i->content()->size();
                if (i->size == 0) i->set_content(std::nullopt);
                break;
            }
            case 2: case 3: {  // external, in the object store
                i = Inode::make(S_IFREG);
                i->size = pick({1, 4096, 4097, 10000, 1u << 30}) + (rng_() % 2 ? 0 : rng_() % 100000);
                if (rng_() % 5 == 0) i->size = uint64_t{1} << (30 + rng_() % 12);  // up to 2 TiB
                crypto::Digest d;
                for (auto& b : d.bytes) b = static_cast<uint8_t>(rng_());
                i->set_payload(d.hex().substr(0, 2) + "/" + d.hex().substr(2));
                if (rng_() % 3) i->set_fsverity(d);
                break;
            }
            case 4: {
                i = Inode::make(S_IFLNK);
                size_t len = rng_() % 4 == 0 ? pick({4095, 4094, 4000, 3000, 2048}) : 1 + rng_() % 100;
                std::string t = random_bytes(len);
                for (auto& c : t) c = c == '\0' ? '/' : c;
                i->set_symlink_target(t);
                i->size = t.size();
                break;
            }
            case 5: {
                i = Inode::make(pick({S_IFCHR, S_IFBLK}));
                uint32_t major = rng_() % 4096, minor = rng_() % (1u << 20);
                i->rdev = (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
                if (i->rdev == 0) i->rdev = 0x103;
                break;
            }
            case 6: i = Inode::make(pick({S_IFIFO, S_IFSOCK})); break;
            case 7: i = Inode::make(S_IFCHR); break;  // an overlay whiteout (chardev 0:0)
            default: i = Inode::make(S_IFREG); break;  // empty file
        }
        stamp(*i);
        parent.children()[name] = std::move(i);
        leaves_.push_back(parent.children()[name]);
    }
    void fill(Inode& dir, int depth, int n) {
        for (int k = 0; k < n; ++k) {
            if (depth < 4 && rng_() % 5 == 0) fill(*add_dir(dir, random_name(1 + rng_() % 12)), depth + 1, 1 + rng_() % 12);
            else add_leaf(dir, random_name(1 + rng_() % 30));
        }
    }
    // Extra names for some non-directory, non-whiteout inodes, anywhere in the tree; a random
    // name owns each (sometimes one the breadth-first order meets before the depth-first one).
    void add_hardlinks(Tree& t) {
        std::vector<Inode*> dirs;
        collect_dirs(t.root().get(), dirs);
        for (int k = 0; k < 12 && !leaves_.empty(); ++k) {
            InodePtr target = leaves_[rng_() % leaves_.size()];
            if (S_ISCHR(target->mode) && target->rdev == 0) continue;
            Inode* d = dirs[rng_() % dirs.size()];
            std::string name = "hl" + std::to_string(k);
            if (d->children().count(name)) continue;
            d->children()[name] = target;
            target->nlink += 1;
            links_.push_back(target);
        }
        // Owners: whichever name is chosen; the writer places the inode there.
        std::map<Inode*, std::vector<std::string>> names;
        collect_names(t.root(), "", names);
        for (auto& [inode, paths] : names)
            if (paths.size() > 1) inode->set_primary_path(paths[rng_() % paths.size()]);
    }
    void collect_dirs(Inode* d, std::vector<Inode*>& out) {
        out.push_back(d);
        for (auto& [n, c] : d->children())
            if (c->is_dir()) collect_dirs(c.get(), out);
    }
    void collect_names(const InodePtr& d, const std::string& path, std::map<Inode*, std::vector<std::string>>& out) {
        for (auto& [n, c] : d->children()) {
            std::string p = path + "/" + n;
            if (c->is_dir()) collect_names(c, p, out);
            else out[c.get()].push_back(p);
        }
    }

    std::mt19937 rng_;
    std::vector<InodePtr> leaves_;
    std::vector<InodePtr> links_;
};

TEST(ErofsProperty, RandomTreesRoundTripByteIdentically) {
    auto dir = TempDir::create("imgctl-prop-");
    ASSERT_TRUE(dir);
    int fsck_runs = 0;
    for (unsigned seed = 1; seed <= 24; ++seed) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        Tree src = TreeGen(seed).make();
        auto img = write_erofs(src);
        ASSERT_TRUE(img) << img.error().message;

        auto back = read_image(bytes(img->bytes), "random");
        ASSERT_TRUE(back) << back.error().message;
        testing::ListingOptions lo{.strip_v1_markers = img->version == 1};
        EXPECT_EQ(testing::tree_listing(back->tree, lo), testing::tree_listing(src, lo));

        ErofsOptions same{back->info.format_version, back->info.format_version};
        auto again = write_erofs(back->tree, same);
        ASSERT_TRUE(again) << again.error().message;
        EXPECT_TRUE(again->bytes == img->bytes) << "image -> tree -> image changed the bytes";

        auto parsed = parse_dump(write_dump(back->tree), DumpParseOptions{.strict = true});
        ASSERT_TRUE(parsed) << parsed.error().message;
        auto third = write_erofs(*parsed, same);
        ASSERT_TRUE(third) << third.error().message;
        EXPECT_TRUE(third->bytes == img->bytes) << "image -> dump -> image changed the bytes";

        if (seed % 6 == 1) {  // fsck.erofs is slow-ish: a few images only
            std::string path = dir->path() + "/img" + std::to_string(seed);
            auto fd = open_at(AT_FDCWD, path, O_WRONLY | O_CREAT | O_EXCL, 0644);
            ASSERT_TRUE(fd);
            ASSERT_TRUE(write_all(fd->get(), img->bytes));
            EXPECT_EQ(std::system(("fsck.erofs " + path + " >/dev/null 2>&1").c_str()), 0) << "fsck.erofs refused " << path;
            ++fsck_runs;
        }
    }
    EXPECT_EQ(fsck_runs, 4);
}

// A hardlinked inode placed at a name that breadth-first order meets before the first
// depth-first name: reading must keep that name as the owner for the bytes to round-trip.
TEST(ErofsProperty, HardlinkOwnerThatIsNotTheFirstDepthFirstName) {
    Tree t;
    auto f = Inode::make(S_IFREG | 0644);
    f->set_content("data");
    f->size = 4;
    f->nlink = 2;
    ASSERT_TRUE(t.mkdir_parents("/a/x"));
    ASSERT_TRUE(t.insert("/a/x", f));
    ASSERT_TRUE(t.insert("/b", f));
    ASSERT_TRUE(t.insert("/c", Inode::make(S_IFREG | 0600)));
    f->set_primary_path("/b");  // breadth-first: /b (depth 1) before /a/x (depth 2)
    auto img = write_erofs(t);
    ASSERT_TRUE(img);
    auto back = read_image(bytes(img->bytes), "hl");
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->tree.lookup("/a/x"), back->tree.lookup("/b"));
    EXPECT_EQ(back->tree.lookup("/b")->primary_path(), "/b");
    auto again = write_erofs(back->tree);
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->bytes == img->bytes);
    f->set_primary_path("/a/x");
    auto other = write_erofs(t);
    ASSERT_TRUE(other);
    EXPECT_FALSE(other->bytes == img->bytes) << "the owner changes the layout, so this test means something";
}

TEST(ErofsProperty, NestingDeeperThanTheLimitIsRefused) {
    Tree t;
    Inode* d = t.root().get();
    for (unsigned i = 0; i <= kMaxDepth; ++i) {
        auto c = Inode::make(S_IFDIR | 0755);
        d->children()["d"] = c;
        d = c.get();
    }
    auto img = write_erofs(t);
    ASSERT_TRUE(img) << img.error().message;
    auto back = read_image(bytes(img->bytes), "deep");
    ASSERT_FALSE(back);
    EXPECT_NE(back.error().message.find("nested deeper"), std::string::npos) << back.error().message;
}

// Deep chains of long names make path strings grow quadratically: a small image must not be
// able to make the reader build gigabytes of them (they count against the decoding budget).
TEST(ErofsProperty, QuadraticPathGrowthIsBounded) {
    Tree t;
    Inode* d = t.root().get();
    for (int i = 0; i < 1500; ++i) {
        auto c = Inode::make(S_IFDIR | 0755);
        d->children()[std::string(255, 'a' + i % 26)] = c;
        d = c.get();
    }
    for (int i = 0; i < 3000; ++i) d->children()[fmt::format("{:0255}", i)] = Inode::make(S_IFREG | 0644);
    auto img = write_erofs(t);
    ASSERT_TRUE(img) << img.error().message;
    // ~1 GB of paths for a ~2 MB image.
    auto back = read_image(bytes(img->bytes), "deep-wide");
    ASSERT_FALSE(back);
    EXPECT_EQ(back.error().code, EFBIG) << back.error().message;
    EXPECT_LT(img->bytes.size(), 4u << 20);
    EXPECT_FALSE(list_external_files(bytes(img->bytes), "deep-wide"));
}

}  // namespace
}  // namespace imgctl::composefs
