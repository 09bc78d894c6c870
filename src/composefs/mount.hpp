#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "crypto/digest.hpp"

namespace imgctl::composefs {

/// How overlayfs checks the fs-verity digests of the objects behind metacopy files.
enum class VerityMode {
    Off,       ///< no check (the kernel still follows redirects)
    Optional,  ///< `verity=require` when the objects' file system has fs-verity, otherwise off
    Require,   ///< `verity=require`; refused up front when the objects cannot carry fs-verity
};

/// Options of mount_image() (the mount.composefs options of FORMAT-NOTES §15).
struct MountOptions {
    std::vector<std::string> basedirs;              ///< object directories (data-only lowers), >= 1
    std::optional<crypto::Digest> expected_digest;  ///< the image's fs-verity digest must equal it
    VerityMode verity = VerityMode::Off;
    std::string upperdir;  ///< both or neither of upperdir/workdir: a writable overlay
    std::string workdir;
    bool read_only = false;  ///< MOUNT_ATTR_RDONLY on the overlay (implied without upperdir)
    /// Mount the EROFS through a loop device even when the kernel reads files directly
    /// (the fallback kernels before 6.12 need; also lets tests exercise that path).
    bool force_loop = false;
    /// Skip fsconfig and pass the legacy `lowerdir=IMG::BASE` string to mount(2) (the
    /// fallback for kernels before 6.7; also lets tests exercise that path).
    bool force_legacy_overlay = false;
};

/// Mounts the composefs image `image_path` on `target`: the EROFS through the new mount API
/// (file-backed, or a read-only autoclear loop device when the kernel answers ENOTBLK) on a
/// private temporary directory, then an overlayfs with the EROFS as the lower layer and every
/// basedir as a data-only layer (`lowerdir+=`/`datadir+=`, or the legacy `lowerdir=IMG::BASE`
/// mount(2) string when the kernel refuses those), and finally detaches the EROFS mount so
/// only the overlay stays visible. Needs CAP_SYS_ADMIN in the initial user namespace.
/// Errors name the image and the step; a kernel refusal carries the fs-context log. A missing
/// fs-verity (for `expected_digest` or VerityMode::Require) is reported before anything is
/// mounted, naming the option that would work.
Result<void> mount_image(const std::string& image_path, const std::string& target, const MountOptions& options);

/// The same, for an image already open (e.g. from the store's images/ directory fd).
/// `image_name` is used in messages only. The fd is not consumed.
Result<void> mount_image_fd(int image_fd, std::string_view image_name, const std::string& target,
                            const MountOptions& options);

/// Unmounts the overlay at `target`. Refuses (EINVAL) when `target` is not an overlayfs mount
/// root, so a typo cannot unmount something else.
Result<void> unmount_image(const std::string& target);

/// The fs-verity digest of the open file `fd` as the kernel measures it (FS_IOC_MEASURE_VERITY).
/// ENODATA: the file has no fs-verity; EOPNOTSUPP: the kernel or file system has none.
Result<crypto::Digest> measure_verity(int fd);

}  // namespace imgctl::composefs
