#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace imgctl::oci {

/// Media types (OCI image-spec v1.1 media-types.md; Docker image manifest v2 schema 2).
namespace media {
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view kDockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
/// The Accept header for manifest requests: everything we can parse.
inline constexpr std::string_view kAcceptManifests =
    "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v2+json";
}  // namespace media

/// How a layer blob is compressed.
enum class Compression { None, Gzip, Zstd };

struct Platform {
    std::string os;
    std::string architecture;
    std::string variant;
    std::string to_string() const;
};

/// An OCI content descriptor.
struct Descriptor {
    std::string media_type;
    std::string digest;  ///< "sha256:<hex>" (validated)
    int64_t size = 0;
    std::optional<Platform> platform;
    std::map<std::string, std::string> annotations;
};

/// An OCI image index or a Docker manifest list.
struct Index {
    std::vector<Descriptor> manifests;
};

/// An OCI image manifest or a Docker schema-2 manifest.
struct Manifest {
    std::string media_type;
    Descriptor config;
    std::vector<Descriptor> layers;
    std::map<std::string, std::string> annotations;
};

/// The parts of the image configuration we use.
struct ImageConfig {
    std::string os;
    std::string architecture;
    std::string variant;
    std::string created;
    std::vector<std::string> diff_ids;
    std::map<std::string, std::string> labels;
};

/// What a manifest document is, from its mediaType field (or `content_type` from HTTP when
/// the document has none). Schema 1 yields an EPROTONOSUPPORT error that says so.
enum class DocumentKind { Index, Manifest };
Result<DocumentKind> classify_document(std::string_view json, std::string_view content_type = {});

Result<Index> parse_index(std::string_view json);
Result<Manifest> parse_manifest(std::string_view json);
Result<ImageConfig> parse_config(std::string_view json);

/// The compression of a layer media type (OCI tar, tar+gzip, tar+zstd; Docker rootfs.diff
/// tar.gzip); non-distributable variants included. EPROTONOSUPPORT for anything else.
Result<Compression> layer_compression(std::string_view media_type);

/// The platform of this host in OCI terms (GOOS/GOARCH names: linux/amd64, linux/arm64…).
Platform host_platform();
/// Parses "os/arch[/variant]".
Result<Platform> parse_platform(std::string_view s);
/// Picks the manifest for `want` from an index (an entry without platform never matches unless
/// it is the only one). ENOENT lists the platforms the index offers.
Result<Descriptor> select_platform(const Index& index, const Platform& want);

}  // namespace imgctl::oci
