#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace imgctl::oci {

/// Where an image comes from.
enum class SourceKind {
    Registry,    ///< docker://registry/name:tag, registry/name@sha256:…, name:tag (default registry)
    OciLayout,   ///< oci:DIR[:tag]
    OciArchive,  ///< oci-archive:FILE[:tag]
};

/// A parsed image reference. For registries, `registry` is the host[:port] as written (after
/// normalisation of docker.io), `repository` the path ("library/debian"), and at least one of
/// `tag` / `digest` is set (a missing one defaults to tag "latest"). For layouts, `path` is the
/// directory or archive and `tag` the optional ref name (empty: the only manifest in index.json).
struct Reference {
    SourceKind kind = SourceKind::Registry;
    std::string registry;
    std::string repository;
    std::string tag;
    std::string digest;  ///< "sha256:<64 hex>" or empty
    std::string path;

    /// The canonical string: "registry/repo:tag@sha256:…", "oci:/abs/dir:tag", "oci-archive:…".
    std::string to_string() const;
    /// The store ref name: "oci/" + to_string() as one escaped component
    /// (store::escape_ref_component, so '/' and ':' never create directories or ambiguity).
    std::string store_ref_name() const;
    /// "host[:port]" used on the wire (docker.io maps to registry-1.docker.io).
    std::string api_host() const;
};

/// Parses `text` per the docker/distribution reference grammar (plus the oci:/oci-archive:
/// transports). A bare name without a registry part uses `default_registry`; if that is empty,
/// it is an error (there is no silent fallback to any public registry). Errors are EINVAL with
/// the reference and the reason in the message.
Result<Reference> parse_reference(std::string_view text, std::string_view default_registry = {});

/// True if `s` is "sha256:" followed by exactly 64 lower-case hex digits.
bool is_sha256_digest(std::string_view s);

}  // namespace imgctl::oci
