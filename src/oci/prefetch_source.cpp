#include "oci/prefetch_source.hpp"

#include <cstring>

namespace imgctl::oci {

PrefetchSource::PrefetchSource(ByteSource& inner, size_t block_size, size_t buffers, crypto::Sha256* tap)
    : inner_(inner), block_size_(std::max<size_t>(block_size, 1)), tap_(tap) {
    blocks_.resize(std::max<size_t>(buffers, 1));
    for (size_t i = 0; i < blocks_.size(); ++i) {
        blocks_[i].data.reset(new std::byte[block_size_]);
        free_.push_back(i);
    }
    thread_ = std::thread([this] { produce(); });
    if (tap_) hasher_ = std::thread([this] { hash(); });
}

PrefetchSource::~PrefetchSource() { stop(); }

void PrefetchSource::stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    // The producer is done: the tap finishes what it was given, so it covers every byte read.
    if (hasher_.joinable()) hasher_.join();
}

void PrefetchSource::release(size_t i) {
    if (--blocks_[i].users > 0) return;
    bool was_empty = free_.empty();
    free_.push_back(i);
    if (was_empty) cv_.notify_all();  // the producer only ever waits for an empty free list
}

void PrefetchSource::produce() {
    std::unique_lock lock(mu_);
    while (true) {
        cv_.wait(lock, [&] { return !free_.empty() || stopping_; });
        if (stopping_) {
            producer_done_ = true;
            cv_.notify_all();
            return;
        }
        size_t i = free_.front();
        free_.pop_front();
        lock.unlock();
        auto n = inner_.read({blocks_[i].data.get(), block_size_});
        lock.lock();
        if (!n || *n == 0) {
            if (!n) error_ = std::move(n).error();
            free_.push_back(i);
            end_ = producer_done_ = true;
            cv_.notify_all();
            return;
        }
        blocks_[i].len = *n;
        blocks_[i].users = tap_ ? 2 : 1;
        // The consumer and the tap only ever wait for an empty queue.
        bool wake = ready_.empty() || (tap_ && to_hash_.empty());
        ready_.push_back(i);
        if (tap_) to_hash_.push_back(i);
        if (wake) cv_.notify_all();
    }
}

void PrefetchSource::hash() {
    std::unique_lock lock(mu_);
    while (true) {
        cv_.wait(lock, [&] { return !to_hash_.empty() || producer_done_; });
        if (to_hash_.empty()) return;  // nothing more will come
        size_t i = to_hash_.front();
        to_hash_.pop_front();
        lock.unlock();
        tap_->update(std::span<const std::byte>(blocks_[i].data.get(), blocks_[i].len));
        lock.lock();
        release(i);
    }
}

Result<bool> PrefetchSource::advance() {
    if (current_ && current_pos_ < blocks_[*current_].len) return true;
    std::unique_lock lock(mu_);
    if (current_) release(*current_);
    current_.reset();
    cv_.wait(lock, [&] { return !ready_.empty() || end_ || stopping_; });
    if (ready_.empty()) {
        if (error_) return *error_;
        if (stopping_ && !end_) return make_error(ECANCELED, "reading a stopped prefetch stream");
        return false;
    }
    current_ = ready_.front();
    ready_.pop_front();
    current_pos_ = 0;
    return true;
}

Result<size_t> PrefetchSource::read(std::span<std::byte> out) {
    if (out.empty()) return size_t{0};
    auto more = advance();
    if (!more) return std::move(more).error();
    if (!*more) return size_t{0};
    const Block& b = blocks_[*current_];
    size_t n = std::min(out.size(), b.len - current_pos_);
    std::memcpy(out.data(), b.data.get() + current_pos_, n);
    current_pos_ += n;
    return n;
}

Result<std::span<const std::byte>> PrefetchSource::next_block(std::span<std::byte>) {
    auto more = advance();
    if (!more) return std::move(more).error();
    if (!*more) return std::span<const std::byte>{};
    const Block& b = blocks_[*current_];
    std::span<const std::byte> view(b.data.get() + current_pos_, b.len - current_pos_);
    current_pos_ = b.len;  // handed out: the block goes back to the producer next time
    return view;
}

}  // namespace imgctl::oci
