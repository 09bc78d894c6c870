// Store: objects (with ObjectWriter), images with their metadata, and blobs.
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <mutex>
#include <unordered_set>

#include "base/atomic_file.hpp"
#include "base/file_util.hpp"
#include "base/hex.hpp"
#include "crypto/sha256.hpp"
#include "store/fs_ops.hpp"
#include "store/object_batch.hpp"
#include "store/store.hpp"

namespace imgctl::store {

namespace {

constexpr size_t kCopyChunk = 1 << 20;

bool is_regular_at(int dir_fd, const std::string& name) {
    struct stat st {};
    return ::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

// ---- ObjectWriter and batches ----

// Defined here, where Batch is complete.
Store::Store(Store&&) noexcept = default;
Store& Store::operator=(Store&&) noexcept = default;

Store::~Store() {
    if (lock_mode_ == LockMode::Exclusive && lock_fd_.is_valid())
        (void)::ftruncate(lock_fd_.get(), 0);  // clear the holder hint; harmless if it fails
}

ObjectWriter::ObjectWriter(std::unique_ptr<detail::TmpFile> tmp, int objects_dir_fd, uint64_t size,
                           VerityPolicy verity, Batch* batch)
    : tmp_(std::move(tmp)), objects_dir_fd_(objects_dir_fd), batch_(batch), hasher_(size), size_(size),
      verity_(verity) {}

ObjectWriter::ObjectWriter(ObjectWriter&&) noexcept = default;
ObjectWriter& ObjectWriter::operator=(ObjectWriter&&) noexcept = default;
ObjectWriter::~ObjectWriter() = default;  // TmpFile discards an uncommitted file

Result<void> ObjectWriter::write(std::span<const std::byte> data) {
    if (!tmp_) return make_error(EINVAL, "writing to a committed object");
    if (data.size() > size_ - written_)
        return make_error(EINVAL, "object is larger than the announced {} bytes", size_);
    IMGCTL_TRY(write_all(tmp_->fd(), data));
    hasher_.update(data);
    written_ += data.size();
    return {};
}

Result<crypto::Digest> ObjectWriter::commit() {
    if (!tmp_) return make_error(EINVAL, "object already committed");
    if (written_ != size_) return make_error(EINVAL, "object has {} bytes, {} were announced", written_, size_);
    crypto::Digest d = hashed_ ? *hashed_ : hasher_.finish();
    if (expected_ && *expected_ != d)
        return make_error(EAGAIN, "file changed while it was being stored (digest {} then {})", expected_->hex(),
                          d.hex());
    std::string name = Store::object_path(d);
    if (batch_) {
        auto staged = tmp_->stage();
        tmp_.reset();
        if (!staged) return std::move(staged).error().context(fmt::format("staging object '{}'", name));
        std::lock_guard lock(batch_->mu);
        batch_->staged.emplace_back(std::move(*staged), d);
        batch_->pending.insert(d);
        return d;
    }
    auto r = tmp_->publish(objects_dir_fd_, name, verity_ == VerityPolicy::Require);
    tmp_.reset();
    if (!r) return std::move(r).error().context(fmt::format("storing object '{}'", name));
    return d;
}

// ---- objects ----

std::string Store::object_path(const crypto::Digest& d) {
    std::string hex = d.hex();
    return hex.substr(0, 2) + "/" + hex.substr(2);
}

bool Store::has_object(const crypto::Digest& d) const {
    if (batch_) {
        std::lock_guard lock(batch_->mu);
        if (batch_->pending.contains(d)) return true;
    }
    return detail::is_regular_beneath(objects_fd_.get(), object_path(d));
}

void Store::begin_batch() {
    if (!batch_) batch_ = std::make_unique<ObjectWriter::Batch>();
}

Result<void> Store::commit_batch() {
    if (!batch_) return {};
    // One syncfs makes every staged object durable; only then do they get their final names.
    IMGCTL_TRY(sync());
    detail::LinkCache cache;
    for (const auto& [staged, d] : batch_->staged) {
        auto r = detail::link_staged(tmp_fd_.get(), staged, objects_fd_.get(), object_path(d),
                                     verity_ == VerityPolicy::Require, &cache);
        if (!r) return std::move(r).error().context(fmt::format("storing object '{}'", object_path(d)));
    }
    batch_.reset();
    return {};
}

Result<UniqueFd> Store::open_object(const crypto::Digest& d) const {
    return detail::open_beneath(objects_fd_.get(), object_path(d), O_RDONLY);
}

Result<ObjectWriter> Store::begin_object(uint64_t size) {
    IMGCTL_TRY(require_writer("storing an object"));
    auto tmp = detail::TmpFile::create_at(tmp_fd_.get(), "object", /*named=*/batch_ != nullptr);
    if (!tmp) return std::move(tmp).error();
    return ObjectWriter(std::make_unique<detail::TmpFile>(std::move(*tmp)), objects_fd_.get(), size, verity_,
                        batch_.get());
}

Result<crypto::Digest> Store::insert_object_bytes(std::span<const std::byte> data) {
    crypto::Digest d = crypto::fsverity_digest(data);
    if (has_object(d)) return d;
    auto w = begin_object(data.size());
    if (!w) return std::move(w).error();
    IMGCTL_TRY(w->write(data));
    return w->commit();
}

Result<crypto::Digest> Store::insert_object_parts_hashed(std::span<const std::span<const std::byte>> parts,
                                                         const crypto::Digest& digest) {
    if (has_object(digest)) return digest;
    uint64_t size = 0;
    for (const auto& p : parts) size += p.size();
    auto w = begin_object(size);
    if (!w) return std::move(w).error();
    IMGCTL_TRY(writev_all(w->tmp_->fd(), parts));
    w->hashed_ = digest;
    w->written_ = size;
    return w->commit();
}

Result<crypto::Digest> Store::insert_object_fd(int fd) {
    IMGCTL_TRY(require_writer("storing an object"));
    struct stat st {};
    if (::fstat(fd, &st) < 0) return errno_error(errno, "inspecting the file to store");
    if (!S_ISREG(st.st_mode)) return make_error(EINVAL, "only regular files can be stored as objects");
    // Hash the source first: content already in the store costs one read and no write.
    auto pre = crypto::fsverity_digest_fd(fd);
    if (!pre) return std::move(pre).error();
    if (has_object(*pre)) return *pre;
    return copy_object(fd, static_cast<uint64_t>(st.st_size), *pre);
}

Result<crypto::Digest> Store::insert_object_fd(int fd, const crypto::Digest& expected) {
    IMGCTL_TRY(require_writer("storing an object"));
    if (has_object(expected)) return expected;
    struct stat st {};
    if (::fstat(fd, &st) < 0) return errno_error(errno, "inspecting the file to store");
    if (!S_ISREG(st.st_mode)) return make_error(EINVAL, "only regular files can be stored as objects");
    return copy_object(fd, static_cast<uint64_t>(st.st_size), expected);
}

Result<crypto::Digest> Store::insert_object_fd_hashed(int fd, uint64_t size, const crypto::Digest& digest) {
    IMGCTL_TRY(require_writer("storing an object"));
    if (has_object(digest)) return digest;
    auto w = begin_object(size);
    if (!w) return std::move(w).error();
    if (auto r = copy_file_content(fd, w->tmp_->fd(), size); !r)
        return std::move(r).error().context(fmt::format("copying {} bytes into '{}/tmp'", size, path_));
    w->hashed_ = digest;
    w->written_ = size;
    return w->commit();
}

Result<crypto::Digest> Store::copy_object(int fd, uint64_t size, const crypto::Digest& expected) {
    auto w = begin_object(size);
    if (!w) return std::move(w).error();
    w->expected_ = expected;
    struct stat st {};
    st.st_size = static_cast<off_t>(size);
    std::vector<std::byte> buf(std::min<size_t>(kCopyChunk, static_cast<size_t>(st.st_size) + 1));
    // A reflink shares the extents; the digest is then computed from the stored copy.
    bool cloned = st.st_size > 0 && ::ioctl(w->tmp_->fd(), FICLONE, fd) == 0;
    uint64_t off = 0;
    while (off < w->size_) {
        auto n = pread_full(cloned ? w->tmp_->fd() : fd, buf, static_cast<off_t>(off));
        if (!n) return std::move(n).error().context("reading the file to store");
        if (*n == 0) break;
        auto chunk = std::span<const std::byte>(buf.data(), std::min<uint64_t>(*n, w->size_ - off));
        if (cloned) {
            w->hasher_.update(chunk);
            w->written_ += chunk.size();
        } else {
            if (auto r = w->write(chunk); !r)
                return std::move(r).error().context(fmt::format("copying {} bytes into '{}/tmp'", size, path_));
        }
        off += chunk.size();
    }
    return w->commit();
}

// ---- images ----

bool Store::has_image(const crypto::Digest& d) const { return is_regular_at(images_fd_.get(), d.hex()); }

Result<crypto::Digest> Store::put_image(std::span<const std::byte> image) {
    IMGCTL_TRY(require_writer("storing an image"));
    // The image's objects must be in place before the image is (fsck: no image without objects).
    IMGCTL_TRY(commit_batch());
    crypto::Digest d = crypto::fsverity_digest(image);
    if (has_image(d)) return d;
    auto ctx = [&](Error e) { return std::move(e).context(fmt::format("storing image '{}'", d.hex())); };
    auto tmp = detail::TmpFile::create_at(tmp_fd_.get(), "image");
    if (!tmp) return ctx(std::move(tmp).error());
    if (auto w = write_all(tmp->fd(), image); !w) return ctx(std::move(w).error());
    if (auto p = tmp->publish(images_fd_.get(), d.hex(), verity_ == VerityPolicy::Require); !p)
        return ctx(std::move(p).error());
    if (::fsync(images_fd_.get()) < 0) return ctx(errno_error(errno, "syncing images/"));
    return d;
}

Result<UniqueFd> Store::open_image(const crypto::Digest& d) const {
    std::string name = d.hex();
    auto ctx = [&](Error e) { return std::move(e).context(fmt::format("opening image 'images/{}'", name)); };
    auto fd = open_at(images_fd_.get(), name, O_RDONLY | O_NOFOLLOW);
    if (!fd) return ctx(std::move(fd).error());
    struct stat st {};
    if (::fstat(fd->get(), &st) < 0 || !S_ISREG(st.st_mode)) return ctx(make_error(EINVAL, "not a regular file"));
    auto measured = detail::measure_verity(fd->get());
    if (!measured) return ctx(std::move(measured).error());
    crypto::Digest actual;
    if (*measured) {
        actual = **measured;
    } else if (verity_ == VerityPolicy::Require) {
        return ctx(make_error(EBADMSG, "fs-verity is not enabled on it (store requires it)"));
    } else {
        auto computed = crypto::fsverity_digest_fd(fd->get());
        if (!computed) return ctx(std::move(computed).error());
        actual = *computed;
    }
    if (actual != d) return ctx(make_error(EBADMSG, "content does not match its name (digest {})", actual.hex()));
    return fd;
}

Result<std::vector<ImageInfo>> Store::list_images() const {
    auto entries = detail::list_dir(images_fd_.get(), ".");
    if (!entries) return std::move(entries).error().context(fmt::format("listing images of '{}'", path_));
    std::vector<ImageInfo> out;
    for (const auto& e : *entries) {
        if (e.type != DT_REG || !is_lower_hex(e.name, 64)) continue;
        ImageInfo info;
        info.digest = *crypto::Digest::from_hex(e.name);
        struct stat st {};
        if (::fstatat(images_fd_.get(), e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
            info.size = static_cast<uint64_t>(st.st_size);
        if (auto m = read_image_meta(info.digest); m && *m) info.meta = **m;
        out.push_back(std::move(info));
    }
    return out;
}

Result<void> Store::set_image_meta(const crypto::Digest& d, std::string_view json) {
    auto ctx = [&](Error e) { return std::move(e).context(fmt::format("writing metadata of image {}", d.hex())); };
    IMGCTL_TRY(require_writer("writing image metadata"));
    if (!has_image(d)) return ctx(make_error(ENOENT, "the image is not in the store"));
    auto j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return ctx(make_error(EINVAL, "not a JSON object"));
    auto f = AtomicFile::create_at(images_fd_.get(), d.hex() + ".json", 0644, AtomicFile::Mode::Replace);
    if (!f) return ctx(std::move(f).error());
    if (auto w = write_all(f->fd(), json); !w) return ctx(std::move(w).error());
    if (auto c = f->commit(); !c) return ctx(std::move(c).error());
    return {};
}

Result<std::optional<std::string>> Store::read_image_meta(const crypto::Digest& d) const {
    int fd = ::openat(images_fd_.get(), (d.hex() + ".json").c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return std::optional<std::string>{};
        return errno_error(errno, fmt::format("reading 'images/{}.json'", d.hex()));
    }
    UniqueFd owned(fd);
    auto text = read_all(fd);
    if (!text) return std::move(text).error().context(fmt::format("reading 'images/{}.json'", d.hex()));
    return std::optional<std::string>(std::move(*text));
}

// ---- blobs ----

bool Store::has_blob(const crypto::Digest& sha256) const { return is_regular_at(blobs_fd_.get(), sha256.hex()); }

Result<void> Store::put_blob(const crypto::Digest& sha256, std::span<const std::byte> data) {
    auto ctx = [&](Error e) { return std::move(e).context(fmt::format("storing blob sha256:{}", sha256.hex())); };
    IMGCTL_TRY(require_writer("storing a blob"));
    if (auto actual = crypto::Sha256::of(data); actual != sha256)
        return ctx(make_error(EBADMSG, "content has digest sha256:{}", actual.hex()));
    if (has_blob(sha256)) return {};
    auto tmp = detail::TmpFile::create_at(tmp_fd_.get(), "blob");
    if (!tmp) return ctx(std::move(tmp).error());
    if (auto w = write_all(tmp->fd(), data); !w) return ctx(std::move(w).error());
    if (auto p = tmp->publish(blobs_fd_.get(), sha256.hex(), /*require_verity=*/false); !p)
        return ctx(std::move(p).error());
    return {};
}

Result<std::string> Store::read_blob(const crypto::Digest& sha256) const {
    auto ctx = [&](Error e) { return std::move(e).context(fmt::format("reading blob sha256:{}", sha256.hex())); };
    auto fd = open_at(blobs_fd_.get(), sha256.hex(), O_RDONLY | O_NOFOLLOW);
    if (!fd) return ctx(std::move(fd).error());
    auto text = read_all(fd->get());
    if (!text) return ctx(std::move(text).error());
    if (auto actual = crypto::Sha256::of(*text); actual != sha256)
        return ctx(make_error(EBADMSG, "content has digest sha256:{}", actual.hex()));
    return text;
}

}  // namespace imgctl::store
