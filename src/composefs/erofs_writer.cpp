#include "composefs/erofs_writer.hpp"

#include <algorithm>
#include <vector>

#include "composefs/erofs_build.hpp"
#include "crypto/fsverity.hpp"

namespace imgctl::composefs {

Result<WrittenImage> write_erofs(const Tree& tree, const ImageSink& sink, const ErofsOptions& options) {
    auto build = erofs::rewrite(tree, options);
    if (!build) return std::move(build).error().context("writing composefs image");
    if (auto r = erofs::layout(*build); !r) return std::move(r).error().context("writing composefs image");
    WrittenImage info;
    info.version = build->version;
    info.size = build->total_size;
    crypto::FsVerityHasher hasher(info.size);
    auto r = erofs::serialize(*build, [&](std::string_view chunk) {
        hasher.update(chunk);
        return sink(chunk);
    });
    if (!r) return std::move(r).error().context("writing composefs image");
    info.fsverity = hasher.finish();
    return info;
}

Result<Image> write_erofs(const Tree& tree, const ErofsOptions& options) {
    Image img;
    auto info = write_erofs(
        tree,
        [&](std::string_view chunk) -> Result<void> {
            if (img.bytes.empty()) img.bytes.reserve(chunk.size());
            img.bytes.append(chunk);
            return {};
        },
        options);
    if (!info) return std::move(info).error();
    img.version = info->version;
    img.fsverity = info->fsverity;
    return img;
}

uint64_t erofs_dir_size(const Inode& dir, bool is_root) {
    std::vector<std::string_view> names;
    names.reserve(dir.children().size() + 2 + (is_root ? 256 : 0));
    names.push_back(".");
    names.push_back("..");
    for (const auto& [name, child] : dir.children()) names.push_back(name);
    if (is_root)
        for (const auto& s : erofs::stub_names())
            if (!dir.children().count(s)) names.push_back(s);
    // Block packing depends on the order: sort as the image does (§4).
    std::sort(names.begin(), names.end());
    auto split = erofs::split_dirents(names.size(), [&](size_t i) { return names[i].size(); });
    return uint64_t{split.n_blocks} * erofs::kBlockSize + split.tail;
}

}  // namespace imgctl::composefs
