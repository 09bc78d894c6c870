#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/result.hpp"
#include "base/temp_dir.hpp"
#include "base/unique_fd.hpp"
#include "oci/manifest.hpp"
#include "oci/reference.hpp"
#include "oci/registry_client.hpp"

namespace imgctl::oci {

/// Where the manifests and blobs of one image come from: a registry, an OCI layout directory
/// or an OCI archive. Every method verifies what it returns against its digest, except
/// open_layer() on layouts, whose digest is checked while the layer streams (LayerStream).
class ImageSource {
public:
    virtual ~ImageSource() = default;
    /// The document the reference names (an index or a manifest).
    virtual Result<FetchedManifest> root_manifest() = 0;
    /// A manifest named by an index entry.
    virtual Result<FetchedManifest> manifest(const Descriptor& d) = 0;
    /// A small blob (the config) in memory.
    virtual Result<std::string> blob(const Descriptor& d) = 0;
    /// A readable fd positioned at the start of the layer blob. `progress` gets byte deltas of
    /// network transfers. Thread-safe: the puller opens several layers at once.
    virtual Result<UniqueFd> open_layer(const Descriptor& d, const std::function<void(int64_t)>& progress) = 0;
    /// Remote sources only (ENOTSUP otherwise): downloads the layer blob into `fd` (an empty file)
    /// and checks its size and digest. `progress` is called on the downloading thread with the
    /// number of bytes just written at the end of the file; the file is only ever appended to
    /// (each byte written once), so a reader may follow it while it grows (GrowingFile) and the
    /// digest checked at the end covers exactly what it read. open_layer() is this into a new
    /// file in the store's tmp/.
    virtual Result<void> download_layer(const Descriptor& d, int fd, const std::function<void(int64_t)>& progress) {
        (void)d, (void)fd, (void)progress;
        return make_error(ENOTSUP, "this image source is not downloaded");
    }
    /// True when open_layer() already checked the digest (downloads).
    virtual bool verifies_layers() const = 0;
    /// True when opening a layer transfers it (worth doing in parallel, with a progress bar).
    virtual bool is_remote() const = 0;
};

/// An OCI image layout directory (image-spec image-layout.md). The tag selects the index.json
/// entry whose "org.opencontainers.image.ref.name" annotation equals it; without a tag the
/// index must hold exactly one entry.
Result<std::unique_ptr<ImageSource>> open_layout(const std::string& dir, const std::string& tag);

/// An OCI layout in a tar archive: its index.json, oci-layout and blobs/sha256/* are extracted
/// into a private directory under `tmp_parent` (the store's tmp/), removed afterwards. Any other
/// member, or a blob name that is not 64 hex digits, is refused.
Result<std::unique_ptr<ImageSource>> open_archive(const std::string& file, const std::string& tag,
                                                  const std::string& tmp_parent);

/// A registry repository. Layers are downloaded into anonymous files (O_TMPFILE) in
/// `tmp_dir_fd`, verified, and handed over as fds.
std::unique_ptr<ImageSource> open_registry(const Reference& ref, RegistryOptions opts, int tmp_dir_fd);

}  // namespace imgctl::oci
