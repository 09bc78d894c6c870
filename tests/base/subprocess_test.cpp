#include <gtest/gtest.h>

#include "base/subprocess.hpp"

using namespace imgctl;

TEST(Subprocess, FeedsStdinAndCollectsBothStreams) {
    auto r = run_process({"sh", "-c", "cat; echo oops >&2; exit 3"}, "hello\n");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->out, "hello\n");
    EXPECT_EQ(r->err, "oops\n");
    EXPECT_EQ(r->exit_status, 3);
}

TEST(Subprocess, LargeInputAndOutputDoNotDeadlock) {
    std::string big(1 << 20, 'x');  // far beyond a pipe buffer in both directions
    auto r = run_process({"cat"}, big, 2 << 20);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->out.size(), big.size());
}

TEST(Subprocess, ChildIgnoringInput) {
    std::string big(1 << 20, 'x');
    auto r = run_process({"true"}, big);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->exit_status, 0);
}

TEST(Subprocess, Errors) {
    auto missing = run_process({"imgctl-no-such-program"}, "");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, ENOENT);
    EXPECT_NE(missing.error().message.find("imgctl-no-such-program"), std::string::npos);
    auto flood = run_process({"head", "-c", "100000", "/dev/zero"}, "", 1000);
    ASSERT_FALSE(flood);
    EXPECT_EQ(flood.error().code, E2BIG);
    auto killed = run_process({"sh", "-c", "kill -9 $$"}, "");
    ASSERT_TRUE(killed);
    EXPECT_EQ(killed->exit_status, 128 + 9);
}
