#include "oci/reference.hpp"

#include <cctype>

#include "base/hex.hpp"
#include "store/ref_name.hpp"

// Grammar (github.com/distribution/reference, reference.go, as documented there):
//   reference  := name [ ":" tag ] [ "@" digest ]
//   name       := [domain '/'] remote-name
//   domain     := host [':' port-number]; host := domain-name | IPv4 | '[' IPv6 ']'
//   domain-name:= domain-component ['.' domain-component]*
//   domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
//   remote-name:= path-component ['/' path-component]*
//   path-component := alpha-numeric [separator alpha-numeric]*; alpha-numeric := /[a-z0-9]+/
//   separator  := /[_.]|__|[-]*/
//   tag        := /[\w][\w.-]{0,127}/
// The first path component is a domain only if it contains '.' or ':' or is "localhost"
// (the docker normalisation rule). Names are at most 255 characters.

namespace imgctl::oci {

namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

bool valid_path_component(std::string_view s) {
    if (s.empty() || !is_lower_alnum(s.front()) || !is_lower_alnum(s.back())) return false;
    size_t i = 0;
    while (i < s.size()) {
        if (is_lower_alnum(s[i])) {
            ++i;
            continue;
        }
        size_t j = i;
        while (j < s.size() && !is_lower_alnum(s[j])) ++j;
        std::string_view sep = s.substr(i, j - i);
        bool ok = sep == "." || sep == "_" || sep == "__" || sep.find_first_not_of('-') == std::string_view::npos;
        if (!ok) return false;
        i = j;
    }
    return true;
}

bool valid_domain_component(std::string_view s) {
    if (s.empty() || !is_alnum(s.front()) || !is_alnum(s.back())) return false;
    for (char c : s)
        if (!is_alnum(c) && c != '-') return false;
    return true;
}

bool valid_domain(std::string_view d) {
    std::string_view host = d;
    if (!d.empty() && d.front() == '[') {
        size_t close = d.find(']');
        if (close == std::string_view::npos) return false;
        std::string_view v6 = d.substr(1, close - 1);
        if (v6.empty() || v6.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos) return false;
        host = {};
        d = d.substr(close + 1);
        if (d.empty()) return true;
        if (d.front() != ':') return false;
    } else {
        size_t colon = d.find(':');
        host = d.substr(0, colon);
        d = colon == std::string_view::npos ? std::string_view{} : d.substr(colon);
        size_t pos = 0;
        while (true) {
            size_t dot = host.find('.', pos);
            if (!valid_domain_component(host.substr(pos, dot == std::string_view::npos ? dot : dot - pos))) return false;
            if (dot == std::string_view::npos) break;
            pos = dot + 1;
        }
        if (d.empty()) return true;
    }
    std::string_view port = d.substr(1);
    return !port.empty() && port.size() <= 5 && port.find_first_not_of("0123456789") == std::string_view::npos;
}

bool valid_tag(std::string_view t) {
    if (t.empty() || t.size() > 128) return false;
    auto word = [](char c) { return is_alnum(c) || c == '_'; };
    if (!word(t.front())) return false;
    for (char c : t)
        if (!word(c) && c != '.' && c != '-') return false;
    return true;
}

Error bad(std::string_view text, std::string_view why) {
    return make_error(EINVAL, "invalid image reference '{}': {}", text, why);
}

Result<Reference> parse_layout(std::string_view text, SourceKind kind, std::string_view rest) {
    Reference r;
    r.kind = kind;
    // The path may itself contain ':'; the tag is after the last ':' if that part has no '/'.
    size_t colon = rest.rfind(':');
    if (colon != std::string_view::npos && rest.find('/', colon) == std::string_view::npos) {
        r.tag = std::string(rest.substr(colon + 1));
        rest = rest.substr(0, colon);
        if (r.tag.empty()) return bad(text, "empty tag after ':'");
    }
    if (rest.empty()) return bad(text, "no path given");
    r.path = std::string(rest);
    return r;
}

}  // namespace

