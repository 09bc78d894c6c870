#include "oci/cred_helper.hpp"

#include <nlohmann/json.hpp>

#include "base/log.hpp"
#include "base/subprocess.hpp"

namespace imgctl::oci {

namespace {

bool valid_helper_name(std::string_view n) {
    if (n.empty() || n.size() > 64) return false;
    for (char c : n)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
    return true;
}

std::string first_line(std::string_view s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
    if (auto nl = s.find('\n'); nl != std::string_view::npos) s = s.substr(0, nl);
    return std::string(s.substr(0, 200));
}

}  // namespace

Result<std::optional<Credentials>> parse_helper_output(std::string_view text, std::string_view helper) {
    using json = nlohmann::json;
    json j = json::parse(text, nullptr, false);
    auto str = [&](const char* k) -> std::optional<std::string> {
        auto it = j.find(k);
        if (it == j.end()) return std::string();
        if (!it->is_string()) return std::nullopt;
        return it->get<std::string>();
    };
    if (j.is_discarded() || !j.is_object())
        return make_error(EBADMSG, "credential helper '{}' printed something that is not a JSON object: '{}'", helper,
                          first_line(text));
    auto user = str("Username");
    auto secret = str("Secret");
    if (!user || !secret)
        return make_error(EBADMSG, "credential helper '{}': \"Username\" and \"Secret\" must be strings", helper);
    if (user->empty() && secret->empty()) return std::optional<Credentials>();
    Credentials c;
    if (*user == "<token>") {  // docker's convention for an identity (OAuth2 refresh) token
        c.identity_token = *secret;
    } else {
        c.username = *user;
        c.password = *secret;
    }
    return std::optional<Credentials>(std::move(c));
}

Result<std::optional<Credentials>> ask_credential_helper(std::string_view name, std::string_view server) {
    if (!valid_helper_name(name))
        return make_error(EINVAL, "invalid credential helper name '{}' (letters, digits, '-', '_', '.')", name);
    std::string prog = "docker-credential-" + std::string(name);
    auto r = run_process({prog, "get"}, server);
    if (!r) {
        if (r.error().code == ENOENT)
            return make_error(ENOENT, "credential helper '{}' was not found in $PATH", prog);
        return std::move(r).error();
    }
    if (r->exit_status != 0) {
        // docker-credential-helpers: "credentials not found in native keychain" on stdout, exit 1.
        std::string msg = first_line(r->out.empty() ? r->err : r->out);
        if (msg.find("credentials not found") != std::string::npos) return std::optional<Credentials>();
        return make_error(EACCES, "credential helper '{}' failed for '{}' (exit status {}): {}", prog, server,
                          r->exit_status, msg.empty() ? first_line(r->err) : msg);
    }
    auto c = parse_helper_output(r->out, prog);
    if (!c) return std::move(c).error().context(fmt::format("asking for '{}'", server));
    log_debug("oci", "credential helper {} {} credentials for {}", prog, *c ? "gave" : "has no", server);
    return c;
}

}  // namespace imgctl::oci
