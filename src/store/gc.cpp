// gc: remove what no ref reaches. Order matters for crash safety (docs/store-format.md):
// images first, then objects, then blobs, then tmp/, so that a gc killed at any point leaves
// every remaining image with all of its objects.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <unordered_set>

#include "base/file_util.hpp"
#include "base/hex.hpp"
#include "store/fs_ops.hpp"
#include "store/maintenance.hpp"

namespace imgctl::store {

namespace {

using DigestSet = std::unordered_set<crypto::Digest, crypto::DigestHash>;

struct LiveSet {
    DigestSet images, objects, blobs;
};

Result<LiveSet> mark(const Store& store, const ImageObjectsFn& image_objects) {
    LiveSet live;
    auto refs = store.list_refs();
    if (!refs) return std::move(refs).error();
    for (const auto& r : *refs) {
        if (!r.image || !store.has_image(*r.image)) continue;  // dangling: fsck reports it
        if (!live.images.insert(*r.image).second) continue;
        auto fd = store.open_image(*r.image);
        if (!fd) return std::move(fd).error().context(fmt::format("ref '{}' (run 'imgctl fsck')", r.name));
        auto uses = image_objects(fd->get());
        if (!uses) return std::move(uses).error().context(fmt::format("reading image {} of ref '{}'", r.image->hex(), r.name));
        for (const auto& u : *uses) live.objects.insert(u.object);
        auto meta = store.read_image_meta(*r.image);
        if (meta && *meta) {
            for (const auto& b : blobs_named_in(**meta)) live.blobs.insert(b);
        }
    }
    return live;
}

Result<void> remove_at(int dir_fd, const std::string& name, const std::string& shown, GcReport& report, bool dry_run) {
    report.bytes += detail::apparent_size_at(dir_fd, name);
    report.removed.push_back(shown);
    if (dry_run) return {};
    if (auto r = remove_tree_at(dir_fd, name); !r) return std::move(r).error().context("gc");
    return {};
}

}  // namespace

std::vector<crypto::Digest> blobs_named_in(std::string_view meta) {
    std::vector<crypto::Digest> out;
    constexpr std::string_view kPrefix = "sha256:";
    for (size_t pos = meta.find(kPrefix); pos != std::string_view::npos; pos = meta.find(kPrefix, pos + 1)) {
        auto hex = meta.substr(pos + kPrefix.size(), 64);
        if (is_lower_hex(hex, 64)) out.push_back(*crypto::Digest::from_hex(hex));
    }
    return out;
}

Result<GcReport> collect_garbage(Store& store, const ImageObjectsFn& image_objects, const GcOptions& opts) {
    if (store.lock_mode() != LockMode::Exclusive)
        return make_error(EPERM, "gc of '{}' needs the exclusive lock", store.path());
    auto live = mark(store, image_objects);
    if (!live) return std::move(live).error().context(fmt::format("gc of '{}': nothing was removed", store.path()));
    GcReport report;
    report.kept_images = live->images.size();
    report.kept_objects = live->objects.size();

    int images_fd = store.dir_fd("images");
    auto images = detail::list_dir(images_fd, ".");
    if (!images) return std::move(images).error();
    // An image's metadata goes before the image, so a kill in between never leaves metadata
    // without its image (fsck would report it).
    std::sort(images->begin(), images->end(), [](const detail::DirEntry& a, const detail::DirEntry& b) {
        bool am = a.name.ends_with(".json"), bm = b.name.ends_with(".json");
        return am != bm ? am : a.name < b.name;
    });
    for (const auto& e : *images) {
        std::string_view hex = e.name;
        bool is_meta = hex.size() == 69 && hex.ends_with(".json");
        if (is_meta) hex.remove_suffix(5);
        if (!is_lower_hex(hex, 64) || e.type == DT_DIR) continue;  // not ours: fsck reports it
        if (live->images.contains(*crypto::Digest::from_hex(hex))) continue;
        if (!is_meta) ++report.images;
        IMGCTL_TRY(remove_at(images_fd, e.name, "images/" + e.name, report, opts.dry_run));
    }
    if (!opts.dry_run && ::fsync(images_fd) < 0) return errno_error(errno, "syncing images/");

    auto objects = detail::list_object_entries(store.objects_dir_fd());
    if (!objects) return std::move(objects).error();
    for (const auto& o : *objects) {
        if (!o.digest || live->objects.contains(*o.digest)) continue;
        ++report.objects;
        IMGCTL_TRY(remove_at(store.objects_dir_fd(), o.rel, "objects/" + o.rel, report, opts.dry_run));
    }

    int blobs_fd = store.dir_fd("blobs");
    auto blobs = detail::list_dir(blobs_fd, ".");
    if (!blobs) return std::move(blobs).error();
    for (const auto& b : *blobs) {
        if (b.type != DT_REG || !is_lower_hex(b.name, 64)) continue;
        if (live->blobs.contains(*crypto::Digest::from_hex(b.name))) continue;
        ++report.blobs;
        IMGCTL_TRY(remove_at(blobs_fd, b.name, "oci/blobs/sha256/" + b.name, report, opts.dry_run));
    }

    // Under the exclusive lock no writer is running, so everything in tmp/ is a leftover.
    int tmp_fd = store.dir_fd("tmp");
    auto tmp = detail::list_dir(tmp_fd, ".");
    if (!tmp) return std::move(tmp).error();
    for (const auto& t : *tmp) {
        ++report.tmp_entries;
        IMGCTL_TRY(remove_at(tmp_fd, t.name, "tmp/" + t.name, report, opts.dry_run));
    }
    if (!opts.dry_run) IMGCTL_TRY(store.sync());
    return report;
}

}  // namespace imgctl::store
