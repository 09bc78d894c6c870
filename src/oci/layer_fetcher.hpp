#pragma once

#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <semaphore>
#include <set>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "oci/growing_file.hpp"
#include "oci/image_source.hpp"
#include "oci/manifest.hpp"

namespace imgctl::oci {

/// Fetches the layer blobs of one manifest. Registry layers all start downloading at once into
/// anonymous files in `tmp_dir_fd` (a semaphore bounds the connections) and can be read while
/// they download (reader(i)): the puller decompresses and unpacks a layer as its bytes arrive.
/// Local layers (layouts, archives) are opened when asked for. Destroying the fetcher cancels
/// the downloads not yet started and waits for those running.
class LayerFetcher {
public:
    LayerFetcher(ImageSource& src, int tmp_dir_fd, const std::vector<Descriptor>& layers,
                 const std::set<std::string>& skip, unsigned connections,
                 std::function<void(size_t layer, int64_t delta)> progress);
    ~LayerFetcher();
    LayerFetcher(const LayerFetcher&) = delete;
    LayerFetcher& operator=(const LayerFetcher&) = delete;

    /// A source of layer i's blob from its first byte: a local file, or the download as it grows.
    Result<std::unique_ptr<ByteSource>> reader(size_t i);
    /// Waits until layer i is complete: for a download, its result (size and digest checked).
    Result<void> wait(size_t i);

private:
    struct Layer {
        Descriptor desc;
        bool skipped = false;
        UniqueFd fd;                       // the download file, or the opened local blob
        std::optional<Error> open_error;   // creating the download file failed
        GrowingFile file;
        std::future<Result<void>> done;    // last: destroyed (waited for) first
    };
    ImageSource& src_;
    std::atomic<bool> cancel_{false};
    std::counting_semaphore<64> slots_;
    std::function<void(size_t, int64_t)> progress_;
    std::vector<std::unique_ptr<Layer>> layers_;
};

}  // namespace imgctl::oci
