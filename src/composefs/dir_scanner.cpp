#include "composefs/dir_scanner.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "base/file_util.hpp"
#include "composefs/digest_store.hpp"
#include "composefs/limits.hpp"
#include "crypto/fsverity.hpp"

namespace imgctl::composefs {

namespace {

// A regular file whose content is read by the worker threads.
struct FileJob {
    Inode* inode;
    std::string path;
};

Result<std::vector<Xattr>> read_xattrs(const std::string& path, XattrMode mode) {
    std::vector<Xattr> out;
    if (mode == XattrMode::None) return out;
    std::string names;
    for (;;) {
        ssize_t n = ::llistxattr(path.c_str(), nullptr, 0);
        if (n < 0) {
            if (errno == ENOTSUP) return out;
            return errno_error(errno, fmt::format("listing xattrs of '{}'", path));
        }
        names.resize(n);
        n = ::llistxattr(path.c_str(), names.data(), names.size());
        if (n >= 0) {
            names.resize(n);
            break;
        }
        if (errno != ERANGE) return errno_error(errno, fmt::format("listing xattrs of '{}'", path));
    }
    for (size_t pos = 0; pos < names.size();) {
        std::string name(names.c_str() + pos);
        pos += name.size() + 1;
        if (name.empty()) continue;
        if (mode == XattrMode::User && !name.starts_with("user.")) continue;
        std::string value;
        for (;;) {
            ssize_t n = ::lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
            if (n < 0) return errno_error(errno, fmt::format("reading xattr '{}' of '{}'", name, path));
            value.resize(n);
            n = ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
            if (n >= 0) {
                value.resize(n);
                break;
            }
            if (errno != ERANGE) return errno_error(errno, fmt::format("reading xattr '{}' of '{}'", name, path));
        }
        if (name.size() > kMaxXattrNameLen || value.size() > kMaxXattrValueLen)
            return make_error(ERANGE, "xattr '{}' of '{}' is too long", name, path);
        out.push_back(Xattr{std::move(name), std::move(value)});
    }
    if (xattr_budget(out) > kMaxXattrBudget)
        return make_error(E2BIG, "xattrs of '{}' exceed {} bytes", path, kMaxXattrBudget);
    return out;
}

class Scanner {
public:
    Scanner(const ScanOptions& o, ContentSink* sink) : opts_(o), sink_(sink) {}

    Result<Tree> run(const std::string& root_path) {
        struct stat st;
        if (::lstat(root_path.c_str(), &st) < 0) return errno_error(errno, fmt::format("reading '{}'", root_path));
        if (!S_ISDIR(st.st_mode)) return make_error(ENOTDIR, "'{}' is not a directory", root_path);
        auto root = make_inode(root_path, st);
        if (!root) return std::move(root).error();
        IMGCTL_TRY(scan_dir(root_path, **root));
        IMGCTL_TRY(digest_files());
        if (sink_) IMGCTL_TRY(sink_->finish());
        return Tree(std::move(*root));
    }

private:
    Result<InodePtr> make_inode(const std::string& path, const struct stat& st) {
        auto n = Inode::make(st.st_mode);
        n->uid = st.st_uid;
        n->gid = st.st_gid;
        n->nlink = 1;
        if (!opts_.use_epoch) {
            n->mtime_sec = st.st_mtim.tv_sec;
            n->mtime_nsec = static_cast<uint32_t>(st.st_mtim.tv_nsec);
        }
        if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) n->rdev = st.st_rdev;
        if (S_ISREG(st.st_mode)) n->size = st.st_size;
        if (S_ISLNK(st.st_mode)) {
            std::string target(st.st_size + 1 > 1 ? st.st_size + 1 : 4096, '\0');
            ssize_t len = ::readlink(path.c_str(), target.data(), target.size());
            if (len < 0) return errno_error(errno, fmt::format("reading symlink '{}'", path));
            if (static_cast<size_t>(len) >= target.size() || len == 0 || static_cast<size_t>(len) > kMaxSymlinkLen)
                return make_error(ENAMETOOLONG, "symlink '{}' has an unsupported target length", path);
            target.resize(len);
            n->symlink_target = std::move(target);
            n->size = n->symlink_target.size();
        }
        auto x = read_xattrs(path, opts_.xattrs);
        if (!x) return std::move(x).error();
        n->xattrs = std::move(*x);
        return n;
    }

