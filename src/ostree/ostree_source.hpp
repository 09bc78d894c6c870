#pragma once

#include <string>
#include <string_view>

#include "base/result.hpp"

namespace imgctl::ostree {

/// Where an OSTree commit comes from: `ostree:LOCATION:REF` (grammar in docs/ostree.md).
struct OstreeSource {
    enum class Kind {
        Local,   ///< a repository directory on this host, read in place
        Remote,  ///< an http://, https:// or file:// URL, pulled into the store's cache repository
    };
    Kind kind = Kind::Local;
    std::string location;  ///< the path or URL exactly as given
    std::string ref;       ///< a branch name ("exampleos/x86_64/stable") or a 64-hex commit checksum

    /// The store ref this source is recorded under: "ostree/<escaped location>/<escaped ref>",
    /// each part one percent-escaped component as docs/store-format.md specifies.
    std::string store_ref() const;
    /// The source written back in `ostree:LOCATION:REF` form.
    std::string to_string() const;
};

/// Parses "ostree:LOCATION:REF". The last ':' separates REF (OSTree refs never contain ':').
/// Fails with EINVAL naming the spec when the prefix, the location or the ref is missing or
/// malformed, and when a URL's port was probably taken for the ref ("http://h:8080/repo").
Result<OstreeSource> parse_source(std::string_view spec);

/// True if `ref` is a valid OSTree ref name or a 64-hex commit checksum.
bool is_valid_ref(std::string_view ref);

}  // namespace imgctl::ostree
