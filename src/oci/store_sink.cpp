#include "oci/store_sink.hpp"

#include <cstring>

#include <fmt/format.h>

#include "store/store.hpp"

namespace imgctl::oci {

namespace {

class StoreWriter : public ObjectSink::Writer {
public:
    explicit StoreWriter(store::ObjectWriter w) : w_(std::move(w)) {}
    Result<void> write(std::span<const std::byte> d) override { return w_.write(d); }
    Result<crypto::Digest> commit() override { return w_.commit(); }

private:
    store::ObjectWriter w_;
};

}  // namespace

// A small file's bytes, hashed as they arrive and copied into the sink's chunks (tar thread).
class StoreSink::MemoryWriter : public ObjectSink::Writer {
public:
    MemoryWriter(StoreSink& sink, uint64_t n, std::unique_ptr<crypto::FsVerityHasher> h)
        : sink_(sink), hasher(std::move(h)) {
        job.size = n;
        hasher->reset(n);
    }
    ~MemoryWriter() override {
        if (!job.chunks.empty()) sink_.release_chunks(job.chunks);  // not handed to the writer
    }
    Result<void> write(std::span<const std::byte> d) override {
        if (d.size() > job.size - got_)
            return make_error(EINVAL, "object is larger than the announced {} bytes", job.size);
        hasher->update(d);
        while (!d.empty()) {
            size_t in_chunk = got_ % kChunk;
            if (in_chunk == 0) {
                std::byte* c = sink_.take_chunk();
                if (!c) return sink_.writer_error();
                job.chunks.push_back(c);
            }
            size_t n = std::min(d.size(), kChunk - in_chunk);
            std::memcpy(job.chunks.back() + in_chunk, d.data(), n);
            got_ += n;
            d = d.subspan(n);
        }
        return {};
    }
    Result<crypto::Digest> commit() override {
        if (got_ != job.size) return make_error(EINVAL, "object has {} bytes, {} were announced", got_, job.size);
        return hasher->finish();
    }
    StoreSink& sink_;
    Deferred job;
    uint64_t got_ = 0;
    std::unique_ptr<crypto::FsVerityHasher> hasher;
};

std::byte* StoreSink::take_chunk() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !free_chunks_.empty() || chunks_.size() * kChunk < kDeferQueued || error_; });
    if (error_) return nullptr;
    if (free_chunks_.empty()) {
        chunks_.emplace_back(new std::byte[kChunk]);
        return chunks_.back().get();
    }
    std::byte* c = free_chunks_.back();
    free_chunks_.pop_back();
    return c;
}

void StoreSink::release_chunks(std::vector<std::byte*>& chunks) {
    std::lock_guard lock(mu_);
    bool was_empty = free_chunks_.empty();
    free_chunks_.insert(free_chunks_.end(), chunks.begin(), chunks.end());
    chunks.clear();
    if (was_empty) cv_.notify_all();  // the tar thread only waits for chunks when none is free
}

Error StoreSink::writer_error() {
    std::lock_guard lock(mu_);
    return error_ ? *error_ : make_error(ECANCELED, "the object writer stopped");
}

StoreSink::StoreSink(store::Store& s, unsigned threads, uint64_t writeback_every, bool defer_writes)
    : store_(s), max_queue_(4 * std::max(threads, 1u)) {
    if (defer_writes) writer_ = std::thread([this] { write_deferred(); });
    if (writeback_every > 0) {
        auto wb = EarlyWriteback::create(s.dir_fd("tmp"), writeback_every);
        if (wb) writeback_ = std::move(*wb);  // best effort: without it the batch's syncfs does it all
    }
    for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
}

StoreSink::~StoreSink() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    if (writer_.joinable()) writer_.join();
}

Result<std::unique_ptr<ObjectSink::Writer>> StoreSink::begin(uint64_t size) {
    if (writer_.joinable() && size <= kDeferMax) {
        std::unique_ptr<crypto::FsVerityHasher> h;
        if (hashers_.empty()) {
            h = std::make_unique<crypto::FsVerityHasher>(size);
        } else {
            h = std::move(hashers_.back());
            hashers_.pop_back();
        }
        return std::unique_ptr<Writer>(new MemoryWriter(*this, size, std::move(h)));
    }
    auto w = store_.begin_object(size);
    if (!w) return std::move(w).error();
    return std::unique_ptr<Writer>(new StoreWriter(std::move(*w)));
}

Result<void> StoreSink::finish(std::unique_ptr<Writer> w, const composefs::InodePtr& node) {
    if (writeback_) writeback_->add(node->size);
    if (auto* m = dynamic_cast<MemoryWriter*>(w.get())) {
        auto d = m->commit();
        hashers_.push_back(std::move(m->hasher));
        if (!d) return std::move(d).error();
        node->set_fsverity(*d);
        node->set_payload(object_payload_path(*d));
        m->job.digest = *d;
        std::lock_guard lock(mu_);
        if (error_) return *error_;
        deferred_.push_back(std::move(m->job));
        m->job.chunks.clear();  // now the writer's
        if (deferred_.size() == 1) cv_.notify_all();  // the writer only ever waits for an empty queue
        return {};
    }
    if (threads_.empty()) return ObjectSink::finish(std::move(w), node);
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return queue_.size() < max_queue_ || error_; });
    if (error_) return *error_;
    queue_.push_back(Job{std::move(w), node});
    cv_.notify_all();
    return {};
}

Result<void> StoreSink::flush() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return (queue_.empty() && busy_ == 0 && deferred_.empty() && !writing_) || error_; });
    if (error_) return *error_;
    return {};
}

void StoreSink::work() {
    std::unique_lock lock(mu_);
    while (true) {
        cv_.wait(lock, [&] { return !queue_.empty() || stop_; });
        if (queue_.empty()) return;  // stopping, and nothing left
        Job job = std::move(queue_.front());
        queue_.pop_front();
        ++busy_;
        lock.unlock();
        auto d = job.writer->commit();
        job.writer.reset();  // closes the temp file now
        if (d) {
            job.node->set_fsverity(*d);
            job.node->set_payload(object_payload_path(*d));
        }
        lock.lock();
        --busy_;
        if (!d && !error_) error_ = std::move(d).error();
        cv_.notify_all();
    }
}

void StoreSink::write_deferred() {
    std::unique_lock lock(mu_);
    std::vector<std::span<const std::byte>> parts;
    while (true) {
        cv_.wait(lock, [&] { return !deferred_.empty() || stop_; });
        if (stop_) return;  // flush() drained the queue, or the pull failed: drop what is left
        Deferred job = std::move(deferred_.front());
        deferred_.pop_front();
        writing_ = true;
        const bool failed = error_.has_value();  // after an error, the rest is only dropped
        lock.unlock();
        Result<crypto::Digest> r = job.digest;
        if (!failed) {
            parts.clear();
            for (size_t i = 0; i < job.chunks.size(); ++i)
                parts.emplace_back(job.chunks[i], std::min<uint64_t>(kChunk, job.size - i * kChunk));
            r = store_.insert_object_parts_hashed(parts, job.digest);
        }
        lock.lock();
        writing_ = false;
        bool was_empty = free_chunks_.empty();
        free_chunks_.insert(free_chunks_.end(), job.chunks.begin(), job.chunks.end());
        if (!r && !error_)
            error_ = std::move(r).error().context(fmt::format("storing object '{}'", object_payload_path(job.digest)));
        // flush() waits for an empty queue, the tar thread for a free chunk (or an error).
        if (deferred_.empty() || was_empty || error_) cv_.notify_all();
    }
}

}  // namespace imgctl::oci