    Result<void> scan_dir(const std::string& path, Inode& dir) {
        DIR* d = ::opendir(path.c_str());
        if (!d) return errno_error(errno, fmt::format("opening directory '{}'", path));
        std::vector<std::string> names;
        errno = 0;
        while (auto* e = ::readdir(d)) {
            std::string_view n = e->d_name;
            if (n != "." && n != "..") names.emplace_back(n);
        }
        int err = errno;
        ::closedir(d);
        if (err) return errno_error(err, fmt::format("reading directory '{}'", path));
        for (auto& name : names) {
            std::string child_path = path + "/" + name;
            struct stat st;
            if (::lstat(child_path.c_str(), &st) < 0) return errno_error(errno, fmt::format("reading '{}'", child_path));
            if (opts_.skip_devices && (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))) continue;
            if (opts_.keep_hardlinks && !S_ISDIR(st.st_mode) && st.st_nlink > 1) {
                auto it = links_.find({st.st_dev, st.st_ino});
                if (it != links_.end()) {
                    it->second->nlink += 1;
                    dir.children.emplace(std::move(name), it->second);
                    continue;
                }
            }
            auto n = make_inode(child_path, st);
            if (!n) return std::move(n).error();
            if (opts_.keep_hardlinks && !S_ISDIR(st.st_mode) && st.st_nlink > 1) links_.emplace(std::pair(st.st_dev, st.st_ino), *n);
            if (S_ISREG(st.st_mode) && st.st_size > 0) jobs_.push_back(FileJob{n->get(), child_path});
            Inode* raw = n->get();
            dir.children.emplace(std::move(name), std::move(*n));
            if (S_ISDIR(st.st_mode)) IMGCTL_TRY(scan_dir(child_path, *raw));
        }
        return {};
    }

    Result<void> digest_one(const FileJob& job) {
        auto fd = open_at(AT_FDCWD, job.path, O_RDONLY | O_NOFOLLOW);
        if (!fd) return std::move(fd).error();
        struct stat st;
        if (::fstat(fd->get(), &st) < 0) return errno_error(errno, fmt::format("reading '{}'", job.path));
        if (static_cast<uint64_t>(st.st_size) != job.inode->size)
            return make_error(EAGAIN, "'{}' changed size while scanning", job.path);
        if (job.inode->size <= kRecommendedInline) {
            std::string content(job.inode->size, '\0');
            auto n = pread_full(fd->get(), std::as_writable_bytes(std::span(content.data(), content.size())), 0);
            if (!n) return std::move(n).error();
            if (*n != content.size()) return make_error(EAGAIN, "'{}' changed size while scanning", job.path);
            job.inode->content = std::move(content);
            return {};
        }
        auto d = crypto::fsverity_digest_fd(fd->get(), 1);
        if (!d) return std::move(d).error().context(fmt::format("digest of '{}'", job.path));
        job.inode->fsverity = *d;
        job.inode->payload = DigestStore::object_path(*d);
        if (sink_) return sink_->store(fd->get(), job.inode->size, *d);
        return {};
    }

    Result<void> digest_files() {
        unsigned n = opts_.threads;
        if (n == 0) {
            cpu_set_t set;
            n = ::sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
        }
        n = std::max(1u, std::min<unsigned>(n, static_cast<unsigned>(jobs_.size())));
        std::atomic<size_t> next{0};
        std::atomic<bool> failed{false};
        std::mutex mu;
        Error first;
        auto worker = [&] {
            for (size_t i; !failed && (i = next++) < jobs_.size();) {
                auto r = digest_one(jobs_[i]);
                if (!r) {
                    std::lock_guard lock(mu);
                    if (!failed.exchange(true)) first = std::move(r).error();
                }
            }
        };
        std::vector<std::thread> pool;
        for (unsigned t = 1; t < n; ++t) pool.emplace_back(worker);
        worker();
        for (auto& t : pool) t.join();
        if (failed) return first;
        return {};
    }

    const ScanOptions& opts_;
    ContentSink* sink_;
    std::vector<FileJob> jobs_;
    std::map<std::pair<dev_t, ino_t>, InodePtr> links_;
};

}  // namespace

Result<Tree> scan_directory(const std::string& path, const ScanOptions& options, ContentSink* sink) {
    Scanner s(options, sink);
    auto t = s.run(path);
    if (!t) return std::move(t).error().context(fmt::format("scanning '{}'", path));
    return t;
}

}  // namespace imgctl::composefs
