#include "base/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "base/file_util.hpp"

namespace imgctl {

Result<MappedFile> MappedFile::open_at(int dir_fd, const std::string& path) {
    auto fd = imgctl::open_at(dir_fd, path, O_RDONLY);
    if (!fd) return std::move(fd).error();
    return from_fd(std::move(fd).value(), path);
}

Result<MappedFile> MappedFile::from_fd(UniqueFd fd, const std::string& name) {
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0) return errno_error(errno, fmt::format("reading '{}'", name));
    MappedFile m;
    m.fd_ = std::move(fd);
    m.size_ = static_cast<size_t>(st.st_size);
    if (m.size_ > 0) {
        void* a = ::mmap(nullptr, m.size_, PROT_READ, MAP_SHARED, m.fd_.get(), 0);
        if (a == MAP_FAILED) return errno_error(errno, fmt::format("mapping '{}'", name));
        m.addr_ = a;
    }
    return m;
}

MappedFile::MappedFile(MappedFile&& o) noexcept
    : fd_(std::move(o.fd_)), addr_(std::exchange(o.addr_, nullptr)), size_(std::exchange(o.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
    if (this != &o) {
        if (addr_) ::munmap(addr_, size_);
        fd_ = std::move(o.fd_);
        addr_ = std::exchange(o.addr_, nullptr);
        size_ = std::exchange(o.size_, 0);
    }
    return *this;
}

MappedFile::~MappedFile() {
    if (addr_) ::munmap(addr_, size_);
}

}  // namespace imgctl
