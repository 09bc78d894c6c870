#include "base/guarded_map.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>

#include "base/file_util.hpp"
#include "base/temp_dir.hpp"

namespace imgctl {
namespace {

std::span<const std::byte> bytes(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

struct MappedFileTest : testing::Test {
    void SetUp() override {
        auto d = TempDir::create("guarded-map-");
        ASSERT_TRUE(d);
        dir.emplace(std::move(*d));
        path = dir->path() + "/f";
        data.resize(3 * 4096 * 5 + 123);
        for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 4096);
        int w = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        ASSERT_GE(w, 0);
        ASSERT_TRUE(write_all(w, bytes(data)));
        ::close(w);
        fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
        ASSERT_GE(fd, 0);
    }
    void TearDown() override { ::close(fd); }
    std::optional<TempDir> dir;
    std::string path, data;
    int fd = -1;
};

TEST_F(MappedFileTest, HandsOutTheWholeFileInWindows) {
    std::string got;
    int calls = 0;
    auto r = read_mapped(fd, data.size(), 3 * 4096, [&](std::span<const std::byte> d) {
        got.append(reinterpret_cast<const char*>(d.data()), d.size());
        ++calls;
    });
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(got, data);
    EXPECT_EQ(calls, 6);  // five whole windows and the rest
}

TEST_F(MappedFileTest, AFileThatShrinksIsEagainNotSigbus) {
    auto r = read_mapped(fd, data.size(), 1 << 20, [&](std::span<const std::byte> d) {
        ASSERT_EQ(::ftruncate(fd, 0), 0);
        volatile std::byte last = d.back();  // its page is gone: SIGBUS, caught
        (void)last;
        ADD_FAILURE() << "read a truncated page";
    });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EAGAIN) << r.error().message;
    // And the guard is off again: the next read works.
    ASSERT_EQ(::ftruncate(fd, 4096), 0);
    EXPECT_TRUE(read_mapped(fd, 4096, 4096, [](std::span<const std::byte>) {}));
}

TEST_F(MappedFileTest, AFileThatGrewIsEagain) {
    auto r = read_mapped(fd, data.size() - 1, 1 << 20, [](std::span<const std::byte>) {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EAGAIN);
}

TEST(GuardedMap, AnUnmappableFileIsEnodev) {
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    auto r = read_mapped(p[0], 100, 4096, [](std::span<const std::byte>) {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ENODEV);
    ::close(p[0]);
    ::close(p[1]);
}

TEST(GuardedMapDeathTest, ASigbusOutsideAGuardedReadStillKills) {
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    (void)read_mapped(p[0], 1, 4096, [](std::span<const std::byte>) {});  // the handler is installed
    ::close(p[0]);
    ::close(p[1]);
    EXPECT_EXIT(::raise(SIGBUS), testing::KilledBySignal(SIGBUS), "");
}

}  // namespace
}  // namespace imgctl
