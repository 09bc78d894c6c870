#pragma once

#include <cstddef>
#include <cstdint>

#include "crypto/digest.hpp"

/// SHA-256 compression with the x86 SHA extensions (SHA-NI), one stream or two interleaved.
/// Two independent streams hashed together run about 1.3x faster than one: the round
/// instructions have a latency the second stream fills (docs/decisions.md, "SHA-256").
/// The callers fall back to OpenSSL when sha_ni_enabled() is false.
namespace imgctl::crypto::detail {

struct Sha256State {
    uint32_t h[8];
};

inline constexpr Sha256State kSha256Initial = {
    {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}};

/// True when the CPU has the SHA extensions (and SSE4.1) and the environment variable
/// IMGCTL_SHA_NI is not "0" (tests use it to run the OpenSSL path too). Checked once.
bool sha_ni_enabled();

/// Compresses `nblocks` 64-byte blocks into `s`. Only when sha_ni_enabled().
void sha256_ni_blocks(Sha256State& s, const std::byte* p, size_t nblocks);

/// The same for two independent streams of equally many blocks, interleaved.
void sha256_ni_blocks_x2(Sha256State& a, const std::byte* pa, Sha256State& b, const std::byte* pb,
                         size_t nblocks);

/// The digest bytes of a finished state (big-endian words).
Digest sha256_state_digest(const Sha256State& s);

/// The final block(s) of a message of `total` bytes whose last `tail_len` (< 64) bytes are
/// `tail`: appends the padding and the bit length, and compresses.
void sha256_ni_finish(Sha256State& s, const std::byte* tail, size_t tail_len, uint64_t total);

}  // namespace imgctl::crypto::detail
