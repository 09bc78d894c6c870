#include "store/fs_ops.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fsverity.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/file_util.hpp"
#include "base/hex.hpp"

namespace imgctl::store::detail {

namespace {

bool is_unsupported(int err) { return err == EOPNOTSUPP || err == ENOTTY || err == ENOTSUP; }

// A read-only descriptor of the same inode through /proc: an O_TMPFILE can only be opened
// writable, and FS_IOC_ENABLE_VERITY refuses while a writable descriptor exists (ETXTBSY).
Result<UniqueFd> reopen_read_only(int fd) {
    return open_at(AT_FDCWD, fmt::format("/proc/self/fd/{}", fd), O_RDONLY);
}

}  // namespace

Result<bool> enable_verity(int ro_fd) {
    fsverity_enable_arg arg{};
    arg.version = 1;
    arg.hash_algorithm = FS_VERITY_HASH_ALG_SHA256;
    arg.block_size = 4096;
    if (::ioctl(ro_fd, FS_IOC_ENABLE_VERITY, &arg) == 0) return true;
    if (errno == EEXIST) return true;
    // EINVAL: the file system has fs-verity but cannot build 4096-byte Merkle blocks (ext4 with
    // 1 KiB blocks: the Merkle block may not be larger than the file system block). Our
    // arguments are fixed, so for the store this is the same as having no fs-verity.
    if (is_unsupported(errno) || errno == EINVAL) return false;
    return errno_error(errno, "enabling fs-verity");
}

Result<std::optional<crypto::Digest>> measure_verity(int fd) {
    // struct fsverity_digest ends in a flexible array: give it room for a 64-byte digest.
    alignas(fsverity_digest) uint8_t raw[sizeof(fsverity_digest) + 64] = {};
    auto* hdr = reinterpret_cast<fsverity_digest*>(raw);
    hdr->digest_size = 64;
    if (::ioctl(fd, FS_IOC_MEASURE_VERITY, hdr) < 0) {
        if (errno == ENODATA || is_unsupported(errno)) return std::optional<crypto::Digest>{};
        return errno_error(errno, "measuring fs-verity");
    }
    if (hdr->digest_algorithm != FS_VERITY_HASH_ALG_SHA256 || hdr->digest_size != 32)
        return make_error(EBADMSG, "fs-verity uses algorithm {} (expected SHA-256)", hdr->digest_algorithm);
    crypto::Digest out;
    std::memcpy(out.bytes.data(), raw + sizeof(fsverity_digest), 32);
    return std::optional<crypto::Digest>(out);
}

Result<bool> probe_verity_at(int dir_fd) {
    int fd = ::openat(dir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) return errno_error(errno, "creating a probe file for fs-verity");
    UniqueFd rw(fd);
    IMGCTL_TRY(write_all(rw.get(), std::string_view("imgctl fs-verity probe\n")));
    auto ro = reopen_read_only(rw.get());
    if (!ro) return std::move(ro).error();
    rw.reset();
    return enable_verity(ro->get());
}

Result<TmpFile> TmpFile::create_at(int tmp_dir_fd, std::string_view prefix, bool named) {
    TmpFile t;
    t.tmp_dir_fd_ = tmp_dir_fd;
    int fd = named ? -1 : ::openat(tmp_dir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
    if (fd < 0 && !named && errno != EOPNOTSUPP && errno != EISDIR)
        return errno_error(errno, "creating a temporary file in tmp/");
    for (int attempt = 0; fd < 0 && attempt < 100; ++attempt) {
        t.name_ = fmt::format("{}.{}", prefix, random_name_suffix());
        fd = ::openat(tmp_dir_fd, t.name_.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0 && errno != EEXIST) return errno_error(errno, fmt::format("creating 'tmp/{}'", t.name_));
    }
    if (fd < 0) return errno_error(EEXIST, "creating a temporary file in tmp/");
    t.fd_.reset(fd);
    return t;
}

TmpFile::TmpFile(TmpFile&& o) noexcept
    : tmp_dir_fd_(o.tmp_dir_fd_), fd_(std::move(o.fd_)), name_(std::exchange(o.name_, {})) {}

TmpFile& TmpFile::operator=(TmpFile&& o) noexcept {
    if (this != &o) {
        discard();
        tmp_dir_fd_ = o.tmp_dir_fd_;
        fd_ = std::move(o.fd_);
        name_ = std::exchange(o.name_, {});
    }
    return *this;
}

TmpFile::~TmpFile() { discard(); }

void TmpFile::discard() {
    if (!name_.empty()) (void)::unlinkat(tmp_dir_fd_, name_.c_str(), 0);  // leftovers are gc's job
    name_.clear();
    fd_.reset();
}

namespace {

Result<void> verity_for(int ro_fd, const std::string& name, bool require_verity) {
    auto enabled = enable_verity(ro_fd);
    if (!enabled) return std::move(enabled).error().context(fmt::format("'{}'", name));
    if (!*enabled && require_verity)
        return make_error(ENOTSUP, "'{}': the file system does not support fs-verity (store requires it)", name);
    return {};
}

// Links a complete, durable file under its final name; never renames, so an existing file of
// that name (same content: names are digests) is never replaced. Creates a missing "XX/" once.
// The "XX/" directory of the objects, opened (and created) once per LinkCache, never through a
// symlink.
Result<int> cached_parent(int target_dir_fd, std::string_view sub, LinkCache& cache) {
    if (auto it = cache.dirs.find(sub); it != cache.dirs.end()) return it->second.get();
    auto p = open_dir_nofollow(target_dir_fd, {std::string(sub)}, /*create=*/true);
    if (!p) return std::move(p).error();
    int fd = p->get();
    cache.dirs.emplace(std::string(sub), std::move(*p));
    return fd;
}

Result<void> link_into(int src_dir, const std::string& src, int flags, int target_dir_fd, const std::string& name,
                       LinkCache* cache = nullptr) {
    // The "XX/" parent is opened without following symlinks: a symlink planted as objects/XX
    // must never redirect a link outside the store.
    auto slash = name.find('/');
    std::string leaf = slash == std::string::npos ? name : name.substr(slash + 1);
    UniqueFd parent;
    int dir = target_dir_fd;
    if (slash != std::string::npos) {
        std::string_view sub = std::string_view(name).substr(0, slash);
        auto cached = cache ? cache->dirs.find(sub) : decltype(cache->dirs)::iterator{};
        if (cache && cached != cache->dirs.end()) {
            dir = cached->second.get();
        } else {
            auto p = open_dir_nofollow(target_dir_fd, {std::string(sub)}, /*create=*/true);
            if (!p) return std::move(p).error().context(fmt::format("linking '{}'", name));
            parent = std::move(*p);
            dir = parent.get();
            if (cache) cache->dirs.emplace(std::string(sub), std::move(parent));
        }
    }
    if (::linkat(src_dir, src.c_str(), dir, leaf.c_str(), flags) < 0) {
        if (errno != EEXIST) return errno_error(errno, fmt::format("linking '{}'", name));
        // Same name means same content, but only a regular file counts: a planted symlink or
        // directory must not pass for the object (fsck --repair moves it aside).
        struct stat st {};
        if (::fstatat(dir, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            return make_error(EEXIST, "'{}' exists and is not a regular file (run 'imgctl fsck --repair')", name);
    }
    return {};
}

}  // namespace

Result<void> TmpFile::publish(int target_dir_fd, const std::string& name, bool require_verity) {
    if (::fchmod(fd_.get(), 0644) < 0) return errno_error(errno, "setting the mode of a temporary file");
    if (::fsync(fd_.get()) < 0) return errno_error(errno, fmt::format("syncing '{}'", name));
    auto ro = reopen_read_only(fd_.get());
    if (!ro) return std::move(ro).error();
    fd_ = std::move(*ro);
    IMGCTL_TRY(verity_for(fd_.get(), name, require_verity));
    if (name_.empty()) {
        IMGCTL_TRY(link_into(AT_FDCWD, fmt::format("/proc/self/fd/{}", fd_.get()), AT_SYMLINK_FOLLOW, target_dir_fd, name));
    } else {
        IMGCTL_TRY(link_into(tmp_dir_fd_, name_, 0, target_dir_fd, name));
    }
    discard();
    return {};
}

Result<std::string> TmpFile::stage() {
    if (name_.empty()) return make_error(EINVAL, "staging an anonymous temporary file");
    if (::fchmod(fd_.get(), 0644) < 0) return errno_error(errno, "setting the mode of a temporary file");
    fd_.reset();
    return std::exchange(name_, {});
}

Result<void> link_staged(int tmp_dir_fd, const std::string& staged, int target_dir_fd, const std::string& name,
                         bool require_verity, LinkCache* cache) {
    if (require_verity || !cache || !cache->verity_unsupported) {
        auto ro = open_at(tmp_dir_fd, staged, O_RDONLY | O_NOFOLLOW);
        if (!ro) return std::move(ro).error();
        auto enabled = enable_verity(ro->get());
        if (!enabled) return std::move(enabled).error().context(fmt::format("'{}'", name));
        if (!*enabled && require_verity)
            return make_error(ENOTSUP, "'{}': the file system does not support fs-verity (store requires it)", name);
        if (!*enabled && cache) cache->verity_unsupported = true;
    }
    // One rename moves the name (RENAME_NOREPLACE: an existing object stays); link + unlink
    // where the file system has no renameat2 flags.
    auto slash = name.find('/');
    if (cache && slash != std::string::npos) {
        auto parent = cached_parent(target_dir_fd, name.substr(0, slash), *cache);
        if (!parent) return std::move(parent).error().context(fmt::format("linking '{}'", name));
        std::string leaf = name.substr(slash + 1);
        if (::renameat2(tmp_dir_fd, staged.c_str(), *parent, leaf.c_str(), RENAME_NOREPLACE) == 0) return {};
        if (errno != EINVAL && errno != EEXIST) return errno_error(errno, fmt::format("moving 'tmp/{}' to '{}'", staged, name));
    }
    IMGCTL_TRY(link_into(tmp_dir_fd, staged, 0, target_dir_fd, name, cache));
    if (::unlinkat(tmp_dir_fd, staged.c_str(), 0) < 0)
        return errno_error(errno, fmt::format("removing 'tmp/{}'", staged));
    return {};
}

Result<UniqueFd> open_beneath(int dir_fd, const std::string& path, int flags) {
    open_how how{};
    how.flags = static_cast<uint64_t>(flags | O_CLOEXEC | O_NOFOLLOW);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    long fd = ::syscall(SYS_openat2, dir_fd, path.c_str(), &how, sizeof how);
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    if (errno != ENOSYS) return errno_error(errno, fmt::format("opening '{}'", path));
    auto parts = split_path(path);
    std::string leaf = parts.back();
    parts.pop_back();
    auto dir = open_dir_nofollow(dir_fd, parts, /*create=*/false);
    if (!dir) return std::move(dir).error();
    return open_at(dir->get(), leaf, flags | O_NOFOLLOW);
}

bool is_regular_beneath(int dir_fd, const std::string& path) {
    auto fd = open_beneath(dir_fd, path, O_PATH);
    struct stat st {};
    return fd && ::fstat(fd->get(), &st) == 0 && S_ISREG(st.st_mode);
}

Result<UniqueFd> open_dir_nofollow(int dir_fd, const std::vector<std::string>& components, bool create) {
    UniqueFd cur(::fcntl(dir_fd, F_DUPFD_CLOEXEC, 3));
    if (!cur.is_valid()) return errno_error(errno, "duplicating a directory descriptor");
    for (const auto& c : components) {
        int fd = ::openat(cur.get(), c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && create) {
            if (::mkdirat(cur.get(), c.c_str(), 0755) < 0 && errno != EEXIST)
                return errno_error(errno, fmt::format("creating directory '{}'", c));
            fd = ::openat(cur.get(), c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (fd < 0) return errno_error(errno, fmt::format("opening directory '{}'", c));
        cur.reset(fd);
    }
    return cur;
}

std::vector<std::string> split_path(std::string_view name) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos <= name.size()) {
        size_t next = name.find('/', pos);
        if (next == std::string_view::npos) next = name.size();
        out.emplace_back(name.substr(pos, next - pos));
        pos = next + 1;
    }
    return out;
}

Result<std::vector<DirEntry>> list_dir(int dir_fd, const std::string& path) {
    int fd = ::openat(dir_fd, path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno_error(errno, fmt::format("opening directory '{}'", path));
    DIR* d = ::fdopendir(fd);
    if (!d) {
        int e = errno;
        ::close(fd);
        return errno_error(e, fmt::format("opening directory '{}'", path));
    }
    std::vector<DirEntry> out;
    errno = 0;
    while (struct dirent* de = ::readdir(d)) {
        if (std::strcmp(de->d_name, ".") == 0 || std::strcmp(de->d_name, "..") == 0) continue;
        unsigned char type = de->d_type;
        if (type == DT_UNKNOWN) {
            struct stat st {};
            if (::fstatat(::dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : S_ISLNK(st.st_mode) ? DT_LNK : DT_UNKNOWN;
        }
        out.push_back({de->d_name, type});
    }
    int e = errno;
    ::closedir(d);
    if (e != 0) return errno_error(e, fmt::format("reading directory '{}'", path));
    std::sort(out.begin(), out.end(), [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
    return out;
}

}  // namespace imgctl::store::detail

namespace imgctl::store::detail {

Result<std::vector<ObjectEntry>> list_object_entries(int objects_fd) {
    auto top = list_dir(objects_fd, ".");
    if (!top) return std::move(top).error();
    std::vector<ObjectEntry> out;
    for (const auto& t : *top) {
        if (t.type != DT_DIR || !is_lower_hex(t.name, 2)) {
            out.push_back({t.name, t.type, std::nullopt});
            continue;
        }
        auto inner = list_dir(objects_fd, t.name);
        if (!inner) return std::move(inner).error();
        for (const auto& e : *inner) {
            ObjectEntry oe{t.name + "/" + e.name, e.type, std::nullopt};
            if (e.type == DT_REG && is_lower_hex(e.name, 62)) oe.digest = crypto::Digest::from_hex(t.name + e.name);
            out.push_back(std::move(oe));
        }
    }
    return out;
}

uint64_t apparent_size_at(int dir_fd, const std::string& path) {
    struct stat st {};
    if (::fstatat(dir_fd, path.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) return 0;
    if (S_ISREG(st.st_mode)) return static_cast<uint64_t>(st.st_size);
    if (!S_ISDIR(st.st_mode)) return 0;
    auto entries = list_dir(dir_fd, path);
    if (!entries) return 0;
    uint64_t sum = 0;
    for (const auto& e : *entries) sum += apparent_size_at(dir_fd, path + "/" + e.name);
    return sum;
}

}  // namespace imgctl::store::detail
