// The import digest cache: <repo>/cache/digests (docs/store-format.md, "Digest cache").
#include "store/digest_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <cstring>

#include "base/atomic_file.hpp"
#include "base/file_util.hpp"
#include "base/log.hpp"
#include "crypto/sha256.hpp"
#include "store/store.hpp"

namespace imgctl::store {

namespace {

constexpr std::string_view kMagic = "imgctlDC";  // 8 bytes
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderSize = 24;   // magic, version u32, entry size u32, count u64
constexpr size_t kEntrySize = 80;    // 5 x u64/i64, 2 x u32, 32-byte digest
constexpr size_t kTrailerSize = 32;  // SHA-256 of everything before it
constexpr const char* kDir = "cache";
constexpr const char* kFile = "digests";

void put_le(std::string& out, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_le(const std::byte* p, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
    return v;
}

bool key_less(const CacheEntry& a, const CacheEntry& b) {
    return std::tie(a.stamp.dev, a.stamp.ino) < std::tie(b.stamp.dev, b.stamp.ino);
}

}  // namespace

FileStamp FileStamp::of(const struct stat& st) {
    FileStamp s;
    s.dev = st.st_dev;
    s.ino = st.st_ino;
    s.size = static_cast<uint64_t>(st.st_size);
    s.mtime_sec = st.st_mtim.tv_sec;
    s.mtime_nsec = static_cast<uint32_t>(st.st_mtim.tv_nsec);
    s.ctime_sec = st.st_ctim.tv_sec;
    s.ctime_nsec = static_cast<uint32_t>(st.st_ctim.tv_nsec);
    return s;
}

DigestCache::DigestCache(const Store* store, int64_t now_sec)
    : store_(store), racy_after_sec_(now_sec - kRacyMarginSec) {}

DigestCache::DigestCache(DigestCache&& o) noexcept
    : store_(o.store_),
      racy_after_sec_(o.racy_after_sec_),
      entries_(std::move(o.entries_)),
      fanout_(std::move(o.fanout_)),
      next_(std::move(o.next_)) {}

DigestCache DigestCache::load(const Store& store) {
    struct timespec now {};
    ::clock_gettime(CLOCK_REALTIME, &now);
    DigestCache c(&store, now.tv_sec);
    auto text = read_file_at(store.root_fd(), std::string(kDir) + "/" + kFile);
    if (!text) {
        log_debug("store", "no digest cache in '{}' ({}), hashing every file", store.path(), text.error().message);
        return c;
    }
    auto entries = parse(std::as_bytes(std::span(text->data(), text->size())));
    if (!entries) {
        log_debug("store", "ignoring the unreadable digest cache '{}/{}/{}' (it will be rewritten)", store.path(), kDir,
                  kFile);
        return c;
    }
    c.entries_ = std::move(*entries);
    log_debug("store", "digest cache: {} entries", c.entries_.size());
    return c;
}

std::optional<crypto::Digest> DigestCache::lookup(const struct stat& st) const {
    CacheEntry key{FileStamp::of(st), {}};
    auto it = std::lower_bound(entries_.begin(), entries_.end(), key, key_less);
    if (it == entries_.end() || key_less(key, *it) || !(it->stamp == key.stamp)) return std::nullopt;
    // The cache names content; only the store proves it is there.
    if (!object_present(it->digest)) return std::nullopt;
    return it->digest;
}

// Store::has_object() with one fstatat() per object instead of an openat2() + fstat() + close():
// the same check (objects/XX a real directory, the object a regular file, no symlink followed)
// through descriptors of objects/XX/ kept open for the whole import. Anything unusual (XX
// missing, an object only staged by this import) falls back to has_object().
bool DigestCache::object_present(const crypto::Digest& d) const {
    if (!store_) return false;
    UniqueFd& dir = fanout_[d.bytes[0]];
    std::string hex = d.hex();
    if (!dir.is_valid()) {
        int fd = ::openat(store_->objects_dir_fd(), hex.substr(0, 2).c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) return store_->has_object(d);
        dir.reset(fd);
    }
    struct stat st {};
    if (::fstatat(dir.get(), hex.c_str() + 2, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) return true;
    return store_->has_object(d);
}

void DigestCache::record(const struct stat& st, const crypto::Digest& digest) {
    // Racy stamps (git's "racily clean" entries): a write in the same tick as our read, or
    // one the file-system clock has not yet shown, would leave the stamp unchanged.
    if (st.st_mtim.tv_sec >= racy_after_sec_ || st.st_ctim.tv_sec >= racy_after_sec_) return;
    std::lock_guard lock(mu_);
    next_.push_back({FileStamp::of(st), digest});
}

size_t DigestCache::recorded_entries() const {
    std::lock_guard lock(mu_);
    return next_.size();
}

Result<void> DigestCache::save() const {
    if (!store_) return make_error(EINVAL, "a digest cache without a store cannot be saved");
    std::string bytes;
    {
        std::lock_guard lock(mu_);
        bytes = serialize(next_);
    }
    auto ctx = [&](Error e) { return std::move(e).context(fmt::format("writing '{}/{}/{}'", store_->path(), kDir, kFile)); };
    if (::mkdirat(store_->root_fd(), kDir, 0755) < 0 && errno != EEXIST) return ctx(errno_error(errno, "creating cache/"));
    auto dir = open_at(store_->root_fd(), kDir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!dir) return ctx(std::move(dir).error());
    auto f = AtomicFile::create_at(dir->get(), kFile, 0644);
    if (!f) return ctx(std::move(f).error());
    if (auto r = write_all(f->fd(), bytes); !r) return ctx(std::move(r).error());
    // No fsync: a file torn by a crash fails its checksum and is ignored.
    if (auto r = f->commit(/*sync=*/false); !r) return ctx(std::move(r).error());
    return {};
}

std::string DigestCache::serialize(std::vector<CacheEntry> entries) {
    std::sort(entries.begin(), entries.end(), key_less);
    // Hardlinks met under several names are recorded once per name: keep one.
    entries.erase(std::unique(entries.begin(), entries.end(),
                              [](const CacheEntry& a, const CacheEntry& b) { return !key_less(a, b) && !key_less(b, a); }),
                  entries.end());
    std::string out(kMagic);
    put_le(out, kVersion, 4);
    put_le(out, kEntrySize, 4);
    put_le(out, entries.size(), 8);
    out.reserve(kHeaderSize + entries.size() * kEntrySize + kTrailerSize);
    for (const auto& e : entries) {
        const FileStamp& s = e.stamp;
        for (uint64_t v : {s.dev, s.ino, s.size, static_cast<uint64_t>(s.mtime_sec), static_cast<uint64_t>(s.ctime_sec)})
            put_le(out, v, 8);
        put_le(out, s.mtime_nsec, 4);
        put_le(out, s.ctime_nsec, 4);
        out.append(reinterpret_cast<const char*>(e.digest.bytes.data()), e.digest.bytes.size());
    }
    auto sum = crypto::Sha256::of(std::string_view(out));
    out.append(reinterpret_cast<const char*>(sum.bytes.data()), sum.bytes.size());
    return out;
}

std::optional<std::vector<CacheEntry>> DigestCache::parse(std::span<const std::byte> data) {
    if (data.size() < kHeaderSize + kTrailerSize) return std::nullopt;
    if (std::memcmp(data.data(), kMagic.data(), kMagic.size()) != 0) return std::nullopt;
    if (get_le(data.data() + 8, 4) != kVersion || get_le(data.data() + 12, 4) != kEntrySize) return std::nullopt;
    uint64_t count = get_le(data.data() + 16, 8);
    if (count > (data.size() - kHeaderSize - kTrailerSize) / kEntrySize ||
        data.size() != kHeaderSize + count * kEntrySize + kTrailerSize)
        return std::nullopt;
    auto body = data.first(data.size() - kTrailerSize);
    auto sum = crypto::Sha256::of(body);
    if (std::memcmp(sum.bytes.data(), data.data() + body.size(), kTrailerSize) != 0) return std::nullopt;
    std::vector<CacheEntry> out(count);
    const std::byte* p = data.data() + kHeaderSize;
    for (auto& e : out) {
        FileStamp& s = e.stamp;
        s.dev = get_le(p, 8);
        s.ino = get_le(p + 8, 8);
        s.size = get_le(p + 16, 8);
        s.mtime_sec = static_cast<int64_t>(get_le(p + 24, 8));
        s.ctime_sec = static_cast<int64_t>(get_le(p + 32, 8));
        s.mtime_nsec = static_cast<uint32_t>(get_le(p + 40, 4));
        s.ctime_nsec = static_cast<uint32_t>(get_le(p + 44, 4));
        std::memcpy(e.digest.bytes.data(), p + 48, 32);
        p += kEntrySize;
    }
    // Written sorted; a file that is not is not ours.
    if (!std::is_sorted(out.begin(), out.end(), key_less)) return std::nullopt;
    return out;
}

}  // namespace imgctl::store
