// gc and fsck against a fake image format (the ImageObjectsFn seam): an "image" is lines of
// "<object hex> <path>". The real EROFS images are covered by tests/integration/store_*.sh.
#include "store/maintenance.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "base/file_util.hpp"
#include "base/temp_dir.hpp"
#include "crypto/sha256.hpp"

using namespace imgctl;
using imgctl::store::LockMode;
using imgctl::store::Store;

namespace {

std::span<const std::byte> bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

Result<std::vector<store::ObjectUse>> fake_objects(int fd) {
    auto text = read_all(fd);
    if (!text) return std::move(text).error();
    std::vector<store::ObjectUse> out;
    size_t pos = 0;
    while (pos < text->size()) {
        size_t nl = text->find('\n', pos);
        std::string line = text->substr(pos, nl - pos);
        pos = nl + 1;
        auto d = crypto::Digest::from_hex(line.substr(0, 64));
        if (!d) return make_error(EINVAL, "bad fake image line '{}'", line);
        out.push_back({*d, line.substr(65)});
    }
    return out;
}

bool exists(const std::string& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0;
}

class MaintenanceTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto t = TempDir::create("store-maint-");
        ASSERT_TRUE(t);
        dir_.emplace(std::move(*t));
        repo_ = dir_->path() + "/repo";
        auto s = Store::init(repo_, store::VerityPolicy::Optional);
        ASSERT_TRUE(s) << s.error().message;
        store_.emplace(std::move(*s));
        // Two images sharing object `shared_`; image B is unreferenced.
        shared_ = *store_->insert_object_bytes(bytes(std::string(100, 's')));
        only_a_ = *store_->insert_object_bytes(bytes(std::string(200, 'a')));
        only_b_ = *store_->insert_object_bytes(bytes(std::string(300, 'b')));
        stray_ = *store_->insert_object_bytes(bytes(std::string(400, 'x')));
        image_a_ = *store_->put_image(bytes(shared_.hex() + " /usr/s\n" + only_a_.hex() + " /usr/a\n"));
        image_b_ = *store_->put_image(bytes(shared_.hex() + " /s\n" + only_b_.hex() + " /b\n"));
        ASSERT_TRUE(store_->set_ref("local/a", image_a_));
    }
    std::string obj(const crypto::Digest& d) { return repo_ + "/objects/" + Store::object_path(d); }

    std::optional<TempDir> dir_;
    std::string repo_;
    std::optional<Store> store_;
    crypto::Digest shared_, only_a_, only_b_, stray_, image_a_, image_b_;
};

TEST_F(MaintenanceTest, DryRunRemovesNothingAndGcRemovesTheUnreachable) {
    ASSERT_TRUE(write_all(open_at(AT_FDCWD, repo_ + "/tmp/leftover", O_WRONLY | O_CREAT, 0644)->get(), "12345"));
    auto dry = store::collect_garbage(*store_, fake_objects, {.dry_run = true});
    ASSERT_TRUE(dry) << dry.error().message;
    EXPECT_EQ(dry->images, 1u);
    EXPECT_EQ(dry->objects, 2u);
    EXPECT_EQ(dry->tmp_entries, 1u);
    EXPECT_EQ(dry->bytes, 300u + 400u + 5u + (64u + 4u) * 2u);
    EXPECT_TRUE(exists(obj(only_b_)));
    auto r = store::collect_garbage(*store_, fake_objects, {});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->removed, dry->removed);
    EXPECT_TRUE(exists(obj(shared_)));
    EXPECT_TRUE(exists(obj(only_a_)));
    EXPECT_FALSE(exists(obj(only_b_)));
    EXPECT_FALSE(exists(obj(stray_)));
    EXPECT_FALSE(exists(repo_ + "/images/" + image_b_.hex()));
    EXPECT_FALSE(exists(repo_ + "/tmp/leftover"));
    auto again = store::collect_garbage(*store_, fake_objects, {});
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->removed.empty());
}

TEST_F(MaintenanceTest, GcKeepsBlobsNamedInMetadata) {
    std::string m1 = "manifest one", m2 = "manifest two";
    auto d1 = crypto::Sha256::of(m1), d2 = crypto::Sha256::of(m2);
    ASSERT_TRUE(store_->put_blob(d1, bytes(m1)) && store_->put_blob(d2, bytes(m2)));
    ASSERT_TRUE(store_->set_image_meta(image_a_, "{\"manifest\":\"sha256:" + d1.hex() + "\"}"));
    auto r = store::collect_garbage(*store_, fake_objects, {});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->blobs, 1u);
    EXPECT_TRUE(store_->has_blob(d1));
    EXPECT_FALSE(store_->has_blob(d2));
}