bool is_sha256_digest(std::string_view s) {
    return s.size() == 71 && s.substr(0, 7) == "sha256:" && is_lower_hex(s.substr(7), 64);
}

Result<Reference> parse_reference(std::string_view text, std::string_view default_registry) {
    std::string_view s = text;
    if (s.starts_with("oci:")) return parse_layout(text, SourceKind::OciLayout, s.substr(4));
    if (s.starts_with("oci-archive:")) return parse_layout(text, SourceKind::OciArchive, s.substr(12));
    if (s.starts_with("docker://")) s.remove_prefix(9);
    if (s.empty()) return bad(text, "empty reference");
    Reference r;
    if (size_t at = s.find('@'); at != std::string_view::npos) {
        std::string_view dg = s.substr(at + 1);
        if (dg.find(':') == std::string_view::npos) return bad(text, "digest has no algorithm");
        if (!dg.starts_with("sha256:")) return bad(text, "only sha256 digests are supported");
        if (!is_sha256_digest(dg)) return bad(text, "digest must be sha256: and 64 lower-case hex digits");
        r.digest = std::string(dg);
        s = s.substr(0, at);
    }
    // A tag is after the last ':' that follows the last '/' (a ':' before it is a port).
    size_t slash = s.rfind('/');
    size_t colon = s.rfind(':');
    if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
        std::string_view tag = s.substr(colon + 1);
        if (!valid_tag(tag)) return bad(text, fmt::format("invalid tag '{}'", tag));
        r.tag = std::string(tag);
        s = s.substr(0, colon);
    }
    if (s.empty()) return bad(text, "empty name");
    if (s.size() > 255) return bad(text, "name longer than 255 characters");
    size_t first = s.find('/');
    std::string_view head = s.substr(0, first);
    bool has_domain = first != std::string_view::npos &&
                      (head.find_first_of(".:") != std::string_view::npos || head == "localhost" ||
                       head.front() == '[');
    std::string_view remote = s;
    if (has_domain) {
        if (!valid_domain(head)) return bad(text, fmt::format("invalid registry host '{}'", head));
        r.registry = std::string(head);
        remote = s.substr(first + 1);
    } else {
        if (default_registry.empty())
            return bad(text, "no registry given and no default registry configured "
                             "(write registry/name:tag or use --default-registry)");
        r.registry = std::string(default_registry);
    }
    size_t pos = 0;
    while (true) {
        size_t next = remote.find('/', pos);
        std::string_view comp = remote.substr(pos, next == std::string_view::npos ? next : next - pos);
        if (!valid_path_component(comp))
            return bad(text, fmt::format("invalid repository name component '{}' (lower-case letters, "
                                         "digits and single separators only)", comp));
        if (next == std::string_view::npos) break;
        pos = next + 1;
    }
    r.repository = std::string(remote);
    if (r.registry == "docker.io" && r.repository.find('/') == std::string::npos)
        r.repository = "library/" + r.repository;
    if (r.tag.empty() && r.digest.empty()) r.tag = "latest";
    return r;
}

std::string Reference::to_string() const {
    switch (kind) {
        case SourceKind::OciLayout: return "oci:" + path + (tag.empty() ? "" : ":" + tag);
        case SourceKind::OciArchive: return "oci-archive:" + path + (tag.empty() ? "" : ":" + tag);
        case SourceKind::Registry: break;
    }
    std::string s = registry + "/" + repository;
    if (!tag.empty()) s += ":" + tag;
    if (!digest.empty()) s += "@" + digest;
    return s;
}

std::string Reference::store_ref_name() const { return "oci/" + store::escape_ref_component(to_string()); }

std::string Reference::api_host() const { return registry == "docker.io" ? "registry-1.docker.io" : registry; }

}  // namespace imgctl::oci
