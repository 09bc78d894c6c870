#pragma once

#include <optional>
#include <string_view>

#include "base/result.hpp"
#include "oci/auth.hpp"

namespace imgctl::oci {

/// Parses what a credential helper printed for "get" ({"ServerURL","Username","Secret"}).
/// nullopt when it holds no credentials (empty Username and Secret); EBADMSG when it is not that
/// JSON. Username "<token>" means Secret is an identity token (Credentials::identity_token).
Result<std::optional<Credentials>> parse_helper_output(std::string_view json, std::string_view helper);

/// Asks the credential helper `name` for `server`'s credentials the way docker and podman do:
/// runs `docker-credential-<name> get` from $PATH with the server on stdin. nullopt when the
/// helper has none ("credentials not found"). Errors name the helper program.
Result<std::optional<Credentials>> ask_credential_helper(std::string_view name, std::string_view server);

}  // namespace imgctl::oci
