#include "base/atomic_file.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>


#include "base/file_util.hpp"

namespace imgctl {

namespace {

std::string parent_of(const std::string& name) {
    auto slash = name.rfind('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return name.substr(0, slash);
}

}  // namespace

Result<AtomicFile> AtomicFile::create_at(int dir_fd, const std::string& name, mode_t mode, Mode replace) {
    AtomicFile f;
    f.dir_fd_ = dir_fd;
    f.name_ = name;
    f.replace_ = replace;
    f.mode_ = mode;
    std::string parent = parent_of(name);
    int fd = ::openat(dir_fd, parent.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
    if (fd < 0) {
        if (errno != EOPNOTSUPP && errno != EISDIR && errno != ENOENT)
            return errno_error(errno, fmt::format("creating a temporary file for '{}'", name));
        if (errno == ENOENT) return errno_error(errno, fmt::format("creating '{}'", name));
        // No O_TMPFILE on this file system: a hidden name next to the target.
        auto slash = name.rfind('/');
        std::string base = slash == std::string::npos ? name : name.substr(slash + 1);
        std::string dir = slash == std::string::npos ? "" : name.substr(0, slash + 1);
        for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
            f.tmp_name_ = dir + ".#" + base + "." + random_name_suffix();
            fd = ::openat(dir_fd, f.tmp_name_.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, mode);
            if (fd < 0 && errno != EEXIST)
                return errno_error(errno, fmt::format("creating '{}'", f.tmp_name_));
        }
        if (fd < 0) return errno_error(EEXIST, fmt::format("creating a temporary file for '{}'", name));
    }
    f.fd_.reset(fd);
    return f;
}

AtomicFile::AtomicFile(AtomicFile&& o) noexcept
    : dir_fd_(o.dir_fd_), name_(std::move(o.name_)), tmp_name_(std::move(o.tmp_name_)), fd_(std::move(o.fd_)),
      replace_(o.replace_), mode_(o.mode_), done_(o.done_) {
    o.done_ = true;
}

AtomicFile& AtomicFile::operator=(AtomicFile&& o) noexcept {
    if (this != &o) {
        discard();
        dir_fd_ = o.dir_fd_;
        name_ = std::move(o.name_);
        tmp_name_ = std::move(o.tmp_name_);
        fd_ = std::move(o.fd_);
        replace_ = o.replace_;
        mode_ = o.mode_;
        done_ = o.done_;
        o.done_ = true;
    }
    return *this;
}

AtomicFile::~AtomicFile() { discard(); }

void AtomicFile::discard() {
    if (done_) return;
    done_ = true;
    if (!tmp_name_.empty()) (void)::unlinkat(dir_fd_, tmp_name_.c_str(), 0);  // best effort cleanup
    fd_.reset();
}

Result<void> AtomicFile::commit(bool sync) {
    if (done_) return make_error(EINVAL, "'{}' was already committed or discarded", name_);
    // O_TMPFILE files are created with the umask applied; make the mode exact.
    if (::fchmod(fd_.get(), mode_) < 0) return errno_error(errno, fmt::format("setting the mode of '{}'", name_));
    if (sync && ::fsync(fd_.get()) < 0) return errno_error(errno, fmt::format("syncing '{}'", name_));
    if (tmp_name_.empty()) {
        std::string proc = fmt::format("/proc/self/fd/{}", fd_.get());
        if (replace_ == Mode::NoReplace) {
            if (::linkat(AT_FDCWD, proc.c_str(), dir_fd_, name_.c_str(), AT_SYMLINK_FOLLOW) < 0)
                return errno_error(errno, fmt::format("linking '{}'", name_));
        } else {
            // linkat cannot replace: link under a temporary name, then rename over the target.
            for (int attempt = 0;; ++attempt) {
                std::string tmp = name_ + ".#" + random_name_suffix();
                if (::linkat(AT_FDCWD, proc.c_str(), dir_fd_, tmp.c_str(), AT_SYMLINK_FOLLOW) == 0) {
                    tmp_name_ = tmp;
                    break;
                }
                if (errno != EEXIST || attempt > 100) return errno_error(errno, fmt::format("linking '{}'", name_));
            }
        }
    }
    if (!tmp_name_.empty()) {
        unsigned flags = replace_ == Mode::NoReplace ? RENAME_NOREPLACE : 0;
        if (::renameat2(dir_fd_, tmp_name_.c_str(), dir_fd_, name_.c_str(), flags) < 0)
            return errno_error(errno, fmt::format("renaming to '{}'", name_));
        tmp_name_.clear();
    }
    done_ = true;
    fd_.reset();
    if (sync) {
        auto slash = name_.rfind('/');
        std::string parent = slash == std::string::npos ? "." : (slash == 0 ? "/" : name_.substr(0, slash));
        IMGCTL_TRY(fsync_dir_at(dir_fd_, parent));
    }
    return {};
}

}  // namespace imgctl
