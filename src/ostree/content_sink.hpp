#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "base/result.hpp"
#include "crypto/digest.hpp"

namespace imgctl::ostree {

/// Where the commit reader puts the contents of external regular files (> 64 bytes): the
/// store in `import_commit`, a digest-only sink in tests and benchmarks.
class ContentSink {
public:
    /// Reads up to `buf.size()` bytes into `buf`; 0 means end of data.
    using ReadFn = std::function<Result<size_t>(std::span<std::byte> buf)>;

    virtual ~ContentSink() = default;
    /// Stores the whole regular file behind `fd` (read with pread) and returns its fs-verity digest.
    virtual Result<crypto::Digest> put_fd(int fd) = 0;
    /// Stores exactly `size` bytes pulled through `read`; fails with EIO if the data is shorter
    /// or longer.
    virtual Result<crypto::Digest> put_stream(uint64_t size, const ReadFn& read) = 0;
};

}  // namespace imgctl::ostree
