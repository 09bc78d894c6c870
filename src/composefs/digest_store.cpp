#include "composefs/digest_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/atomic_file.hpp"
#include "base/file_util.hpp"

namespace imgctl::composefs {

Result<DigestStore> DigestStore::open(const std::string& dir) {
    if (::mkdir(dir.c_str(), 0755) < 0 && errno != EEXIST)
        return errno_error(errno, fmt::format("creating digest store '{}'", dir));
    auto fd = open_at(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY);
    if (!fd) return std::move(fd).error().context("opening digest store");
    return DigestStore(std::move(*fd), dir);
}

std::string DigestStore::object_path(const crypto::Digest& digest) {
    std::string hex = digest.hex();
    return hex.substr(0, 2) + "/" + hex.substr(2);
}

Result<void> DigestStore::store(int fd, uint64_t size, const crypto::Digest& digest) {
    std::string rel = object_path(digest);
    struct stat st;
    if (::fstatat(dir_.get(), rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return {};  // already stored
    auto ctx = [&](Error e) { return std::move(e).context(fmt::format("storing object '{}/{}'", path_, rel)); };
    if (::mkdirat(dir_.get(), rel.substr(0, 2).c_str(), 0755) < 0 && errno != EEXIST)
        return ctx(errno_error(errno, "creating its directory"));
    auto f = AtomicFile::create_at(dir_.get(), rel, 0644, AtomicFile::Mode::NoReplace);
    if (!f) return ctx(std::move(f).error());
    if (auto r = copy_file_content(fd, f->fd(), size); !r) return ctx(std::move(r).error());
    auto r = f->commit(/*sync=*/false);
    if (!r && r.error().code != EEXIST) return ctx(std::move(r).error());  // EEXIST: another thread won
    return {};
}

Result<void> DigestStore::finish() {
    if (::syncfs(dir_.get()) < 0) return errno_error(errno, fmt::format("syncing digest store '{}'", path_));
    return {};
}

}  // namespace imgctl::composefs
