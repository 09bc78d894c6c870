// Every upstream conformance vector gives exactly the published image (sha256 and fs-verity
// digest) and every should-fail vector is rejected, in both parsing modes.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>

#include <gtest/gtest.h>

#include "base/file_util.hpp"
#include "base/unique_fd.hpp"
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

namespace imgctl::composefs {
namespace {

// The text through a descriptor, as `imgctl compose --from-file` reads it.
Result<Tree> parse_via_fd(const std::string& text, bool strict) {
    UniqueFd fd(memfd_create("dump", MFD_CLOEXEC));
    EXPECT_TRUE(fd.is_valid());
    EXPECT_TRUE(write_all(fd.get(), text));
    EXPECT_EQ(lseek(fd.get(), 0, SEEK_SET), 0);
    return parse_dump_fd(fd.get(), DumpParseOptions{.strict = strict});
}

// Reading through a descriptor (window by window) accepts, refuses and builds exactly what
// parsing the whole text does, on every vector, including lines longer than the window.
TEST(Vectors, ReadingFromADescriptorEqualsParsingTheText) {
    std::vector<std::string> files = test::should_fail_vectors();
    for (const auto& e : test::expected_vectors()) files.push_back(e.file);
    std::string long_line = "/ 4096 40755 2 0 0 0 0.0 - - - user.big=" + std::string(60000, 'x') + "\n" +
                            "/f 3 100644 1 0 0 0 0.0 - abc - user.big=" + std::string(300000, 'y');
    for (const auto& f : files) {
        for (bool strict : {false, true}) {
            SCOPED_TRACE(f + (strict ? " strict" : " lenient"));
            std::string text = test::read_vector(f);
            auto a = parse_dump(text, DumpParseOptions{.strict = strict});
            auto b = parse_via_fd(text, strict);
            ASSERT_EQ(static_cast<bool>(a), static_cast<bool>(b));
            if (a) EXPECT_EQ(write_dump(*a), write_dump(*b));
            else EXPECT_EQ(a.error().message, b.error().message);
        }
    }
    for (bool strict : {false, true}) {
        auto a = parse_dump(long_line, DumpParseOptions{.strict = strict});
        auto b = parse_via_fd(long_line, strict);
        ASSERT_EQ(static_cast<bool>(a), static_cast<bool>(b));
        if (a) EXPECT_EQ(write_dump(*a), write_dump(*b));
        else EXPECT_EQ(a.error().message, b.error().message);
    }
}

// The streamed image is the published one, arrives in bounded chunks, and a failing sink stops
// the write with its error.
TEST(Vectors, StreamedImageEqualsThePublishedOneAndSinkErrorsStopIt) {
    for (const auto& e : test::expected_vectors()) {
        SCOPED_TRACE(e.file);
        auto tree = parse_dump(test::read_vector(e.file));
        ASSERT_TRUE(tree);
        crypto::Sha256 sha;
        size_t largest = 0, total = 0;
        auto info = write_erofs(
            *tree,
            [&](std::string_view chunk) -> Result<void> {
                sha.update(chunk);
                largest = std::max(largest, chunk.size());
                total += chunk.size();
                return {};
            },
            options_of(e.options));
        ASSERT_TRUE(info) << info.error().message;
        EXPECT_EQ(sha.finish().hex(), e.sha256);
        EXPECT_EQ(info->fsverity.hex(), e.fsverity);
        EXPECT_EQ(info->size, total);
        EXPECT_LE(largest, 1024u * 1024u);
    }
    auto tree = parse_dump(test::read_vector("cs9-x86_64-developer.dump.gz"));
    ASSERT_TRUE(tree);
    int calls = 0;
    auto r = write_erofs(*tree, [&](std::string_view) -> Result<void> {
        ++calls;
        return make_error(ENOSPC, "disk full");
    });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ENOSPC);
    EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace imgctl::composefs
