#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "base/result.hpp"

namespace imgctl {

/// Reads `size` bytes of the regular file behind `fd` through mmap windows of `window` bytes,
/// handing each window to `fn` in order, so a large file is hashed straight from the page cache
/// (no copy into a buffer). A file that shrinks meanwhile would make the kernel raise SIGBUS
/// when `fn` touches the vanished pages: on this thread that is caught (a SIGBUS handler and a
/// thread-local jump buffer) and reported as EAGAIN, like a file that grew (checked after the
/// last window). `fn` must be restartable from nothing: after an error its state is undefined
/// (it may have been left in the middle of a window), and it must not take locks or allocate
/// while it reads the mapping. Returns an error with ENODEV when the file cannot be mapped
/// (the caller then reads it instead).
Result<void> read_mapped(int fd, uint64_t size, size_t window,
                         const std::function<void(std::span<const std::byte>)>& fn);

}  // namespace imgctl
