#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "crypto/digest.hpp"

namespace imgctl::crypto {

/// The Linux fs-verity file digest: SHA-256, 4096-byte Merkle blocks, no salt. This is what
/// `fsverity digest`, FS_IOC_MEASURE_VERITY and composefs use to name objects and images.

/// Digest of a byte buffer.
Digest fsverity_digest(std::span<const std::byte> data);
Digest fsverity_digest(std::string_view data);

/// Digest of the whole file behind `fd` (read with pread; the file offset is not used).
/// `threads` = 0 means one per online CPU; small files always hash on the calling thread.
Result<Digest> fsverity_digest_fd(int fd, unsigned threads = 0);

/// Streaming computation when the total size is known in advance (e.g. while copying a file
/// into the store). Feed exactly `size` bytes through update(), then finish().
class FsVerityHasher {
public:
    explicit FsVerityHasher(uint64_t size);
    ~FsVerityHasher();
    FsVerityHasher(FsVerityHasher&&) noexcept;
    FsVerityHasher& operator=(FsVerityHasher&&) noexcept;

    void update(std::span<const std::byte> data);
    void update(std::string_view data);
    /// Bytes fed so far.
    uint64_t fed() const;
    /// Starts over for a stream of `size` bytes, keeping the allocated state (a hasher reused
    /// for many small files costs no allocation per file). Also valid after finish().
    void reset(uint64_t size);
    /// The digest. Asserts that exactly `size` bytes were fed.
    Digest finish();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// The `fsverity digest` output line for a file: "sha256:<hex> <name>".
std::string fsverity_line(const Digest& d, std::string_view name);

}  // namespace imgctl::crypto
