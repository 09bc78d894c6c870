#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "crypto/sha256.hpp"
#include "oci/byte_source.hpp"

namespace imgctl::oci {

/// Reads another ByteSource on its own thread, up to `buffers` blocks of `block_size` bytes
/// ahead of the consumer: a pipeline stage, so that decompression (the inner LayerStream) runs
/// on one core while the consumer (tar parsing, object hashing and writing) runs on another.
/// With a `tap`, a third thread feeds every block the inner source produced, in order, to that
/// SHA-256 (the layer's diff_id) while the consumer reads it; a block is reused only when both
/// are done with it. The inner source's errors reach the consumer in order, after the bytes read
/// before them. stop() (or the destructor) ends the threads, the tap having seen every byte read
/// from the inner source; only then may the inner source or the tap be used directly again (e.g.
/// LayerStream::finish()). Bytes read ahead but never consumed are dropped.
class PrefetchSource : public ByteSource {
public:
    explicit PrefetchSource(ByteSource& inner, size_t block_size = 256 * 1024, size_t buffers = 8,
                            crypto::Sha256* tap = nullptr);
    ~PrefetchSource() override;
    PrefetchSource(const PrefetchSource&) = delete;
    PrefetchSource& operator=(const PrefetchSource&) = delete;

    Result<size_t> read(std::span<std::byte> out) override;
    /// The rest of the current block, or the next one, without a copy.
    Result<std::span<const std::byte>> next_block(std::span<std::byte> scratch) override;
    /// Stops reading ahead and waits for the threads (idempotent).
    void stop();

private:
    struct Block {
        std::unique_ptr<std::byte[]> data;
        size_t len = 0;
        int users = 0;  // of the consumer and the tap, how many still need it
    };
    void produce();
    void hash();
    /// Makes current_ a block with unread bytes; false at the end.
    Result<bool> advance();
    /// One user is done with block `i` (lock held): back to the free list when it was the last.
    void release(size_t i);

    ByteSource& inner_;
    size_t block_size_;
    crypto::Sha256* tap_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<Block> blocks_;
    std::deque<size_t> free_, ready_, to_hash_;
    std::optional<size_t> current_;  // the block the consumer is reading (consumer thread only)
    size_t current_pos_ = 0;
    bool end_ = false;      // the inner source returned 0 or failed (error_ set)
    bool stopping_ = false;
    bool producer_done_ = false;  // the producer thread returned (end_, or stopped)
    std::optional<Error> error_;
    std::thread thread_, hasher_;
};

}  // namespace imgctl::oci
