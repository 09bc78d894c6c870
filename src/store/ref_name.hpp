#pragma once

#include <string>
#include <string_view>

#include "base/result.hpp"

namespace imgctl::store {

/// Checks a ref name against docs/store-format.md "Refs": '/'-separated components of
/// [A-Za-z0-9._%-] (valid %XX escapes only), none starting with '.', ≤255 bytes each, ≤1024 in
/// all. EINVAL with a message naming the ref and the problem.
Result<void> validate_ref_name(std::string_view name);

/// Percent-encodes `s` into one valid ref component (every byte outside [A-Za-z0-9_-.], and a
/// leading '.', becomes %XX). Empty input gives an empty, hence invalid, component.
std::string escape_ref_component(std::string_view s);

/// Reverses escape_ref_component() (invalid escapes are kept literally).
std::string unescape_ref_component(std::string_view s);

/// Unescapes every component of a ref name for display ("oci/quay.io%2Fx%3A1" → "oci/quay.io/x:1").
std::string display_ref_name(std::string_view name);

}  // namespace imgctl::store
