#include "oci/store_sink.hpp"

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

// A small file's bytes, kept in memory and hashed as they arrive (tar thread).
class StoreSink::MemoryWriter : public ObjectSink::Writer {
public:
    MemoryWriter(uint64_t n, std::vector<std::byte> buf, std::unique_ptr<crypto::FsVerityHasher> h)
        : data(std::move(buf)), size(n), hasher(std::move(h)) {
        data.clear();
        data.reserve(n);
        hasher->reset(n);
    }
    Result<void> write(std::span<const std::byte> d) override {
        if (d.size() > size - data.size())
            return make_error(EINVAL, "object is larger than the announced {} bytes", size);
        data.insert(data.end(), d.begin(), d.end());
        hasher->update(d);
        return {};
    }
    Result<crypto::Digest> commit() override {
        if (data.size() != size)
            return make_error(EINVAL, "object has {} bytes, {} were announced", data.size(), size);
        return hasher->finish();
    }
    std::vector<std::byte> data;
    uint64_t size;
    std::unique_ptr<crypto::FsVerityHasher> hasher;
};

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
        // A buffer the writer thread is done with (no page faults for a fresh allocation).
        std::vector<std::byte> buf;
        {
            std::lock_guard lock(mu_);
            if (!spare_.empty()) {
                buf = std::move(spare_.back());
                spare_.pop_back();
                spare_bytes_ -= buf.capacity();
            }
        }
        return std::unique_ptr<Writer>(new MemoryWriter(size, std::move(buf), std::move(h)));
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
        uint64_t n = m->data.size();
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return deferred_bytes_ + n <= kDeferQueued || deferred_.empty() || error_; });
        if (error_) return *error_;
        deferred_bytes_ += n;
        deferred_.push_back(Deferred{std::move(m->data), *d});
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
    while (true) {
        cv_.wait(lock, [&] { return !deferred_.empty() || stop_; });
        if (stop_) return;  // flush() drained the queue, or the pull failed: drop what is left
        Deferred job = std::move(deferred_.front());
        deferred_.pop_front();
        writing_ = true;
        const bool failed = error_.has_value();  // after an error, the rest is only dropped
        lock.unlock();
        auto r = failed ? Result<crypto::Digest>(job.digest) : store_.insert_object_bytes_hashed(job.data, job.digest);
        lock.lock();
        writing_ = false;
        deferred_bytes_ -= job.data.size();
        if (spare_bytes_ + job.data.capacity() <= kSpareBuffers) {
            spare_bytes_ += job.data.capacity();
            spare_.push_back(std::move(job.data));
        }
        if (!r && !error_)
            error_ = std::move(r).error().context(fmt::format("storing object '{}'", object_payload_path(job.digest)));
        // The tar thread waits for room in the queue, flush() for an empty one.
        cv_.notify_all();
    }
}

}  // namespace imgctl::oci
