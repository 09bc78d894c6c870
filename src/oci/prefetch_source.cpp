#include "oci/prefetch_source.hpp"

#include <cstring>

namespace imgctl::oci {

PrefetchSource::PrefetchSource(ByteSource& inner, size_t block_size, size_t buffers)
    : inner_(inner), block_size_(std::max<size_t>(block_size, 1)) {
    for (size_t i = 0; i < std::max<size_t>(buffers, 1); ++i)
        free_.push_back(Block{std::unique_ptr<std::byte[]>(new std::byte[block_size_]), 0});
    thread_ = std::thread([this] { produce(); });
}

PrefetchSource::~PrefetchSource() { stop(); }

void PrefetchSource::stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void PrefetchSource::produce() {
    std::unique_lock lock(mu_);
    while (true) {
        cv_.wait(lock, [&] { return !free_.empty() || stopping_; });
        if (stopping_) return;
        Block b = std::move(free_.front());
        free_.pop_front();
        lock.unlock();
        auto n = inner_.read({b.data.get(), block_size_});
        lock.lock();
        if (!n || *n == 0) {
            if (!n) error_ = std::move(n).error();
            end_ = true;
            cv_.notify_all();
            return;
        }
        b.len = *n;
        bool was_empty = ready_.empty();
        ready_.push_back(std::move(b));
        if (was_empty) cv_.notify_all();  // the consumer only ever waits for an empty queue
    }
}

Result<bool> PrefetchSource::advance() {
    if (current_.data && current_pos_ < current_.len) return true;
    std::unique_lock lock(mu_);
    if (current_.data) {
        bool was_empty = free_.empty();
        free_.push_back(std::move(current_));
        if (was_empty) cv_.notify_all();  // the producer only ever waits for an empty free list
    }
    current_ = Block{};
    cv_.wait(lock, [&] { return !ready_.empty() || end_ || stopping_; });
    if (ready_.empty()) {
        if (error_) return *error_;
        if (stopping_ && !end_) return make_error(ECANCELED, "reading a stopped prefetch stream");
        return false;
    }
    current_ = std::move(ready_.front());
    ready_.pop_front();
    current_pos_ = 0;
    return true;
}

Result<size_t> PrefetchSource::read(std::span<std::byte> out) {
    if (out.empty()) return size_t{0};
    auto more = advance();
    if (!more) return std::move(more).error();
    if (!*more) return size_t{0};
    size_t n = std::min(out.size(), current_.len - current_pos_);
    std::memcpy(out.data(), current_.data.get() + current_pos_, n);
    current_pos_ += n;
    return n;
}

Result<std::span<const std::byte>> PrefetchSource::next_block(std::span<std::byte>) {
    auto more = advance();
    if (!more) return std::move(more).error();
    if (!*more) return std::span<const std::byte>{};
    std::span<const std::byte> view(current_.data.get() + current_pos_, current_.len - current_pos_);
    current_pos_ = current_.len;  // handed out: the block goes back to the producer next time
    return view;
}

}  // namespace imgctl::oci
