#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace imgctl {

/// A read-only mmap of a whole file; owns the mapping and the descriptor. Empty files map to an
/// empty span.
class MappedFile {
public:
    static Result<MappedFile> open_at(int dir_fd, const std::string& path);
    static Result<MappedFile> from_fd(UniqueFd fd, const std::string& name_for_errors);

    MappedFile(MappedFile&& o) noexcept;
    MappedFile& operator=(MappedFile&& o) noexcept;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    ~MappedFile();

    std::span<const std::byte> data() const { return {static_cast<const std::byte*>(addr_), size_}; }
    int fd() const { return fd_.get(); }

private:
    MappedFile() = default;
    UniqueFd fd_;
    void* addr_ = nullptr;
    size_t size_ = 0;
};

}  // namespace imgctl
