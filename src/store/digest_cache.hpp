#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "crypto/digest.hpp"

namespace imgctl::store {

class Store;

/// What identifies a file's content without reading it: device, inode, size and the two
/// timestamps a write changes (git's index and ostree's devino cache do the same).
struct FileStamp {
    uint64_t dev = 0;
    uint64_t ino = 0;
    uint64_t size = 0;
    int64_t mtime_sec = 0;
    int64_t ctime_sec = 0;
    uint32_t mtime_nsec = 0;
    uint32_t ctime_nsec = 0;

    static FileStamp of(const struct stat& st);
    bool operator==(const FileStamp&) const = default;
};

/// One cache entry: a file's stamp and the fs-verity digest of its content.
struct CacheEntry {
    FileStamp stamp;
    crypto::Digest digest;
    bool operator==(const CacheEntry&) const = default;
};

/// The import digest cache, <repo>/cache/digests (docs/store-format.md, "Digest cache"): the
/// fs-verity digests of the files the last import saw, keyed by their FileStamp, so that an
/// unchanged file is not read again. It is a hint, never trusted beyond what it can prove: a
/// hit counts only while its object is in the store, and an unreadable file is an empty cache.
/// lookup() may run on one thread while record() runs on others; record() is thread-safe.
class DigestCache {
public:
    /// Files whose mtime or ctime is less than this many seconds older than the start of the
    /// import are not recorded (racy: a change in the same clock tick would go unseen).
    static constexpr int64_t kRacyMarginSec = 3;

    /// Reads <repo>/cache/digests. A missing, truncated, garbled or foreign-version file gives
    /// an empty cache (with a debug log line), never an error. The racy cut-off is taken now:
    /// load before the scan starts.
    static DigestCache load(const Store& store);
    /// An empty cache whose racy cut-off is `now_sec` (tests).
    explicit DigestCache(const Store* store, int64_t now_sec);

    DigestCache(DigestCache&& o) noexcept;

    /// The digest recorded for a file with exactly this stamp, if its object is in the store.
    std::optional<crypto::Digest> lookup(const struct stat& st) const;
    /// Remembers a digest for the next import (both hashed files and hits); racy stamps are
    /// dropped. Thread-safe.
    void record(const struct stat& st, const crypto::Digest& digest);
    /// Replaces <repo>/cache/digests by the recorded entries (AtomicFile, created with cache/).
    Result<void> save() const;

    size_t loaded_entries() const { return entries_.size(); }
    size_t recorded_entries() const;

    /// The file format, for save(), load() and tests: serialize() sorts by (dev, ino); parse()
    /// returns nullopt for anything that is not a complete, intact version-1 file.
    static std::string serialize(std::vector<CacheEntry> entries);
    static std::optional<std::vector<CacheEntry>> parse(std::span<const std::byte> data);

private:
    bool object_present(const crypto::Digest& d) const;

    const Store* store_ = nullptr;
    int64_t racy_after_sec_ = 0;          // stamps at or after this second are racy
    std::vector<CacheEntry> entries_;     // loaded, sorted by (dev, ino); read-only after load
    mutable std::array<UniqueFd, 256> fanout_;  // objects/XX/, opened on first use by lookup()
    mutable std::mutex mu_;
    std::vector<CacheEntry> next_;        // recorded by this import
};

}  // namespace imgctl::store
