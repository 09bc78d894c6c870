#include "oci/auth.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cctype>

#include <nlohmann/json.hpp>

#include "base/file_util.hpp"
#include "oci/cred_helper.hpp"

namespace imgctl::oci {

namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string lower(std::string_view s) {
    std::string o(s);
    for (char& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return o;
}

bool is_tchar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Normalises an auth.json key to "host[/path]": drops a scheme and a trailing "/v1/" or "/v2/".
std::string normalize_key(std::string_view k) {
    if (auto p = k.find("://"); p != std::string_view::npos) k = k.substr(p + 3);
    while (!k.empty() && k.back() == '/') k.remove_suffix(1);
    if (k.ends_with("/v1") || k.ends_with("/v2")) k.remove_suffix(3);
    std::string s(k);
    if (s == "index.docker.io" || s == "registry-1.docker.io") s = "docker.io";
    return s;
}

}  // namespace

std::string base64_encode(std::string_view in) {
    std::string out;
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
        for (int s = 18; s >= 0; s -= 6) out += kB64[(v >> s) & 63];
    }
    if (size_t rest = in.size() - i; rest > 0) {
        uint32_t v = uint8_t(in[i]) << 16;
        if (rest == 2) v |= uint8_t(in[i + 1]) << 8;
        out += kB64[(v >> 18) & 63];
        out += kB64[(v >> 12) & 63];
        out += rest == 2 ? kB64[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::optional<std::string> base64_decode(std::string_view in) {
    std::string out;
    uint32_t v = 0;
    int bits = 0;
    size_t pad = 0;
    for (char c : in) {
        if (c == '=') {
            ++pad;
            continue;
        }
        if (pad) return std::nullopt;
        const char* p = std::strchr(kB64, c);
        if (!p || c == '\0') return std::nullopt;
        v = (v << 6) | static_cast<uint32_t>(p - kB64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((v >> bits) & 0xff);
        }
    }
    if (pad > 2) return std::nullopt;
    return out;
}

Result<Challenge> parse_challenge(std::string_view h) {
    Challenge c;
    size_t i = 0;
    auto skip_ws = [&] {
        while (i < h.size() && (h[i] == ' ' || h[i] == '\t')) ++i;
    };
    skip_ws();
    size_t start = i;
    while (i < h.size() && is_tchar(h[i])) ++i;
    if (i == start) return make_error(EBADMSG, "malformed WWW-Authenticate header '{}'", h);
    c.scheme = lower(h.substr(start, i - start));
    while (true) {
        skip_ws();
        while (i < h.size() && h[i] == ',') ++i;
        skip_ws();
        if (i >= h.size()) break;
        start = i;
        while (i < h.size() && is_tchar(h[i])) ++i;
        std::string key = lower(h.substr(start, i - start));
        skip_ws();
        if (key.empty() || i >= h.size() || h[i] != '=')
            return make_error(EBADMSG, "malformed WWW-Authenticate header '{}'", h);
        ++i;
        skip_ws();
        std::string value;
        if (i < h.size() && h[i] == '"') {
            ++i;
            while (i < h.size() && h[i] != '"') {
                if (h[i] == '\\' && i + 1 < h.size()) ++i;
                value += h[i++];
            }
            if (i >= h.size()) return make_error(EBADMSG, "unterminated quoted string in WWW-Authenticate '{}'", h);
            ++i;
        } else {
            start = i;
            while (i < h.size() && h[i] != ',' && h[i] != ' ') ++i;
            value = std::string(h.substr(start, i - start));
        }
        c.params[key] = value;
    }
    return c;
}

Result<std::optional<Credentials>> find_credentials(std::string_view text, std::string_view registry,
                                                    std::string_view repository, std::string_view source) {
    using json = nlohmann::json;
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return make_error(EBADMSG, "auth file '{}' is not a JSON object", source);
    std::string reg = normalize_key(registry);
    // A per-registry helper ("credHelpers", containers-auth.json(5)) comes before "auths".
    if (auto h = j.find("credHelpers"); h != j.end() && h->is_object()) {
        for (auto& [key, val] : h->items()) {
            if (normalize_key(key) != reg) continue;
            if (!val.is_string() || val.get<std::string>().empty())
                return make_error(EBADMSG, "auth file '{}': \"credHelpers\" entry for '{}' is not a helper name", source, key);
            return std::optional<Credentials>(Credentials{"", "", std::string(source), val.get<std::string>(), ""});
        }
    }
    static const nlohmann::json kEmpty = nlohmann::json::object();
    auto found = j.find("auths");
    const json& auths = found != j.end() && found->is_object() ? *found : kEmpty;
    std::string full = reg + "/" + std::string(repository);
    const json* best = nullptr;
    size_t best_len = 0;
    for (auto& [key, val] : auths.items()) {
        std::string k = normalize_key(key);
        bool match = k == reg || (full.starts_with(k) && full.size() > k.size() && full[k.size()] == '/' &&
                                  k.size() > reg.size());
        if (match && k.size() >= best_len) {
            best = &val;
            best_len = k.size();
        }
    }
    std::string store;  // docker's default helper for every registry without an entry of its own
    if (auto cs = j.find("credsStore"); cs != j.end() && cs->is_string()) store = cs->get<std::string>();
    Credentials c;
    c.source = std::string(source);
    auto helper = [&](std::string name) {
        c.helper = std::move(name);
        return std::optional<Credentials>(std::move(c));
    };
    if (!best) {
        if (!store.empty()) return helper(store);
        return std::optional<Credentials>();
    }
    // docker writes an OAuth2 refresh token (e.g. `az acr login`) as "identitytoken", next to an
    // "auth" whose user name is a placeholder.
    if (auto t = best->find("identitytoken"); t != best->end()) {
        if (!t->is_string())
            return make_error(EBADMSG, "auth file '{}': the entry for '{}' has a non-string \"identitytoken\"", source,
                              registry);
        c.identity_token = t->get<std::string>();
    }
    if (auto a = best->find("auth"); a != best->end() && a->is_string() && !a->get<std::string>().empty()) {
        auto dec = base64_decode(a->get<std::string>());
        size_t colon = dec ? dec->find(':') : std::string::npos;
        if (colon == std::string::npos)
            return make_error(EBADMSG, "auth file '{}': the entry for '{}' has an invalid \"auth\" value", source, registry);
        c.username = dec->substr(0, colon);
        c.password = dec->substr(colon + 1);
        return std::optional<Credentials>(std::move(c));
    }
    if (!c.identity_token.empty()) return std::optional<Credentials>(std::move(c));
    if (best->contains("username") && best->contains("password") && (*best)["username"].is_string() &&
        (*best)["password"].is_string()) {
        c.username = (*best)["username"].get<std::string>();
        c.password = (*best)["password"].get<std::string>();
        return std::optional<Credentials>(std::move(c));
    }
    // docker leaves an empty {} under "auths" for registries whose secret is in the credsStore.
    if (!store.empty()) return helper(store);
    return make_error(EBADMSG, "auth file '{}': the entry for '{}' has no \"auth\" and the file names no \"credsStore\"",
                      source, registry);
}

std::vector<std::string> auth_file_candidates(const std::string& explicit_file) {
    if (!explicit_file.empty()) return {explicit_file};
    std::vector<std::string> v;
    if (const char* e = ::getenv("REGISTRY_AUTH_FILE"); e && *e) v.emplace_back(e);
    v.emplace_back("/etc/imgctl/auth.json");
    v.push_back(fmt::format("/run/containers/{}/auth.json", ::getuid()));
    v.emplace_back("/etc/containers/auth.json");
    if (const char* home = ::getenv("HOME"); home && *home) v.push_back(std::string(home) + "/.docker/config.json");
    return v;
}

Result<std::optional<Credentials>> load_credentials(const std::vector<std::string>& files, std::string_view registry,
                                                    std::string_view repository) {
    for (const auto& f : files) {
        auto text = read_file_at(AT_FDCWD, f);
        if (!text) {
            if (text.error().code == ENOENT) continue;
            return std::move(text).error().context("reading auth file");
        }
        auto c = find_credentials(*text, registry, repository, f);
        if (!c) return std::move(c).error();
        if (!*c) continue;
        if ((*c)->helper.empty()) return c;
        std::string helper = (*c)->helper;
        auto h = ask_credential_helper(helper, normalize_key(registry));
        if (!h) return std::move(h).error().context(fmt::format("auth file '{}'", f));
        if (!*h) continue;  // the helper has nothing for this registry: keep looking
        (*h)->helper = helper;
        (*h)->source = fmt::format("docker-credential-{} (named in {})", helper, f);
        return h;
    }
    return std::optional<Credentials>();
}

}  // namespace imgctl::oci
