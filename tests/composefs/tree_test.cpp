// The compact Inode: rare fields in a side allocation, the payload derived from the fs-verity
// digest or stored in one exact-size block, and the same values whatever the order of setting.
#include <gtest/gtest.h>

#include <future>

#include "composefs/dump_parser.hpp"
#include "composefs/tree.hpp"

namespace imgctl::composefs {
namespace {

crypto::Digest digest(uint8_t seed) {
    crypto::Digest d;
    for (size_t i = 0; i < d.bytes.size(); ++i) d.bytes[i] = static_cast<uint8_t>(seed * 31 + i * 7);
    return d;
}

std::string path_of(const crypto::Digest& d) { return d.hex().substr(0, 2) + "/" + d.hex().substr(2); }

TEST(Inode, PayloadRoundTripsInEveryFormAndOrder) {
    crypto::Digest d = digest(1), other = digest(2);
    const std::string payloads[] = {
        "",                                   // none
        path_of(d),                           // derived from the digest
        path_of(other),                       // digest-shaped, but another digest
        path_of(d) + ".file",                 // OSTree's form: digest + suffix
        path_of(other) + ".file",             // the same, another digest
        path_of(other) + ".filf",             // another suffix of the same length
        path_of(other) + ".files",            // a longer one
        path_of(d).substr(0, 64),             // too short to be a digest path
        "AB/" + d.hex().substr(2),            // not lowercase hex
        "/abs/" + std::string(300, 'x'),      // anything else
        std::string("a\0b", 3),               // bytes are kept as they are
    };
    for (const auto& p : payloads) {
        for (int order = 0; order < 3; ++order) {
            SCOPED_TRACE(p + " order " + std::to_string(order));
            Inode n;
            if (order == 0) {
                n.set_fsverity(d);
                n.set_payload(p);
            } else if (order == 1) {
                n.set_payload(p);
                n.set_fsverity(d);
            } else {
                n.set_payload(p);
            }
            EXPECT_EQ(n.payload(), p);
            Inode copy(n);
            EXPECT_EQ(copy.payload(), p);
            // Changing or dropping the digest keeps the payload.
            n.set_fsverity(other);
            EXPECT_EQ(n.payload(), p);
            n.set_fsverity(std::nullopt);
            EXPECT_EQ(n.payload(), p);
            EXPECT_FALSE(n.fsverity());
            Inode moved(std::move(copy));
            EXPECT_EQ(moved.payload(), p);
        }
    }
}

TEST(Inode, RareFieldsAreEmptyUntilSetAndCopiedDeeply) {
    Inode n;
    EXPECT_TRUE(n.symlink_target().empty());
    EXPECT_FALSE(n.content());
    EXPECT_TRUE(n.primary_path().empty());
    const Inode& cn = n;
    EXPECT_TRUE(cn.children().empty());
    n.set_symlink_target("target");
    n.set_content(std::string("abc"));
    n.set_primary_path("/a/b");
    n.children().emplace("x", Inode::make(S_IFREG | 0644));
    Inode copy = n;
    n.set_symlink_target("changed");
    n.set_content(std::nullopt);
    n.set_primary_path({});
    n.children().clear();
    EXPECT_EQ(copy.symlink_target(), "target");
    EXPECT_EQ(copy.content(), "abc");
    EXPECT_EQ(copy.primary_path(), "/a/b");
    ASSERT_EQ(copy.children().size(), 1u);
    EXPECT_EQ(copy.children().begin()->first, "x");
    EXPECT_EQ(n.symlink_target(), "changed");
    EXPECT_FALSE(n.content());
}

// Inodes and their 32-byte digest blocks come from pools shared by every thread (the OSTree
// reader and the directory scanner create inodes on several): blocks are never handed out
// twice, and a moved-over inode frees what it held.
TEST(Inode, PooledInodesAndBlocksOnSeveralThreads) {
    auto work = [](uint8_t seed) {
        std::vector<InodePtr> v;
        for (int round = 0; round < 20; ++round) {
            for (int i = 0; i < 500; ++i) {
                auto n = Inode::make(S_IFREG | 0644);
                n->size = seed * 100000 + i;
                if (i % 3 == 0) n->set_fsverity(digest(static_cast<uint8_t>(seed + i)));  // 32-byte block
                if (i % 3 == 1) n->set_payload(path_of(digest(static_cast<uint8_t>(seed + i))));  // 32 too
                if (i % 3 == 2) n->set_payload(path_of(digest(seed)) + ".file");  // a larger block
                v.push_back(std::move(n));
            }
            for (int i = 0; i < 500; ++i) {
                const Inode& n = *v[i];
                if (n.size != uint64_t{seed} * 100000 + i) return false;
                auto d = digest(static_cast<uint8_t>(seed + i));
                if (i % 3 == 0 && (n.fsverity() != d || !n.payload().empty())) return false;
                if (i % 3 == 1 && (n.fsverity() || n.payload() != path_of(d))) return false;
                if (i % 3 == 2 && n.payload() != path_of(digest(seed)) + ".file") return false;
            }
            v.clear();
        }
        return true;
    };
    std::vector<std::future<bool>> runs;
    for (uint8_t t = 0; t < 4; ++t) runs.push_back(std::async(std::launch::async, work, static_cast<uint8_t>(t * 50)));
    for (auto& r : runs) EXPECT_TRUE(r.get());

    Inode a, b;
    a.set_fsverity(digest(1));
    b.set_payload(path_of(digest(2)) + ".file");
    a = std::move(b);
    EXPECT_EQ(a.payload(), path_of(digest(2)) + ".file");
    EXPECT_FALSE(a.fsverity());
    EXPECT_TRUE(b.payload().empty());  // NOLINT(bugprone-use-after-move)
    b = std::move(a);
    EXPECT_EQ(b.payload(), path_of(digest(2)) + ".file");
}

// The point of the compact form: an inode (reference count included) is a quarter of its
// former ~330 bytes (std::shared_ptr control block included).
TEST(Inode, IsSmall) { EXPECT_LE(sizeof(Inode), 80u); }

}  // namespace
}  // namespace imgctl::composefs

