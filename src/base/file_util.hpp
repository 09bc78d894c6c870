#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace imgctl {

/// openat() with O_CLOEXEC added; the error names `path`.
Result<UniqueFd> open_at(int dir_fd, const std::string& path, int flags, mode_t mode = 0);

/// Writes all of `data` (restarting on EINTR and short writes).
Result<void> write_all(int fd, std::span<const std::byte> data);
Result<void> write_all(int fd, std::string_view data);

/// pwrite()s all of `data` at `offset`.
Result<void> pwrite_all(int fd, std::span<const std::byte> data, off_t offset);
/// Writes all of `parts`, in order, with as few writev() calls as the kernel allows.
Result<void> writev_all(int fd, std::span<const std::span<const std::byte>> parts);

/// Reads up to `buf.size()` bytes at `offset`, looping until EOF or full. Returns bytes read.
Result<size_t> pread_full(int fd, std::span<std::byte> buf, off_t offset);

/// Copies `size` bytes of `src` (from offset 0) to the start of `dst` (empty, writable):
/// FICLONE (shared extents), else copy_file_range (in the kernel), else pread/write. EIO when
/// `src` has fewer bytes. Neither file offset is used.
Result<void> copy_file_content(int src, int dst, uint64_t size);

/// Reads the whole file (from the current position to EOF).
Result<std::string> read_all(int fd);

/// Reads a whole file by path, relative to `dir_fd` (AT_FDCWD for the cwd).
Result<std::string> read_file_at(int dir_fd, const std::string& path);

/// mkdirat() that tolerates an existing directory.
Result<void> mkdir_p_at(int dir_fd, const std::string& path, mode_t mode = 0755);

/// fsync() of a directory opened from `dir_fd`/`path` (makes a link or rename durable).
Result<void> fsync_dir_at(int dir_fd, const std::string& path);

/// Removes a file or a directory tree (not following symlinks). Missing is not an error.
Result<void> remove_tree_at(int dir_fd, const std::string& path);

/// Eight random [a-z0-9] characters for temporary names (not for security).
std::string random_name_suffix();

}  // namespace imgctl
