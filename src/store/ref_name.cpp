#include "store/ref_name.hpp"

namespace imgctl::store {

namespace {

constexpr size_t kMaxName = 1024;
constexpr size_t kMaxComponent = 255;

bool is_plain(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}
bool is_upper_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }
int hex_value(char c) { return c <= '9' ? c - '0' : c - 'A' + 10; }

Result<void> validate_component(std::string_view name, std::string_view c) {
    if (c.empty()) return make_error(EINVAL, "invalid ref name '{}': empty component", name);
    if (c.size() > kMaxComponent) return make_error(EINVAL, "invalid ref name '{}': component too long", name);
    if (c[0] == '.') return make_error(EINVAL, "invalid ref name '{}': component '{}' starts with '.'", name, c);
    for (size_t i = 0; i < c.size(); ++i) {
        char ch = c[i];
        if (is_plain(ch) || ch == '.') continue;
        if (ch == '%' && i + 2 < c.size() && is_upper_hex(c[i + 1]) && is_upper_hex(c[i + 2])) {
            i += 2;
            continue;
        }
        return make_error(EINVAL, "invalid ref name '{}': character '{}' must be escaped as %XX", name,
                          ch == '%' ? std::string("%") : std::string(1, ch));
    }
    return {};
}

}  // namespace

Result<void> validate_ref_name(std::string_view name) {
    if (name.empty()) return make_error(EINVAL, "empty ref name");
    if (name.size() > kMaxName) return make_error(EINVAL, "invalid ref name '{}': longer than {} bytes", name, kMaxName);
    size_t pos = 0;
    while (pos <= name.size()) {
        size_t next = name.find('/', pos);
        if (next == std::string_view::npos) next = name.size();
        IMGCTL_TRY(validate_component(name, name.substr(pos, next - pos)));
        pos = next + 1;
    }
    return {};
}

std::string escape_ref_component(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (is_plain(static_cast<char>(c)) || (c == '.' && i > 0)) {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 15]);
        }
    }
    return out;
}

std::string unescape_ref_component(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && is_upper_hex(s[i + 1]) && is_upper_hex(s[i + 2])) {
            out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

std::string display_ref_name(std::string_view name) {
    std::string out;
    size_t pos = 0;
    while (pos <= name.size()) {
        size_t next = name.find('/', pos);
        if (next == std::string_view::npos) next = name.size();
        if (pos > 0) out.push_back('/');
        out += unescape_ref_component(name.substr(pos, next - pos));
        pos = next + 1;
    }
    return out;
}

}  // namespace imgctl::store
