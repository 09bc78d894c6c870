// image -> tree -> image is byte-identical, and image -> dump is what the dump writer prints
// for the tree the image was made from, for every upstream conformance vector. The images are
// checked against the published digests first, so the reader is measured against images
// whose bytes mkcomposefs itself produces.
#include <gtest/gtest.h>

#include <algorithm>

#include "composefs/dump_parser.hpp"
#include "composefs/dump_writer.hpp"
#include "composefs/erofs_reader.hpp"
#include "composefs/erofs_writer.hpp"
#include "crypto/sha256.hpp"
#include "test_util.hpp"

namespace imgctl::composefs {
namespace {

std::span<const std::byte> bytes(const std::string& s) { return {reinterpret_cast<const std::byte*>(s.data()), s.size()}; }

ErofsOptions options_of(const std::string& opts) {
    ErofsOptions o;
    if (opts.find("--min-version=1") != std::string::npos) o.min_version = 1;
    if (opts.find("--max-version=0") != std::string::npos) o.max_version = 0;
    return o;
}

// The first differing line of two texts (vector dumps are too big to print whole).
std::string first_difference(const std::string& a, const std::string& b) {
    size_t i = 0;
    while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
    size_t start = a.rfind('\n', i == 0 ? 0 : i - 1);
    start = start == std::string::npos ? 0 : start + 1;
    auto line = [&](const std::string& s) { return s.substr(start, std::min<size_t>(s.find('\n', start) - start, 300)); };
    return "\n  got:  " + line(a) + "\n  want: " + line(b);
}

// Makes the dump of a read-back tree comparable with the dump of the tree the image came from:
// xattrs in name order (the image keeps its own order: shared ones first), and, in format v1,
// without the opaque markers the writer puts on directories holding whiteouts, which
// composefs-info prints too (FORMAT-NOTES §14).
void normalize(const InodePtr& node, bool strip_v1_markers) {
    auto& xs = node->xattrs.mut();
    if (strip_v1_markers && node->is_dir()) {
        bool has_whiteout = false;
        for (const auto& [n, c] : node->children()) has_whiteout |= S_ISCHR(c->mode) && c->rdev == 0;
        if (has_whiteout)
            std::erase_if(xs, [](const Xattr& x) {
                return x.value == "x" && (x.name == "trusted.overlay.opaque" || x.name == "user.overlay.opaque");
            });
    }
    std::sort(xs.begin(), xs.end(), [](const Xattr& a, const Xattr& b) { return a.name < b.name; });
    for (const auto& [n, c] : node->children())
        if (c->is_dir()) normalize(c, strip_v1_markers);
        else std::sort(c->xattrs.begin(), c->xattrs.end(), [](const Xattr& a, const Xattr& b) { return a.name < b.name; });
}

void count_external(const InodePtr& dir, size_t& n) {
    for (const auto& [name, c] : dir->children()) {
        if (c->is_dir()) count_external(c, n);
        else if (c->is_reg() && c->size > 0 && !c->content()) ++n;
    }
}

TEST(ErofsRoundTrip, EveryVectorImageReadsBackToTheSameBytesAndDump) {
    auto vectors = test::expected_vectors();
    ASSERT_GE(vectors.size(), 10u);
    size_t total_external = 0;
    for (const auto& e : vectors) {
        SCOPED_TRACE(e.file);
        auto tree = parse_dump(test::read_vector(e.file));
        ASSERT_TRUE(tree) << tree.error().message;
        auto img = write_erofs(*tree, options_of(e.options));
        ASSERT_TRUE(img) << img.error().message;
        ASSERT_EQ(crypto::Sha256::of(std::string_view(img->bytes)).hex(), e.sha256) << "writer differs from mkcomposefs";

        auto back = read_image(bytes(img->bytes), e.file);
        ASSERT_TRUE(back) << back.error().message;
        EXPECT_EQ(back->info.format_version, img->version);
        auto padded = read_image(bytes(img->bytes + std::string(100, 'x')), e.file);
        EXPECT_TRUE(padded) << "bytes after the last block are not part of the image";
        ErofsOptions same{back->info.format_version, back->info.format_version};
        auto again = write_erofs(back->tree, same);
        ASSERT_TRUE(again) << again.error().message;
        EXPECT_TRUE(again->bytes == img->bytes) << "image -> tree -> image changed the bytes";
        std::string image_dump = write_dump(back->tree);

        auto norm_back = read_image(bytes(img->bytes), e.file);
        ASSERT_TRUE(norm_back);
        normalize(norm_back->tree.root(), img->version == 1);
        normalize(tree->root(), false);
        std::string got = write_dump(norm_back->tree), want = write_dump(*tree);
        EXPECT_TRUE(got == want) << "image -> dump differs from the source's dump:" << first_difference(got, want);

        // The cheap listing names exactly the external files (every name of each).
        auto ext = list_external_files(bytes(img->bytes), e.file);
        ASSERT_TRUE(ext) << ext.error().message;
        size_t want_ext = 0;
        count_external(back->tree.root(), want_ext);
        EXPECT_EQ(ext->size(), want_ext);
        total_external += ext->size();
        for (const auto& f : *ext) {
            auto node = back->tree.lookup(f.path);
            ASSERT_TRUE(node) << f.path;
            EXPECT_EQ(f.payload, node->payload());
            EXPECT_EQ(f.fsverity, node->fsverity());
        }

        // dump -> image with the version the reader reports (what `imgctl dump` + `compose
        // --min-version=V --max-version=V` does) gives the same bytes too.
        auto reparsed = parse_dump(image_dump);
        ASSERT_TRUE(reparsed) << reparsed.error().message;
        auto third = write_erofs(*reparsed, same);
        ASSERT_TRUE(third);
        EXPECT_TRUE(third->bytes == img->bytes) << "image -> dump -> image changed the bytes";
    }
    EXPECT_GT(total_external, 1000u) << "the vectors' external files were listed";
}

}  // namespace
}  // namespace imgctl::composefs
