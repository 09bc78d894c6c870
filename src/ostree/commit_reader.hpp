#pragma once

#include <cstdint>

#include "base/result.hpp"
#include "composefs/tree.hpp"
#include "ostree/content_sink.hpp"
#include "ostree/repo.hpp"

namespace imgctl::ostree {

/// How an OSTree commit becomes a composefs tree (the decisions are in docs/ostree.md).
struct ReadOptions {
    /// Move /usr/etc to /etc (what an OSTree deployment does); a commit with both is refused.
    bool map_usr_etc = true;
    /// Workers loading file objects and storing contents (0: two per CPU, 2..16). The sink must
    /// be safe to call from several threads when this is not 1.
    unsigned threads = 0;
};

/// Counts of what the reader produced.
struct ReadStats {
    uint64_t dirs = 0;
    uint64_t files = 0;          ///< regular-file names (a hardlinked file counts once per name)
    uint64_t symlinks = 0;
    uint64_t file_objects = 0;   ///< distinct OSTree file objects (regular files)
    uint64_t external = 0;       ///< distinct objects handed to the sink (size > 64)
    uint64_t external_bytes = 0;
};

struct CommitTree {
    composefs::Tree tree;
    ReadStats stats;
};

/// Builds the tree of `commit` from `repo`: directories, regular files, symlinks with their
/// mode, uid/gid and xattrs; every mtime is 0. Regular files with the same OSTree checksum
/// (same content and metadata) become one inode with several names, as in `ostree checkout`
/// of a bare repository. Files of 1..64 bytes are inline, larger ones go through `sink`
/// (from several threads, see ReadOptions::threads).
Result<CommitTree> read_commit_tree(const Repo& repo, const CommitInfo& commit, ContentSink& sink,
                                    const ReadOptions& opts = {});

/// The largest regular file kept inline in the image (mkcomposefs's limit).
inline constexpr uint64_t kMaxInlineSize = 64;

}  // namespace imgctl::ostree
