// Reads commits made by the real `ostree` CLI and checks the tree against the files the test
// created (not against our own output).
#include "ostree/commit_reader.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <map>
#include <mutex>

#include <gtest/gtest.h>

#include "base/file_util.hpp"
#include "base/temp_dir.hpp"
#include "crypto/fsverity.hpp"
#include "ostree/repo.hpp"

namespace imgctl::ostree {
namespace {

// Keeps every object in memory, keyed by digest; counts calls per entry point. Thread-safe.
class MemorySink : public ContentSink {
public:
    Result<crypto::Digest> put_fd(int fd) override {
        std::lock_guard lock(mu_);
        ++fd_calls;
        std::string data;
        std::string buf(65536, '\0');
        for (off_t off = 0;;) {
            auto n = pread_full(fd, std::as_writable_bytes(std::span(buf)), off);
            if (!n) return std::move(n).error();
            if (*n == 0) break;
            data.append(buf, 0, *n);
            off += static_cast<off_t>(*n);
        }
        auto d = crypto::fsverity_digest(data);
        objects[d] = std::move(data);
        return d;
    }
    Result<crypto::Digest> put_stream(uint64_t size, const ReadFn& read) override {
        std::lock_guard lock(mu_);
        ++stream_calls;
        std::string data(size, '\0');
        auto n = read(std::as_writable_bytes(std::span(data)));
        if (!n) return std::move(n).error();
        if (*n != size) return make_error(EIO, "short stream");
        auto d = crypto::fsverity_digest(data);
        objects[d] = std::move(data);
        return d;
    }
    std::map<crypto::Digest, std::string> objects;
    int fd_calls = 0;
    int stream_calls = 0;

private:
    std::mutex mu_;
};

int sh(const std::string& script) { return std::system(("set -e\n" + script).c_str()); }

// The source tree every commit below is made from (`ostree commit` as root keeps owners and
// xattrs of the source files).
constexpr const char* kMakeTree = R"(
mkdir -p src/usr/etc src/usr/bin src/private "src/odd dir"
head -c 100000 /dev/zero | tr '\0' 'a' > src/usr/bin/big
printf 'hello\n' > src/small
: > src/empty
head -c 64 /dev/zero | tr '\0' 'b' > src/exact64
head -c 65 /dev/zero | tr '\0' 'c' > src/over64
head -c 300 /dev/zero | tr '\0' 'h' > src/hard1
ln src/hard1 src/hard2
printf 'myhost\n' > src/usr/etc/hostname
ln -s small src/link
ln -s small src/link2
ln -s /nonexistent/target src/dangling
printf 'x' > "src/odd dir/sp ace:colon\\back ü"
chmod 0700 src/private
chmod 4755 src/usr/bin/big
chown 1234:5678 src/over64
setfattr -n user.test -v hello src/small
setfattr -n security.selinux -v system_u:object_r:bin_t:s0 src/usr/bin/big
setfattr -n user.dir -v d src/private
)";

class CommitReaderTest : public ::testing::TestWithParam<const char*> {
protected:
    void SetUp() override {
        auto t = TempDir::create("ostree-reader-");
        ASSERT_TRUE(t);
        dir_ = std::make_unique<TempDir>(std::move(*t));
        std::string mode = GetParam();
        ASSERT_EQ(sh("cd '" + dir_->path() + "'\n" + kMakeTree + "ostree init --repo=repo --mode=" + mode +
                     "\nostree commit --repo=repo -b test/branch --subject='first one' "
                     "--add-metadata-string=version=1.2.3 --timestamp='2020-01-02 03:04:05 +0000' src >/dev/null"),
                  0);
    }
    std::string repo_path() const { return dir_->path() + "/repo"; }
    std::unique_ptr<TempDir> dir_;
};

TEST_P(CommitReaderTest, ResolvesCommitMetadata) {
    auto repo = Repo::open(repo_path());
    ASSERT_TRUE(repo) << repo.error().message;
    auto info = repo->resolve("test/branch");
    ASSERT_TRUE(info) << info.error().message;
    EXPECT_EQ(info->checksum.size(), 64u);
    EXPECT_EQ(info->version, "1.2.3");
    EXPECT_EQ(info->subject, "first one");
    EXPECT_EQ(info->timestamp, 1577934245u);
    auto by_csum = repo->resolve(info->checksum);
    ASSERT_TRUE(by_csum);
    EXPECT_EQ(by_csum->root_tree, info->root_tree);
    auto missing = repo->resolve("no/such/ref");
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message.find("no/such/ref"), std::string::npos) << missing.error().message;
}

