// Directory scan (mkcomposefs directory mode, FORMAT-NOTES §13) and the digest store.
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <mutex>
#include <set>

#include <gtest/gtest.h>

#include "base/file_util.hpp"
#include "base/temp_dir.hpp"
#include "composefs/digest_store.hpp"
#include "composefs/dir_scanner.hpp"
#include "crypto/fsverity.hpp"

namespace imgctl::composefs {
namespace {

void put(const std::string& path, const std::string& data) {
    auto fd = open_at(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_TRUE(fd);
    ASSERT_TRUE(write_all(fd->get(), data));
}

class RecordingSink : public ContentSink {
public:
    Result<void> store(int fd, uint64_t size, const crypto::Digest& d) override {
        std::string content(size, '\0');
        auto n = pread_full(fd, std::as_writable_bytes(std::span(content.data(), content.size())), 0);
        std::lock_guard lock(mu_);
        if (!n || *n != size || crypto::fsverity_digest(std::string_view(content)) != d) ++bad;
        stored.insert(d.hex());
        ++calls;
        return {};
    }
    Result<void> finish() override {
        ++finished;
        return {};
    }
    std::mutex mu_;
    std::set<std::string> stored;
    int calls = 0, bad = 0, finished = 0;
};

class DirScannerTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto d = TempDir::create("imgctl-scan-");
        ASSERT_TRUE(d);
        dir_.emplace(std::move(*d));
        src_ = dir_->path() + "/src";
        ASSERT_EQ(::mkdir(src_.c_str(), 0755), 0);
        ASSERT_EQ(::mkdir((src_ + "/sub").c_str(), 0700), 0);
        put(src_ + "/f0", "");
        put(src_ + "/f64", std::string(64, 'a'));
        put(src_ + "/f65", std::string(65, 'b'));
        put(src_ + "/sub/big", std::string(100000, 'c'));
        put(src_ + "/sub/same", std::string(65, 'b'));
        ASSERT_EQ(::symlink("f64", (src_ + "/link").c_str()), 0);
        ASSERT_EQ(::link((src_ + "/f65").c_str(), (src_ + "/hard").c_str()), 0);
        ASSERT_EQ(::setxattr((src_ + "/f65").c_str(), "user.k", "v", 1, 0), 0);
    }
    std::optional<TempDir> dir_;
    std::string src_;
};

TEST_F(DirScannerTest, BuildsTheTreeAsMkcomposefs) {
    RecordingSink sink;
    auto t = scan_directory(src_, ScanOptions{.threads = 3}, &sink);
    ASSERT_TRUE(t) << t.error().message;
    auto f64 = t->lookup("/f64");
    ASSERT_TRUE(f64 && f64->content());
    EXPECT_EQ(*f64->content(), std::string(64, 'a'));
    EXPECT_TRUE(f64->payload().empty());
    auto f65 = t->lookup("/f65");
    ASSERT_TRUE(f65 && f65->fsverity());
    EXPECT_FALSE(f65->content());
    std::string hex = crypto::fsverity_digest(std::string(65, 'b')).hex();
    EXPECT_EQ(f65->fsverity()->hex(), hex);
    EXPECT_EQ(f65->payload(), hex.substr(0, 2) + "/" + hex.substr(2));
    ASSERT_EQ(f65->xattrs.size(), 1u);
    EXPECT_EQ(f65->xattrs[0], (Xattr{"user.k", "v"}));
    EXPECT_EQ(f65->nlink, 1u);
    EXPECT_NE(t->lookup("/hard"), f65);  // no hardlink detection by default
    EXPECT_EQ(t->lookup("/link")->symlink_target(), "f64");
    EXPECT_EQ(t->lookup("/link")->size, 3u);
    EXPECT_EQ(t->lookup("/sub")->mode, S_IFDIR | 0700u);
    EXPECT_FALSE(t->lookup("/f0")->content() && !t->lookup("/f0")->content()->empty());
    // External files only: f65, hard, sub/same (one content) and sub/big.
    EXPECT_EQ(sink.calls, 4);
    EXPECT_EQ(sink.stored.size(), 2u);
    EXPECT_EQ(sink.bad, 0);
    EXPECT_EQ(sink.finished, 1);
}

TEST_F(DirScannerTest, OptionsChangeWhatIsKept) {
    auto t = scan_directory(src_, ScanOptions{.xattrs = XattrMode::None, .use_epoch = true, .keep_hardlinks = true});
    ASSERT_TRUE(t);
    EXPECT_TRUE(t->lookup("/f65")->xattrs.empty());
    EXPECT_EQ(t->lookup("/f65"), t->lookup("/hard"));
    EXPECT_EQ(t->lookup("/f65")->nlink, 2u);
    EXPECT_EQ(t->lookup("/sub/big")->mtime_sec, 0);
    EXPECT_EQ(t->root()->mtime_sec, 0);
    ASSERT_EQ(::setxattr((src_ + "/f64").c_str(), "trusted.t", "x", 1, 0), 0);
    auto u = scan_directory(src_, ScanOptions{.xattrs = XattrMode::User});
    ASSERT_TRUE(u);
    EXPECT_TRUE(u->lookup("/f64")->xattrs.empty());
    EXPECT_EQ(u->lookup("/f65")->xattrs.size(), 1u);
}

TEST_F(DirScannerTest, ErrorsNameThePath) {
    auto t = scan_directory(src_ + "/missing", {});
    ASSERT_FALSE(t);
    EXPECT_NE(t.error().message.find("missing"), std::string::npos);
    auto f = scan_directory(src_ + "/f64", {});
    ASSERT_FALSE(f);
    EXPECT_EQ(f.error().code, ENOTDIR);
}

TEST_F(DirScannerTest, DigestStoreWritesObjectsNamedByDigest) {
    auto store = DigestStore::open(dir_->path() + "/store");
    ASSERT_TRUE(store) << store.error().message;
    auto t = scan_directory(src_, ScanOptions{.threads = 2}, &*store);
    ASSERT_TRUE(t) << t.error().message;
    for (const char* p : {"/f65", "/sub/big"}) {
        auto n = t->lookup(p);
        std::string obj = dir_->path() + "/store/" + n->payload();
        auto content = read_file_at(AT_FDCWD, obj);
        ASSERT_TRUE(content) << obj;
        EXPECT_EQ(crypto::fsverity_digest(std::string_view(*content)), *n->fsverity());
        struct stat st;
        ASSERT_EQ(::stat(obj.c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 07777, 0644u);
    }
    // An existing object is kept as it is (not verified, not rewritten).
    std::string obj = dir_->path() + "/store/" + t->lookup("/f65")->payload();
    put(obj, "tampered");
    ASSERT_TRUE(scan_directory(src_, {}, &*store));
    EXPECT_EQ(*read_file_at(AT_FDCWD, obj), "tampered");
}

// The walk holds directory descriptors and never builds full paths for the kernel, so a tree
// deeper than PATH_MAX scans like any other (mkcomposefs handles such trees too).
TEST_F(DirScannerTest, WalksTreesDeeperThanPathMax) {
    const std::string name(200, 'd');
    auto cur = open_at(AT_FDCWD, src_, O_RDONLY | O_DIRECTORY);
    ASSERT_TRUE(cur);
    std::string deep;
    for (int i = 0; i < 30; ++i) {  // 30 * 201 > 4096
        ASSERT_EQ(::mkdirat(cur->get(), name.c_str(), 0755), 0);
        auto next = open_at(cur->get(), name, O_RDONLY | O_DIRECTORY);
        ASSERT_TRUE(next);
        cur = std::move(next);
        deep += "/" + name;
    }
    ASSERT_GT(deep.size(), size_t{PATH_MAX});
    const std::string data(5000, 'q');
    {
        auto f = open_at(cur->get(), "file", O_WRONLY | O_CREAT, 0600);
        ASSERT_TRUE(f && write_all(f->get(), data));
        ASSERT_EQ(::fsetxattr(f->get(), "user.deep", "1", 1, 0), 0);
    }
    ASSERT_EQ(::symlinkat("file", cur->get(), "link"), 0);
    RecordingSink sink;
    auto t = scan_directory(src_, ScanOptions{.threads = 2}, &sink);
    ASSERT_TRUE(t) << t.error().message;
    auto f = t->lookup(deep + "/file");
    ASSERT_TRUE(f && f->fsverity());
    EXPECT_EQ(*f->fsverity(), crypto::fsverity_digest(std::string_view(data)));
    ASSERT_EQ(f->xattrs.size(), 1u);
    EXPECT_EQ(f->xattrs[0].name, "user.deep");
    auto l = t->lookup(deep + "/link");
    ASSERT_TRUE(l);
    EXPECT_EQ(l->symlink_target(), "file");
    EXPECT_EQ(sink.bad, 0);
}

// A sink copies without hashing again, so the scan checks that the file did not change while it
// was hashed and stored: here the "store" itself rewrites the file.
class RewritingSink : public ContentSink {
public:
    Result<void> store(int fd, uint64_t /*size*/, const crypto::Digest& /*d*/) override {
        auto w = open_at(AT_FDCWD, "/proc/self/fd/" + std::to_string(fd), O_WRONLY);
        if (!w) return std::move(w).error();
        IMGCTL_TRY(pwrite_all(w->get(), std::as_bytes(std::span("X", 1)), 0));
        struct timespec times[2] = {{1, 0}, {1, 0}};
        if (::futimens(w->get(), times) < 0) return errno_error(errno, "futimens");
        return {};
    }
};

TEST_F(DirScannerTest, FileChangedWhileStoredFailsTheScan) {
    ASSERT_EQ(::unlink((src_ + "/f65").c_str()), 0);
    ASSERT_EQ(::unlink((src_ + "/hard").c_str()), 0);
    ASSERT_EQ(::unlink((src_ + "/sub/same").c_str()), 0);
    RewritingSink sink;
    auto t = scan_directory(src_, ScanOptions{.threads = 1}, &sink);
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().code, EAGAIN);
    EXPECT_NE(t.error().message.find("sub/big"), std::string::npos) << t.error().message;
}

// sysfs attributes claim 4096 bytes in stat() and hold a short line: the read that asks for
// the last chunk plus one byte (one pread) must see that the file is shorter than the walk's size.
TEST_F(DirScannerTest, FileShorterThanItsStatFailsTheScan) {
    const std::string dir = "/sys/kernel/mm/transparent_hugepage";
    struct stat st {};
    if (::stat((dir + "/enabled").c_str(), &st) < 0 || st.st_size != 4096)
        GTEST_SKIP() << "this kernel has no transparent hugepage attributes in sysfs";
    auto t = scan_directory(dir, ScanOptions{.threads = 1});
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().code, EAGAIN);
    EXPECT_NE(t.error().message.find("changed size"), std::string::npos) << t.error().message;
}

}  // namespace
}  // namespace imgctl::composefs
