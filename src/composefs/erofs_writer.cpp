#include "composefs/erofs_writer.hpp"

#include <algorithm>
#include <vector>

#include "composefs/erofs_build.hpp"
#include "crypto/fsverity.hpp"

namespace imgctl::composefs {

Result<Image> write_erofs(const Tree& tree, const ErofsOptions& options) {
    auto build = erofs::rewrite(tree, options);
    if (!build) return std::move(build).error().context("writing composefs image");
    erofs::layout(*build);
    Image img;
    img.version = build->version;
    img.bytes = erofs::serialize(*build);
    img.fsverity = crypto::fsverity_digest(std::string_view(img.bytes));
    return img;
}

uint64_t erofs_dir_size(const Inode& dir, bool is_root) {
    std::vector<std::string_view> names;
    names.reserve(dir.children.size() + 2 + (is_root ? 256 : 0));
    names.push_back(".");
    names.push_back("..");
    for (const auto& [name, child] : dir.children) names.push_back(name);
    if (is_root)
        for (const auto& s : erofs::stub_names())
            if (!dir.children.count(s)) names.push_back(s);
    // Block packing depends on the order: sort as the image does (§4).
    std::sort(names.begin(), names.end());
    auto split = erofs::split_dirents(names.size(), [&](size_t i) { return names[i].size(); });
    return uint64_t{split.n_blocks} * erofs::kBlockSize + split.tail;
}

}  // namespace imgctl::composefs
