#pragma once
// The seam between the store and composefs: the store never reads EROFS (it sits below
// composefs), so what it needs to know about images comes from here.
//   - image_objects(): "which objects does this image use" for store gc and fsck;
//   - store_tree_image(): tree → EROFS image → images/ (+ metadata) → ref (import, oci, ostree).

#include <string>
#include <string_view>

#include "base/result.hpp"
#include "crypto/digest.hpp"
#include "store/maintenance.hpp"
#include "store/store.hpp"

namespace imgctl::composefs {

/// The store::ImageObjectsFn backed by the EROFS reader: every external regular file of the
/// image, named by its metacopy fs-verity digest (or, without one, by its "XX/<62 hex>" redirect).
/// An external file whose redirect is not a store object path is an error (EINVAL).
store::ImageObjectsFn image_objects();

/// Reads `image_fd` (a verified image) and lists its objects; the body of image_objects().
Result<std::vector<store::ObjectUse>> list_image_objects(int image_fd);

}  // namespace imgctl::composefs
