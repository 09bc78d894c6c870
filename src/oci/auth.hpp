#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace imgctl::oci {

/// One parsed WWW-Authenticate challenge (RFC 7235 §4.1): scheme ("basic"/"bearer", lower-cased)
/// and its auth-params with lower-cased keys (realm, service, scope…).
struct Challenge {
    std::string scheme;
    std::map<std::string, std::string> params;
};
/// Parses the first challenge of a WWW-Authenticate header value. EBADMSG if malformed.
Result<Challenge> parse_challenge(std::string_view header);

struct Credentials {
    std::string username;
    std::string password;
    std::string source;  ///< the file (or helper) they came from, for error messages
    std::string helper;  ///< set by find_credentials when a credential helper holds them
    /// An OAuth2 refresh token (auth.json "identitytoken", or a helper's answer with Username
    /// "<token>", as docker writes them): exchanged at the Bearer token server with a POST
    /// (grant_type=refresh_token) instead of sending username and password.
    std::string identity_token;
};

/// Finds credentials for `registry` (host[:port]) and `repository` in one auth.json document
/// (containers-auth.json(5) / docker config.json: {"auths":{"<key>":{"auth":"base64(user:pass)"}}}).
/// Keys may be "host", "host/namespace…" (the longest matching prefix of host/repository wins)
/// or legacy URLs ("https://host/v1/"). docker.io also matches "https://index.docker.io/v1/".
/// A "credHelpers" entry for the registry comes first, then "auths"; "credsStore" (docker) covers
/// registries without an entry and entries without "auth". When a helper holds the credentials
/// the result only names it (`helper`; username/password empty).
/// nullopt when the document has no entry; EBADMSG when the document or entry is malformed.
Result<std::optional<Credentials>> find_credentials(std::string_view auth_json, std::string_view registry,
                                                    std::string_view repository, std::string_view source);

/// The auth files searched, in order: `explicit_file` if given (only it), else $REGISTRY_AUTH_FILE,
/// /etc/imgctl/auth.json, /run/containers/<uid>/auth.json, /etc/containers/auth.json,
/// $HOME/.docker/config.json.
std::vector<std::string> auth_file_candidates(const std::string& explicit_file);

/// Looks through `files` (missing files are skipped); the first with an entry wins. Helpers
/// (docker-credential-<name>, cred_helper.hpp) are asked here; one with nothing for the registry
/// does not stop the search.
/// `searched` gets a human list of the files that exist, for error messages.
Result<std::optional<Credentials>> load_credentials(const std::vector<std::string>& files, std::string_view registry,
                                                    std::string_view repository);

std::string base64_encode(std::string_view in);
std::optional<std::string> base64_decode(std::string_view in);

}  // namespace imgctl::oci
