#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace imgctl {

/// Lower-case hex of `data`.
std::string to_hex(std::span<const uint8_t> data);
/// Parses hex (either case); nullopt on an odd length or a non-hex digit.
std::optional<std::vector<uint8_t>> from_hex(std::string_view hex);
/// True if `s` is exactly `len` lower-case hex digits.
bool is_lower_hex(std::string_view s, size_t len);

}  // namespace imgctl
