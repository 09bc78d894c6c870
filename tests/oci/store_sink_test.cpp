#include <unistd.h>

#include <gtest/gtest.h>

#include "base/file_util.hpp"
#include "base/temp_dir.hpp"
#include "crypto/fsverity.hpp"
#include "oci/store_sink.hpp"
#include "store/store.hpp"

namespace imgctl::oci {
namespace {

std::span<const std::byte> bytes(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

// 4 threads commit in the background; 0 commits inline; 0 with deferred writes (what the
// puller uses in a batch: files up to kDeferMax are written by the sink's writer thread).
struct SinkMode {
    unsigned threads;
    bool defer;
};
class StoreSinkThreads : public testing::TestWithParam<SinkMode> {};

TEST_P(StoreSinkThreads, CommitsAndFillsEveryNode) {
    auto dir = TempDir::create("store-sink-test-");
    ASSERT_TRUE(dir);
    auto st = store::Store::init(dir->path() + "/repo", store::VerityPolicy::Optional);
    ASSERT_TRUE(st) << st.error().message;
    st->begin_batch();
    std::vector<std::pair<composefs::InodePtr, std::string>> files;
    {
        StoreSink sink(*st, GetParam().threads, 0, GetParam().defer);
        for (int i = 0; i < 56; ++i) {
            std::string content = std::string(100 + i * 37, static_cast<char>('a' + i % 26)) + std::to_string(i);
            // Files at and around the deferred-write limit, in more than one write, and repeats.
            if (i >= 50 && i < 53) content = std::string(StoreSink::kDeferMax - 1 + (i - 50), static_cast<char>('0' + i));
            if (i >= 53) content = "the same content";
            auto node = composefs::Inode::make(S_IFREG | 0644);
            auto w = sink.begin(content.size());
            ASSERT_TRUE(w) << w.error().message;
            size_t half = content.size() / 2;
            ASSERT_TRUE((*w)->write(bytes(content).first(half)));
            ASSERT_TRUE((*w)->write(bytes(content).subspan(half)));
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

INSTANTIATE_TEST_SUITE_P(Threads, StoreSinkThreads,
                         testing::Values(SinkMode{0, false}, SinkMode{4, false}, SinkMode{0, true}));

TEST(StoreSink, DeferredWritesRefuseMoreBytesThanAnnounced) {
    auto dir = TempDir::create("store-sink-test-");
    ASSERT_TRUE(dir);
    auto st = store::Store::init(dir->path() + "/repo", store::VerityPolicy::Optional);
    ASSERT_TRUE(st);
    StoreSink sink(*st, 0, 0, true);
    auto w = sink.begin(4);
    ASSERT_TRUE(w);
    auto r = (*w)->write(bytes("five!"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EINVAL);
    auto short_one = sink.begin(1000);
    ASSERT_TRUE(short_one);
    ASSERT_TRUE((*short_one)->write(bytes("only a few bytes")));
    auto f = sink.finish(std::move(*short_one), composefs::Inode::make(S_IFREG | 0644));
    ASSERT_FALSE(f);
    EXPECT_EQ(f.error().code, EINVAL);
}

// The writer thread fails (its tmp/ directory is gone): flush() and the next write() say so,
// with the object's name.
TEST(StoreSink, DeferredWriteFailuresComeBack) {
    auto dir = TempDir::create("store-sink-test-");
    ASSERT_TRUE(dir);
    auto st = store::Store::init(dir->path() + "/repo", store::VerityPolicy::Optional);
    ASSERT_TRUE(st);
    st->begin_batch();
    ASSERT_EQ(::rmdir((dir->path() + "/repo/tmp").c_str()), 0);  // the store keeps its fd: creating fails
    StoreSink sink(*st, 0, 0, true);
    auto w = sink.begin(5);
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->write(bytes("hello")));
    ASSERT_TRUE(sink.finish(std::move(*w), composefs::Inode::make(S_IFREG | 0644)));
    auto r = sink.flush();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ENOENT) << r.error().message;
    EXPECT_NE(r.error().message.find(store::Store::object_path(crypto::fsverity_digest(std::string_view("hello")))),
              std::string::npos)
        << r.error().message;
    // The next file already fails when it wants memory for its bytes, with the writer's error.
    auto again = sink.begin(3);
    ASSERT_TRUE(again);
    auto wr = (*again)->write(bytes("abc"));
    ASSERT_FALSE(wr);
    EXPECT_EQ(wr.error().code, ENOENT) << wr.error().message;
}

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
