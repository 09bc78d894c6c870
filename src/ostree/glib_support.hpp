#pragma once
// PRIVATE to src/ostree: the one header with GLib/libostree types. Never include it from
// another module or from a public header of this one (tests/layering_test.sh checks).

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <glib.h>
#include <ostree.h>

#include "base/result.hpp"
#include "composefs/tree.hpp"

namespace imgctl::ostree {

/// Converts and frees a GError (nullptr gives a generic message): "<what>: <GError message>".
/// The errno is taken from G_IO_ERROR codes where one fits, else EIO.
Error gerror_to_error(GError* err, std::string_view what);

template <auto fn>
struct GFree {
    template <typename T>
    void operator()(T* p) const {
        if (p) fn(p);
    }
};
/// Owners for the GLib objects this module uses.
template <typename T>
using GObjectPtr = std::unique_ptr<T, GFree<g_object_unref>>;
using GVariantPtr = std::unique_ptr<GVariant, GFree<g_variant_unref>>;
using GCharPtr = std::unique_ptr<char, GFree<g_free>>;

/// Hex of a checksum held as a GVariant "ay", checking its length (the error names `what`).
Result<std::string> checksum_hex(GVariant* bytes, std::string_view what);

/// Reads the "a(ayay)" xattr list of a dirmeta or file object (names without the trailing NUL).
std::vector<composefs::Xattr> parse_xattrs(GVariant* xattrs);

/// The libostree repository behind ostree::Repo.
struct RepoImpl {
    GObjectPtr<OstreeRepo> repo;
    std::string path;  ///< the directory it was opened from (worker threads open it again)
};

}  // namespace imgctl::ostree
