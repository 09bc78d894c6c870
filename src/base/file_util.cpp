#include "base/file_util.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <vector>

namespace imgctl {

std::string random_name_suffix() {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::string s(8, 'x');
    for (auto& c : s) c = kChars[rng() % (sizeof kChars - 1)];
    return s;
}

Error errno_error(int err, std::string_view what) {
    return Error{err, fmt::format("{}: {}", what, std::strerror(err))};
}

Result<UniqueFd> open_at(int dir_fd, const std::string& path, int flags, mode_t mode) {
    int fd = ::openat(dir_fd, path.c_str(), flags | O_CLOEXEC, mode);
    if (fd < 0) return errno_error(errno, fmt::format("opening '{}'", path));
    return UniqueFd(fd);
}

Result<void> write_all(int fd, std::span<const std::byte> data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno_error(errno, "writing");
        }
        data = data.subspan(static_cast<size_t>(n));
    }
    return {};
}

Result<void> write_all(int fd, std::string_view data) {
    return write_all(fd, std::as_bytes(std::span(data.data(), data.size())));
}

Result<void> writev_all(int fd, std::span<const std::span<const std::byte>> parts) {
    constexpr size_t kMaxIov = 64;
    size_t i = 0, skip = 0;  // the first part not fully written, and how much of it was
    while (i < parts.size()) {
        struct iovec iov[kMaxIov];
        size_t n = 0;
        for (size_t k = i; k < parts.size() && n < kMaxIov; ++k, ++n) {
            size_t off = k == i ? skip : 0;
            iov[n].iov_base = const_cast<std::byte*>(parts[k].data() + off);
            iov[n].iov_len = parts[k].size() - off;
        }
        ssize_t w = ::writev(fd, iov, static_cast<int>(n));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return errno_error(errno, "writing");
        if (w == 0) return make_error(EIO, "writing: no progress");
        auto left = static_cast<size_t>(w);
        while (i < parts.size() && left >= parts[i].size() - skip) {
            left -= parts[i].size() - skip;
            skip = 0;
            ++i;
        }
        skip += left;
    }
    return {};
}

Result<void> pwrite_all(int fd, std::span<const std::byte> data, off_t offset) {
    while (!data.empty()) {
        ssize_t n = ::pwrite(fd, data.data(), data.size(), offset);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno_error(errno, "writing");
        }
        data = data.subspan(static_cast<size_t>(n));
        offset += n;
    }
    return {};
}

Result<size_t> pread_full(int fd, std::span<std::byte> buf, off_t offset) {
    size_t done = 0;
    while (done < buf.size()) {
        ssize_t n = ::pread(fd, buf.data() + done, buf.size() - done, offset + static_cast<off_t>(done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno_error(errno, "reading");
        }
        if (n == 0) break;
        done += static_cast<size_t>(n);
    }
    return done;
}

Result<void> copy_file_content(int src, int dst, uint64_t size) {
    if (size == 0) return {};
    if (::ioctl(dst, FICLONE, src) == 0) return {};
    loff_t in_off = 0, out_off = 0;
    while (static_cast<uint64_t>(in_off) < size) {
        ssize_t n = ::copy_file_range(src, &in_off, dst, &out_off, size - static_cast<uint64_t>(in_off), 0);
        if (n > 0) continue;
        if (n == 0) return make_error(EIO, "the file shrank while it was copied");
        if (errno == EINTR) continue;
        // Not supported between these files (another file system type, an old kernel): copy below.
        if (in_off == 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP ||
                            errno == EBADF))
            break;
        return errno_error(errno, "copy_file_range");
    }
    if (static_cast<uint64_t>(in_off) >= size) return {};
    std::vector<std::byte> buf(std::min<uint64_t>(size, 1 << 20));
    for (uint64_t off = 0; off < size;) {
        auto n = pread_full(src, std::span(buf.data(), std::min<uint64_t>(buf.size(), size - off)),
                            static_cast<off_t>(off));
        if (!n) return std::move(n).error();
        if (*n == 0) return make_error(EIO, "the file shrank while it was copied");
        IMGCTL_TRY(pwrite_all(dst, std::span<const std::byte>(buf.data(), *n), static_cast<off_t>(off)));
        off += *n;
    }
    return {};
}

Result<std::string> read_all(int fd) {
    std::string out;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        out.reserve(static_cast<size_t>(st.st_size));
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno_error(errno, "reading");
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

Result<std::string> read_file_at(int dir_fd, const std::string& path) {
    auto fd = open_at(dir_fd, path, O_RDONLY);
    if (!fd) return std::move(fd).error();
    auto data = read_all(fd->get());
    if (!data) return std::move(data).error().context(fmt::format("'{}'", path));
    return data;
}

Result<void> mkdir_p_at(int dir_fd, const std::string& path, mode_t mode) {
    std::string cur;
    size_t pos = 0;
    while (pos <= path.size()) {
        size_t next = path.find('/', pos);
        if (next == std::string::npos) next = path.size();
        cur = path.substr(0, next);
        pos = next + 1;
        if (cur.empty() || cur == "/") continue;
        if (::mkdirat(dir_fd, cur.c_str(), mode) < 0 && errno != EEXIST)
            return errno_error(errno, fmt::format("creating directory '{}'", cur));
    }
    return {};
}

Result<void> fsync_dir_at(int dir_fd, const std::string& path) {
    auto fd = open_at(dir_fd, path, O_RDONLY | O_DIRECTORY);
    if (!fd) return std::move(fd).error();
    if (::fsync(fd->get()) < 0) return errno_error(errno, fmt::format("syncing directory '{}'", path));
    return {};
}

Result<void> remove_tree_at(int dir_fd, const std::string& path) {
    if (::unlinkat(dir_fd, path.c_str(), 0) == 0 || errno == ENOENT) return {};
    if (errno != EISDIR && errno != EPERM) return errno_error(errno, fmt::format("removing '{}'", path));
    int fd = ::openat(dir_fd, path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno_error(errno, fmt::format("opening '{}'", path));
    DIR* d = ::fdopendir(fd);
    if (!d) {
        int e = errno;
        ::close(fd);
        return errno_error(e, fmt::format("opening '{}'", path));
    }
    std::vector<std::string> names;
    while (struct dirent* de = ::readdir(d)) {
        if (std::strcmp(de->d_name, ".") == 0 || std::strcmp(de->d_name, "..") == 0) continue;
        names.emplace_back(de->d_name);
    }
    for (const auto& n : names) {
        auto r = remove_tree_at(::dirfd(d), n);
        if (!r) {
            ::closedir(d);
            return std::move(r).error().context(fmt::format("removing '{}'", path));
        }
    }
    ::closedir(d);
    if (::unlinkat(dir_fd, path.c_str(), AT_REMOVEDIR) < 0 && errno != ENOENT)
        return errno_error(errno, fmt::format("removing '{}'", path));
    return {};
}

}  // namespace imgctl
