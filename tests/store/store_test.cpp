#include "store/store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "base/file_util.hpp"
#include "base/temp_dir.hpp"
#include "crypto/fsverity.hpp"
#include "crypto/sha256.hpp"
#include "store/ref_name.hpp"
#include "store/repo_config.hpp"

using namespace imgctl;
using imgctl::store::LockMode;
using imgctl::store::Store;
using imgctl::store::VerityPolicy;

namespace {

std::span<const std::byte> bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

size_t count_entries(const std::string& dir) {
    auto fd = open_at(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY);
    if (!fd) return 9999;
    size_t n = 0;
    DIR* d = fdopendir(fd->release());
    while (auto* de = readdir(d)) n += std::string_view(de->d_name) != "." && std::string_view(de->d_name) != "..";
    closedir(d);
    return n;
}

class StoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto t = TempDir::create("store-test-");
        ASSERT_TRUE(t);
        dir_.emplace(std::move(*t));
        repo_ = dir_->path() + "/repo";
        auto s = Store::init(repo_, VerityPolicy::Optional);
        ASSERT_TRUE(s) << s.error().message;
    }
    Store open(LockMode m = LockMode::Exclusive) {
        auto s = Store::open(repo_, m, /*wait=*/false);
        EXPECT_TRUE(s) << s.error().message;
        return std::move(*s);
    }
    std::optional<TempDir> dir_;
    std::string repo_;
};

TEST_F(StoreTest, InitCreatesTheDocumentedLayout) {
    for (const char* p : {"objects", "images", "refs", "oci/blobs/sha256", "tmp"}) {
        struct stat st {};
        ASSERT_EQ(::stat((repo_ + "/" + p).c_str(), &st), 0) << p;
        EXPECT_TRUE(S_ISDIR(st.st_mode)) << p;
    }
    auto json = read_file_at(AT_FDCWD, repo_ + "/repo.json");
    ASSERT_TRUE(json);
    EXPECT_EQ(*json, "{\"version\":1,\"digest\":\"fsverity-sha256-12\",\"verity\":\"optional\",\"image_format\":1}\n");
    EXPECT_FALSE(Store::init(repo_, VerityPolicy::Optional)) << "a second init must refuse";
}

TEST_F(StoreTest, RequireOnAFileSystemWithoutVerityWritesNothing) {
    // This host's file systems have no fs-verity (common.md); where they do, init succeeds.
    std::string p = dir_->path() + "/req";
    auto s = Store::init(p, VerityPolicy::Require);
    if (s) GTEST_SKIP() << "this file system supports fs-verity";
    EXPECT_EQ(s.error().code, ENOTSUP);
    struct stat st {};
    EXPECT_NE(::stat(p.c_str(), &st), 0) << "nothing may be created";
}

TEST(RepoConfig, RefusesUnknownVersionsAndGarbage) {
    struct Case {
        const char* json;
        int code;
    } cases[] = {
        {"", EINVAL},
        {"[]", EINVAL},
        {"{\"version\":1", EINVAL},
        {"{\"digest\":\"fsverity-sha256-12\",\"verity\":\"optional\",\"image_format\":1}", EINVAL},
        {"{\"version\":2,\"digest\":\"fsverity-sha256-12\",\"verity\":\"optional\",\"image_format\":1}", EPROTONOSUPPORT},
        {"{\"version\":1,\"digest\":\"sha512\",\"verity\":\"optional\",\"image_format\":1}", EPROTONOSUPPORT},
        {"{\"version\":1,\"digest\":\"fsverity-sha256-12\",\"verity\":\"maybe\",\"image_format\":1}", EINVAL},
        {"{\"version\":1,\"digest\":\"fsverity-sha256-12\",\"verity\":\"optional\"}", EINVAL},
    };
    for (const auto& c : cases) {
        auto r = store::RepoConfig::parse(c.json);
        ASSERT_FALSE(r) << c.json;
        EXPECT_EQ(r.error().code, c.code) << c.json;
    }
    auto ok = store::RepoConfig::parse(
        "{\"version\":1,\"digest\":\"fsverity-sha256-12\",\"verity\":\"require\",\"image_format\":1,\"x\":3}");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->verity, VerityPolicy::Require);
}

