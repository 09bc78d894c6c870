#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace imgctl::composefs {

/// Escaping of composefs-dump(5) fields (FORMAT-NOTES §14), as `composefs-info dump` writes
/// them in the "C" locale: `\\`, `\n`, `\r`, `\t` in short form, every other byte that is not
/// graphic (including space) as `\xHH`, and `=` as `\x3d` when `escape_equal` is set (xattr
/// names and values).
void append_escaped(std::string& out, std::string_view raw, bool escape_equal = false);

/// Like append_escaped() for an optional field (PAYLOAD, CONTENT): a value that is exactly
/// "-" is written `\x2d` so it does not read back as "unset".
void append_escaped_optional(std::string& out, std::string_view raw);

/// Reverses the escaping: `\\`, `\n`, `\r`, `\t`, `\xHH` (either case). Any other escape, a
/// trailing backslash or a short `\x` gives nullopt.
std::optional<std::string> unescape_field(std::string_view field);

}  // namespace imgctl::composefs
