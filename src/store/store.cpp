// Store: opening/creating a repository, the lock, refs. Objects, images and blobs are in
// store_objects.cpp. The format is docs/store-format.md.
#include "store/store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

#include "base/atomic_file.hpp"
#include "base/file_util.hpp"
#include "base/hex.hpp"
#include "store/fs_ops.hpp"
#include "store/object_batch.hpp"
#include "store/ref_name.hpp"
#include "store/repo_config.hpp"

namespace imgctl::store {

namespace {

constexpr const char* kSubdirs[] = {"objects", "images", "refs", "oci", "oci/blobs", "oci/blobs/sha256", "tmp"};

Result<UniqueFd> open_subdir(int root_fd, const std::string& repo, const char* sub) {
    int fd = ::openat(root_fd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno_error(errno, fmt::format("store '{}' is damaged: opening '{}/'", repo, sub));
    return UniqueFd(fd);
}

// Who holds the lock, for the waiting message: the pid an exclusive holder wrote, if alive.
std::string lock_holder(int lock_fd) {
    char buf[32] = {};
    ssize_t n = ::pread(lock_fd, buf, sizeof buf - 1, 0);
    long pid = n > 0 ? std::strtol(buf, nullptr, 10) : 0;
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) == 0) {
        auto comm = read_file_at(AT_FDCWD, fmt::format("/proc/{}/comm", pid));
        std::string name = comm ? comm->substr(0, comm->find('\n')) : std::string("?");
        return fmt::format("pid {} ({})", pid, name);
    }
    return "another process";
}

Result<UniqueFd> acquire_lock(int root_fd, const std::string& repo, LockMode mode, bool wait,
                              const LockWaitFn& on_wait) {
    bool excl = mode == LockMode::Exclusive;
    int fd = ::openat(root_fd, "lock", (excl ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == EROFS || errno == EACCES || errno == EPERM)
            return errno_error(errno, fmt::format("store '{}' is not writable: opening 'lock'", repo));
        return errno_error(errno, fmt::format("store '{}' is damaged: opening 'lock'", repo));
    }
    UniqueFd lock(fd);
    int op = excl ? LOCK_EX : LOCK_SH;
    if (::flock(fd, op | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK) return errno_error(errno, fmt::format("locking store '{}'", repo));
        std::string who = lock_holder(fd);
        if (!wait) return make_error(EWOULDBLOCK, "store '{}' is locked by {}", repo, who);
        if (on_wait) on_wait(fmt::format("waiting for the lock on '{}/lock' held by {}", repo, who));
        while (::flock(fd, op) < 0) {
            if (errno != EINTR) return errno_error(errno, fmt::format("locking store '{}'", repo));
        }
    }
    if (excl) {
        std::string pid = fmt::format("{}\n", ::getpid());
        // A hint for waiters only (docs/store-format.md "Locking"); failing to write it is harmless.
        if (::ftruncate(fd, 0) == 0) (void)pwrite_all(fd, std::as_bytes(std::span(pid.data(), pid.size())), 0);
    }
    return lock;
}

Result<crypto::Digest> parse_ref_file(std::string_view name, std::string_view text) {
    if (text.size() == 65 && text[64] == '\n') text.remove_suffix(1);
    if (!is_lower_hex(text, 64)) return make_error(EBADMSG, "ref '{}' does not hold an image digest", name);
    return *crypto::Digest::from_hex(text);
}

}  // namespace