TEST_F(StoreTest, OpenRefusesMissingOrGarbledRepoJson) {
    ASSERT_TRUE(write_all(open_at(AT_FDCWD, repo_ + "/repo.json", O_WRONLY | O_TRUNC)->get(), "{garbage"));
    auto s = Store::open(repo_, LockMode::Shared);
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().message.find("repo.json"), std::string::npos) << s.error().message;
    ASSERT_EQ(::unlink((repo_ + "/repo.json").c_str()), 0);
    s = Store::open(repo_, LockMode::Shared);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, ENOENT);
}

TEST_F(StoreTest, InsertingSameBytesTwiceYieldsOneObject) {
    Store s = open();
    std::string data(5000, 'x');
    auto a = s.insert_object_bytes(bytes(data));
    auto b = s.insert_object_bytes(bytes(data));
    ASSERT_TRUE(a && b);
    EXPECT_EQ(*a, *b);
    EXPECT_EQ(*a, crypto::fsverity_digest(data));
    auto content = read_file_at(s.objects_dir_fd(), Store::object_path(*a));
    ASSERT_TRUE(content);
    EXPECT_EQ(*content, data);
    EXPECT_EQ(Store::object_path(*a), a->hex().substr(0, 2) + "/" + a->hex().substr(2));
    EXPECT_EQ(count_entries(repo_ + "/objects/" + a->hex().substr(0, 2)), 1u);
    EXPECT_EQ(count_entries(repo_ + "/tmp"), 0u);
}

TEST_F(StoreTest, InsertFromFdCopiesAndDedups) {
    Store s = open();
    std::string path = dir_->path() + "/src";
    std::string data(70000, 'y');
    data[12345] = 'z';
    {
        auto f = open_at(AT_FDCWD, path, O_WRONLY | O_CREAT, 0600);
        ASSERT_TRUE(f && write_all(f->get(), data));
    }
    auto fd = open_at(AT_FDCWD, path, O_RDONLY);
    auto d = s.insert_object_fd(fd->get());
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ(*d, crypto::fsverity_digest(data));
    EXPECT_EQ(*read_file_at(s.objects_dir_fd(), Store::object_path(*d)), data);
    auto again = s.insert_object_bytes(bytes(data));
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, *d);
    struct stat st {};
    ASSERT_EQ(::fstatat(s.objects_dir_fd(), Store::object_path(*d).c_str(), &st, 0), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u);
}

TEST_F(StoreTest, InsertHashedCopiesUnderTheGivenDigestInABatch) {
    Store s = open();
    std::string path = dir_->path() + "/src";
    std::string data(300000, 'h');
    data[200000] = 'i';
    {
        auto f = open_at(AT_FDCWD, path, O_WRONLY | O_CREAT, 0600);
        ASSERT_TRUE(f && write_all(f->get(), data));
    }
    auto fd = open_at(AT_FDCWD, path, O_RDONLY);
    crypto::Digest want = crypto::fsverity_digest(data);
    s.begin_batch();
    auto d = s.insert_object_fd_hashed(fd->get(), data.size(), want);
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ(*d, want);
    EXPECT_TRUE(s.has_object(want));
    EXPECT_FALSE(read_file_at(s.objects_dir_fd(), Store::object_path(want))) << "linked only at commit";
    auto again = s.insert_object_fd_hashed(fd->get(), data.size(), want);
    ASSERT_TRUE(again);
    ASSERT_TRUE(s.commit_batch());
    EXPECT_EQ(*read_file_at(s.objects_dir_fd(), Store::object_path(want)), data);
    EXPECT_EQ(count_entries(repo_ + "/tmp"), 0u);
}

