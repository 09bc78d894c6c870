// The pull's pipeline pieces: PrefetchSource (read-ahead thread) and GrowingFile (reading a
// download while it is written, restarts included).
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <thread>

#include "base/temp_dir.hpp"
#include "oci/early_writeback.hpp"
#include "oci/growing_file.hpp"
#include "oci/prefetch_source.hpp"

namespace imgctl::oci {
namespace {

std::string pattern(size_t n) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + i / 977) & 0xff);
    return s;
}

Result<std::string> read_all_of(ByteSource& src, size_t chunk) {
    std::string out;
    std::vector<std::byte> buf(chunk);
    while (true) {
        auto n = src.read(buf);
        if (!n) return std::move(n).error();
        if (*n == 0) return out;
        out.append(reinterpret_cast<const char*>(buf.data()), *n);
    }
}

// Hands out its data in pieces of a fixed size, then fails or ends.
class ChunkSource : public ByteSource {
public:
    ChunkSource(std::string data, size_t piece, bool fail_at_end) : data_(std::move(data)), piece_(piece), fail_(fail_at_end) {}
    Result<size_t> read(std::span<std::byte> out) override {
        if (pos_ == data_.size()) {
            if (fail_) return make_error(EIO, "source broke");
            return size_t{0};
        }
        size_t n = std::min({out.size(), piece_, data_.size() - pos_});
        std::memcpy(out.data(), data_.data() + pos_, n);
        pos_ += n;
        return n;
    }
    size_t pos_ = 0;

private:
    std::string data_;
    size_t piece_;
    bool fail_;
};

TEST(PrefetchSource, DeliversTheInnerBytesInOrderForAnyReadSize) {
    std::string data = pattern(1000003);
    for (size_t piece : {1u, 4096u, 300000u}) {
        for (size_t chunk : {7u, 65536u, 1u << 20}) {
            // One thread handoff per inner read: keep the 1-byte case short.
            std::string want = piece == 1 ? data.substr(0, 5003) : data;
            ChunkSource inner(want, piece, false);
            PrefetchSource ahead(inner, 4096, 3);
            auto got = read_all_of(ahead, chunk);
            ASSERT_TRUE(got) << got.error().message;
            EXPECT_EQ(*got, want) << "piece " << piece << " chunk " << chunk;
            auto again = ahead.read(std::as_writable_bytes(std::span(data.data(), 1)));
            ASSERT_TRUE(again);
            EXPECT_EQ(*again, 0u) << "the end stays the end";
        }
    }
}

TEST(PrefetchSource, NextBlockHandsOutTheBlocksWithoutCopies) {
    std::string data = pattern(300007);
    ChunkSource inner(data, 5000, false);
    PrefetchSource ahead(inner, 4096, 3);
    std::string got;
    std::vector<std::byte> scratch(16), small(100);
    // A read() leaves part of a block; next_block() returns that rest, then whole blocks.
    auto n = ahead.read(small);
    ASSERT_TRUE(n);
    got.append(reinterpret_cast<const char*>(small.data()), *n);
    while (true) {
        auto b = ahead.next_block(scratch);
        ASSERT_TRUE(b) << b.error().message;
        if (b->empty()) break;
        EXPECT_LE(b->size(), 4096u);
        EXPECT_TRUE(b->data() < scratch.data() || b->data() >= scratch.data() + scratch.size()) << "not copied";
        got.append(reinterpret_cast<const char*>(b->data()), b->size());
    }
    EXPECT_EQ(got, data);
}

TEST(PrefetchSource, AnErrorComesAfterTheBytesBeforeIt) {
    std::string data = pattern(50000);
    ChunkSource inner(data, 1000, /*fail_at_end=*/true);
    PrefetchSource ahead(inner, 1024, 4);
    std::string got;
    std::vector<std::byte> buf(777);
    Result<size_t> n = size_t{0};
    while ((n = ahead.read(buf)) && *n > 0) got.append(reinterpret_cast<const char*>(buf.data()), *n);
    ASSERT_FALSE(n);
    EXPECT_EQ(n.error().code, EIO);
    EXPECT_EQ(got, data);
}

TEST(PrefetchSource, StopsEarlyWithoutReadingEverything) {
    std::string data = pattern(10 << 20);
    ChunkSource inner(data, 4096, false);
    {
        PrefetchSource ahead(inner, 4096, 2);
        std::vector<std::byte> buf(100);
        ASSERT_TRUE(ahead.read(buf));
        ahead.stop();
        auto r = ahead.read(buf);  // the current block may still have bytes; then it is over
        ASSERT_TRUE(r || r.error().code == ECANCELED);
    }
    EXPECT_LT(inner.pos_, data.size()) << "read-ahead is bounded by its buffers";
}

