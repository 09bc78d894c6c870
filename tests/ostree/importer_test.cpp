// import_commit against a real store and a repository made by the `ostree` CLI.
#include "ostree/importer.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/file_util.hpp"
#include "base/temp_dir.hpp"
#include "store/store.hpp"

namespace imgctl::ostree {
namespace {

int count_files(const std::string& dir) {
    int n = 0;
    std::string cmd = "find '" + dir + "' -type f | wc -l";
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return -1;
    if (fscanf(p, "%d", &n) != 1) n = -1;
    pclose(p);
    return n;
}

class ImporterTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto t = TempDir::create("ostree-import-");
        ASSERT_TRUE(t);
        dir_ = std::make_unique<TempDir>(std::move(*t));
        ASSERT_EQ(std::system(("set -e; cd '" + dir_->path() +
                               "'; mkdir -p src/usr/etc src/usr/bin; head -c 70000 /dev/urandom > src/usr/bin/a;"
                               "cp src/usr/bin/a src/usr/bin/a-copy; printf 'h\\n' > src/usr/etc/hostname;"
                               "ostree init --repo=repo --mode=archive;"
                               "ostree commit --repo=repo -b os/x --subject=s --add-metadata-string=version=7 "
                               "--timestamp='2021-05-06 07:08:09 +0000' src >/dev/null")
                                  .c_str()),
                  0);
        auto s = store::Store::init(dir_->path() + "/store", store::VerityPolicy::Optional);
        ASSERT_TRUE(s) << s.error().message;
        store_ = std::make_unique<store::Store>(std::move(*s));
    }
    std::unique_ptr<TempDir> dir_;
    std::unique_ptr<store::Store> store_;
};

TEST_F(ImporterTest, StoresObjectsImageMetadataAndRef) {
    auto src = parse_source("ostree:" + dir_->path() + "/repo:os/x");
    ASSERT_TRUE(src);
    auto r = import_commit(*store_, *src);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->commit.version, "7");
    EXPECT_EQ(r->stats.files, 3u);
    EXPECT_EQ(count_files(dir_->path() + "/store/objects"), 1);  // a and a-copy: one content
    auto ref = store_->resolve_ref(r->store_ref);
    ASSERT_TRUE(ref) << ref.error().message;
    EXPECT_EQ(*ref, r->image);
    EXPECT_TRUE(store_->open_image(r->image));
    auto meta = store_->read_image_meta(r->image);
    ASSERT_TRUE(meta && *meta);
    auto j = nlohmann::json::parse(**meta, nullptr, false);
    ASSERT_FALSE(j.is_discarded());
    EXPECT_EQ(j["source"], src->to_string());
    EXPECT_EQ(j["created"], "2021-05-06T07:08:09Z");
    EXPECT_EQ(j["version"], "7");
    EXPECT_EQ(j["ostree"]["commit"], r->commit.checksum);
    EXPECT_EQ(j["ostree"]["subject"], "s");

    // The same commit again: same image, nothing new.
    auto again = import_commit(*store_, *src);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->image, r->image);
    EXPECT_EQ(count_files(dir_->path() + "/store/objects"), 1);
}

TEST_F(ImporterTest, RecordsALocalRepositoryByItsAbsolutePath) {
    char old[4096];
    ASSERT_TRUE(getcwd(old, sizeof old));
    ASSERT_EQ(chdir(dir_->path().c_str()), 0);
    auto rel = parse_source("ostree:./repo:os/x");
    ASSERT_TRUE(rel);
    auto r = import_commit(*store_, *rel);
    ASSERT_EQ(chdir(old), 0);
    ASSERT_TRUE(r) << r.error().message;
    char* abs = realpath((dir_->path() + "/repo").c_str(), nullptr);
    ASSERT_TRUE(abs);
    OstreeSource want{OstreeSource::Kind::Local, abs, "os/x"};
    free(abs);
    EXPECT_EQ(r->store_ref, want.store_ref());
    auto j = nlohmann::json::parse(**store_->read_image_meta(r->image), nullptr, false);
    EXPECT_EQ(j["source"], want.to_string());
}

TEST_F(ImporterTest, AFailedImportLeavesNoImageOrRef) {
    ASSERT_EQ(std::system(("cd '" + dir_->path() + "' && mkdir src/etc && ostree commit --repo=repo -b os/bad src >/dev/null").c_str()), 0);
    auto src = parse_source("ostree:" + dir_->path() + "/repo:os/bad");
    ASSERT_TRUE(src);
    auto r = import_commit(*store_, *src);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find(src->to_string()), std::string::npos) << r.error().message;
    EXPECT_EQ(count_files(dir_->path() + "/store/images"), 0);
    EXPECT_EQ(count_files(dir_->path() + "/store/refs"), 0);
    EXPECT_EQ(count_files(dir_->path() + "/store/tmp"), 0);
}

TEST_F(ImporterTest, AMissingObjectIsNamedAndLeavesNoImage) {
    // Delete the content object of usr/bin/a (the only file over 64 bytes) from the repository.
    ASSERT_EQ(std::system(("cd '" + dir_->path() + "/repo/objects' && rm \"$(find . -name '*.filez' -size +60k)\"").c_str()), 0);
    auto src = parse_source("ostree:" + dir_->path() + "/repo:os/x");
    ASSERT_TRUE(src);
    auto r = import_commit(*store_, *src);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("/usr/bin/a"), std::string::npos) << r.error().message;
    EXPECT_EQ(count_files(dir_->path() + "/store/images"), 0);
    EXPECT_EQ(count_files(dir_->path() + "/store/refs"), 0);
}

}  // namespace
}  // namespace imgctl::ostree