TEST_F(StoreTest, ObjectWriterDroppedOrMisSizedLeavesNothing) {
    Store s = open();
    {
        auto w = s.begin_object(10);
        ASSERT_TRUE(w);
        ASSERT_TRUE(w->write(bytes("12345")));
        EXPECT_FALSE(w->commit()) << "5 of 10 bytes";
    }
    {
        auto w = s.begin_object(3);
        ASSERT_TRUE(w);
        EXPECT_FALSE(w->write(bytes("12345")));
    }
    { auto w = s.begin_object(100); }  // dropped
    EXPECT_EQ(count_entries(repo_ + "/objects"), 0u);
    EXPECT_EQ(count_entries(repo_ + "/tmp"), 0u);
    auto w = s.begin_object(4);
    ASSERT_TRUE(w && w->write(bytes("ab")) && w->write(bytes("cd")));
    auto d = w->commit();
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, crypto::fsverity_digest(std::string_view("abcd")));
    EXPECT_TRUE(s.has_object(*d));
}

TEST_F(StoreTest, BatchedObjectsAppearOnlyAfterCommit) {
    Store s = open();
    s.begin_batch();
    std::string data(3000, 'b');
    auto d = s.insert_object_bytes(bytes(data));
    ASSERT_TRUE(d);
    EXPECT_TRUE(s.has_object(*d)) << "staged objects count for dedup";
    EXPECT_EQ(count_entries(repo_ + "/objects"), 0u) << "nothing under objects/ before the sync";
    EXPECT_EQ(count_entries(repo_ + "/tmp"), 1u);
    auto again = s.insert_object_bytes(bytes(data));
    ASSERT_TRUE(again);
    EXPECT_EQ(count_entries(repo_ + "/tmp"), 1u) << "same content staged once";
    auto img = s.put_image(bytes(std::string(500, 'i')));
    ASSERT_TRUE(img);
    EXPECT_EQ(*read_file_at(s.objects_dir_fd(), Store::object_path(*d)), data) << "put_image commits the batch";
    EXPECT_EQ(count_entries(repo_ + "/tmp"), 0u);
    s.begin_batch();
    auto e = s.insert_object_bytes(bytes(std::string(3000, 'e')));
    ASSERT_TRUE(e);
    ASSERT_TRUE(s.set_ref("local/x", *img)) << "set_ref commits a batch too";
    EXPECT_TRUE(s.has_object(*e));
    EXPECT_EQ(count_entries(repo_ + "/tmp"), 0u);
}

TEST_F(StoreTest, AnUncommittedBatchLeavesOnlyTmpFiles) {
    {
        Store s = open();
        s.begin_batch();
        ASSERT_TRUE(s.insert_object_bytes(bytes(std::string(3000, 'c'))));
    }
    EXPECT_EQ(count_entries(repo_ + "/objects"), 0u);
    EXPECT_EQ(count_entries(repo_ + "/tmp"), 1u);
}

TEST_F(StoreTest, ReadersCannotWrite) {
    Store s = open(LockMode::Shared);
    auto r = s.insert_object_bytes(bytes("hello world"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EPERM);
}

TEST_F(StoreTest, ExclusiveLockExcludesEveryoneElse) {
    Store w = open(LockMode::Exclusive);
    auto r = Store::open(repo_, LockMode::Shared, /*wait=*/false);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EWOULDBLOCK);
    EXPECT_NE(r.error().message.find(std::to_string(::getpid())), std::string::npos) << r.error().message;
}

TEST_F(StoreTest, SharedLocksCoexistButBlockAWriter) {
    Store a = open(LockMode::Shared);
    Store b = open(LockMode::Shared);
    EXPECT_FALSE(Store::open(repo_, LockMode::Exclusive, /*wait=*/false));
}

TEST_F(StoreTest, ImagesAreNamedByDigestAndCheckedOnOpen) {
    Store s = open();
    std::string img(9000, 'i');
    auto d = s.put_image(bytes(img));
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, crypto::fsverity_digest(img));
    ASSERT_TRUE(s.open_image(*d));
    ASSERT_TRUE(s.set_image_meta(*d, R"({"source":"dir:/x"})"));
    EXPECT_FALSE(s.set_image_meta(*d, "not json"));
    auto list = s.list_images();
    ASSERT_TRUE(list);
    ASSERT_EQ(list->size(), 1u);
    EXPECT_EQ(*(*list)[0].meta, R"({"source":"dir:/x"})");
    // Flip one byte: the image must no longer open.
    auto fd = open_at(s.dir_fd("images"), d->hex(), O_WRONLY);
    ASSERT_TRUE(fd && pwrite_all(fd->get(), bytes("j"), 100));
    auto r = s.open_image(*d);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EBADMSG);
}

