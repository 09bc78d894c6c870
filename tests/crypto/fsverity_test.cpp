#include "crypto/fsverity.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <random>

#include "base/file_util.hpp"
#include "base/temp_dir.hpp"
#include "crypto/sha256.hpp"
#include "random_bytes.hpp"

namespace imgctl::crypto {
namespace {

using testing_data::random_bytes;

TEST(Sha256, KnownAnswer) {
    EXPECT_EQ(Sha256::of(std::string_view("abc")).hex(),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(FsVerity, KnownAnswers) {
    // Published value for the 12-byte file "hello world\n" (FORMAT-NOTES §11).
    EXPECT_EQ(fsverity_digest(std::string_view("hello world\n")).hex(),
              "37061ef2ac4c21bec68489b56138c5780306a4ad7fe6676236ecdf2c9027cd92");
}

TEST(FsVerity, DigestHexRoundTrip) {
    auto d = fsverity_digest(std::string_view("x"));
    auto p = Digest::from_hex(d.hex());
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, d);
    EXPECT_FALSE(Digest::from_hex("abcd"));
    EXPECT_FALSE(Digest::from_hex(std::string(64, 'g')));
}

// Streaming in odd pieces, one-shot and the (parallel) fd path must agree for sizes around
// every block and tree-level boundary.
TEST(FsVerity, AllPathsAgreeAcrossBoundaries) {
    auto dir = TempDir::create("fsverity-test-");
    ASSERT_TRUE(dir);
    const size_t sizes[] = {0, 1, 4095, 4096, 4097, 128 * 4096, 128 * 4096 + 1, 129 * 4096,
                            (9u << 20) + 17, 16u << 20};
    for (size_t size : sizes) {
        std::string data = random_bytes(size, static_cast<unsigned>(size));
        Digest one = fsverity_digest(data);
        FsVerityHasher h(size);
        for (size_t off = 0, step = 1; off < size; step = step * 3 + 1) {
            size_t n = std::min(step % 10007 + 1, size - off);
            h.update(std::string_view(data).substr(off, n));
            off += n;
        }
        EXPECT_EQ(h.finish(), one) << "streaming, size " << size;
        std::string path = dir->path() + "/f" + std::to_string(size);
        auto fd = open_at(AT_FDCWD, path, O_CREAT | O_RDWR, 0644);
        ASSERT_TRUE(fd);
        ASSERT_TRUE(write_all(fd->get(), data));
        for (unsigned threads : {1u, 2u, 3u}) {
            auto d = fsverity_digest_fd(fd->get(), threads);
            ASSERT_TRUE(d) << d.error().message;
            EXPECT_EQ(*d, one) << "fd, size " << size << ", threads " << threads;
        }
    }
}

// One hasher reused with reset(), after finish() or abandoned half-way (a file that failed to
// read), must give what a fresh hasher gives, across block and tree-level boundaries.
TEST(FsVerity, ResetHasherMatchesFreshOne) {
    FsVerityHasher h(0);
    const size_t sizes[] = {1, 4096, 4097, 65, 128 * 4096 + 1, 0, 129 * 4096, 3, (1u << 20) + 5};
    for (size_t size : sizes) {
        std::string data = random_bytes(size, static_cast<unsigned>(size) + 7);
        h.reset(size + 10000);
        h.update(std::string_view(random_bytes(5000, 1)));  // abandoned: never finished
        h.reset(size);
        h.update(std::string_view(data).substr(0, size / 3));
        h.update(std::string_view(data).substr(size / 3));
        EXPECT_EQ(h.finish(), fsverity_digest(data)) << "size " << size;
    }
    h.reset(12);
    h.update(std::string_view("hello world\n"));
    EXPECT_EQ(h.finish().hex(), "37061ef2ac4c21bec68489b56138c5780306a4ad7fe6676236ecdf2c9027cd92");
}

TEST(FsVerity, EmptyFileHasZeroRootHash) {
    // Root hash of an empty file is 32 zero bytes; the digest covers the descriptor only.
    uint8_t desc[256] = {1, 1, 12, 0};
    EXPECT_EQ(fsverity_digest(std::string_view()), Sha256::of(std::as_bytes(std::span(desc, 256))));
}

TEST(FsVerity, LineFormatMatchesFsverityTool) {
    EXPECT_EQ(fsverity_line(fsverity_digest(std::string_view("hello world\n")), "f"),
              "sha256:37061ef2ac4c21bec68489b56138c5780306a4ad7fe6676236ecdf2c9027cd92 f");
}

}  // namespace
}  // namespace imgctl::crypto
