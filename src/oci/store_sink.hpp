#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "crypto/fsverity.hpp"
#include "oci/early_writeback.hpp"
#include "oci/object_sink.hpp"

namespace imgctl::store {
class Store;
}

namespace imgctl::oci {

/// The production ObjectSink: file contents become store objects (Store::begin_object →
/// ObjectWriter, a temp file in tmp/, named by the fs-verity digest on commit). Commits run on
/// `threads` background threads so the tar stream never waits for one: outside a store batch
/// each commit waits for an fsync (with several in flight the file system groups them); in a
/// batch (what the puller uses) a commit is cheaper but still finishes the digest and stages
/// the file. At most 4 × threads commits are queued (each holds an open temp file). The
/// destructor waits for the queue. With 0 threads every commit runs inline in finish() (what
/// the puller uses in a batch: handing such a cheap commit to a thread costs more than it).
///
/// With `defer_writes` (the puller: 0 threads, in a batch), files of up to kDeferMax bytes are
/// hashed as their bytes arrive and copied into chunks of kChunk bytes, and one writer thread
/// stores them (Store::insert_object_parts_hashed, one writev): the thread parsing the tar makes
/// no system call for them. The chunks (kDeferQueued bytes at most, allocated on first use) are
/// recycled, never freed before the sink: fresh pages cost a fault each. A writer error comes
/// back from the next finish() or flush().
class StoreSink : public ObjectSink {
public:
    static constexpr uint64_t kDeferMax = 1u << 20;
    static constexpr uint64_t kDeferQueued = 8u << 20;
    static constexpr size_t kChunk = 16u << 10;
    /// With `writeback_every` > 0, every that many bytes of objects a background syncfs starts
    /// writing the batch to disk early (EarlyWriteback; best effort).
    explicit StoreSink(store::Store& s, unsigned threads = 8, uint64_t writeback_every = 0, bool defer_writes = false);
    ~StoreSink() override;
    StoreSink(const StoreSink&) = delete;
    StoreSink& operator=(const StoreSink&) = delete;

    Result<std::unique_ptr<Writer>> begin(uint64_t size) override;
    Result<void> finish(std::unique_ptr<Writer> w, const composefs::InodePtr& node) override;
    Result<void> flush() override;

private:
    struct Job {
        std::unique_ptr<Writer> writer;
        composefs::InodePtr node;
    };
    struct Deferred {
        std::vector<std::byte*> chunks;  // kChunk bytes each, the last one partly
        uint64_t size = 0;
        crypto::Digest digest;
    };
    class MemoryWriter;
    void work();
    void write_deferred();
    /// A free chunk, waiting for the writer to release one when all kDeferQueued bytes are in
    /// use; nullptr after a writer error.
    std::byte* take_chunk();
    /// Gives back chunks a writer never handed over (its file failed or was dropped).
    void release_chunks(std::vector<std::byte*>& chunks);
    /// The writer thread's error (after take_chunk() returned nullptr).
    Error writer_error();
    store::Store& store_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Job> queue_;
    size_t busy_ = 0;
    size_t max_queue_;
    bool stop_ = false;
    std::optional<Error> error_;
    std::vector<std::thread> threads_;
    // Deferred writes (under mu_): the queue, its bytes, whether the writer is busy with one.
    std::deque<Deferred> deferred_;
    bool writing_ = false;
    std::vector<std::unique_ptr<std::byte[]>> chunks_;  // every chunk allocated (under mu_)
    std::vector<std::byte*> free_chunks_;               // (under mu_)
    std::thread writer_;
    std::vector<std::unique_ptr<crypto::FsVerityHasher>> hashers_;  // reused (tar thread only)
    std::unique_ptr<EarlyWriteback> writeback_;  // null when off
};

}  // namespace imgctl::oci
