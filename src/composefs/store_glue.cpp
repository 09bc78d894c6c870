#include "composefs/store_glue.hpp"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>

#include <chrono>

#include <nlohmann/json.hpp>

#include "base/hex.hpp"
#include "base/log.hpp"
#include "base/mapped_file.hpp"
#include "composefs/dir_scanner.hpp"
#include "composefs/erofs_reader.hpp"
#include "store/digest_cache.hpp"

namespace imgctl::composefs {

Result<std::vector<store::ObjectUse>> list_image_objects(int image_fd) {
    int dup = ::fcntl(image_fd, F_DUPFD_CLOEXEC, 3);
    if (dup < 0) return errno_error(errno, "duplicating an image descriptor");
    auto map = MappedFile::from_fd(UniqueFd(dup), "image");
    if (!map) return std::move(map).error();
    auto files = list_external_files(map->data(), "image");
    if (!files) return std::move(files).error();
    std::vector<store::ObjectUse> out;
    out.reserve(files->size());
    for (auto& f : *files) {
        std::optional<crypto::Digest> d = f.fsverity;
        if (!d && f.payload.size() == 65 && f.payload[2] == '/' && is_lower_hex(f.payload.substr(0, 2), 2) &&
            is_lower_hex(f.payload.substr(3), 62))
            d = crypto::Digest::from_hex(f.payload.substr(0, 2) + f.payload.substr(3));
        if (!d || f.payload != store::Store::object_path(*d))
            return make_error(EINVAL, "'{}' is backed by '{}', which is not the store object of its digest", f.path,
                              f.payload);
        out.push_back({*d, std::move(f.path)});
    }
    return out;
}

store::ImageObjectsFn image_objects() { return [](int fd) { return list_image_objects(fd); }; }

Result<void> StoreSink::store(int fd, uint64_t size, const crypto::Digest& digest) {
    // The scanner hashed this very descriptor and checks afterwards that the file did not change.
    auto d = store_.insert_object_fd_hashed(fd, size, digest);
    if (!d) return std::move(d).error();
    return {};
}

Result<void> StoreSink::finish() { return store_.commit_batch(); }

Result<crypto::Digest> store_tree_image(store::Store& store, const Tree& tree, const ErofsOptions& erofs,
                                        std::string_view ref, std::string_view meta_json) {
    IMGCTL_TRY(store.commit_batch());
    auto image = write_erofs(tree, erofs);
    if (!image) return std::move(image).error().context("writing the composefs image");
    auto d = store.put_image(std::as_bytes(std::span(image->bytes.data(), image->bytes.size())));
    if (!d) return std::move(d).error();
    if (*d != image->fsverity)
        return make_error(EIO, "the stored image digest {} differs from the writer's {}", d->hex(), image->fsverity.hex());
    if (!meta_json.empty()) IMGCTL_TRY(store.set_image_meta(*d, meta_json));
    if (!ref.empty()) IMGCTL_TRY(store.set_ref(ref, *d));
    return d;
}

namespace {

std::string utc_now() {
    auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    struct tm tm {};
    gmtime_r(&t, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace

Result<crypto::Digest> import_directory(store::Store& store, const std::string& dir, const ImportOptions& opts) {
    auto ctx = [&](Error e) { return std::move(e).context(fmt::format("importing '{}'", dir)); };
    char real[PATH_MAX];
    if (!::realpath(dir.c_str(), real)) return ctx(errno_error(errno, "resolving the path"));
    ScanOptions scan;
    scan.keep_hardlinks = opts.keep_hardlinks;
    scan.threads = opts.threads;
    // Loaded before the scan starts: its racy cut-off is this moment.
    std::optional<store::DigestCache> cache;
    if (opts.use_cache) cache.emplace(store::DigestCache::load(store));
    scan.digest_cache = cache ? &*cache : nullptr;
    StoreSink sink(store);
    store.begin_batch();
    auto tree = scan_directory(real, scan, &sink);
    if (!tree) return ctx(std::move(tree).error());
    nlohmann::ordered_json meta;
    meta["source"] = std::string("dir:") + real;
    meta["created"] = utc_now();
    meta["hardlinks"] = opts.keep_hardlinks;
    auto d = store_tree_image(store, *tree, ErofsOptions{}, opts.ref, meta.dump());
    if (!d) return ctx(std::move(d).error());
    // Only after a successful import: the cache then names objects a ref keeps. It is a hint,
    // so failing to write it does not fail the import.
    if (cache) {
        if (auto r = cache->save(); !r) log_debug("composefs", "{}, ignoring", r.error().message);
        else log_debug("composefs", "digest cache written: {} entries", cache->recorded_entries());
    }
    return d;
}

}  // namespace imgctl::composefs
