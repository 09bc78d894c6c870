#include <gtest/gtest.h>

#include "base/file_util.hpp"
#include "base/temp_dir.hpp"
#include "crypto/fsverity.hpp"
#include "oci/store_sink.hpp"
#include "store/store.hpp"

namespace imgctl::oci {
namespace {

std::span<const std::byte> bytes(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

// 4 threads commit in the background; 0 commits inline (what the puller uses in a batch).
class StoreSinkThreads : public testing::TestWithParam<unsigned> {};

TEST_P(StoreSinkThreads, CommitsAndFillsEveryNode) {
    auto dir = TempDir::create("store-sink-test-");
    ASSERT_TRUE(dir);
    auto st = store::Store::init(dir->path() + "/repo", store::VerityPolicy::Optional);
    ASSERT_TRUE(st) << st.error().message;
    st->begin_batch();
    std::vector<std::pair<composefs::InodePtr, std::string>> files;
    {
        StoreSink sink(*st, GetParam());
        for (int i = 0; i < 50; ++i) {
            std::string content = std::string(100 + i * 37, static_cast<char>('a' + i % 26)) + std::to_string(i);
            auto node = composefs::Inode::make(S_IFREG | 0644);
            auto w = sink.begin(content.size());
            ASSERT_TRUE(w) << w.error().message;
            ASSERT_TRUE((*w)->write(bytes(content)));
            ASSERT_TRUE(sink.finish(std::move(*w), node));
            files.emplace_back(node, content);
        }
        ASSERT_TRUE(sink.flush());
    }
    ASSERT_TRUE(st->commit_batch());
    for (auto& [node, content] : files) {
        auto d = crypto::fsverity_digest(content);
        ASSERT_EQ(node->fsverity(), d);
        EXPECT_EQ(node->payload(), store::Store::object_path(d));
        auto got = read_file_at(st->objects_dir_fd(), node->payload());
        ASSERT_TRUE(got);
        EXPECT_EQ(*got, content);
    }
}

INSTANTIATE_TEST_SUITE_P(Threads, StoreSinkThreads, testing::Values(0u, 4u));

TEST(StoreSink, InlineCommitReportsAFailureAtOnce) {
    auto dir = TempDir::create("store-sink-test-");
    ASSERT_TRUE(dir);
    auto st = store::Store::init(dir->path() + "/repo", store::VerityPolicy::Optional);
    ASSERT_TRUE(st);
    StoreSink sink(*st, 0);
    auto w = sink.begin(1000);
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->write(bytes("only a few bytes")));
    auto r = sink.finish(std::move(*w), composefs::Inode::make(S_IFREG | 0644));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EINVAL);
}

TEST(StoreSink, FlushReportsAFailedCommit) {
    auto dir = TempDir::create("store-sink-test-");
    ASSERT_TRUE(dir);
    auto st = store::Store::init(dir->path() + "/repo", store::VerityPolicy::Optional);
    ASSERT_TRUE(st);
    StoreSink sink(*st, 2);
    auto w = sink.begin(1000);
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->write(bytes("only a few bytes")));  // fewer than announced: commit fails
    ASSERT_TRUE(sink.finish(std::move(*w), composefs::Inode::make(S_IFREG | 0644)));
    auto r = sink.flush();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EINVAL);
}

}  // namespace
}  // namespace imgctl::oci
