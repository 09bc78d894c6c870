#include "crypto/sha256_ni.hpp"

#include <immintrin.h>

#include <cstdlib>
#include <cstring>
#include <string_view>

// SHA-256 (FIPS 180-4) on the SHA-NI instructions. The working state lives in two registers as
// the instructions want it: {A, B, E, F} and {C, D, G, H} (highest lane first). SHA256RNDS2 does
// two rounds with the two message+constant words in the low half of its third operand;
// SHA256MSG1/MSG2 compute the message schedule four words at a time:
//   W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16]
// MSG1(W[t-16..t-13], W[t-12..t-9]) adds s0 of the next word to each; adding W[t-7..t-4] (an
// ALIGNR of the two newest groups) and MSG2 with W[t-4..t-1] adds s1, including of the words
// this same step produces.

namespace imgctl::crypto::detail {

namespace {

alignas(16) constexpr uint32_t kK[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define IMGCTL_SHA_TARGET __attribute__((target("sha,sse4.1,ssse3")))

// h[0..7] = A..H  <->  abef = {A,B,E,F}, cdgh = {C,D,G,H} (lane 3 first).
IMGCTL_SHA_TARGET inline void load_state(const Sha256State& s, __m128i& abef, __m128i& cdgh) {
    __m128i abcd = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.h));      // lanes 0..3: A B C D
    __m128i efgh = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.h + 4));  // E F G H
    abcd = _mm_shuffle_epi32(abcd, 0xB1);                                        // B A D C
    efgh = _mm_shuffle_epi32(efgh, 0x1B);                                        // H G F E
    abef = _mm_alignr_epi8(abcd, efgh, 8);                                       // F E B A
    cdgh = _mm_blend_epi16(efgh, abcd, 0xF0);                                    // H G D C
}

IMGCTL_SHA_TARGET inline void store_state(Sha256State& s, __m128i abef, __m128i cdgh) {
    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);   // A B E F
    __m128i hgdc = _mm_shuffle_epi32(cdgh, 0xB1);   // G H C D
    __m128i abcd = _mm_blend_epi16(feba, hgdc, 0xF0);
    __m128i efgh = _mm_alignr_epi8(hgdc, feba, 8);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(s.h), abcd);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(s.h + 4), efgh);
}

// N streams compressed together, `nblocks` 64-byte blocks each. The loops over the lanes are
// unrolled so every array here stays in registers.
template <int N>
IMGCTL_SHA_TARGET inline void compress(__m128i (&abef)[N], __m128i (&cdgh)[N], const std::byte* (&p)[N],
                                       size_t nblocks) {
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    for (; nblocks > 0; --nblocks) {
        __m128i abef0[N], cdgh0[N], w[N][4];
#pragma GCC unroll 4
        for (int l = 0; l < N; ++l) {
            abef0[l] = abef[l];
            cdgh0[l] = cdgh[l];
        }
#pragma GCC unroll 16
        for (int i = 0; i < 16; ++i) {
            const __m128i k = _mm_load_si128(reinterpret_cast<const __m128i*>(kK + 4 * i));
#pragma GCC unroll 4
            for (int l = 0; l < N; ++l) {
                if (i < 4) {
                    w[l][i] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p[l] + 16 * i)), bswap);
                } else {
                    __m128i x = _mm_sha256msg1_epu32(w[l][i % 4], w[l][(i + 1) % 4]);
                    x = _mm_add_epi32(x, _mm_alignr_epi8(w[l][(i + 3) % 4], w[l][(i + 2) % 4], 4));
                    w[l][i % 4] = _mm_sha256msg2_epu32(x, w[l][(i + 3) % 4]);
                }
                const __m128i wk = _mm_add_epi32(w[l][i % 4], k);
                cdgh[l] = _mm_sha256rnds2_epu32(cdgh[l], abef[l], wk);
                abef[l] = _mm_sha256rnds2_epu32(abef[l], cdgh[l], _mm_shuffle_epi32(wk, 0x0E));
            }
        }
#pragma GCC unroll 4
        for (int l = 0; l < N; ++l) {
            abef[l] = _mm_add_epi32(abef[l], abef0[l]);
            cdgh[l] = _mm_add_epi32(cdgh[l], cdgh0[l]);
            p[l] += 64;
        }
    }
}

bool detect() {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("sha") || !__builtin_cpu_supports("sse4.1") || !__builtin_cpu_supports("ssse3"))
        return false;
    const char* env = std::getenv("IMGCTL_SHA_NI");
    return !(env && std::string_view(env) == "0");
}

}  // namespace

bool sha_ni_enabled() {
    static const bool enabled = detect();
    return enabled;
}

IMGCTL_SHA_TARGET void sha256_ni_blocks(Sha256State& s, const std::byte* p, size_t nblocks) {
    __m128i abef[1], cdgh[1];
    const std::byte* ptr[1] = {p};
    load_state(s, abef[0], cdgh[0]);
    compress<1>(abef, cdgh, ptr, nblocks);
    store_state(s, abef[0], cdgh[0]);
}

IMGCTL_SHA_TARGET void sha256_ni_blocks_x2(Sha256State& a, const std::byte* pa, Sha256State& b, const std::byte* pb,
                                           size_t nblocks) {
    __m128i abef[2], cdgh[2];
    const std::byte* ptr[2] = {pa, pb};
    load_state(a, abef[0], cdgh[0]);
    load_state(b, abef[1], cdgh[1]);
    compress<2>(abef, cdgh, ptr, nblocks);
    store_state(a, abef[0], cdgh[0]);
    store_state(b, abef[1], cdgh[1]);
}

void sha256_ni_finish(Sha256State& s, const std::byte* tail, size_t tail_len, uint64_t total) {
    std::byte block[128] = {};
    std::memcpy(block, tail, tail_len);
    block[tail_len] = std::byte{0x80};
    size_t n = tail_len < 56 ? 64 : 128;
    const uint64_t bits = total * 8;
    for (int i = 0; i < 8; ++i) block[n - 1 - i] = static_cast<std::byte>(bits >> (8 * i));
    sha256_ni_blocks(s, block, n / 64);
}

Digest sha256_state_digest(const Sha256State& s) {
    Digest d;
    for (int i = 0; i < 8; ++i) {
        d.bytes[4 * i] = static_cast<uint8_t>(s.h[i] >> 24);
        d.bytes[4 * i + 1] = static_cast<uint8_t>(s.h[i] >> 16);
        d.bytes[4 * i + 2] = static_cast<uint8_t>(s.h[i] >> 8);
        d.bytes[4 * i + 3] = static_cast<uint8_t>(s.h[i]);
    }
    return d;
}

}  // namespace imgctl::crypto::detail
