#include "oci/layer_fetcher.hpp"

#include <fcntl.h>

#include <algorithm>

namespace imgctl::oci {

LayerFetcher::LayerFetcher(ImageSource& src, int tmp_dir_fd, const std::vector<Descriptor>& layers,
                           const std::set<std::string>& skip, unsigned connections,
                           std::function<void(size_t, int64_t)> progress)
    : src_(src), slots_(std::clamp<unsigned>(connections, 1, 64)), progress_(std::move(progress)) {
    for (const auto& d : layers) {
        const size_t index = layers_.size();
        auto& l = *layers_.emplace_back(std::make_unique<Layer>());
        l.desc = d;
        l.skipped = skip.count(d.digest) > 0;  // applied from its record, never fetched
        if (l.skipped || !src.is_remote()) continue;
        int fd = ::openat(tmp_dir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0) {
            l.open_error = errno_error(errno, "creating a download file in the store's tmp/");
            continue;
        }
        l.fd.reset(fd);
        l.done = std::async(std::launch::async, [this, &l, index]() -> Result<void> {
            slots_.acquire();
            Result<void> r = cancel_ ? Result<void>(make_error(ECANCELED, "cancelled"))
                                     : src_.download_layer(l.desc, l.fd.get(), [this, &l, index](int64_t delta) {
                                           l.file.grow(delta);
                                           if (progress_) progress_(index, delta);
                                       });
            slots_.release();
            l.file.finish(r ? std::nullopt : std::optional<Error>(r.error()));
            return r;
        });
    }
}

LayerFetcher::~LayerFetcher() {
    cancel_ = true;
    for (auto& l : layers_) l->file.cancel();
}

Result<std::unique_ptr<ByteSource>> LayerFetcher::reader(size_t i) {
    Layer& l = *layers_.at(i);
    if (l.skipped) return make_error(EINVAL, "layer {} is not fetched", l.desc.digest);
    if (l.open_error) return *l.open_error;
    if (src_.is_remote()) return std::unique_ptr<ByteSource>(new GrowingFileSource(l.fd.get(), l.file));
    auto fd = src_.open_layer(l.desc, [this, i](int64_t delta) {
        if (progress_) progress_(i, delta);
    });
    if (!fd) return std::move(fd).error();
    l.fd = std::move(*fd);
    return std::unique_ptr<ByteSource>(new FdSource(l.fd.get()));
}

Result<void> LayerFetcher::wait(size_t i) {
    Layer& l = *layers_.at(i);
    if (!l.done.valid()) return {};
    return l.done.get();
}

}  // namespace imgctl::oci