Result<Store> Store::init(const std::string& path, VerityPolicy verity) {
    auto ctx = [&](Error e) { return std::move(e).context(fmt::format("creating store '{}'", path)); };
    struct stat st {};
    bool exists = ::stat(path.c_str(), &st) == 0;
    if (exists && !S_ISDIR(st.st_mode)) return ctx(make_error(ENOTDIR, "not a directory"));
    // Probe fs-verity where the files will live, before anything is written.
    std::string probe_dir = path;
    if (!exists) {
        auto slash = path.find_last_of('/');
        probe_dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    }
    auto dir = open_at(AT_FDCWD, probe_dir, O_RDONLY | O_DIRECTORY);
    if (!dir) return ctx(std::move(dir).error());
    if (exists) {
        auto entries = detail::list_dir(dir->get(), ".");
        if (!entries) return ctx(std::move(entries).error());
        for (const auto& e : *entries) {
            if (e.name == "repo.json") return ctx(make_error(EEXIST, "a store already exists there"));
        }
        if (!entries->empty()) return ctx(make_error(ENOTEMPTY, "the directory is not empty"));
    }
    auto supported = detail::probe_verity_at(dir->get());
    if (!supported) return ctx(std::move(supported).error());
    if (verity == VerityPolicy::Require && !*supported)
        return ctx(make_error(ENOTSUP, "verity 'require' asked for, but the file system of '{}' does not support "
                                       "fs-verity (use --verity optional)", probe_dir));
    if (!exists && ::mkdir(path.c_str(), 0755) < 0) return ctx(errno_error(errno, "creating the directory"));
    auto root = open_at(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!root) return ctx(std::move(root).error());
    for (const char* sub : kSubdirs) {
        if (::mkdirat(root->get(), sub, 0755) < 0 && errno != EEXIST)
            return ctx(errno_error(errno, fmt::format("creating '{}/'", sub)));
    }
    auto lock = open_at(root->get(), "lock", O_RDWR | O_CREAT | O_NOFOLLOW, 0644);
    if (!lock) return ctx(std::move(lock).error());
    // repo.json last: its presence means the layout is complete.
    RepoConfig cfg;
    cfg.verity = verity;
    auto f = AtomicFile::create_at(root->get(), "repo.json", 0644, AtomicFile::Mode::NoReplace);
    if (!f) return ctx(std::move(f).error());
    IMGCTL_TRY(write_all(f->fd(), cfg.serialize()));
    auto c = f->commit();
    if (!c) return ctx(std::move(c).error());
    IMGCTL_TRY(fsync_dir_at(root->get(), "."));
    return open(path, LockMode::Exclusive, /*wait=*/false);
}

Result<Store> Store::open(const std::string& path, LockMode lock, bool wait, const LockWaitFn& on_wait) {
    char real[PATH_MAX];
    if (!::realpath(path.c_str(), real)) return errno_error(errno, fmt::format("opening store '{}'", path));
    Store s;
    s.path_ = real;
    s.lock_mode_ = lock;
    int fd = ::open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_error(errno, fmt::format("opening store '{}'", path));
    s.root_fd_.reset(fd);
    auto json = read_file_at(s.root_fd_.get(), "repo.json");
    if (!json) {
        if (json.error().code == ENOENT)
            return make_error(ENOENT, "'{}' is not an imgctl store (no repo.json; create one with 'imgctl init')",
                              s.path_);
        return std::move(json).error().context(fmt::format("opening store '{}'", s.path_));
    }
    auto cfg = RepoConfig::parse(*json);
    if (!cfg) return std::move(cfg).error().context(fmt::format("opening store '{}': repo.json", s.path_));
    s.verity_ = cfg->verity;
    auto l = acquire_lock(s.root_fd_.get(), s.path_, lock, wait, on_wait);
    if (!l) return std::move(l).error();
    s.lock_fd_ = std::move(*l);
    UniqueFd* fds[] = {&s.objects_fd_, &s.images_fd_, &s.refs_fd_, &s.blobs_fd_, &s.tmp_fd_};
    const char* names[] = {"objects", "images", "refs", "oci/blobs/sha256", "tmp"};
    for (size_t i = 0; i < 5; ++i) {
        auto d = open_subdir(s.root_fd_.get(), s.path_, names[i]);
        if (!d) return std::move(d).error();
        *fds[i] = std::move(*d);
    }
    return s;
}

int Store::dir_fd(std::string_view sub) const {
    if (sub == "objects") return objects_fd_.get();
    if (sub == "images") return images_fd_.get();
    if (sub == "refs") return refs_fd_.get();
    if (sub == "blobs") return blobs_fd_.get();
    if (sub == "tmp") return tmp_fd_.get();
    return -1;
}

Result<void> Store::require_writer(std::string_view what) const {
    if (lock_mode_ != LockMode::Exclusive)
        return make_error(EPERM, "{}: store '{}' was opened for reading only", what, path_);
    return {};
}

Result<void> Store::sync() const {
    if (::syncfs(root_fd_.get()) < 0) return errno_error(errno, fmt::format("syncing store '{}'", path_));
    return {};
}

Result<void> Store::set_ref(std::string_view name, const crypto::Digest& image) {
    auto ctx = [&](Error e) { return std::move(e).context(fmt::format("setting ref '{}'", name)); };
    IMGCTL_TRY(require_writer(fmt::format("setting ref '{}'", name)));
    IMGCTL_TRY(validate_ref_name(name));
    if (!has_image(image)) return ctx(make_error(ENOENT, "image {} is not in the store", image.hex()));
    // Objects and the image must be durable before a ref makes them reachable.
    if (auto b = commit_batch(); !b) return ctx(std::move(b).error());
    IMGCTL_TRY(sync());
    auto parts = detail::split_path(name);
    std::string leaf = parts.back();
    parts.pop_back();
    auto dir = detail::open_dir_nofollow(refs_fd_.get(), parts, /*create=*/true);
    if (!dir) return ctx(std::move(dir).error());
    auto f = AtomicFile::create_at(dir->get(), leaf, 0644, AtomicFile::Mode::Replace);
    if (!f) return ctx(std::move(f).error());
    IMGCTL_TRY(write_all(f->fd(), image.hex() + "\n"));
    auto c = f->commit();
    if (!c) return ctx(std::move(c).error());
    return {};
}

