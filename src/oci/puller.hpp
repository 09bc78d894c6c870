#pragma once

#include <functional>
#include <optional>
#include <string>

#include "base/result.hpp"
#include "composefs/tree.hpp"
#include "crypto/digest.hpp"
#include "oci/image_source.hpp"
#include "oci/layer_applier.hpp"
#include "oci/manifest.hpp"
#include "oci/reference.hpp"

namespace imgctl::store {
class Store;
}

namespace imgctl::oci {

/// Turns the finished Tree into an EROFS image in the store (Store::put_image) and returns
/// its digest. Supplied by the caller, so this module does not pick the writer's options.
using ImageWriterFn = std::function<Result<crypto::Digest>(const composefs::Tree&, store::Store&)>;

struct PullOptions {
    std::optional<Platform> platform;  ///< default: the host's
    std::string ref_name;              ///< store ref to set; default Reference::store_ref_name()
    std::string source;                ///< the reference as the user wrote it (for metadata)
    unsigned max_connections = 3;      ///< layers downloaded at once
};

struct PullResult {
    crypto::Digest image;
    std::string manifest_digest;
    std::string ref_name;
    bool up_to_date = false;  ///< the ref already named an image of this manifest: nothing fetched
    LayerStats totals;
    uint64_t downloaded = 0;     ///< compressed layer bytes read
    unsigned cached_layers = 0;  ///< layers applied from their record, not fetched
};

/// Pulls one image: resolves the manifest (picking the platform from an index), fetches and
/// verifies the config, fetches the layers (in parallel for registries, at most
/// `max_connections` at a time) and applies them in order onto one Tree with every regular
/// file streamed into the store's objects; then writes the image with `write_image`, keeps the
/// manifest and config as blobs, writes images/<digest>.json and sets the ref. The store must
/// be open exclusively. If the ref already names an image made from the same manifest, nothing
/// is downloaded (up_to_date). A layer whose blob digest an earlier pull recorded (layer_record.hpp,
/// listed in images/<digest>.json) is applied from that record when all its objects are present.
Result<PullResult> pull_image(store::Store& store, ImageSource& source, const Reference& ref,
                              const PullOptions& opts, const ImageWriterFn& write_image);

}  // namespace imgctl::oci
