#include "base/atomic_file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "base/file_util.hpp"
#include "base/temp_dir.hpp"

namespace imgctl {
namespace {

std::set<std::string> list_dir(const std::string& path) {
    std::set<std::string> names;
    DIR* d = opendir(path.c_str());
    if (!d) return names;
    while (auto* de = readdir(d))
        if (std::string(de->d_name) != "." && std::string(de->d_name) != "..") names.insert(de->d_name);
    closedir(d);
    return names;
}

class AtomicFileTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto t = TempDir::create("atomic-test-");
        ASSERT_TRUE(t) << t.error().message;
        dir_ = std::make_unique<TempDir>(std::move(t).value());
        auto fd = open_at(AT_FDCWD, dir_->path(), O_RDONLY | O_DIRECTORY);
        ASSERT_TRUE(fd);
        dfd_ = std::move(fd).value();
    }
    std::unique_ptr<TempDir> dir_;
    UniqueFd dfd_;
};

TEST_F(AtomicFileTest, NothingIsVisibleBeforeCommit) {
    auto f = AtomicFile::create_at(dfd_.get(), "out", 0640);
    ASSERT_TRUE(f) << f.error().message;
    ASSERT_TRUE(write_all(f->fd(), std::string_view("hello")));
    EXPECT_TRUE(list_dir(dir_->path()).empty());
    ASSERT_TRUE(f->commit());
    EXPECT_EQ(list_dir(dir_->path()), std::set<std::string>{"out"});
    auto content = read_file_at(dfd_.get(), "out");
    ASSERT_TRUE(content);
    EXPECT_EQ(*content, "hello");
    struct stat st {};
    ASSERT_EQ(fstatat(dfd_.get(), "out", &st, 0), 0);
    EXPECT_EQ(st.st_mode & 07777, 0640u);
}

TEST_F(AtomicFileTest, DestructorDiscardsUncommittedFile) {
    {
        auto f = AtomicFile::create_at(dfd_.get(), "gone");
        ASSERT_TRUE(f);
        ASSERT_TRUE(write_all(f->fd(), std::string_view("partial")));
    }
    EXPECT_TRUE(list_dir(dir_->path()).empty());
}

TEST_F(AtomicFileTest, ReplaceOverwritesAndNoReplaceRefuses) {
    for (std::string_view v : {"one", "two"}) {
        auto f = AtomicFile::create_at(dfd_.get(), "x");
        ASSERT_TRUE(f);
        ASSERT_TRUE(write_all(f->fd(), v));
        ASSERT_TRUE(f->commit());
    }
    EXPECT_EQ(*read_file_at(dfd_.get(), "x"), "two");
    auto f = AtomicFile::create_at(dfd_.get(), "x", 0644, AtomicFile::Mode::NoReplace);
    ASSERT_TRUE(f);
    auto r = f->commit();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EEXIST);
    EXPECT_EQ(*read_file_at(dfd_.get(), "x"), "two");
    EXPECT_EQ(list_dir(dir_->path()), std::set<std::string>{"x"});
}

TEST_F(AtomicFileTest, MissingDirectoryIsAClearError) {
    auto f = AtomicFile::create_at(dfd_.get(), "no/such/dir/file");
    ASSERT_FALSE(f);
    EXPECT_NE(f.error().message.find("no/such/dir/file"), std::string::npos) << f.error().message;
}

}  // namespace
}  // namespace imgctl