Result<crypto::Digest> Store::resolve_ref(std::string_view name) const {
    auto ctx = [&](Error e) { return std::move(e).context(fmt::format("resolving ref '{}'", name)); };
    IMGCTL_TRY(validate_ref_name(name));
    auto parts = detail::split_path(name);
    std::string leaf = parts.back();
    parts.pop_back();
    auto dir = detail::open_dir_nofollow(refs_fd_.get(), parts, /*create=*/false);
    if (!dir) return ctx(std::move(dir).error());
    auto fd = open_at(dir->get(), leaf, O_RDONLY | O_NOFOLLOW);
    if (!fd) return ctx(std::move(fd).error());
    auto text = read_all(fd->get());
    if (!text) return ctx(std::move(text).error());
    return parse_ref_file(name, *text);
}

Result<void> Store::delete_ref(std::string_view name) {
    IMGCTL_TRY(require_writer(fmt::format("deleting ref '{}'", name)));
    IMGCTL_TRY(validate_ref_name(name));
    auto parts = detail::split_path(name);
    std::string leaf = parts.back();
    parts.pop_back();
    auto dir = detail::open_dir_nofollow(refs_fd_.get(), parts, /*create=*/false);
    if (!dir) return std::move(dir).error().context(fmt::format("deleting ref '{}'", name));
    if (::unlinkat(dir->get(), leaf.c_str(), 0) < 0)
        return errno_error(errno, fmt::format("deleting ref '{}'", name));
    // Remove parents that became empty (rmdir fails on a non-empty one: that ends the walk).
    while (!parts.empty()) {
        std::string joined;
        for (const auto& p : parts) joined += (joined.empty() ? "" : "/") + p;
        if (::unlinkat(refs_fd_.get(), joined.c_str(), AT_REMOVEDIR) < 0) break;
        parts.pop_back();
    }
    return {};
}

namespace {

Result<void> collect_refs(int dir_fd, const std::string& prefix, std::vector<RefInfo>& out, int depth) {
    if (depth > 64) return make_error(ELOOP, "refs nested too deeply at '{}'", prefix);
    auto entries = detail::list_dir(dir_fd, prefix.empty() ? "." : prefix);
    if (!entries) return std::move(entries).error();
    for (const auto& e : *entries) {
        std::string name = prefix.empty() ? e.name : prefix + "/" + e.name;
        if (!validate_ref_name(name)) continue;  // stray files: fsck reports them
        if (e.type == DT_DIR) {
            IMGCTL_TRY(collect_refs(dir_fd, name, out, depth + 1));
        } else if (e.type == DT_REG) {
            RefInfo info{name, std::nullopt};
            if (auto fd = open_at(dir_fd, name, O_RDONLY | O_NOFOLLOW)) {
                if (auto text = read_all(fd->get())) {
                    if (auto d = parse_ref_file(name, *text)) info.image = *d;
                }
            }
            out.push_back(std::move(info));
        }
    }
    return {};
}

}  // namespace

Result<std::vector<RefInfo>> Store::list_refs() const {
    std::vector<RefInfo> out;
    auto r = collect_refs(refs_fd_.get(), "", out, 0);
    if (!r) return std::move(r).error().context(fmt::format("listing refs of '{}'", path_));
    return out;
}

Result<crypto::Digest> resolve_image(const Store& store, std::string_view spec) {
    if (spec.size() == 64) {
        if (auto d = crypto::Digest::from_hex(spec)) {
            if (!store.has_image(*d)) return make_error(ENOENT, "image {} is not in store '{}'", d->hex(), store.path());
            return *d;
        }
    }
    if (!validate_ref_name(spec))
        return make_error(EINVAL, "'{}' is neither an image digest (64 hex digits) nor a valid ref name", spec);
    auto d = store.resolve_ref(spec);
    if (!d) {
        if (d.error().code == ENOENT) return make_error(ENOENT, "no image or ref '{}' in store '{}'", spec, store.path());
        return std::move(d).error();
    }
    return d;
}

}  // namespace imgctl::store
