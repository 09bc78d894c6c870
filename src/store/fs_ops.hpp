#pragma once
// Store-internal host operations: fs-verity ioctls, temporary files in tmp/ and their
// publication, and symlink-safe walking of '/'-separated names. Every kernel feature the store
// depends on is detected here, in one place.

#include <dirent.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "crypto/digest.hpp"

namespace imgctl::store::detail {

/// Enables fs-verity (SHA-256, 4 KiB blocks, no salt) on `ro_fd`, which must be the only open
/// descriptor of the file and read-only. Returns false when the file system lacks fs-verity
/// or cannot use 4096-byte Merkle blocks (EINVAL, e.g. ext4 with 1 KiB blocks), true when
/// enabled (or already enabled), an error otherwise.
Result<bool> enable_verity(int ro_fd);

/// The fs-verity digest as measured by the kernel, or nullopt when verity is not enabled on the
/// file (or the file system lacks it).
Result<std::optional<crypto::Digest>> measure_verity(int fd);

/// Whether fs-verity can be enabled on files created in `dir_fd`: an anonymous O_TMPFILE is made,
/// reopened read-only and FS_IOC_ENABLE_VERITY tried. Leaves nothing behind.
Result<bool> probe_verity_at(int dir_fd);

/// A temporary file in tmp/: anonymous (O_TMPFILE) when possible, else "<prefix>.XXXXXXXX".
/// Destroyed without publish() it unlinks its name (if any).
class TmpFile {
public:
    /// `named` forces a named file (for staging: it must outlive its descriptor).
    static Result<TmpFile> create_at(int tmp_dir_fd, std::string_view prefix, bool named = false);
    TmpFile(TmpFile&&) noexcept;
    TmpFile& operator=(TmpFile&&) noexcept;
    TmpFile(const TmpFile&) = delete;
    TmpFile& operator=(const TmpFile&) = delete;
    ~TmpFile();

    int fd() const { return fd_.get(); }
    bool is_valid() const { return fd_.is_valid(); }

    /// fchmod 0644, fsync, reopen read-only and close the writable fd, enable fs-verity
    /// (required: failing when unsupported; otherwise best effort), then link to
    /// `target_dir_fd`/`name`. An existing file of that name counts as success (same content by
    /// construction: names are digests). Creates a missing parent directory of `name` (one level).
    Result<void> publish(int target_dir_fd, const std::string& name, bool require_verity);

    /// For a named file: fchmod 0644, close it and keep it in tmp/ (no fsync: the caller batches
    /// one syncfs, then link_staged()). Returns its name in tmp/.
    Result<std::string> stage();

private:
    TmpFile() = default;
    void discard();
    int tmp_dir_fd_ = -1;
    UniqueFd fd_;
    std::string name_;
};

/// What consecutive link_staged() calls of one batch (same directories) may reuse: the opened
/// "XX/" parents, and that the file system cannot enable fs-verity (then, when it is not
/// required, it is not tried again: saves an open, an ioctl and a close per object).
struct LinkCache {
    std::map<std::string, UniqueFd, std::less<>> dirs;
    bool verity_unsupported = false;
};

/// Publishes a staged file (made durable by the caller's syncfs): fs-verity as in publish(), link
/// to `target_dir_fd`/`name` (existing is fine), then unlink it from tmp/.
Result<void> link_staged(int tmp_dir_fd, const std::string& staged, int target_dir_fd, const std::string& name,
                         bool require_verity, LinkCache* cache = nullptr);

/// openat() that never follows a symlink in any component and never leaves `dir_fd`
/// (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS; on kernels without openat2, a component-wise
/// O_NOFOLLOW walk). ELOOP/EXDEV when a symlink or ".." is met.
Result<UniqueFd> open_beneath(int dir_fd, const std::string& path, int flags);

/// Whether `path` below `dir_fd` is a regular file, reached without following any symlink.
bool is_regular_beneath(int dir_fd, const std::string& path);

/// Opens the directory `components` below `dir_fd`, one openat(O_NOFOLLOW|O_DIRECTORY) per
/// component, creating missing ones when `create`. A symlink anywhere fails (ELOOP/ENOTDIR).
Result<UniqueFd> open_dir_nofollow(int dir_fd, const std::vector<std::string>& components, bool create);

/// Splits on '/' (the name was validated before).
std::vector<std::string> split_path(std::string_view name);

/// The names in a directory (without "." and ".."), sorted, with their d_type.
struct DirEntry {
    std::string name;
    unsigned char type;
};
Result<std::vector<DirEntry>> list_dir(int dir_fd, const std::string& path);

}  // namespace imgctl::store::detail

namespace imgctl::store::detail {

/// One entry under objects/: "XX/rest" (or "XX" for a stray top-level entry), its type, and the
/// digest when the name is well-formed ("2 hex / 62 hex", a regular file).
struct ObjectEntry {
    std::string rel;
    unsigned char type;
    std::optional<crypto::Digest> digest;
};
Result<std::vector<ObjectEntry>> list_object_entries(int objects_fd);

/// Sum of st_size of the regular files at or below `path` (not following symlinks).
uint64_t apparent_size_at(int dir_fd, const std::string& path);

}  // namespace imgctl::store::detail
