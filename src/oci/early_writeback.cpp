#include "oci/early_writeback.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "base/file_util.hpp"

namespace imgctl::oci {

Result<std::unique_ptr<EarlyWriteback>> EarlyWriteback::create(int dir_fd, uint64_t every) {
    auto fd = open_at(dir_fd, ".", O_RDONLY | O_DIRECTORY);
    if (!fd) return std::move(fd).error();
    return std::unique_ptr<EarlyWriteback>(new EarlyWriteback(std::move(*fd), every));
}

EarlyWriteback::EarlyWriteback(UniqueFd fd, uint64_t every)
    : fd_(std::move(fd)), every_(std::max<uint64_t>(every, 1)), thread_([this] { run(); }) {}

EarlyWriteback::~EarlyWriteback() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

void EarlyWriteback::add(uint64_t bytes) {
    pending_ += bytes;
    if (pending_ < every_) return;
    {
        std::lock_guard lock(mu_);
        if (running_ || requested_) return;  // one at a time; the next add() tries again
        requested_ = true;
    }
    pending_ = 0;
    cv_.notify_all();
}

unsigned EarlyWriteback::syncs() const {
    std::lock_guard lock(mu_);
    return syncs_;
}

void EarlyWriteback::run() {
    std::unique_lock lock(mu_);
    while (true) {
        cv_.wait(lock, [&] { return requested_ || stop_; });
        if (stop_) return;
        requested_ = false;
        running_ = true;
        lock.unlock();
        (void)::syncfs(fd_.get());  // best effort (see the header)
        lock.lock();
        running_ = false;
        ++syncs_;
    }
}

}  // namespace imgctl::oci