TEST_P(CommitReaderTest, BuildsTheTreeOfTheCommit) {
    auto repo = Repo::open(repo_path());
    ASSERT_TRUE(repo);
    auto info = repo->resolve("test/branch");
    ASSERT_TRUE(info);
    MemorySink sink;
    auto r = read_commit_tree(*repo, *info, sink);
    ASSERT_TRUE(r) << r.error().message;
    const composefs::Tree& t = r->tree;

    auto big = t.lookup("usr/bin/big");
    ASSERT_TRUE(big);
    EXPECT_EQ(big->mode, S_IFREG | 04755u);
    EXPECT_EQ(big->size, 100000u);
    ASSERT_TRUE(big->fsverity());
    EXPECT_EQ(sink.objects.at(*big->fsverity()), std::string(100000, 'a'));
    EXPECT_EQ(big->payload(), big->fsverity()->hex().substr(0, 2) + "/" + big->fsverity()->hex().substr(2));
    EXPECT_EQ(big->xattrs, (std::vector<composefs::Xattr>{{"security.selinux", std::string("system_u:object_r:bin_t:s0")}}));
    EXPECT_EQ(big->mtime_sec, 0);

    auto small = t.lookup("small");
    ASSERT_TRUE(small);
    EXPECT_EQ(small->content(), "hello\n");
    EXPECT_TRUE(small->payload().empty());
    EXPECT_EQ(small->xattrs, (std::vector<composefs::Xattr>{{"user.test", "hello"}}));
    EXPECT_EQ(t.lookup("exact64")->content(), std::string(64, 'b'));
    auto over = t.lookup("over64");
    EXPECT_FALSE(over->content());
    EXPECT_EQ(sink.objects.at(*over->fsverity()), std::string(65, 'c'));
    EXPECT_EQ(over->uid, 1234u);
    EXPECT_EQ(over->gid, 5678u);
    EXPECT_EQ(t.lookup("empty")->size, 0u);
    EXPECT_FALSE(t.lookup("empty")->content());

    // Same content and metadata: one OSTree object, one inode with two names.
    EXPECT_EQ(t.lookup("hard1"), t.lookup("hard2"));
    EXPECT_EQ(t.lookup("hard1")->nlink, 2u);
    EXPECT_EQ(sink.objects.size(), 3u);  // big, over64, hard1/2

    EXPECT_EQ(t.lookup("link")->symlink_target(), "small");
    // Identical symlinks are one OSTree object but separate inodes (docs/ostree.md).
    EXPECT_NE(t.lookup("link"), t.lookup("link2"));
    EXPECT_EQ(t.lookup("link2")->symlink_target(), "small");
    EXPECT_EQ(t.lookup("link2")->nlink, 1u);
    EXPECT_EQ(t.lookup("link")->size, 5u);
    EXPECT_EQ(t.lookup("dangling")->symlink_target(), "/nonexistent/target");
    EXPECT_TRUE(t.lookup("odd dir/sp ace:colon\\back ü"));

    auto priv = t.lookup("private");
    EXPECT_EQ(priv->mode, S_IFDIR | 0700u);
    EXPECT_EQ(priv->xattrs, (std::vector<composefs::Xattr>{{"user.dir", "d"}}));

    // /usr/etc is the deployment's /etc.
    EXPECT_EQ(t.lookup("etc/hostname")->content(), "myhost\n");
    EXPECT_FALSE(t.lookup("usr/etc"));
    EXPECT_EQ(r->stats.files, 9u);
    EXPECT_EQ(r->stats.external, 3u);
    // Archive objects are zlib streams; bare ones are plain files handed over by descriptor.
    if (std::string(GetParam()) == "archive")
        EXPECT_EQ(sink.fd_calls, 0);
    else
        EXPECT_EQ(sink.stream_calls, 0);
    EXPECT_EQ(r->stats.symlinks, 3u);

    // One worker gives the same tree as several; /usr/etc kept on request.
    MemorySink sink1;
    auto raw = read_commit_tree(*repo, *info, sink1, ReadOptions{.map_usr_etc = false, .threads = 1});
    ASSERT_TRUE(raw);
    EXPECT_EQ(sink1.objects, sink.objects);
    EXPECT_EQ(raw->tree.lookup("usr/bin/big")->fsverity(), big->fsverity());
    EXPECT_EQ(raw->tree.lookup("hard2")->nlink, 2u);
    EXPECT_TRUE(raw->tree.lookup("usr/etc/hostname"));
    EXPECT_FALSE(raw->tree.lookup("etc"));
}

