#include "oci/registry_config.hpp"

#include <fcntl.h>
#include <stdlib.h>

#include "base/file_util.hpp"

namespace imgctl::oci {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

void env_long(const char* name, long& out) {
    const char* v = ::getenv(name);
    if (!v || !*v) return;
    char* end = nullptr;
    long n = std::strtol(v, &end, 10);
    if (*end == '\0' && n >= 0) out = n;
}

}  // namespace

Result<RegistriesConf> parse_registries_conf(std::string_view text, std::string_view source) {
    RegistriesConf c;
    size_t lineno = 0;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        ++lineno;
        if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
        line = trim(line);
        if (line.empty()) continue;
        size_t eq = line.find('=');
        if (eq == std::string_view::npos)
            return make_error(EINVAL, "{}:{}: expected 'key = value'", source, lineno);
        std::string_view key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
        if (value.empty() || value.find_first_of(" \t/") != std::string_view::npos)
            return make_error(EINVAL, "{}:{}: '{}' needs one HOST[:PORT] value", source, lineno, key);
        if (key == "default-registry") {
            c.default_registry = std::string(value);
        } else if (key == "insecure-registry") {
            c.insecure.emplace(value);
        } else {
            return make_error(EINVAL, "{}:{}: unknown key '{}'", source, lineno, key);
        }
    }
    return c;
}

Result<RegistriesConf> load_registries_conf() {
    const char* env = ::getenv("IMGCTL_REGISTRIES_CONF");
    std::string path = env && *env ? env : "/etc/imgctl/registries.conf";
    auto text = read_file_at(AT_FDCWD, path);
    if (!text) {
        if (text.error().code == ENOENT) return RegistriesConf{};
        return std::move(text).error();
    }
    return parse_registries_conf(*text, path);
}

HttpOptions http_options_from_env() {
    HttpOptions o;
    long retries = o.retries;
    env_long("IMGCTL_HTTP_RETRIES", retries);
    o.retries = static_cast<int>(std::min(retries, 20L));
    env_long("IMGCTL_HTTP_BACKOFF_MS", o.backoff_ms);
    env_long("IMGCTL_HTTP_STALL_TIMEOUT", o.stall_timeout_s);
    env_long("IMGCTL_HTTP_CONNECT_TIMEOUT", o.connect_timeout_s);
    return o;
}

}  // namespace imgctl::oci