TEST(RefName, ValidationTable) {
    for (const char* good : {"local/x", "oci/quay.io%2Ffedora%2Ffedora%3A41", "a", "deploy/3", "a.b/c-d_e"})
        EXPECT_TRUE(store::validate_ref_name(good)) << good;
    for (const char* bad : {"", "..", "a/../b", "/a", "a/", "a//b", ".hidden", "a/.b", "a b", "a%zz", "a%2f",
                            "x:y", "a\nb"})
        EXPECT_FALSE(store::validate_ref_name(bad)) << bad;
    EXPECT_FALSE(store::validate_ref_name(std::string(256, 'a')));
}

TEST(RefName, EscapingRoundTrips) {
    for (std::string s : {"quay.io/fedora/fedora:41", ".x", "a%b", "ünï", "x@sha256:00"}) {
        std::string e = store::escape_ref_component(s);
        EXPECT_TRUE(store::validate_ref_name(e)) << e;
        EXPECT_EQ(store::unescape_ref_component(e), s);
    }
    EXPECT_EQ(store::escape_ref_component("quay.io/fedora/fedora:41"), "quay.io%2Ffedora%2Ffedora%3A41");
    EXPECT_EQ(store::display_ref_name("oci/quay.io%2Fx%3A1"), "oci/quay.io/x:1");
}

TEST_F(StoreTest, RefsPointAtImagesAndNeverLeaveRefs) {
    Store s = open();
    auto img = s.put_image(bytes(std::string(100, 'q')));
    ASSERT_TRUE(img);
    crypto::Digest missing{};
    EXPECT_EQ(s.set_ref("local/x", missing).error().code, ENOENT);
    ASSERT_TRUE(s.set_ref("oci/a%3A1", *img));
    ASSERT_TRUE(s.set_ref("local/deep/er", *img));
    EXPECT_EQ(*s.resolve_ref("oci/a%3A1"), *img);
    EXPECT_EQ(*store::resolve_image(s, img->hex()), *img);
    EXPECT_EQ(*store::resolve_image(s, "local/deep/er"), *img);
    EXPECT_FALSE(store::resolve_image(s, "../etc/passwd"));
    EXPECT_FALSE(s.set_ref("../../etc/x", *img));
    auto refs = s.list_refs();
    ASSERT_TRUE(refs);
    ASSERT_EQ(refs->size(), 2u);
    EXPECT_EQ((*refs)[0].name, "local/deep/er");
    ASSERT_TRUE(s.delete_ref("local/deep/er"));
    struct stat st {};
    EXPECT_NE(::stat((repo_ + "/refs/local").c_str(), &st), 0) << "empty parents are removed";
    // A symlink planted as a ref directory is never followed.
    ASSERT_EQ(::symlink(dir_->path().c_str(), (repo_ + "/refs/evil").c_str()), 0);
    EXPECT_FALSE(s.set_ref("evil/x", *img));
    EXPECT_NE(::stat((dir_->path() + "/x").c_str(), &st), 0);
}

TEST_F(StoreTest, BlobsAreCheckedBothWays) {
    Store s = open();
    std::string m = R"({"schemaVersion":2})";
    auto d = crypto::Digest::from_hex("0000000000000000000000000000000000000000000000000000000000000000");
    EXPECT_EQ(s.put_blob(*d, bytes(m)).error().code, EBADMSG);
    auto good = crypto::Sha256::of(m);
    ASSERT_TRUE(s.put_blob(good, bytes(m)));
    EXPECT_EQ(*s.read_blob(good), m);
    auto fd = open_at(s.dir_fd("blobs"), good.hex(), O_WRONLY);
    ASSERT_TRUE(fd && pwrite_all(fd->get(), bytes("{"), 1));
    EXPECT_EQ(s.read_blob(good).error().code, EBADMSG);
}

}  // namespace
