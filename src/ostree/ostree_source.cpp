#include "ostree/ostree_source.hpp"

#include <fmt/format.h>

#include "crypto/sha256.hpp"
#include "store/ref_name.hpp"

namespace imgctl::ostree {

namespace {

constexpr std::string_view kPrefix = "ostree:";

bool is_ref_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

bool is_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

// "http://", "https://" or "file://" followed by the rest; npos when not a URL.
size_t url_rest_offset(std::string_view loc) {
    for (std::string_view scheme : {"http://", "https://", "file://"})
        if (loc.starts_with(scheme)) return scheme.size();
    return std::string_view::npos;
}

}  // namespace

bool is_valid_ref(std::string_view ref) {
    // OSTree's ref grammar (ostree-core.c, "refs"): components of [\w\d][-._\w\d]* joined by '/'.
    if (ref.empty() || ref.size() > 1024) return false;
    size_t pos = 0;
    while (pos <= ref.size()) {
        size_t next = ref.find('/', pos);
        if (next == std::string_view::npos) next = ref.size();
        std::string_view part = ref.substr(pos, next - pos);
        if (part.empty() || part.front() == '-' || part.front() == '.') return false;
        for (char c : part)
            if (!is_ref_char(c)) return false;
        pos = next + 1;
    }
    return true;
}

std::string OstreeSource::store_ref() const {
    // Store ref components are at most 255 bytes (docs/store-format.md); a longer escaped
    // location keeps its start and gets the SHA-256 of the whole location appended.
    std::string loc = store::escape_ref_component(location);
    if (loc.size() > 255) {
        loc.resize(180);
        while (!loc.empty() && (loc.back() == '%' || loc[loc.size() - 2] == '%')) loc.pop_back();
        loc += "-" + crypto::Sha256::of(location).hex();
    }
    return "ostree/" + loc + "/" + store::escape_ref_component(ref);
}

std::string OstreeSource::to_string() const { return fmt::format("ostree:{}:{}", location, ref); }

Result<OstreeSource> parse_source(std::string_view spec) {
    if (!spec.starts_with(kPrefix))
        return make_error(EINVAL, "'{}' is not an OSTree source (expected 'ostree:REPO_OR_URL:REF')", spec);
    std::string_view body = spec.substr(kPrefix.size());
    size_t colon = body.rfind(':');
    if (colon == std::string_view::npos)
        return make_error(EINVAL, "'{}' has no ':REF' after the repository", spec);
    std::string_view loc = body.substr(0, colon);
    std::string_view ref = body.substr(colon + 1);
    if (loc.empty()) return make_error(EINVAL, "'{}' has an empty repository", spec);
    if (ref.empty()) return make_error(EINVAL, "'{}' has an empty REF", spec);

    OstreeSource src;
    src.location = std::string(loc);
    src.ref = std::string(ref);
    size_t rest = url_rest_offset(loc);
    if (rest != std::string_view::npos) {
        src.kind = OstreeSource::Kind::Remote;
        std::string_view after = loc.substr(rest);
        bool is_file = loc.starts_with("file://");
        if (!is_file && after.empty()) return make_error(EINVAL, "'{}': URL '{}' has no host", spec, loc);
        if (is_file && !after.starts_with("/"))
            return make_error(EINVAL, "'{}': URL '{}' must name an absolute path", spec, loc);
        // "ostree:http://host:8080/repo" (REF forgotten) splits at the port's ':'; refuse it
        // rather than pulling ref "8080/repo" from "http://host".
        size_t slash = ref.find('/');
        if (!is_file && after.find('/') == std::string_view::npos && is_digits(ref.substr(0, slash)))
            return make_error(EINVAL,
                              "'{}': '{}' looks like the port of the URL; add ':REF' at the end "
                              "(a ref at a server root starting with digits: write 'http://host/:REF')",
                              spec, ref.substr(0, slash));
    } else if (loc == "http" || loc == "https" || loc == "file") {
        return make_error(EINVAL, "'{}' has no ':REF' after the URL", spec);
    }
    if (!is_valid_ref(ref))
        return make_error(EINVAL, "'{}': '{}' is not a valid OSTree ref", spec, ref);
    return src;
}

}  // namespace imgctl::ostree
