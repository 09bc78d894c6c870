#pragma once

#include <optional>
#include <set>
#include <vector>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "composefs/tree.hpp"
#include "oci/byte_source.hpp"
#include "oci/object_sink.hpp"

namespace imgctl::oci {

/// Counters of one applied layer (for logs and tests).
struct LayerStats {
    uint64_t entries = 0;
    uint64_t objects = 0;       ///< files > 64 bytes sent to the sink
    uint64_t inline_files = 0;  ///< files of 1..64 bytes kept in the tree
    uint64_t whiteouts = 0;
    uint64_t object_bytes = 0;
};

/// One tar entry of a layer, after its content went to the sink: a whiteout (by its name), a
/// hardlink (`hardlink` set) or a file-system object (`node`, without children).
struct LayerEntry {
    std::string name;                     ///< as in the tar (for messages)
    std::string path;                     ///< normalize_entry_name(name)
    std::optional<std::string> hardlink;  ///< normalised target
    composefs::InodePtr node;
};

/// Applies OCI layer tars in order onto one composefs::Tree (OCI image-spec layer.md):
/// whiteouts (".wh.NAME") and opaque markers (".wh..wh..opq") hide what lower layers put there;
/// hardlinks share the InodePtr (also to files of lower layers); symlinks, devices, fifos, PAX
/// xattrs, uid/gid and mtimes with nanoseconds are kept. File contents of more than 64 bytes
/// stream into the ObjectSink (payload and fsverity set), 1..64 bytes become inline content.
///
/// Names: a leading "/" or "./" is stripped (an absolute name means the same path inside the
/// image, as umoci and GNU tar do); names with "." or ".." components, and entries whose parent
/// is a symlink or a file (they would pass through a symlink), are refused (EINVAL/ENOTDIR)
/// with the entry name. Nothing is written outside the sink.
class LayerApplier {
public:
    LayerApplier(composefs::Tree& tree, ObjectSink& sink) : tree_(tree), sink_(sink) {}

    /// Reads one uncompressed tar stream to its end and applies it. With `record`, every entry
    /// is also appended there (to cache the layer: see layer_record.hpp).
    Result<LayerStats> apply(ByteSource& tar, std::vector<LayerEntry>* record = nullptr);
    /// Applies a layer from recorded entries (whose objects are already in the store).
    Result<LayerStats> apply_entries(const std::vector<LayerEntry>& entries);
    /// Recomputes nlink of every non-directory inode from the number of names it has.
    /// Call once after the last layer.
    void finalize();

private:
    struct Reader;
    Result<LayerEntry> read_entry(Reader& r, LayerStats& stats);
    Result<void> apply_entry(const LayerEntry& e, LayerStats& stats);
    Result<void> whiteout(std::string_view dir, std::string_view name, LayerStats& stats);
    Result<void> place(const std::string& path, composefs::InodePtr inode);
    Result<void> check_parents(const std::string& path);
    Result<void> read_content(Reader& r, const composefs::InodePtr& node, LayerStats& stats);

    composefs::Tree& tree_;
    ObjectSink& sink_;
    std::set<std::string, std::less<>> added_;  ///< paths created by the current layer
};

/// Normalises a tar entry name as documented above: "./a/b/" → "a/b", "/a" → "a", "." → "".
/// EINVAL for "..", "." in the middle or an empty component list with garbage.
Result<std::string> normalize_entry_name(std::string_view name);

}  // namespace imgctl::oci
