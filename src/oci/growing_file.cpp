#include "oci/growing_file.hpp"

#include <unistd.h>

namespace imgctl::oci {

void GrowingFile::grow(int64_t delta) {
    {
        std::lock_guard lock(mu_);
        if (delta < 0 && static_cast<uint64_t>(-delta) > size_) {
            size_ = 0;
        } else {
            size_ = static_cast<uint64_t>(static_cast<int64_t>(size_) + delta);
        }
    }
    if (delta > 0) cv_.notify_all();
}

void GrowingFile::finish(std::optional<Error> error) {
    {
        std::lock_guard lock(mu_);
        done_ = true;
        error_ = std::move(error);
    }
    cv_.notify_all();
}

void GrowingFile::cancel() {
    {
        std::lock_guard lock(mu_);
        cancelled_ = true;
    }
    cv_.notify_all();
}

Result<uint64_t> GrowingFile::wait_beyond(uint64_t pos) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return size_ > pos || done_ || cancelled_; });
    if (cancelled_) return make_error(ECANCELED, "reading a download that was cancelled");
    if (done_ && error_) return *error_;
    return std::max(size_, pos);
}

Result<size_t> GrowingFileSource::read(std::span<std::byte> out) {
    while (!out.empty()) {
        auto have = file_.wait_beyond(pos_);
        if (!have) return std::move(have).error();
        if (*have == pos_) return size_t{0};  // the download is complete
        size_t want = static_cast<size_t>(std::min<uint64_t>(out.size(), *have - pos_));
        ssize_t n = ::pread(fd_, out.data(), want, static_cast<off_t>(pos_));
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno_error(errno, "reading a layer download");
        }
        // 0: a restarted transfer truncated the file after wait_beyond(); wait for it to regrow.
        if (n == 0) continue;
        pos_ += static_cast<uint64_t>(n);
        return static_cast<size_t>(n);
    }
    return size_t{0};
}

}  // namespace imgctl::oci
