#pragma once
// Loads OSTree file objects into tree inodes, on several threads (private to src/ostree).

#include <string>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "composefs/tree.hpp"
#include "ostree/content_sink.hpp"
#include "ostree/repo.hpp"

namespace imgctl::ostree {

/// One distinct OSTree file object of a commit and every name it has in the tree.
struct FileJob {
    std::string checksum;
    std::string first_path;  ///< for error messages
    composefs::InodePtr inode;  ///< filled by load_file_objects
    std::vector<std::pair<composefs::Inode*, std::string>> names;  ///< (parent directory, name)
};

/// Fills every job's inode from its object: type, mode, uid, gid, xattrs, size, symlink target,
/// inline content (1..64 bytes) or payload/fsverity (larger files, stored through `sink`).
/// Runs `threads` workers (each with its own handle on the repository); `sink` must be safe to
/// call from several threads. Returns the first error; the jobs are then partly filled.
Result<void> load_file_objects(const Repo& repo, std::vector<FileJob>& jobs, ContentSink& sink, unsigned threads);

}  // namespace imgctl::ostree
