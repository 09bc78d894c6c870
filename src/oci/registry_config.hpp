#pragma once

#include <set>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "oci/http.hpp"

namespace imgctl::oci {

/// /etc/imgctl/registries.conf (or $IMGCTL_REGISTRIES_CONF): "key = value" lines, '#' comments.
///   default-registry = HOST[:PORT]     used for references without a registry part
///   insecure-registry = HOST[:PORT]    reached over plain HTTP (repeatable; never a default)
struct RegistriesConf {
    std::string default_registry;
    std::set<std::string> insecure;
};

/// Parses the file's text; `source` names it in errors (EINVAL with the line number).
Result<RegistriesConf> parse_registries_conf(std::string_view text, std::string_view source);
/// Reads $IMGCTL_REGISTRIES_CONF or /etc/imgctl/registries.conf; a missing file is empty.
Result<RegistriesConf> load_registries_conf();

/// HttpOptions with the tuning variables applied: IMGCTL_HTTP_RETRIES, IMGCTL_HTTP_BACKOFF_MS,
/// IMGCTL_HTTP_STALL_TIMEOUT (seconds), IMGCTL_HTTP_CONNECT_TIMEOUT (seconds).
HttpOptions http_options_from_env();

}  // namespace imgctl::oci