namespace imgctl::composefs {
namespace {

TEST(InodePtr, CountsOwnersAndFreesWithTheLast) {
    InodePtr a = Inode::make(S_IFREG | 0644);
    EXPECT_EQ(a.use_count(), 1);
    {
        InodePtr b = a;
        EXPECT_EQ(a.use_count(), 2);
        EXPECT_EQ(a, b);
        InodePtr c = std::move(b);
        EXPECT_EQ(a.use_count(), 2);
        EXPECT_FALSE(b);
        EXPECT_EQ(b, nullptr);
    }
    EXPECT_EQ(a.use_count(), 1);
    InodePtr copy = make_inode(*a);  // a copy of the inode starts its own count
    EXPECT_EQ(copy.use_count(), 1);
    EXPECT_NE(copy, a);
    a = copy;
    EXPECT_EQ(copy.use_count(), 2);
    a.reset();
    EXPECT_EQ(copy.use_count(), 1);
    EXPECT_EQ(InodePtr().use_count(), 0);
}

}  // namespace
}  // namespace imgctl::composefs

namespace imgctl::composefs {
namespace {

TEST(XattrList, CopiesShareUntilChangedAndTheParserInterns) {
    XattrList a{{"security.selinux", "system_u:object_r:usr_t:s0"}};
    XattrList b = a;
    EXPECT_TRUE(a.shares_with(b));
    b.push_back({"user.x", "1"});  // copy on write
    EXPECT_FALSE(a.shares_with(b));
    EXPECT_EQ(a.size(), 1u);
    EXPECT_EQ(b.size(), 2u);
    EXPECT_EQ(b[0], a[0]);
    XattrList empty;
    EXPECT_TRUE(empty.empty());
    EXPECT_EQ(empty, XattrList(std::vector<Xattr>{}));

    auto tree = parse_dump(
        "/ 4096 40755 2 0 0 0 0.0 - - - security.selinux=l1\n"
        "/a 0 100644 1 0 0 0 0.0 - - - security.selinux=l1\n"
        "/b 0 100644 1 0 0 0 0.0 - - - security.selinux=l1\n"
        "/c 0 100644 1 0 0 0 0.0 - - - security.selinux=l2\n"
        "/d 0 100644 1 0 0 0 0.0 - - - security.selinux=l1 user.y=2\n");
    ASSERT_TRUE(tree) << tree.error().message;
    const auto& root = tree->root()->xattrs;
    EXPECT_TRUE(root.shares_with(tree->lookup("/a")->xattrs));
    EXPECT_TRUE(root.shares_with(tree->lookup("/b")->xattrs));
    EXPECT_FALSE(root.shares_with(tree->lookup("/c")->xattrs));
    EXPECT_FALSE(root.shares_with(tree->lookup("/d")->xattrs));
    // Changing one inode's list leaves the others alone.
    tree->lookup("/a")->xattrs[0].value = "changed";
    EXPECT_EQ(tree->lookup("/b")->xattrs[0].value, "l1");
    EXPECT_EQ(root[0].value, "l1");
}

}  // namespace
}  // namespace imgctl::composefs
