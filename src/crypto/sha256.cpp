#include "crypto/sha256.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>

#include <openssl/evp.h>

#include "base/hex.hpp"
#include "crypto/sha256_ni.hpp"

namespace imgctl::crypto {

namespace {

// Fetching the algorithm once avoids OpenSSL 3's implicit fetch (a lock and a lookup) on
// every EVP_DigestInit_ex, which matters when hashing millions of 4 KiB blocks.
const EVP_MD* sha256_md() {
    static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return md;
}

}  // namespace

std::string Digest::hex() const { return to_hex(bytes); }

std::optional<Digest> Digest::from_hex(std::string_view hex) {
    if (hex.size() != 64) return std::nullopt;
    auto v = imgctl::from_hex(hex);
    if (!v) return std::nullopt;
    Digest d;
    std::memcpy(d.bytes.data(), v->data(), 32);
    return d;
}

// With SHA-NI (sha256_ni.hpp) the state and the partial block are kept here; without it, an
// OpenSSL EVP context does the work.
struct Sha256::Impl {
    bool ni = detail::sha_ni_enabled();
    EVP_MD_CTX* ctx = nullptr;
    detail::Sha256State state = detail::kSha256Initial;
    uint64_t total = 0;
    size_t buffered = 0;
    std::byte buf[64];

    Impl() {
        if (ni) return;
        ctx = EVP_MD_CTX_new();
        if (!ctx || !EVP_DigestInit_ex(ctx, sha256_md(), nullptr)) std::abort();  // out of memory
    }
    ~Impl() { EVP_MD_CTX_free(ctx); }

    void update_ni(const std::byte* p, size_t n) {
        total += n;
        if (buffered > 0) {
            size_t take = std::min(n, sizeof buf - buffered);
            std::memcpy(buf + buffered, p, take);
            buffered += take;
            p += take;
            n -= take;
            if (buffered < sizeof buf) return;
            detail::sha256_ni_blocks(state, buf, 1);
            buffered = 0;
        }
        if (n >= 64) {
            detail::sha256_ni_blocks(state, p, n / 64);
            p += n / 64 * 64;
            n %= 64;
        }
        std::memcpy(buf, p, n);
        buffered = n;
    }
    Digest finish_ni() {
        detail::sha256_ni_finish(state, buf, buffered, total);
        Digest d = detail::sha256_state_digest(state);
        state = detail::kSha256Initial;
        total = 0;
        buffered = 0;
        return d;
    }
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(std::span<const std::byte> data) {
    if (data.empty()) return;
    if (impl_->ni)
        impl_->update_ni(data.data(), data.size());
    else
        EVP_DigestUpdate(impl_->ctx, data.data(), data.size());
}

void Sha256::update(std::string_view data) { update(std::as_bytes(std::span(data.data(), data.size()))); }

Digest Sha256::finish() {
    if (impl_->ni) return impl_->finish_ni();
    Digest d;
    unsigned len = 0;
    EVP_DigestFinal_ex(impl_->ctx, d.bytes.data(), &len);
    assert(len == 32);
    EVP_DigestInit_ex(impl_->ctx, sha256_md(), nullptr);
    return d;
}

Digest Sha256::of(std::span<const std::byte> data) {
    if (detail::sha_ni_enabled()) {
        detail::Sha256State s = detail::kSha256Initial;
        size_t full = data.size() / 64;
        if (full > 0) detail::sha256_ni_blocks(s, data.data(), full);
        detail::sha256_ni_finish(s, data.data() + full * 64, data.size() % 64, data.size());
        return detail::sha256_state_digest(s);
    }
    Digest d;
    unsigned len = 0;
    EVP_Digest(data.data(), data.size(), d.bytes.data(), &len, sha256_md(), nullptr);
    return d;
}

Digest Sha256::of(std::string_view data) { return of(std::as_bytes(std::span(data.data(), data.size()))); }

}  // namespace imgctl::crypto
