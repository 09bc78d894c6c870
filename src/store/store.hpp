#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "crypto/digest.hpp"
#include "crypto/fsverity.hpp"

namespace imgctl::store {

namespace detail {
class TmpFile;
}

/// Whether objects and images must carry fs-verity (repo.json "verity"). See docs/store-format.md.
enum class VerityPolicy { Require, Optional };
/// flock() mode on <repo>/lock: Shared for readers, Exclusive for every writer and gc.
enum class LockMode { Shared, Exclusive };

/// Called once, before blocking, when another process holds the lock (the text names the holder).
using LockWaitFn = std::function<void(const std::string& message)>;

/// Streaming insertion of one object whose size is known up front (tar entries, HTTP bodies):
/// write() the bytes, then commit() → digest. The temp file lives in <repo>/tmp/ (O_TMPFILE);
/// dropped without commit() it leaves nothing behind. Borrows the Store's directory fds: the
/// Store must outlive it.
class ObjectWriter {
public:
    ObjectWriter(ObjectWriter&&) noexcept;
    ObjectWriter& operator=(ObjectWriter&&) noexcept;
    ~ObjectWriter();

    /// Appends bytes; more than the announced size is an error (EINVAL).
    Result<void> write(std::span<const std::byte> data);
    /// fsync, fs-verity enable when supported, link into objects/XX/…; EINVAL when fewer bytes
    /// than announced were written. Linking over an existing identical object is not an error.
    /// In batch mode (Store::begin_batch) the object is only staged; commit_batch() links it.
    Result<crypto::Digest> commit();

private:
    friend class Store;
    struct Batch;
    ObjectWriter(std::unique_ptr<detail::TmpFile> tmp, int objects_dir_fd, uint64_t size, VerityPolicy verity,
                 Batch* batch);
    std::unique_ptr<detail::TmpFile> tmp_;  // null once committed
    int objects_dir_fd_ = -1;
    Batch* batch_ = nullptr;  // the Store's pending batch, if any (owned by the Store)
    crypto::FsVerityHasher hasher_;
    uint64_t size_ = 0;
    uint64_t written_ = 0;
    VerityPolicy verity_ = VerityPolicy::Optional;
    std::optional<crypto::Digest> expected_;  // set by insert_object_fd (source hashed first)
    std::optional<crypto::Digest> hashed_;    // set by insert_object_fd_hashed: the name, not recomputed
};

/// One entry of images/.
struct ImageInfo {
    crypto::Digest digest;
    uint64_t size = 0;
    std::optional<std::string> meta;  ///< images/<hex>.json, when present
};

/// One ref: its name (escaped, as on disk) and the image it names (nullopt when unreadable).
struct RefInfo {
    std::string name;
    std::optional<crypto::Digest> image;
};

/// An open repository (docs/store-format.md). Holds directory fds and the lock until destroyed.
/// Every mutating call requires LockMode::Exclusive (EPERM otherwise). Not thread-safe except
/// where noted.
class Store {
public:
    /// Creates <path> with repo.json, objects/, images/, refs/, oci/blobs/sha256/, tmp/, lock and
    /// returns it opened exclusively. <path> may exist if it is an empty directory. With
    /// Require on a file system without fs-verity it fails (ENOTSUP) before writing anything.
    static Result<Store> init(const std::string& path, VerityPolicy verity);
    /// Opens an existing repository (refuses a missing/garbled repo.json or unknown version).
    /// With `wait` false a held lock fails at once (EWOULDBLOCK); otherwise `on_wait` (if set)
    /// is told who holds it and the call blocks.
    static Result<Store> open(const std::string& path, LockMode lock, bool wait = true,
                              const LockWaitFn& on_wait = {});

    Store(Store&&) noexcept;
    Store& operator=(Store&&) noexcept;
    ~Store();

    /// Batch mode, for imports of many files: until commit_batch(), committed objects are only
    /// staged in tmp/ without a per-file fsync; commit_batch() makes them all durable with one
    /// syncfs() and then links them into objects/ (so no object is ever visible before its data
    /// is on disk). has_object() sees staged objects; set_ref() commits a pending batch first.
    /// A Store dropped without commit leaves the staged files in tmp/ for gc. Object insertion
    /// is thread-safe (several threads may insert at once, batch or not).
    void begin_batch();
    Result<void> commit_batch();

