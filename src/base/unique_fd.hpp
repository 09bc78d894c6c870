#pragma once

#include <unistd.h>

#include <utility>

namespace imgctl {

/// Owns one file descriptor; closes it on destruction. Move-only (libcamera's shape).
class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        reset(other.release());
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    /// Gives up ownership and returns the descriptor.
    [[nodiscard]] int release() { return std::exchange(fd_, -1); }
    /// Closes the current descriptor (if any) and takes `fd`.
    void reset(int fd = -1) {
        if (fd_ >= 0) (void)::close(fd_);  // close errors on a read fd carry no information
        fd_ = fd;
    }
    int get() const { return fd_; }
    bool is_valid() const { return fd_ >= 0; }

private:
    int fd_ = -1;
};

}  // namespace imgctl
