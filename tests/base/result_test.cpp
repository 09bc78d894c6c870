#include "base/result.hpp"

#include <gtest/gtest.h>

#include <memory>

namespace imgctl {
namespace {

Result<int> parse_positive(int v) {
    if (v <= 0) return make_error(EINVAL, "{} is not positive", v);
    return v;
}

Result<int> doubled(int v) {
    auto r = parse_positive(v);
    if (!r) return std::move(r).error().context("doubling");
    return *r * 2;
}

Result<void> check(int v) {
    IMGCTL_TRY(parse_positive(v));
    return {};
}

TEST(Result, ValueAndErrorAreExclusive) {
    auto ok = doubled(4);
    ASSERT_TRUE(ok);
    EXPECT_EQ(*ok, 8);
    auto bad = doubled(-1);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, EINVAL);
    EXPECT_EQ(bad.error().message, "doubling: -1 is not positive");
}

TEST(Result, TryPropagatesTheError) {
    EXPECT_TRUE(check(1));
    auto r = check(0);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "0 is not positive");
}

TEST(Result, HoldsMoveOnlyValues) {
    Result<std::unique_ptr<int>> r(std::make_unique<int>(7));
    ASSERT_TRUE(r);
    auto p = std::move(r).value();
    EXPECT_EQ(*p, 7);
}

TEST(Result, ErrnoErrorNamesTheCause) {
    Error e = errno_error(ENOENT, "opening 'x'");
    EXPECT_EQ(e.code, ENOENT);
    EXPECT_EQ(e.message, "opening 'x': No such file or directory");
}

}  // namespace
}  // namespace imgctl
