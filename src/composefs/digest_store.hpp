#pragma once

#include <string>

#include "base/unique_fd.hpp"
#include "composefs/content_sink.hpp"

namespace imgctl::composefs {

/// mkcomposefs's --digest-store=DIR (FORMAT-NOTES §13): objects at DIR/XX/<62 hex>, named by
/// their fs-verity digest, mode 0644, no owner/mtime/xattrs kept. An existing object is
/// skipped without verification. New objects are written to an anonymous temporary file
/// (AtomicFile) by FICLONE, else copy_file_range, else read/write, and linked into place;
/// two threads storing the same content both succeed. fs-verity is not enabled here (the
/// project's object store does that). Thread-safe.
class DigestStore : public ContentSink {
public:
    /// Opens DIR, creating it (mode 0755) when missing.
    static Result<DigestStore> open(const std::string& dir);

    Result<void> store(int fd, uint64_t size, const crypto::Digest& digest) override;
    /// syncfs() of the store: objects are linked without per-file fsync.
    Result<void> finish() override;

    /// "XX/<62 hex>": the object path of a digest inside the store.
    static std::string object_path(const crypto::Digest& digest);

private:
    DigestStore(UniqueFd fd, std::string path) : dir_(std::move(fd)), path_(std::move(path)) {}
    UniqueFd dir_;
    std::string path_;
};

}  // namespace imgctl::composefs
