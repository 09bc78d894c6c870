#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/progress.hpp"
#include "base/progress_events.hpp"

using namespace imgctl;

TEST(ProgressEvents, JsonStrings) {
    EXPECT_EQ(progress_events::json_string("a\"b\\c"), R"("a\"b\\c")");
    EXPECT_EQ(progress_events::json_string("x\ny\t\x01"), R"("x\ny\t\u0001")");
    EXPECT_EQ(progress_events::json_string("caf\xc3\xa9"), "\"caf\xc3\xa9\"");       // valid UTF-8 kept
    EXPECT_EQ(progress_events::json_string("bad\xff\xc3"), R"("bad\ufffd\ufffd")");  // invalid bytes replaced
    EXPECT_EQ(progress_events::json_string("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");  // a surrogate
}

TEST(ProgressEvents, LinesOnAPipeAndNothingWhenClosed) {
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    progress_events::bytes("t", "never", 1, 2);  // no channel: nothing, no crash
    ASSERT_TRUE(progress_events::open(p[1]));
    progress_events::start("pull", "oci:x");
    {
        Progress bar("oci:x", 10, "download");
        bar.add(4);
        bar.add(6);
    }  // finish(): a final event with bytes == total
    progress_events::end_error("boom \"quoted\"");
    progress_events::close_for_tests();
    ::close(p[1]);
    std::string all;
    char buf[4096];
    for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) all.append(buf, static_cast<size_t>(n));
    ::close(p[0]);
    EXPECT_EQ(all.find("never"), std::string::npos);
    EXPECT_EQ(all.rfind("{\"type\":\"start\",\"version\":1,\"command\":\"pull\",\"source\":\"oci:x\",", 0), 0u) << all;
    EXPECT_NE(all.find("\"type\":\"bytes\",\"task\":\"download\",\"description\":\"oci:x\",\"bytes\":10,\"bytesTotal\":10"),
              std::string::npos) << all;
    EXPECT_NE(all.find("\"type\":\"end\",\"ok\":false,\"error\":\"boom \\\"quoted\\\"\""), std::string::npos) << all;
    EXPECT_EQ(all.back(), '\n');
}

TEST(ProgressEvents, RefusesAReadOnlyFd) {
    int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    EXPECT_FALSE(progress_events::open(fd));
    EXPECT_FALSE(progress_events::open(-1));
    EXPECT_FALSE(progress_events::enabled());
    ::close(fd);
}
