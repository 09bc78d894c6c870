#include "composefs/mount.hpp"

#include <fcntl.h>
#include <linux/fsverity.h>
#include <linux/loop.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <array>
#include <cstring>

#include "base/file_util.hpp"
#include "base/log.hpp"
#include "base/mapped_file.hpp"
#include "base/temp_dir.hpp"
#include "composefs/erofs_image.hpp"
#include "composefs/erofs_reader.hpp"

namespace imgctl::composefs {

namespace {

// ---- Every kernel call of this module, one small function each (DESIGN §4). ----

// Reads the fs-context log of an fsopen() fd ("e ...", "w ..." lines) after a failed fsconfig.
std::string fs_context_log(int fs_fd) {
    std::string log;
    std::array<char, 1024> buf;
    for (int i = 0; i < 32; ++i) {  // the kernel keeps at most 8 messages; stop anyway
        ssize_t n = ::read(fs_fd, buf.data(), buf.size());
        if (n <= 0) break;
        if (!log.empty()) log += "; ";
        log.append(buf.data(), static_cast<size_t>(n));
    }
    return log;
}

Error kernel_error(int err, int fs_fd, std::string what) {
    std::string klog = fs_fd >= 0 ? fs_context_log(fs_fd) : std::string();
    if (!klog.empty()) what += " (kernel: " + klog + ")";
    return errno_error(err, what);
}

Result<UniqueFd> fs_open(const char* type) {
    int fd = ::fsopen(type, FSOPEN_CLOEXEC);
    if (fd < 0) return errno_error(errno, fmt::format("fsopen(\"{}\")", type));
    return UniqueFd(fd);
}

Result<void> fs_set(int fs_fd, const char* key, const std::string* value = nullptr) {
    int rc = value ? ::fsconfig(fs_fd, FSCONFIG_SET_STRING, key, value->c_str(), 0)
                   : ::fsconfig(fs_fd, FSCONFIG_SET_FLAG, key, nullptr, 0);
    if (rc < 0) {
        int err = errno;
        return kernel_error(err, fs_fd, value ? fmt::format("setting {}={}", key, *value) : fmt::format("setting {}", key));
    }
    return {};
}

// FSCONFIG_CMD_CREATE + fsmount(): a detached mount, returned as an O_PATH-like mount fd.
Result<UniqueFd> fs_create_mount(int fs_fd, bool read_only) {
    if (::fsconfig(fs_fd, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0) {
        int err = errno;
        return kernel_error(err, fs_fd, "creating the file system");
    }
    int m = ::fsmount(fs_fd, FSMOUNT_CLOEXEC, read_only ? MOUNT_ATTR_RDONLY : 0);
    if (m < 0) return errno_error(errno, "fsmount");
    return UniqueFd(m);
}

Result<void> attach_mount(int mnt_fd, const std::string& target) {
    struct mount_attr attr {};
    attr.propagation = MS_PRIVATE;  // nothing of ours propagates into peer namespaces
    (void)::mount_setattr(mnt_fd, "", AT_EMPTY_PATH, &attr, sizeof attr);  // best effort, ignoring
    if (::move_mount(mnt_fd, "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0)
        return errno_error(errno, fmt::format("attaching the mount on '{}'", target));
    return {};
}

Result<void> legacy_mount(const char* src, const std::string& target, const char* type, unsigned long flags,
                          const std::string& data) {
    if (::mount(src, target.c_str(), type, flags, data.empty() ? nullptr : data.c_str()) < 0)
        return errno_error(errno, fmt::format("mount -t {} -o '{}' on '{}'", type, data, target));
    return {};
}

void detach(const std::string& path) {
    if (::umount2(path.c_str(), MNT_DETACH) < 0) log_debug("composefs", "detaching '{}': {}, ignoring", path, strerror(errno));
}

// A free loop device bound read-only to `file_fd`; it disappears with its last user (autoclear).
Result<UniqueFd> loop_attach(int file_fd, std::string& dev_path) {
    auto ctl = open_at(AT_FDCWD, "/dev/loop-control", O_RDWR);
    if (!ctl) return std::move(ctl).error();
    for (int attempt = 0; attempt < 16; ++attempt) {  // another process may grab the device first
        int n = ::ioctl(ctl->get(), LOOP_CTL_GET_FREE);
        if (n < 0) return errno_error(errno, "LOOP_CTL_GET_FREE");
        dev_path = fmt::format("/dev/loop{}", n);
        auto dev = open_at(AT_FDCWD, dev_path, O_RDONLY);
        if (!dev) return std::move(dev).error();
        struct loop_config cfg {};
        cfg.fd = static_cast<uint32_t>(file_fd);
        cfg.block_size = 4096;
        cfg.info.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO;
        int rc = ::ioctl(dev->get(), LOOP_CONFIGURE, &cfg);
        if (rc < 0 && errno == EINVAL) {  // direct I/O needs aligned backing storage; retry without
            cfg.info.lo_flags &= ~LO_FLAGS_DIRECT_IO;
            rc = ::ioctl(dev->get(), LOOP_CONFIGURE, &cfg);
        }
        if (rc == 0) return std::move(dev).value();
        if (errno != EBUSY) return errno_error(errno, fmt::format("LOOP_CONFIGURE on '{}'", dev_path));
    }
    return make_error(EBUSY, "no free loop device after 16 attempts");
}

bool no_verity_support(int err) { return err == EOPNOTSUPP || err == ENOTTY || err == EINVAL; }

}  // namespace

Result<crypto::Digest> measure_verity(int fd) {
    // struct fsverity_digest ends in a flexible array: use an aligned buffer behind it.
    alignas(fsverity_digest) std::array<uint8_t, sizeof(fsverity_digest) + 64> buf{};
    auto* hdr = reinterpret_cast<fsverity_digest*>(buf.data());
    hdr->digest_size = 64;
    if (::ioctl(fd, FS_IOC_MEASURE_VERITY, hdr) < 0) return errno_error(errno, "FS_IOC_MEASURE_VERITY");
    if (hdr->digest_algorithm != FS_VERITY_HASH_ALG_SHA256 || hdr->digest_size != 32)
        return make_error(EINVAL, "fs-verity uses hash algorithm {}, not SHA-256", hdr->digest_algorithm);
    crypto::Digest out;
    std::memcpy(out.bytes.data(), buf.data() + sizeof(fsverity_digest), 32);
    return out;
}

namespace {

Result<void> check_image_digest(int fd, const crypto::Digest& want) {
    auto got = measure_verity(fd);
    if (!got) {
        int err = got.error().code;
        if (err == ENODATA)
            return make_error(ENODATA, "the image has no fs-verity enabled (enable it with 'fsverity enable', "
                                       "or mount without --digest)");
        if (no_verity_support(err))
            return make_error(EOPNOTSUPP, "the kernel or the image's file system has no fs-verity support ({}); "
                                          "mount without --digest", strerror(err));
        return std::move(got).error();
    }
    if (*got != want) return make_error(EPERM, "the image has fs-verity digest {}, expected {}", got->hex(), want.hex());
    return {};
}

// Whether overlayfs verity=require can work: the first object the image references (or the
// first basedir itself) must be measurable. Returns true/false, or an error for Require.
Result<bool> probe_object_verity(int image_fd, const MountOptions& o) {
    UniqueFd dup(::fcntl(image_fd, F_DUPFD_CLOEXEC, 3));
    if (!dup.is_valid()) return errno_error(errno, "dup");
    auto map = MappedFile::from_fd(std::move(dup), "image");
    if (!map) return std::move(map).error();
    auto files = list_external_files(map->data(), "image");
    if (!files) return std::move(files).error();
    std::string probe_dir = o.basedirs.front(), probe_name = ".";
    for (const auto& f : *files) {
        if (f.payload.empty()) continue;
        for (const auto& b : o.basedirs) {
            if (::faccessat(AT_FDCWD, (b + "/" + f.payload).c_str(), F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
                probe_dir = b, probe_name = f.payload;
                break;
            }
        }
        break;
    }
    auto fd = open_at(AT_FDCWD, probe_dir + "/" + probe_name, O_RDONLY);
    if (!fd) return std::move(fd).error();
    auto d = measure_verity(fd->get());
    bool strict = o.verity == VerityMode::Require;
    if (d || d.error().code == ENODATA) {
        if (d || probe_name == ".") return true;  // a directory answers ENODATA on a verity-capable fs
        if (!strict) return false;
        return make_error(ENODATA, "object '{}' in '{}' has no fs-verity enabled; use --verity optional or --verity off",
                          probe_name, probe_dir);
    }
    if (!no_verity_support(d.error().code)) return std::move(d).error();
    if (!strict) return false;
    return make_error(EOPNOTSUPP, "no fs-verity: the kernel or the file system of '{}' does not support it ({}), so "
                                  "'verity=require' cannot work; use --verity optional or --verity off",
                      probe_dir, strerror(d.error().code));
}

// Mounts the EROFS of `image_fd` read-only on `dir` (FORMAT-NOTES §15 step 3).
Result<void> mount_erofs(int image_fd, bool has_acl, bool force_loop, const std::string& dir) {
    auto fs = fs_open("erofs");
    std::string source = fmt::format("/proc/self/fd/{}", image_fd);
    UniqueFd loop;
    if (force_loop) {
        auto dev = loop_attach(image_fd, source);
        if (!dev) return std::move(dev).error().context("setting up a loop device");
        loop = std::move(dev).value();  // held until mounted; autoclear frees it with the mount
    }
    if (!fs && fs.error().code == ENOSYS)  // no new mount API: plain mount(2)
        return legacy_mount(source.c_str(), dir, "erofs", MS_RDONLY, has_acl ? "" : "noacl");
    if (!fs) return std::move(fs).error();
    for (int pass = 0; pass < 2; ++pass) {
        IMGCTL_TRY(fs_set(fs->get(), "source", &source));
        IMGCTL_TRY(fs_set(fs->get(), "ro"));
        if (!has_acl) IMGCTL_TRY(fs_set(fs->get(), "noacl"));
        auto mnt = fs_create_mount(fs->get(), /*read_only=*/true);
        if (mnt) return attach_mount(mnt->get(), dir);
        // Without file-backed EROFS (Linux < 6.12) the kernel wants a block device.
        if (pass == 1 || mnt.error().code != ENOTBLK) return std::move(mnt).error().context("mounting the EROFS");
        auto dev = loop_attach(image_fd, source);
        if (!dev) return std::move(dev).error().context("setting up a loop device");
        loop = std::move(dev).value();  // held until mounted; autoclear frees it with the mount
        auto fs2 = fs_open("erofs");
        if (!fs2) return std::move(fs2).error();
        fs = std::move(fs2);
    }
    return make_error(EIO, "unreachable");
}

std::string escape_legacy(const std::string& p) {
    std::string out;
    for (char c : p) {
        if (c == ',' || c == ':' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

// The legacy overlay string (FORMAT-NOTES §15 step 5); `sep` is "::" (data-only) or ":".
std::string legacy_options(const std::string& lower, const MountOptions& o, bool verity, std::string_view sep) {
    std::string s = "metacopy=on,redirect_dir=on,lowerdir=" + escape_legacy(lower);
    for (const auto& b : o.basedirs) s += std::string(sep) + escape_legacy(b);
    if (!o.upperdir.empty()) s += ",upperdir=" + escape_legacy(o.upperdir) + ",workdir=" + escape_legacy(o.workdir);
    if (verity) s += ",verity=require";
    return s;
}

// Tries the new API; nullopt-like EINVAL/ENOSYS results ask the caller for the legacy path.
Result<void> mount_overlay_new(const std::string& lower, const std::string& target, const MountOptions& o, bool& verity) {
    auto fs = fs_open("overlay");
    if (!fs) return std::move(fs).error();
    int f = fs->get();
    std::string unsupported = "unsupported";
    if (::fsconfig(f, FSCONFIG_SET_STRING, "unsupported", unsupported.c_str(), 0) == 0)
        return make_error(ENOSYS, "overlayfs takes only legacy options");
    (void)fs_context_log(f);  // drop the probe's message
    std::string src = "composefs", on = "on", req = "require";
    IMGCTL_TRY(fs_set(f, "source", &src));
    IMGCTL_TRY(fs_set(f, "metacopy", &on));
    IMGCTL_TRY(fs_set(f, "redirect_dir", &on));
    if (verity) {
        auto r = fs_set(f, "verity", &req);
        if (!r && o.verity == VerityMode::Require) return make_error(EOPNOTSUPP, "{}", r.error().message);
        if (!r) verity = false;  // optional: the kernel cannot do it, go on without
    }
    IMGCTL_TRY(fs_set(f, "lowerdir+", &lower));
    for (const auto& b : o.basedirs) IMGCTL_TRY(fs_set(f, "datadir+", &b));
    if (!o.upperdir.empty()) {
        IMGCTL_TRY(fs_set(f, "upperdir", &o.upperdir));
        IMGCTL_TRY(fs_set(f, "workdir", &o.workdir));
    }
    auto mnt = fs_create_mount(f, o.read_only);
    if (!mnt) return std::move(mnt).error();
    return attach_mount(mnt->get(), target);
}

Result<void> mount_overlay(const std::string& lower, const std::string& target, const MountOptions& o, bool verity) {
    auto r = o.force_legacy_overlay ? Result<void>(make_error(ENOSYS, "legacy options requested"))
                                    : mount_overlay_new(lower, target, o, verity);
    if (r || (r.error().code != EINVAL && r.error().code != ENOSYS)) return r;
    log_debug("composefs", "new overlay mount API refused ({}), using legacy options", r.error().message);
    unsigned long flags = o.read_only ? MS_RDONLY : 0;
    auto l = legacy_mount("composefs", target, "overlay", flags | MS_SILENT, legacy_options(lower, o, verity, "::"));
    if (l || l.error().code != EINVAL) return l;
    // Kernels before 6.5 have no data-only lowers: the basedirs become normal lowers, hidden by
    // the image's 00..ff whiteouts and its opaque root (FORMAT-NOTES §8).
    auto l2 = legacy_mount("composefs", target, "overlay", flags, legacy_options(lower, o, verity, ":"));
    if (l2) return l2;
    return std::move(l2).error().context(r.error().message + "; legacy mount");
}

// Paths handed to the kernel are made absolute, so /proc/self/mountinfo names them clearly.
std::string absolute(const std::string& p) {
    if (p.empty() || p[0] == '/') return p;
    std::array<char, 4096> cwd;
    if (!::getcwd(cwd.data(), cwd.size())) return p;
    return std::string(cwd.data()) + "/" + p;
}

}  // namespace

Result<void> mount_image_fd(int image_fd, std::string_view image_name, const std::string& target,
                            const MountOptions& options) {
    MountOptions o = options;
    for (auto& b : o.basedirs) b = absolute(b);
    o.upperdir = absolute(o.upperdir);
    o.workdir = absolute(o.workdir);
    auto ctx = [&](Error e) { return std::move(e).context(fmt::format("mounting image '{}' on '{}'", image_name, target)); };
    if (o.basedirs.empty()) return ctx(make_error(EINVAL, "no basedir given"));
    if (o.upperdir.empty() != o.workdir.empty()) return ctx(make_error(EINVAL, "upperdir and workdir go together"));
    if (o.expected_digest) {
        auto r = check_image_digest(image_fd, *o.expected_digest);
        if (!r) return ctx(std::move(r).error());
    }
    std::array<std::byte, 32> hdr{};
    auto n = pread_full(image_fd, hdr, 0);
    if (!n) return ctx(std::move(n).error());
    uint32_t magic, flags;
    std::memcpy(&magic, hdr.data(), 4);
    std::memcpy(&flags, hdr.data() + 8, 4);
    if (*n < hdr.size() || magic != erofs::kComposefsMagic) return ctx(make_error(EINVAL, "not a composefs image"));
    bool verity = o.verity != VerityMode::Off;
    if (verity) {
        auto p = probe_object_verity(image_fd, o);
        if (!p) return ctx(std::move(p).error());
        verity = *p;
    }
    auto tmp = TempDir::create(".imgctl-erofs-", ::access("/run", W_OK) == 0 ? "/run" : "");
    if (!tmp) return ctx(std::move(tmp).error());
    if (::chmod(tmp->path().c_str(), 0700) < 0) return ctx(errno_error(errno, "chmod"));
    auto e = mount_erofs(image_fd, flags & erofs::kComposefsFlagHasAcl, o.force_loop, tmp->path());
    if (!e) return ctx(std::move(e).error());
    auto ov = mount_overlay(tmp->path(), target, o, verity);
    detach(tmp->path());  // the overlay holds the EROFS superblock; the temp mount goes away
    if (!ov) return ctx(std::move(ov).error().context("mounting the overlay"));
    return {};
}

Result<void> mount_image(const std::string& image_path, const std::string& target, const MountOptions& o) {
    auto fd = open_at(AT_FDCWD, image_path, O_RDONLY);
    if (!fd) return std::move(fd).error().context(fmt::format("mounting image '{}'", image_path));
    return mount_image_fd(fd->get(), image_path, target, o);
}

Result<void> unmount_image(const std::string& target) {
    struct statfs sf {};
    if (::statfs(target.c_str(), &sf) < 0) return errno_error(errno, fmt::format("unmounting '{}'", target));
    if (static_cast<unsigned long>(sf.f_type) != OVERLAYFS_SUPER_MAGIC)
        return make_error(EINVAL, "unmounting '{}': not a composefs (overlay) mount", target);
    if (::umount2(target.c_str(), UMOUNT_NOFOLLOW) < 0) return errno_error(errno, fmt::format("unmounting '{}'", target));
    return {};
}

}  // namespace imgctl::composefs
