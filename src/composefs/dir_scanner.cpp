#include "composefs/dir_scanner.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
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

// Calls `get(buf, size)` (llistxattr/lgetxattr shaped) with a growing buffer: most entries
// have few or no xattrs, so one call with a small buffer usually suffices.
template <typename F>
Result<std::string> read_sized(F get, const std::string& what) {
    std::string buf(256, '\0');
    for (;;) {
        ssize_t n = get(buf.data(), buf.size());
        if (n >= 0) {
            buf.resize(n);
            return buf;
        }
        if (errno != ERANGE) return errno_error(errno, what);
        n = get(nullptr, 0);
        if (n < 0) return errno_error(errno, what);
        buf.resize(std::max<size_t>(n, buf.size() * 2));
    }
}

Result<std::vector<Xattr>> read_xattrs(const std::string& path, XattrMode mode) {
    std::vector<Xattr> out;
    if (mode == XattrMode::None) return out;
    auto names = read_sized([&](char* b, size_t n) { return ::llistxattr(path.c_str(), b, n); },
                            fmt::format("listing xattrs of '{}'", path));
    if (!names) {
        if (names.error().code == ENOTSUP) return out;
        return std::move(names).error();
    }
    for (size_t pos = 0; pos < names->size();) {
        std::string name(names->c_str() + pos);
        pos += name.size() + 1;
        if (name.empty()) continue;
        if (mode == XattrMode::User && !name.starts_with("user.")) continue;
        auto value = read_sized([&](char* b, size_t n) { return ::lgetxattr(path.c_str(), name.c_str(), b, n); },
                                fmt::format("reading xattr '{}' of '{}'", name, path));
        if (!value) return std::move(value).error();
        if (name.size() > kMaxXattrNameLen || value->size() > kMaxXattrValueLen)
            return make_error(ERANGE, "xattr '{}' of '{}' is too long", name, path);
        out.push_back(Xattr{std::move(name), std::move(*value)});
    }
    if (xattr_budget(out) > kMaxXattrBudget)
        return make_error(E2BIG, "xattrs of '{}' exceed {} bytes", path, kMaxXattrBudget);
    return out;
}

// The fs-verity digest of `size` bytes of `fd`, read through one buffer per thread (the
// scan runs one file per job, so small files must not pay for a fresh buffer each).
Result<crypto::Digest> digest_fd(int fd, uint64_t size) {
    thread_local std::vector<std::byte> buf(1 << 20);
    crypto::FsVerityHasher h(size);
    uint64_t off = 0;
    while (off < size) {
        size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - off));
        auto n = pread_full(fd, std::span(buf.data(), want), static_cast<off_t>(off));
        if (!n) return std::move(n).error();
        if (*n != want) return make_error(EAGAIN, "file shrank while it was being hashed");
        h.update(std::span<const std::byte>(buf.data(), want));
        off += want;
    }
    return h.finish();
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
        // Files are hashed (and stored) by the workers while the walk goes on.
        start_workers();
        auto walked = scan_dir(root_path, **root);
        if (!walked) fail(std::move(walked).error());
        finish_workers();
        if (failed_) return std::move(first_error_);
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
            if (failed_) return {};  // a worker failed: run() reports its error
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
            if (S_ISREG(st.st_mode) && st.st_size > 0) enqueue(FileJob{n->get(), child_path});
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
        auto d = digest_fd(fd->get(), job.inode->size);
        if (!d) return std::move(d).error().context(fmt::format("digest of '{}'", job.path));
        job.inode->fsverity = *d;
        job.inode->payload = DigestStore::object_path(*d);
        if (sink_) return sink_->store(fd->get(), job.inode->size, *d);
        return {};
    }

    void fail(Error e) {
        std::lock_guard lock(mu_);
        if (!failed_.exchange(true)) first_error_ = std::move(e);
        cv_.notify_all();
    }

    void enqueue(FileJob job) {
        std::lock_guard lock(mu_);
        queue_.push_back(std::move(job));
        cv_.notify_one();
    }

    void worker() {
        for (;;) {
            FileJob job;
            {
                std::unique_lock lock(mu_);
                cv_.wait(lock, [&] { return failed_ || walk_done_ || !queue_.empty(); });
                if (failed_ || queue_.empty()) return;  // failed, or walk done and nothing left
                job = std::move(queue_.front());
                queue_.pop_front();
            }
            if (auto r = digest_one(job); !r) {
                fail(std::move(r).error());
                return;
            }
        }
    }

    void start_workers() {
        unsigned n = opts_.threads;
        if (n == 0) {
            cpu_set_t set;
            n = ::sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
        }
        for (unsigned t = 0; t < std::max(1u, n); ++t) pool_.emplace_back([this] { worker(); });
    }

    void finish_workers() {
        {
            std::lock_guard lock(mu_);
            walk_done_ = true;
            cv_.notify_all();
        }
        for (auto& t : pool_) t.join();
        pool_.clear();
    }

    const ScanOptions& opts_;
    ContentSink* sink_;
    std::vector<std::thread> pool_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<FileJob> queue_;  // files waiting for a worker
    bool walk_done_ = false;
    std::atomic<bool> failed_{false};
    Error first_error_;
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
