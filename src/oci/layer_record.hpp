#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "oci/layer_applier.hpp"

namespace imgctl::oci {

/// A layer record: the entries of one applied layer tar, in tar order, with file contents
/// replaced by their object digest (or inline bytes). It lets a later pull apply a layer whose
/// blob digest it has seen before without downloading it, as long as every object is still in
/// the store. Format (docs/oci.md, "Layer records"): JSON
/// {"version":1,"entries":[{"n":name,"h":hardlink,"m":mode,"u":uid,"g":gid,"r":rdev,"t":mtime,
///  "ns":nsec,"s":size,"l":symlink,"c":inline content,"o":object hex,"x":[[name,value],…]},…]}
/// where name, hardlink, symlink, content and xattr strings are base64 (tar names need not be UTF-8).
std::string serialize_layer_record(const std::vector<LayerEntry>& entries);

/// Parses a record (EBADMSG naming the entry on malformed input; names are re-normalised).
Result<std::vector<LayerEntry>> parse_layer_record(std::string_view json);

}  // namespace imgctl::oci
