#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>

#include "oci/byte_source.hpp"

namespace imgctl::oci {

/// A file that a download is still writing, so a reader can follow it instead of waiting for
/// the end: the writer reports how many bytes from offset 0 are in the file (grow()), that it
/// truncated the file to start over (a restarted transfer: shrink()), and how it ended
/// (finish()). Thread-safe. The bytes a reader sees are not verified here: the reader checks
/// the digest of what it read (LayerStream), and the download checks its own.
class GrowingFile {
public:
    /// `delta` > 0: that many more bytes are in the file; < 0: the file was cut back by that much.
    void grow(int64_t delta);
    /// The download ended: successfully (everything is in the file) or with `error`.
    void finish(std::optional<Error> error);
    /// Waits until more than `pos` bytes are in the file (returns how many are), or the download
    /// ended (returns `pos` if nothing more will come; its error if it failed), or cancel().
    Result<uint64_t> wait_beyond(uint64_t pos);
    /// Makes every waiting and later wait_beyond() fail with ECANCELED.
    void cancel();

private:
    std::mutex mu_;
    std::condition_variable cv_;
    uint64_t size_ = 0;
    bool done_ = false, cancelled_ = false;
    std::optional<Error> error_;
};

/// Reads a GrowingFile's descriptor (borrowed) from offset 0 as its bytes arrive.
class GrowingFileSource : public ByteSource {
public:
    GrowingFileSource(int fd, GrowingFile& file) : fd_(fd), file_(file) {}
    Result<size_t> read(std::span<std::byte> out) override;

private:
    int fd_;
    GrowingFile& file_;
    uint64_t pos_ = 0;
};

}  // namespace imgctl::oci
