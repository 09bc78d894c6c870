#include "composefs/dir_scanner.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "base/file_util.hpp"
#include "base/guarded_map.hpp"
#include "base/log.hpp"
#include "composefs/digest_store.hpp"
#include "composefs/limits.hpp"
#include "composefs/scan_xattrs.hpp"
#include "crypto/fsverity.hpp"
#include "store/digest_cache.hpp"

namespace imgctl::composefs {

namespace {

// Bytes read per call while hashing: large enough that syscalls are rare, small enough that
// the block just copied from the page cache is still in L2 when SHA-256 reads it.
constexpr size_t kReadChunk = 256 * 1024;
constexpr uint64_t kMapMin = 1u << 20;
constexpr size_t kMapWindow = 8u << 20;
// Files opened by the walk and waiting for a worker: bounds the open descriptors.
constexpr size_t kMaxQueued = 256;

// A regular file whose content is read by the worker threads, through the descriptor the walk
// opened (one open per file). `dir` and `name` only build messages: `dir` lives in
// Scanner::dir_paths_, `name` is the key of the file in its parent's children (stable nodes).
struct FileJob {
    Inode* inode = nullptr;
    UniqueFd fd;
    const std::string* dir = nullptr;
    std::string name;  // a copy: the directory's entries move as it grows
    struct stat st {};  // as the walk saw it: a sink's copy is checked against it, the cache keyed by it
    std::string path() const { return *dir + "/" + name; }
};

// Reads exactly `want` bytes at `off` into `buf`. With `at_end` it also checks that the file
// has no byte after them (it did not grow), by asking for one byte more in the same pread():
// `buf` then needs room for want + 1 bytes. A regular file reads short only at its end, so one
// call usually answers both. EAGAIN when the size is not what the walk saw.
Result<void> read_exact(int fd, std::span<std::byte> buf, size_t want, uint64_t off, bool at_end) {
    if (!at_end) {
        auto n = pread_full(fd, buf.first(want), static_cast<off_t>(off));
        if (!n) return std::move(n).error();
        if (*n != want) return make_error(EAGAIN, "the file changed size while it was read");
        return {};
    }
    const size_t ask = want + 1;
    size_t got = 0;
    for (;;) {  // at least one call: want may be 0
        ssize_t n = ::pread(fd, buf.data() + got, ask - got, static_cast<off_t>(off + got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno_error(errno, "reading");
        got += static_cast<size_t>(n);
        if (n == 0 || got >= want) break;
    }
    // Short of the extra byte: the end was reached exactly at `want`.
    if (got != want) return make_error(EAGAIN, "the file changed size while it was read");
    return {};
}

// The fs-verity digest of the `size` bytes of `fd`, read through one buffer per thread (the
// scan runs one file per job, so small files must not pay for a fresh buffer each).
// Files of kMapMin bytes or more are hashed straight from the page cache through mmap windows
// (read_mapped: a file that shrinks meanwhile is EAGAIN, not SIGBUS): no copy, 13 % less CPU
// than pread for such files here. Smaller ones are read (mapping costs more than it saves).
Result<crypto::Digest> digest_fd(int fd, uint64_t size) {
    thread_local crypto::FsVerityHasher h(0);
    if (size >= kMapMin) {
        h.reset(size);
        auto r = read_mapped(fd, size, kMapWindow, [](std::span<const std::byte> d) { h.update(d); });
        if (r) return h.finish();
        if (r.error().code != ENODEV) return std::move(r).error();
    }
    if (size > kReadChunk) (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);  // a hint only
    thread_local std::vector<std::byte> buf(kReadChunk + 1);
    h.reset(size);
    for (uint64_t off = 0; off < size;) {
        size_t want = static_cast<size_t>(std::min<uint64_t>(kReadChunk, size - off));
        IMGCTL_TRY(read_exact(fd, std::span(buf), want, off, off + want == size));
        h.update(std::span<const std::byte>(buf.data(), want));
        off += want;
    }
    return h.finish();
}

// One directory entry as getdents64 reports it.
struct DirEntry {
    std::string name;
    unsigned char type;
};

Result<std::vector<DirEntry>> read_entries(int dir_fd) {
    std::vector<DirEntry> out;
    alignas(8) char buf[32768];
    for (;;) {
        ssize_t n = ::getdents64(dir_fd, buf, sizeof buf);
        if (n < 0) return errno_error(errno, "reading the directory");
        if (n == 0) return out;
        for (ssize_t pos = 0; pos < n;) {
            auto* e = reinterpret_cast<struct dirent64*>(buf + pos);
            pos += e->d_reclen;
            std::string_view name = e->d_name;
            if (name != "." && name != "..") out.push_back(DirEntry{std::string(name), e->d_type});
        }
    }
}

class Scanner {
public:
    Scanner(const ScanOptions& o, ContentSink* sink) : opts_(o), sink_(sink) {}

    Result<Tree> run(const std::string& root_path) {
        struct stat st;
        if (::lstat(root_path.c_str(), &st) < 0) return errno_error(errno, fmt::format("reading '{}'", root_path));
        if (!S_ISDIR(st.st_mode)) return make_error(ENOTDIR, "'{}' is not a directory", root_path);
        auto fd = open_at(AT_FDCWD, root_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        if (!fd) return std::move(fd).error();
        if (::fstat(fd->get(), &st) < 0) return errno_error(errno, fmt::format("reading '{}'", root_path));
        const std::string& path = dir_paths_.emplace_back(root_path);
        auto root = make_inode(st, XattrTarget{fd->get(), {}}, -1, path, [&] { return path; });
        if (!root) return std::move(root).error();
        // Files are hashed (and stored) by the workers while the walk goes on.
        start_workers();
        auto walked = scan_dir(fd->get(), path, **root);
        if (!walked) fail(std::move(walked).error());
        finish_workers();
        if (failed_) return std::move(first_error_);
        log_debug("composefs", "scanned '{}': {} files hashed, {} from cache", root_path, hashed_.load(), from_cache_);
        if (sink_) IMGCTL_TRY(sink_->finish());
        return Tree(std::move(*root));
    }

private:
    // `target` reads the xattrs; a symlink's target is read with readlinkat(dir_fd, name).
    template <typename P>
    Result<InodePtr> make_inode(const struct stat& st, const XattrTarget& target, int dir_fd,
                                const std::string& name, P path) {
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
            std::string target_buf(st.st_size + 1 > 1 ? st.st_size + 1 : 4096, '\0');
            ssize_t len = ::readlinkat(dir_fd, name.c_str(), target_buf.data(), target_buf.size());
            if (len < 0) return errno_error(errno, fmt::format("reading symlink '{}'", path()));
            if (static_cast<size_t>(len) >= target_buf.size() || len == 0 || static_cast<size_t>(len) > kMaxSymlinkLen)
                return make_error(ENAMETOOLONG, "symlink '{}' has an unsupported target length", path());
            target_buf.resize(len);
            n->set_symlink_target(std::move(target_buf));
            n->size = n->symlink_target().size();
        }
        auto x = read_xattrs(target, opts_.xattrs, path);
        if (!x) return std::move(x).error();
        n->xattrs = std::move(*x);
        return n;
    }

    // Opens an entry the walk reads through a descriptor (regular files, directories) and
    // fstat()s it; other types (and a file that cannot be opened) get fstatat() and no fd.
    Result<UniqueFd> open_entry(int dir_fd, const DirEntry& e, struct stat& st, const std::string& dir) {
        int flags = e.type == DT_DIR ? O_RDONLY | O_DIRECTORY | O_NOFOLLOW
                                     : O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
        if (e.type == DT_REG || e.type == DT_DIR) {
            int fd = ::openat(dir_fd, e.name.c_str(), flags | O_CLOEXEC);
            if (fd >= 0) {
                UniqueFd owned(fd);
                if (::fstat(fd, &st) < 0) return errno_error(errno, fmt::format("reading '{}/{}'", dir, e.name));
                if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) return owned;
            }
        }
        if (::fstatat(dir_fd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0)
            return errno_error(errno, fmt::format("reading '{}/{}'", dir, e.name));
        if (S_ISDIR(st.st_mode) || (S_ISREG(st.st_mode) && st.st_size > 0)) {
            auto fd = open_at(dir_fd, e.name, S_ISDIR(st.st_mode) ? O_RDONLY | O_DIRECTORY | O_NOFOLLOW
                                                                     : O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
            if (!fd) return std::move(fd).error().context(fmt::format("opening '{}/{}'", dir, e.name));
            return fd;
        }
        return UniqueFd();
    }

    Result<void> scan_dir(int dir_fd, const std::string& path, Inode& dir) {
        auto entries = read_entries(dir_fd);
        if (!entries) return std::move(entries).error().context(fmt::format("reading directory '{}'", path));
        for (auto& e : *entries) {
            if (failed_) return {};  // a worker failed: run() reports its error
            auto child_path = [&] { return path + "/" + e.name; };
            struct stat st;
            auto fd = open_entry(dir_fd, e, st, path);
            if (!fd) return std::move(fd).error();
            if (opts_.skip_devices && (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))) continue;
            bool linked = opts_.keep_hardlinks && !S_ISDIR(st.st_mode) && st.st_nlink > 1;
            if (linked) {
                auto it = links_.find({st.st_dev, st.st_ino});
                if (it != links_.end()) {
                    it->second->nlink += 1;
                    dir.children().emplace(std::move(e.name), it->second);
                    continue;
                }
            }
            XattrTarget target{fd->get(), {}};
            if (!fd->is_valid()) target.proc_path = fmt::format("/proc/self/fd/{}/{}", dir_fd, e.name);
            auto n = make_inode(st, target, dir_fd, e.name, child_path);
            if (!n) return std::move(n).error();
            if (linked) links_.emplace(std::pair(st.st_dev, st.st_ino), *n);
            Inode* raw = n->get();
            dir.children().emplace(e.name, std::move(*n));
            if (S_ISREG(st.st_mode) && st.st_size > 0) {
                if (!from_cache(st, *raw)) enqueue(FileJob{raw, std::move(*fd), &path, std::move(e.name), st});
            } else if (S_ISDIR(st.st_mode)) {
                const std::string& sub = dir_paths_.emplace_back(path + "/" + e.name);
                IMGCTL_TRY(scan_dir(fd->get(), sub, *raw));
            }
        }
        return {};
    }

    // An external file whose stamp the digest cache knows (and whose object the store has)
    // gets its digest without being read.
    bool from_cache(const struct stat& st, Inode& n) {
        if (!opts_.digest_cache || n.size <= kRecommendedInline) return false;
        auto d = opts_.digest_cache->lookup(st);
        if (!d) return false;
        n.set_fsverity(*d);
        n.set_payload(DigestStore::object_path(*d));
        opts_.digest_cache->record(st, *d);
        ++from_cache_;
        return true;
    }

    Result<void> digest_one(const FileJob& job) {
        uint64_t size = job.inode->size;
        auto ctx = [&](Error e) { return std::move(e).context(fmt::format("reading '{}'", job.path())); };
        if (size <= kRecommendedInline) {
            std::string content(size + 1, '\0');  // + 1: room for read_exact's end check
            if (auto r = read_exact(job.fd.get(), std::as_writable_bytes(std::span(content)), size, 0, true); !r)
                return ctx(std::move(r).error());
            content.resize(size);
            job.inode->set_content(std::move(content));
            return {};
        }
        auto d = digest_fd(job.fd.get(), size);
        if (!d) return ctx(std::move(d).error());
        job.inode->set_fsverity(*d);
        job.inode->set_payload(DigestStore::object_path(*d));
        if (sink_) {
            if (auto r = sink_->store(job.fd.get(), size, *d); !r)
                return std::move(r).error().context(fmt::format("storing '{}'", job.path()));
            // The sink copied without hashing again: a write since the walk's fstat (which
            // changes mtime or ctime) fails the scan before the batch is committed.
            struct stat st;
            if (::fstat(job.fd.get(), &st) < 0) return ctx(errno_error(errno, "fstat"));
            auto same = [](const struct timespec& a, const struct timespec& b) {
                return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
            };
            if (static_cast<uint64_t>(st.st_size) != size || !same(st.st_mtim, job.st.st_mtim) ||
                !same(st.st_ctim, job.st.st_ctim))
                return make_error(EAGAIN, "'{}' changed while it was being stored", job.path());
        }
        if (opts_.digest_cache) opts_.digest_cache->record(job.st, *d);
        hashed_.fetch_add(1, std::memory_order_relaxed);
        return {};
    }

    void fail(Error e) {
        std::lock_guard lock(mu_);
        if (!failed_.exchange(true)) first_error_ = std::move(e);
        cv_.notify_all();
        space_cv_.notify_all();
    }

    // When kMaxQueued files are already open and waiting, waits until half of them are taken:
    // waking the walk for every file taken from a full queue would cost a context switch per file.
    void enqueue(FileJob job) {
        std::unique_lock lock(mu_);
        if (queue_.size() >= kMaxQueued) {
            walk_waiting_ = true;
            space_cv_.wait(lock, [&] { return failed_ || queue_.size() <= kMaxQueued / 2; });
            walk_waiting_ = false;
        }
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
                if (walk_waiting_ && queue_.size() <= kMaxQueued / 2) {
                    walk_waiting_ = false;  // one wake-up is enough
                    space_cv_.notify_one();
                }
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
        queue_.clear();  // after a failure: closes the descriptors nobody read
    }

    const ScanOptions& opts_;
    ContentSink* sink_;
    std::vector<std::thread> pool_;
    std::mutex mu_;
    std::condition_variable cv_;        // workers: a job, the end of the walk, or a failure
    std::condition_variable space_cv_;  // the walk: room in the queue, or a failure
    std::deque<FileJob> queue_;         // files waiting for a worker
    bool walk_done_ = false;
    bool walk_waiting_ = false;         // the walk sleeps on space_cv_ (queue full)
    std::atomic<bool> failed_{false};
    std::atomic<size_t> hashed_{0};  // external files read and hashed
    size_t from_cache_ = 0;          // external files whose digest came from the cache (walk thread)
    Error first_error_;
    std::deque<std::string> dir_paths_;  // every directory's path, for messages (stable addresses)
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