TEST_P(CommitReaderTest, RefusesBothEtcAndUsrEtc) {
    ASSERT_EQ(sh("cd '" + dir_->path() + "'\nmkdir src/etc\nostree commit --repo=repo -b both src >/dev/null"), 0);
    auto repo = Repo::open(repo_path());
    ASSERT_TRUE(repo);
    auto info = repo->resolve("both");
    ASSERT_TRUE(info);
    MemorySink sink;
    auto r = read_commit_tree(*repo, *info, sink);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("both /etc and /usr/etc"), std::string::npos) << r.error().message;
}

INSTANTIATE_TEST_SUITE_P(Modes, CommitReaderTest, ::testing::Values("archive", "bare-user", "bare"));

TEST(Repo, OpeningAMissingRepositoryNamesIt) {
    auto r = Repo::open("/nonexistent/ostree-repo");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("/nonexistent/ostree-repo"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace imgctl::ostree

namespace imgctl::ostree {
namespace {

TEST(RepoPull, PullsIntoACacheAndHonoursGpgVerification) {
    auto t = TempDir::create("ostree-pull-");
    ASSERT_TRUE(t);
    ASSERT_EQ(sh("cd '" + t->path() + "'\n" + kMakeTree +
                 "ostree init --repo=up --mode=archive\nostree commit --repo=up -b os/1 src >/dev/null"),
              0);
    std::string url = "file://" + t->path() + "/up";
    auto cache = Repo::open_or_create_cache(t->path() + "/cache");
    ASSERT_TRUE(cache) << cache.error().message;

    // The default is to verify; the commit is unsigned, so the pull must fail and say why.
    auto refused = cache->pull(url, "os/1", PullOptions{});
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("GPG"), std::string::npos) << refused.error().message;
    EXPECT_NE(refused.error().message.find(url), std::string::npos) << refused.error().message;

    auto pulled = cache->pull(url, "os/1", PullOptions{.gpg_verify = false, .gpg_keyring_file = {}});
    ASSERT_TRUE(pulled) << pulled.error().message;
    auto info = cache->resolve(*pulled);
    ASSERT_TRUE(info) << info.error().message;
    auto upstream = Repo::open(t->path() + "/up");
    ASSERT_TRUE(upstream);
    EXPECT_EQ(info->checksum, upstream->resolve("os/1")->checksum);

    // Reopening finds the existing cache.
    auto again = Repo::open_or_create_cache(t->path() + "/cache");
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->resolve(*pulled));
}

}  // namespace
}  // namespace imgctl::ostree
