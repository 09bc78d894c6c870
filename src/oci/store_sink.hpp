#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "oci/object_sink.hpp"

namespace imgctl::store {
class Store;
}

namespace imgctl::oci {

/// The production ObjectSink: file contents become store objects (Store::begin_object →
/// ObjectWriter, O_TMPFILE in tmp/, linked under the fs-verity digest on commit). Commits run
/// on `threads` background threads, because each waits for an fsync: with a few in flight the
/// file system batches them into one journal commit, instead of the tar stream stalling on every
/// file (a 5000-file layer: 16 s → a few s). At most 4 × threads commits are queued (each holds
/// an open temp file). The destructor waits for the queue.
class StoreSink : public ObjectSink {
public:
    explicit StoreSink(store::Store& s, unsigned threads = 8);
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
    void work();
    store::Store& store_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Job> queue_;
    size_t busy_ = 0;
    size_t max_queue_;
    bool stop_ = false;
    std::optional<Error> error_;
    std::vector<std::thread> threads_;
};

}  // namespace imgctl::oci
