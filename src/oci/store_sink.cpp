#include "oci/store_sink.hpp"

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

StoreSink::StoreSink(store::Store& s, unsigned threads, uint64_t writeback_every)
    : store_(s), max_queue_(4 * std::max(threads, 1u)) {
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
}

Result<std::unique_ptr<ObjectSink::Writer>> StoreSink::begin(uint64_t size) {
    auto w = store_.begin_object(size);
    if (!w) return std::move(w).error();
    return std::unique_ptr<Writer>(new StoreWriter(std::move(*w)));
}

Result<void> StoreSink::finish(std::unique_ptr<Writer> w, const composefs::InodePtr& node) {
    if (writeback_) writeback_->add(node->size);
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
    cv_.wait(lock, [&] { return (queue_.empty() && busy_ == 0) || error_; });
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

}  // namespace imgctl::oci
