#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace imgctl::crypto {

/// A SHA-256 sized digest (used for fs-verity digests and OCI sha256 digests).
struct Digest {
    std::array<uint8_t, 32> bytes{};

    std::string hex() const;
    /// Parses exactly 64 hex digits (either case).
    static std::optional<Digest> from_hex(std::string_view hex);
    auto operator<=>(const Digest&) const = default;
};

struct DigestHash {
    size_t operator()(const Digest& d) const {
        size_t h;
        static_assert(sizeof h <= sizeof d.bytes);
        __builtin_memcpy(&h, d.bytes.data(), sizeof h);
        return h;
    }
};

}  // namespace imgctl::crypto
