#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>

#include "crypto/digest.hpp"

namespace imgctl::crypto {

/// Incremental SHA-256 (OpenSSL EVP underneath). Not thread-safe; one per thread.
class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(Sha256&&) noexcept;
    Sha256& operator=(Sha256&&) noexcept;

    void update(std::span<const std::byte> data);
    void update(std::string_view data);
    /// Returns the digest and resets the state for reuse.
    Digest finish();

    /// One-shot helpers.
    static Digest of(std::span<const std::byte> data);
    static Digest of(std::string_view data);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace imgctl::crypto
