#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/file_util.hpp"
#include "base/hex.hpp"
#include "base/log.hpp"
#include "base/mapped_file.hpp"
#include "base/progress.hpp"
#include "base/temp_dir.hpp"

namespace imgctl {
namespace {

TEST(Hex, RoundTrips) {
    std::vector<uint8_t> b{0x00, 0x7f, 0xab, 0xff};
    EXPECT_EQ(to_hex(b), "007fabff");
    EXPECT_EQ(*from_hex("007FABff"), b);
    EXPECT_FALSE(from_hex("abc"));
    EXPECT_FALSE(from_hex("zz"));
    EXPECT_TRUE(is_lower_hex("00ff", 4));
    EXPECT_FALSE(is_lower_hex("00FF", 4));
    EXPECT_FALSE(is_lower_hex("00f", 4));
}

TEST(TempDir, RemovesItselfWithContents) {
    std::string path;
    {
        auto t = TempDir::create("tmpdir-test-");
        ASSERT_TRUE(t);
        path = t->path();
        ASSERT_TRUE(mkdir_p_at(AT_FDCWD, path + "/a/b/c"));
        int fd = open((path + "/a/b/f").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        ASSERT_GE(fd, 0);
        close(fd);
        ASSERT_EQ(symlink("/etc/passwd", (path + "/a/link").c_str()), 0);
    }
    struct stat st {};
    EXPECT_NE(lstat(path.c_str(), &st), 0);
    EXPECT_EQ(access("/etc/passwd", F_OK), 0);  // the symlink target is untouched
}

TEST(TempDir, ReleaseKeepsTheDirectory) {
    std::string path;
    {
        auto t = TempDir::create("tmpdir-keep-");
        ASSERT_TRUE(t);
        path = t->release();
    }
    EXPECT_EQ(access(path.c_str(), F_OK), 0);
    EXPECT_TRUE(remove_tree_at(AT_FDCWD, path));
}

TEST(MappedFile, MapsContentAndEmptyFiles) {
    auto t = TempDir::create("map-test-");
    ASSERT_TRUE(t);
    auto dfd = open_at(AT_FDCWD, t->path(), O_RDONLY | O_DIRECTORY);
    ASSERT_TRUE(dfd);
    {
        auto fd = open_at(dfd->get(), "f", O_CREAT | O_WRONLY, 0644);
        ASSERT_TRUE(write_all(fd->get(), std::string_view("abc")));
        auto e = open_at(dfd->get(), "empty", O_CREAT | O_WRONLY, 0644);
        ASSERT_TRUE(e);
    }
    auto m = MappedFile::open_at(dfd->get(), "f");
    ASSERT_TRUE(m);
    ASSERT_EQ(m->data().size(), 3u);
    EXPECT_EQ(static_cast<char>(m->data()[2]), 'c');
    auto e = MappedFile::open_at(dfd->get(), "empty");
    ASSERT_TRUE(e);
    EXPECT_TRUE(e->data().empty());
    auto missing = MappedFile::open_at(dfd->get(), "missing");
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message.find("'missing'"), std::string::npos);
}

TEST(Log, ParsesLevelSpecs) {
    EXPECT_TRUE(log::configure("warning,oci=trace"));
    EXPECT_TRUE(log::enabled("oci", log::Level::Trace));
    EXPECT_FALSE(log::enabled("store", log::Level::Info));
    EXPECT_TRUE(log::enabled("store", log::Level::Error));
    EXPECT_FALSE(log::configure("loud"));
    EXPECT_FALSE(log::configure("oci=shouting"));
    EXPECT_TRUE(log::configure("notice"));
}

TEST(Progress, FormatsBarRateAndEta) {
    std::string l = Progress::format_line("layer", 512 << 10, 1 << 20, 1.0, 80);
    EXPECT_NE(l.find("layer ["), std::string::npos) << l;
    EXPECT_NE(l.find("512.0 KiB/1.0 MiB"), std::string::npos) << l;
    EXPECT_NE(l.find("ETA 1s"), std::string::npos) << l;
    EXPECT_LE(Progress::format_line(std::string(200, 'x'), 1, 2, 1, 60).size(), 60u);
    EXPECT_EQ(format_bytes(1536), "1.5 KiB");
}

TEST(Progress, OneLinePerItemUnfinishedFirstThenTheTotal) {
    std::vector<Progress::ItemState> items;
    for (int i = 0; i < 10; ++i)
        items.push_back({"sha256:" + std::string(64, static_cast<char>('a' + i)), i < 3 ? 100u : 50u, 100});
    auto lines = Progress::format_lines("reg/os:1", items, 650, 1000, 1.0, 100);
    ASSERT_EQ(lines.size(), Progress::kItemLines + 2) << "8 items, '... and 2 more', the total";
    // The 7 unfinished items (d..j) come first, then one finished one (a), in the items' order.
    EXPECT_EQ(lines[0].rfind("  sha256:aaaaaaaaaaaa [", 0), 0u) << lines[0];
    EXPECT_EQ(lines[1].rfind("  sha256:dddddddddddd [", 0), 0u) << lines[1];
    EXPECT_EQ(lines[7].rfind("  sha256:jjjjjjjjjjjj [", 0), 0u) << lines[7];
    EXPECT_EQ(lines[8], "  ... and 2 more");
    EXPECT_EQ(lines[9].rfind("reg/os:1 [", 0), 0u) << lines[9];
    EXPECT_NE(lines[9].find("650 B/1000 B"), std::string::npos) << lines[9];
    auto few = Progress::format_lines("t", {{"one", 1, 2}}, 1, 2, 1.0, 80);
    ASSERT_EQ(few.size(), 2u);
    EXPECT_EQ(few[0].rfind("  one [", 0), 0u) << few[0];
}

TEST(Progress, SilentWhenStderrIsNotATerminal) {
    if (isatty(STDERR_FILENO)) GTEST_SKIP() << "stderr is a terminal in this run";
    Progress p("x", 10);
    EXPECT_FALSE(p.is_visible());
}

}  // namespace
}  // namespace imgctl
