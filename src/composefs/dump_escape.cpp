#include "composefs/dump_escape.hpp"

#include "base/hex.hpp"

namespace imgctl::composefs {

namespace {

constexpr char kHex[] = "0123456789abcdef";

}  // namespace

void append_escaped(std::string& out, std::string_view raw, bool escape_equal) {
    for (char ch : raw) {
        auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '\\': out += "\\\\"; continue;
            case '\n': out += "\\n"; continue;
            case '\r': out += "\\r"; continue;
            case '\t': out += "\\t"; continue;
            default: break;
        }
        // isgraph() in the "C" locale: 0x21..0x7e. Space is escaped too.
        bool graphic = c > 0x20 && c < 0x7f;
        if (graphic && !(escape_equal && c == '=')) {
            out += ch;
        } else {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 0xf];
        }
    }
}

void append_escaped_optional(std::string& out, std::string_view raw) {
    if (raw == "-") {
        out += "\\x2d";
        return;
    }
    append_escaped(out, raw);
}

std::optional<std::string> unescape_field(std::string_view field) {
    std::string out;
    out.reserve(field.size());
    for (size_t i = 0; i < field.size(); ++i) {
        char c = field[i];
        if (c != '\\') {
            out += c;
            continue;
        }
        if (++i >= field.size()) return std::nullopt;
        switch (field[i]) {
            case '\\': out += '\\'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'x': {
                if (i + 2 >= field.size()) return std::nullopt;  // needs two hex digits
                auto byte = from_hex(field.substr(i + 1, 2));
                if (!byte) return std::nullopt;
                out += static_cast<char>((*byte)[0]);
                i += 2;
                break;
            }
            default: return std::nullopt;
        }
    }
    return out;
}

}  // namespace imgctl::composefs