    /// Stores the whole file behind `fd` (pread; offset unused), reflinked when possible.
    Result<crypto::Digest> insert_object_fd(int fd);
    /// The same when the caller already computed the content's digest (EAGAIN if the stored
    /// copy has another one: the file changed). Content already present costs one stat.
    Result<crypto::Digest> insert_object_fd(int fd, const crypto::Digest& expected);
    /// For a caller that has just hashed the `size` bytes of `fd` itself and checks afterwards
    /// that the file did not change (the directory import): copies the content (FICLONE, else
    /// copy_file_range) without reading it into memory or hashing it again, and names it
    /// `digest`. Content already present costs one stat.
    Result<crypto::Digest> insert_object_fd_hashed(int fd, uint64_t size, const crypto::Digest& digest);
    Result<crypto::Digest> insert_object_bytes(std::span<const std::byte> data);
    /// Stores content the caller already hashed (the pull hashes while it reads the tar;
    /// another thread writes), held in pieces (written with writev), named `digest`. Content
    /// already present costs one stat. Thread-safe against other object insertions in a batch.
    Result<crypto::Digest> insert_object_parts_hashed(std::span<const std::span<const std::byte>> parts,
                                                      const crypto::Digest& digest);
    Result<ObjectWriter> begin_object(uint64_t size);
    bool has_object(const crypto::Digest& d) const;
    /// Opens an object read-only (O_NOFOLLOW); its content is not verified here.
    Result<UniqueFd> open_object(const crypto::Digest& d) const;
    /// "XX/<62 hex>", relative to objects/.
    static std::string object_path(const crypto::Digest& d);
    int objects_dir_fd() const { return objects_fd_.get(); }
    /// Absolute path of objects/.
    std::string objects_path() const { return path_ + "/objects"; }

    /// Stores an EROFS image under images/<its fs-verity digest> and returns that digest.
    /// Commits a pending object batch first, so an image never lands before its objects.
    Result<crypto::Digest> put_image(std::span<const std::byte> image);
    /// Opens images/<hex> after checking the measured digest equals the name (EBADMSG if not).
    Result<UniqueFd> open_image(const crypto::Digest& d) const;
    bool has_image(const crypto::Digest& d) const;
    /// Every well-formed entry of images/, sorted by digest.
    Result<std::vector<ImageInfo>> list_images() const;
    /// images/<hex>.json: must be a JSON object; the image must exist.
    Result<void> set_image_meta(const crypto::Digest& d, std::string_view json);
    Result<std::optional<std::string>> read_image_meta(const crypto::Digest& d) const;

    /// refs/<name> → image digest (the image must exist). Names: docs/store-format.md, "Refs".
    Result<void> set_ref(std::string_view name, const crypto::Digest& image);
    Result<crypto::Digest> resolve_ref(std::string_view name) const;
    /// Removes a ref (ENOENT when missing) and its now empty parent directories.
    Result<void> delete_ref(std::string_view name);
    /// Every ref, sorted by name. Entries that are not valid ref files are skipped (fsck names them).
    Result<std::vector<RefInfo>> list_refs() const;

    /// Opaque blobs kept for provenance (OCI manifests and configs): oci/blobs/sha256/<hex>.
    /// put_blob checks the SHA-256 (EBADMSG on mismatch); read_blob checks it again.
    Result<void> put_blob(const crypto::Digest& sha256, std::span<const std::byte> data);
    Result<std::string> read_blob(const crypto::Digest& sha256) const;
    bool has_blob(const crypto::Digest& sha256) const;

    /// Flushes everything written so far to disk (syncfs); set_ref calls it first.
    Result<void> sync() const;

    const std::string& path() const { return path_; }
    VerityPolicy verity() const { return verity_; }
    LockMode lock_mode() const { return lock_mode_; }
    int root_fd() const { return root_fd_.get(); }
    int dir_fd(std::string_view sub) const;  ///< "objects", "images", "refs", "blobs", "tmp"

private:
    Store() = default;
    Result<void> require_writer(std::string_view what) const;

    std::string path_;  // absolute
    VerityPolicy verity_ = VerityPolicy::Optional;
    LockMode lock_mode_ = LockMode::Shared;
    UniqueFd root_fd_, objects_fd_, images_fd_, refs_fd_, blobs_fd_, tmp_fd_, lock_fd_;
    std::unique_ptr<ObjectWriter::Batch> batch_;
    Result<crypto::Digest> copy_object(int fd, uint64_t size, const crypto::Digest& expected);
};

/// "DIGEST|REF" as users type it: 64 hex digits name an image (which must be in the store),
/// anything else is a ref name. ENOENT/EINVAL name `spec`.
Result<crypto::Digest> resolve_image(const Store& store, std::string_view spec);

}  // namespace imgctl::store
