// SHA-256 against OpenSSL's own EVP implementation (an independent one), on the SHA-NI path
// and, in the "crypto-openssl" run (IMGCTL_SHA_NI=0), on the OpenSSL path of the same code.

#include "crypto/sha256.hpp"
#include "random_bytes.hpp"

#include <openssl/evp.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string_view>

#include "crypto/fsverity.hpp"
#include "crypto/sha256_ni.hpp"

namespace imgctl::crypto {
namespace {

using testing_data::random_bytes;

Digest openssl_sha256(std::string_view data) {
    Digest d;
    unsigned len = 0;
    EXPECT_EQ(EVP_Digest(data.data(), data.size(), d.bytes.data(), &len, EVP_sha256(), nullptr), 1);
    return d;
}

std::span<const std::byte> bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

TEST(Sha256Paths, TheEnvironmentChoosesThePath) {
    const char* env = std::getenv("IMGCTL_SHA_NI");
    if (env && std::string_view(env) == "0") {
        EXPECT_FALSE(detail::sha_ni_enabled());
        return;
    }
    __builtin_cpu_init();
    EXPECT_EQ(detail::sha_ni_enabled(), __builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1"));
}

// Every length around the one- and two-block padding cases, then longer messages fed in
// uneven pieces (the buffered partial block), and a reused hasher.
TEST(Sha256Paths, MatchesOpenSslForAllShortLengthsAndSplits) {
    std::string data = random_bytes(70000, 7);
    Sha256 reused;
    for (size_t n = 0; n <= 300; ++n) {
        std::string_view m = std::string_view(data).substr(0, n);
        ASSERT_EQ(Sha256::of(m), openssl_sha256(m)) << "one-shot, length " << n;
        reused.update(m);
        ASSERT_EQ(reused.finish(), openssl_sha256(m)) << "streamed, length " << n;
    }
    std::mt19937 rng(11);
    for (int round = 0; round < 200; ++round) {
        size_t n = rng() % data.size();
        std::string_view m = std::string_view(data).substr(rng() % (data.size() - n), n);
        Sha256 h;
        for (size_t off = 0; off < n;) {
            size_t piece = std::min<size_t>(n - off, rng() % 3 == 0 ? rng() % 64 : rng() % 9000);
            h.update(m.substr(off, piece));
            off += piece;
        }
        ASSERT_EQ(h.finish(), openssl_sha256(m)) << "pieces, length " << n << ", round " << round;
    }
}

TEST(Sha256Paths, TwoInterleavedStreamsMatchOneAtATime) {
    if (!detail::sha_ni_enabled()) GTEST_SKIP() << "no SHA-NI here (CPU without the SHA extensions, or IMGCTL_SHA_NI=0)";
    std::string a = random_bytes(64 * 200, 1), b = random_bytes(64 * 200, 2);
    for (size_t blocks : {size_t{1}, size_t{2}, size_t{3}, size_t{64}, size_t{200}}) {
        detail::Sha256State sa = detail::kSha256Initial, sb = detail::kSha256Initial;
        // Different starting states too: b starts after one block of its own.
        detail::sha256_ni_blocks(sb, bytes(b).data(), 1);
        detail::Sha256State ra = sa, rb = sb;
        detail::sha256_ni_blocks_x2(sa, bytes(a).data(), sb, bytes(b).data() + 64, blocks);
        detail::sha256_ni_blocks(ra, bytes(a).data(), blocks);
        detail::sha256_ni_blocks(rb, bytes(b).data() + 64, blocks);
        for (int i = 0; i < 8; ++i) {
            ASSERT_EQ(sa.h[i], ra.h[i]) << blocks << " blocks, word " << i;
            ASSERT_EQ(sb.h[i], rb.h[i]) << blocks << " blocks, word " << i;
        }
        // And the whole message digests agree with OpenSSL.
        detail::sha256_ni_finish(sa, nullptr, 0, blocks * 64);
        EXPECT_EQ(detail::sha256_state_digest(sa), openssl_sha256(std::string_view(a).substr(0, blocks * 64)));
    }
}

// The fs-verity leaf hashes (pairs of blocks on SHA-NI) against a digest built here from
// OpenSSL alone: level-0 hashes of the zero-padded blocks, one level, the descriptor.
TEST(Sha256Paths, FsVerityOfSmallTreesMatchesAnOpenSslConstruction) {
    for (size_t size : {size_t{1}, size_t{4096}, size_t{4096 * 2}, size_t{4096 * 3 + 5}, size_t{4096 * 128}}) {
        std::string data = random_bytes(size, static_cast<unsigned>(size));
        std::string level;
        for (size_t off = 0; off < size; off += 4096) {
            std::string block = data.substr(off, 4096);
            block.resize(4096, '\0');
            level += std::string(reinterpret_cast<const char*>(openssl_sha256(block).bytes.data()), 32);
        }
        std::string root;
        if (level.size() == 32) {
            root = level;
        } else {
            level.resize(4096, '\0');
            root = std::string(reinterpret_cast<const char*>(openssl_sha256(level).bytes.data()), 32);
        }
        std::string desc(256, '\0');
        desc[0] = 1, desc[1] = 1, desc[2] = 12;
        for (int i = 0; i < 8; ++i) desc[8 + i] = static_cast<char>(static_cast<uint64_t>(size) >> (8 * i));
        desc.replace(16, 32, root);
        EXPECT_EQ(fsverity_digest(data), openssl_sha256(desc)) << "size " << size;
    }
}

}  // namespace
}  // namespace imgctl::crypto
