// Every upstream conformance vector gives exactly the published image (sha256 and fs-verity
// digest) and every should-fail vector is rejected, in both parsing modes.
#include <gtest/gtest.h>

#include "composefs/dump_parser.hpp"
#include "composefs/dump_writer.hpp"
#include "composefs/erofs_writer.hpp"
#include "crypto/sha256.hpp"
#include "test_util.hpp"

namespace imgctl::composefs {
namespace {

ErofsOptions options_of(const std::string& opts) {
    ErofsOptions o;
    if (opts.find("--min-version=1") != std::string::npos) o.min_version = 1;
    if (opts.find("--max-version=0") != std::string::npos) o.max_version = 0;
    return o;
}

TEST(Vectors, EveryVectorGivesThePublishedDigests) {
    for (const auto& e : test::expected_vectors()) {
        SCOPED_TRACE(e.file);
        std::string text = test::read_vector(e.file);
        ASSERT_FALSE(text.empty());
        auto tree = parse_dump(text);
        ASSERT_TRUE(tree) << tree.error().message;
        auto img = write_erofs(*tree, options_of(e.options));
        ASSERT_TRUE(img) << img.error().message;
        EXPECT_EQ(crypto::Sha256::of(std::string_view(img->bytes)).hex(), e.sha256);
        EXPECT_EQ(img->fsverity.hex(), e.fsverity);
    }
}

TEST(Vectors, StrictParsingAcceptsOnlyTheStrictVectors) {
    for (const auto& e : test::expected_vectors()) {
        SCOPED_TRACE(e.file);
        auto tree = parse_dump(test::read_vector(e.file), DumpParseOptions{.strict = true});
        EXPECT_EQ(static_cast<bool>(tree), e.strict_ok) << (tree ? "" : tree.error().message);
        if (tree && e.strict_ok) {
            auto img = write_erofs(*tree, options_of(e.options));
            ASSERT_TRUE(img);
            EXPECT_EQ(img->fsverity.hex(), e.fsverity);
        }
    }
}

TEST(Vectors, ShouldFailVectorsAreRejectedInBothModes) {
    for (const auto& f : test::should_fail_vectors()) {
        for (bool strict : {false, true}) {
            SCOPED_TRACE(f + (strict ? " strict" : " lenient"));
            auto tree = parse_dump(test::read_vector(f), DumpParseOptions{.strict = strict});
            if (!tree) {
                EXPECT_FALSE(tree.error().message.empty());
                continue;
            }
            auto img = write_erofs(*tree);
            EXPECT_FALSE(img) << "accepted";
        }
    }
}

// dump -> tree -> dump gives the input back for the strict vectors written in the canonical
// form (the parser keeps everything the dump format carries).
TEST(Vectors, DumpRoundTripsThroughTheTree) {
    for (const auto& e : test::expected_vectors()) {
        if (!e.strict_ok) continue;
        SCOPED_TRACE(e.file);
        std::string text = test::read_vector(e.file);
        auto tree = parse_dump(text);
        ASSERT_TRUE(tree);
        std::string again = write_dump(*tree);
        auto tree2 = parse_dump(again, DumpParseOptions{.strict = true});
        ASSERT_TRUE(tree2) << tree2.error().message;
        EXPECT_EQ(write_dump(*tree2), again);
        auto a = write_erofs(*tree, options_of(e.options));
        auto b = write_erofs(*tree2, options_of(e.options));
        ASSERT_TRUE(a && b);
        EXPECT_EQ(a->fsverity, b->fsverity) << "re-parsed dump gives another image";
    }
}

}  // namespace
}  // namespace imgctl::composefs
