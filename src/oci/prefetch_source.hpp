#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "oci/byte_source.hpp"

namespace imgctl::oci {

/// Reads another ByteSource on its own thread, up to `buffers` blocks of `block_size` bytes
/// ahead of the consumer: a pipeline stage, so that decompression and hashing (the inner
/// LayerStream) run on one core while the consumer (tar parsing, object hashing and writing)
/// runs on another. The inner source's errors reach the consumer in order, after the bytes read
/// before them. stop() (or the destructor) ends the thread; only then may the inner source be
/// used directly again (e.g. LayerStream::finish()). Bytes read ahead but never consumed are
/// dropped (they were already counted by the inner source: its digests cover the whole stream).
class PrefetchSource : public ByteSource {
public:
    explicit PrefetchSource(ByteSource& inner, size_t block_size = 256 * 1024, size_t buffers = 8);
    ~PrefetchSource() override;
    PrefetchSource(const PrefetchSource&) = delete;
    PrefetchSource& operator=(const PrefetchSource&) = delete;

    Result<size_t> read(std::span<std::byte> out) override;
    /// The rest of the current block, or the next one, without a copy.
    Result<std::span<const std::byte>> next_block(std::span<std::byte> scratch) override;
    /// Stops reading ahead and waits for the thread (idempotent).
    void stop();

private:
    struct Block {
        std::unique_ptr<std::byte[]> data;
        size_t len = 0;
    };
    void produce();
    /// Makes current_ a block with unread bytes; false at the end.
    Result<bool> advance();

    ByteSource& inner_;
    size_t block_size_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Block> free_, ready_;
    Block current_;         // the block the consumer is reading (consumer thread only)
    size_t current_pos_ = 0;
    bool end_ = false;      // the inner source returned 0 or failed (error_ set)
    bool stopping_ = false;
    std::optional<Error> error_;
    std::thread thread_;
};

}  // namespace imgctl::oci
