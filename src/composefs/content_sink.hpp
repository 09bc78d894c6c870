#pragma once

#include <cstdint>

#include "base/result.hpp"
#include "crypto/digest.hpp"

namespace imgctl::composefs {

/// Where the content of an external regular file goes while a source is turned into a Tree:
/// mkcomposefs's --digest-store (DigestStore) or the project's object store. The scanner
/// calls store() once per external file (size > 64 bytes in directory mode), from several
/// worker threads at once, so implementations must be thread-safe.
class ContentSink {
public:
    virtual ~ContentSink() = default;
    /// Stores `size` bytes read from `fd` (positioned anywhere; read with offsets from 0)
    /// whose fs-verity digest is `digest` (computed by the caller from this descriptor, which
    /// checks after store() returns that the file did not change: implementations need not
    /// hash again). Storing content that is already there succeeds.
    virtual Result<void> store(int fd, uint64_t size, const crypto::Digest& digest) = 0;
    /// Called once after the last store(): make everything durable.
    virtual Result<void> finish() { return {}; }
};

}  // namespace imgctl::composefs