// The tap (the diff_id's hasher) sees every byte the inner source produced, in order, whether
// the consumer reads all of it, reads in odd sizes, or stops early.
TEST(PrefetchSource, TheTapHashesEveryByteTheInnerSourceProduced) {
    std::string data = pattern(3000017);
    for (size_t chunk : {13u, 4096u, 1u << 20}) {
        ChunkSource inner(data, 7001, false);
        crypto::Sha256 tap;
        {
            PrefetchSource ahead(inner, 4096, 3, &tap);
            auto got = read_all_of(ahead, chunk);
            ASSERT_TRUE(got) << got.error().message;
            EXPECT_EQ(*got, data) << "chunk " << chunk;
        }
        EXPECT_EQ(tap.finish(), crypto::Sha256::of(data)) << "chunk " << chunk;
    }
    // Stopped after one read: the tap covers exactly what the inner source handed out.
    ChunkSource inner(data, 4096, false);
    crypto::Sha256 tap;
    {
        PrefetchSource ahead(inner, 4096, 4, &tap);
        std::vector<std::byte> buf(100);
        ASSERT_TRUE(ahead.read(buf));
        ahead.stop();
    }
    EXPECT_LT(inner.pos_, data.size());
    EXPECT_EQ(tap.finish(), crypto::Sha256::of(std::string_view(data).substr(0, inner.pos_)));
    // The inner source fails after all its bytes: the consumer gets the bytes then the error,
    // and the tap has seen every byte.
    ChunkSource failing(data, 5000, /*fail_at_end=*/true);
    crypto::Sha256 tap2;
    {
        PrefetchSource ahead(failing, 4096, 3, &tap2);
        auto got = read_all_of(ahead, 1000);
        ASSERT_FALSE(got);
        EXPECT_EQ(got.error().code, EIO);
    }
    EXPECT_EQ(tap2.finish(), crypto::Sha256::of(data));
}

// A writer thread that downloads `data` into `fd` in pieces, optionally starting over once
// (truncate, grow(-size)) after `restart_at` bytes, as RegistryClient::download_blob does.
void write_like_a_download(int fd, GrowingFile& file, const std::string& data, size_t restart_at,
                           std::optional<Error> end_error) {
    size_t have = 0;
    bool restarted = restart_at == 0;
    while (have < data.size()) {
        if (!restarted && have >= restart_at) {
            restarted = true;
            file.grow(-static_cast<int64_t>(have));
            ASSERT_EQ(::ftruncate(fd, 0), 0);
            have = 0;
            continue;
        }
        size_t n = std::min<size_t>(3001, data.size() - have);
        ASSERT_EQ(::pwrite(fd, data.data() + have, n, static_cast<off_t>(have)), static_cast<ssize_t>(n));
        have += n;
        file.grow(static_cast<int64_t>(n));
        if (have % 10 == 0) std::this_thread::yield();
    }
    file.finish(std::move(end_error));
}

TEST(GrowingFile, ReaderFollowsTheDownloadAcrossARestart) {
    auto dir = TempDir::create("growing-file-test-");
    ASSERT_TRUE(dir);
    std::string data = pattern(700001);
    for (size_t restart_at : {size_t{0}, size_t{30000}, size_t{650000}}) {
        int fd = ::open(dir->path().c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        GrowingFile file;
        std::thread writer([&] { write_like_a_download(fd, file, data, restart_at, std::nullopt); });
        GrowingFileSource src(fd, file);
        auto got = read_all_of(src, 65536);
        writer.join();
        ::close(fd);
        ASSERT_TRUE(got) << got.error().message;
        EXPECT_EQ(*got, data) << "restart at " << restart_at;
    }
}

TEST(GrowingFile, AFailedDownloadFailsTheReaderAndCancelStopsIt) {
    auto dir = TempDir::create("growing-file-test-");
    ASSERT_TRUE(dir);
    int fd = ::open(dir->path().c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    GrowingFile file;
    std::thread writer([&] { write_like_a_download(fd, file, pattern(100000), 0, make_error(EBADMSG, "digest!")); });
    GrowingFileSource src(fd, file);
    auto got = read_all_of(src, 4096);
    writer.join();
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().message, "digest!");

    GrowingFile stalled;
    std::thread canceller([&] { stalled.cancel(); });
    auto r = stalled.wait_beyond(0);
    canceller.join();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ECANCELED);
    ::close(fd);
}

}  // namespace
}  // namespace imgctl::oci

namespace imgctl::oci {
namespace {

TEST(EarlyWriteback, StartsASyncfsPerThresholdOneAtATime) {
    auto dir = TempDir::create("early-writeback-test-");
    ASSERT_TRUE(dir);
    int dfd = ::open(dir->path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(dfd, 0);
    auto wb = EarlyWriteback::create(dfd, 1000);
    ::close(dfd);
    ASSERT_TRUE(wb) << wb.error().message;
    (*wb)->add(999);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ((*wb)->syncs(), 0u) << "below the threshold nothing starts";
    (*wb)->add(1);
    for (int i = 0; i < 400 && (*wb)->syncs() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_EQ((*wb)->syncs(), 1u);
    for (int i = 0; i < 100; ++i) (*wb)->add(1000);  // while one runs, more requests fold into it
    wb->reset();  // waits for a running one
}

}  // namespace
}  // namespace imgctl::oci