TEST_F(MaintenanceTest, GcRefusesWhenAReferencedImageIsDamaged) {
    auto fd = open_at(AT_FDCWD, repo_ + "/images/" + image_a_.hex(), O_WRONLY);
    ASSERT_TRUE(fd && pwrite_all(fd->get(), bytes("0"), 0));
    auto r = store::collect_garbage(*store_, fake_objects, {});
    ASSERT_FALSE(r);
    EXPECT_TRUE(exists(obj(stray_))) << "nothing may be removed";
}

TEST_F(MaintenanceTest, FsckIsCleanOnAGoodStore) {
    auto r = store::check_store(*store_, fake_objects, {});
    ASSERT_TRUE(r) << r.error().message;
    for (const auto& p : r->problems) ADD_FAILURE() << p.path << ": " << p.message;
    EXPECT_EQ(r->objects, 4u);
    EXPECT_EQ(r->images, 2u);
    EXPECT_EQ(r->refs, 1u);
}

TEST_F(MaintenanceTest, FsckNamesTheDamagedObjectAndItsUsersAndRepairQuarantines) {
    auto fd = open_at(AT_FDCWD, obj(shared_), O_WRONLY);
    ASSERT_TRUE(fd && pwrite_all(fd->get(), bytes("S"), 50));
    ASSERT_EQ(::unlink(obj(only_a_).c_str()), 0);
    (void)::mkdir((repo_ + "/objects/00").c_str(), 0755);  // may exist
    ASSERT_EQ(::symlink("/etc/passwd", (repo_ + "/objects/00/" + std::string(62, '0')).c_str()), 0);
    auto r = store::check_store(*store_, fake_objects, {});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->problems.size(), 3u);
    std::map<std::string, store::FsckProblem> by_path;
    for (const auto& p : r->problems) by_path[p.path] = p;
    auto& dmg = by_path["objects/" + Store::object_path(shared_)];
    EXPECT_NE(dmg.message.find("does not match"), std::string::npos);
    std::vector<std::string> want_users = {"images/" + image_a_.hex() + ":/usr/s", "images/" + image_b_.hex() + ":/s"};
    std::sort(dmg.used_by.begin(), dmg.used_by.end());
    std::sort(want_users.begin(), want_users.end());
    EXPECT_EQ(dmg.used_by, want_users);
    auto& missing = by_path["objects/" + Store::object_path(only_a_)];
    EXPECT_EQ(missing.used_by, std::vector<std::string>{"images/" + image_a_.hex() + ":/usr/a"});
    EXPECT_NE(by_path["objects/00/" + std::string(62, '0')].message.find("symlink"), std::string::npos);

    auto rep = store::check_store(*store_, fake_objects, {.repair = true});
    ASSERT_TRUE(rep);
    EXPECT_EQ(rep->quarantined.size(), 2u);
    EXPECT_FALSE(exists(obj(shared_)));
    EXPECT_TRUE(exists(repo_ + "/tmp/quarantine/" + shared_.hex().substr(0, 2) + "_" + shared_.hex().substr(2)));
    EXPECT_TRUE(exists("/etc/passwd")) << "the symlink's target is never touched";
    // Re-inserting the content heals the store.
    ASSERT_TRUE(store_->insert_object_bytes(bytes(std::string(100, 's'))));
    ASSERT_TRUE(store_->insert_object_bytes(bytes(std::string(200, 'a'))));
    auto after = store::check_store(*store_, fake_objects, {});
    ASSERT_TRUE(after);
    for (const auto& p : after->problems) ADD_FAILURE() << p.path << ": " << p.message;
}

TEST_F(MaintenanceTest, FsckReportsDanglingRefsAndStrayNames) {
    ASSERT_TRUE(write_all(open_at(AT_FDCWD, repo_ + "/refs/local/b", O_WRONLY | O_CREAT, 0644)->get(),
                          std::string(64, 'e') + "\n"));
    ASSERT_TRUE(write_all(open_at(AT_FDCWD, repo_ + "/images/not-a-digest", O_WRONLY | O_CREAT, 0644)->get(), "x"));
    auto r = store::check_store(*store_, fake_objects, {});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->problems.size(), 2u);
    EXPECT_EQ(r->problems[0].path, "images/not-a-digest");
    EXPECT_EQ(r->problems[1].path, "refs/local/b");
}

}  // namespace
