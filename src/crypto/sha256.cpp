#include "crypto/sha256.hpp"

#include <cassert>
#include <cstring>

#include <openssl/evp.h>

#include "base/hex.hpp"

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

struct Sha256::Impl {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    Impl() {
        if (!ctx || !EVP_DigestInit_ex(ctx, sha256_md(), nullptr)) std::abort();  // out of memory
    }
    ~Impl() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(std::span<const std::byte> data) {
    if (!data.empty()) EVP_DigestUpdate(impl_->ctx, data.data(), data.size());
}

void Sha256::update(std::string_view data) { update(std::as_bytes(std::span(data.data(), data.size()))); }

Digest Sha256::finish() {
    Digest d;
    unsigned len = 0;
    EVP_DigestFinal_ex(impl_->ctx, d.bytes.data(), &len);
    assert(len == 32);
    EVP_DigestInit_ex(impl_->ctx, sha256_md(), nullptr);
    return d;
}

Digest Sha256::of(std::span<const std::byte> data) {
    Digest d;
    unsigned len = 0;
    EVP_Digest(data.data(), data.size(), d.bytes.data(), &len, sha256_md(), nullptr);
    return d;
}

Digest Sha256::of(std::string_view data) { return of(std::as_bytes(std::span(data.data(), data.size()))); }

}  // namespace imgctl::crypto
