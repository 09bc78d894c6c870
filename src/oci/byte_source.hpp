#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>

#include "base/result.hpp"
#include "crypto/digest.hpp"
#include "crypto/sha256.hpp"
#include "oci/manifest.hpp"

namespace imgctl::oci {

/// A pull-style stream of bytes. read() returns 0 at the end.
class ByteSource {
public:
    virtual ~ByteSource() = default;
    virtual Result<size_t> read(std::span<std::byte> out) = 0;
    /// The next bytes as a view valid until the next call on this source (empty at the end).
    /// This default reads into `scratch`; a source that already holds the bytes in memory
    /// (PrefetchSource) returns them without copying.
    virtual Result<std::span<const std::byte>> next_block(std::span<std::byte> scratch) {
        auto n = read(scratch);
        if (!n) return std::move(n).error();
        return std::span<const std::byte>(scratch.first(*n));
    }
};

/// Reads a file descriptor from its current offset (borrowed, not closed).
class FdSource : public ByteSource {
public:
    explicit FdSource(int fd) : fd_(fd) {}
    Result<size_t> read(std::span<std::byte> out) override;

private:
    int fd_;
};

/// Reads a byte buffer (borrowed; it must outlive the source). For tests and small blobs.
class BufferSource : public ByteSource {
public:
    explicit BufferSource(std::span<const std::byte> data) : data_(data) {}
    Result<size_t> read(std::span<std::byte> out) override;

private:
    std::span<const std::byte> data_;
    size_t pos_ = 0;
};

/// Decompresses a layer blob (gzip with any number of members; zstd with any number of frames,
/// skippable frames skipped, so zstd:chunked reads as plain zstd; or uncompressed) and checks,
/// once the end is reached, the SHA-256 of the compressed bytes and of the uncompressed tar
/// against the expected digests (EBADMSG naming both on a mismatch).
class LayerStream : public ByteSource {
public:
    LayerStream(ByteSource& raw, Compression c, std::optional<crypto::Digest> blob_digest,
                std::optional<crypto::Digest> diff_id);
    ~LayerStream() override;
    LayerStream(const LayerStream&) = delete;
    LayerStream& operator=(const LayerStream&) = delete;

    Result<size_t> read(std::span<std::byte> out) override;
    /// Reads (and decompresses) whatever the consumer left unread, then verifies the digests.
    /// After a decoding error, a blob digest mismatch (of all raw bytes) is reported instead
    /// of the decoding error, as the more basic cause.
    Result<void> finish();
    uint64_t compressed_bytes() const { return compressed_bytes_; }
    /// Hands the SHA-256 of the uncompressed bytes to another stage (PrefetchSource's tap),
    /// which then feeds it every byte read() returns; nullptr when there is no diff_id to check.
    /// Until take_back_uncompressed_hash(), read() does not hash them itself.
    crypto::Sha256* lend_uncompressed_hash();
    void take_back_uncompressed_hash() { hash_lent_ = false; }

private:
    Result<size_t> decode(std::span<std::byte> out);
    Result<size_t> fill_input();
    /// One inflate step into `out` with `avail` input bytes: bytes produced, nullopt at the end.
    Result<std::optional<size_t>> read_gzip(std::span<std::byte> out, size_t avail);
    struct Codec;
    ByteSource& raw_;
    Compression compression_;
    std::optional<crypto::Digest> blob_digest_, diff_id_;
    crypto::Sha256 blob_hash_, diff_hash_;
    std::unique_ptr<Codec> codec_;
    std::unique_ptr<std::byte[]> in_;
    size_t in_pos_ = 0, in_len_ = 0;
    bool raw_eof_ = false, done_ = false;
    bool hash_lent_ = false;
    std::optional<Error> failed_;  ///< the first error read() returned; returned again after
    uint64_t compressed_bytes_ = 0;
};

}  // namespace imgctl::oci
