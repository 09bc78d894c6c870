// fsck: recompute every digest, check every image's objects and every ref; --repair moves damaged
// files into tmp/quarantine/ so a later import or pull stores them again.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "base/file_util.hpp"
#include "base/hex.hpp"
#include "crypto/fsverity.hpp"
#include "crypto/sha256.hpp"
#include "store/fs_ops.hpp"
#include "store/maintenance.hpp"
#include "store/ref_name.hpp"

namespace imgctl::store {

namespace {

// What a file measures as: the kernel's fs-verity digest when enabled, else a recomputation.
// Empty message on a match.
std::string check_digest_at(int dir_fd, const std::string& name, const crypto::Digest& want, VerityPolicy policy) {
    int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno_error(errno, "opening").message;
    UniqueFd owned(fd);
    auto measured = detail::measure_verity(fd);
    if (!measured) return measured.error().message;
    if (!*measured && policy == VerityPolicy::Require) return "fs-verity is not enabled (store requires it)";
    crypto::Digest got;
    if (*measured) {
        got = **measured;
    } else {
        auto d = crypto::fsverity_digest_fd(fd, 1);
        if (!d) return d.error().message;
        got = *d;
    }
    if (got != want) return fmt::format("content does not match its name (digest {})", got.hex());
    return {};
}

struct Checker {
    Store& store;
    const ImageObjectsFn& image_objects;
    FsckReport report;
    std::map<std::string, size_t> damaged;  // path -> index into report.problems (damaged objects)
    std::vector<std::pair<int, std::string>> quarantine;  // (dir fd, name) to move aside

    void problem(std::string path, std::string message) {
        report.problems.push_back({std::move(path), std::move(message), {}});
    }
    Result<void> objects();
    Result<void> images();
    Result<void> refs(const std::string& prefix, int depth);
    Result<void> blobs();
    Result<void> repair();
};

Result<void> Checker::objects() {
    auto entries = detail::list_object_entries(store.objects_dir_fd());
    if (!entries) return std::move(entries).error();
    std::vector<const detail::ObjectEntry*> todo;
    for (const auto& e : *entries) {
        std::string path = "objects/" + e.rel;
        if (e.digest) {
            todo.push_back(&e);
            continue;
        }
        if (e.type == DT_LNK) {
            damaged[e.rel] = report.problems.size();
            problem(path, "is a symlink (never followed)");
            quarantine.emplace_back(store.objects_dir_fd(), e.rel);
        } else {
            problem(path, "unexpected entry (not '<2 hex>/<62 hex>' regular file)");
        }
    }
    // Hash on every core: small objects dominate, and each is hashed on one thread.
    std::vector<std::string> results(todo.size());
    std::atomic<size_t> next{0};
    std::atomic<uint64_t> bytes{0};
    auto work = [&] {
        for (size_t i; (i = next.fetch_add(1)) < todo.size();) {
            results[i] = check_digest_at(store.objects_dir_fd(), todo[i]->rel, *todo[i]->digest, store.verity());
            bytes += detail::apparent_size_at(store.objects_dir_fd(), todo[i]->rel);
        }
    };
    unsigned n = std::max(1u, std::min(8u, std::thread::hardware_concurrency()));
    std::vector<std::thread> threads;
    for (unsigned t = 1; t < n; ++t) threads.emplace_back(work);
    work();
    for (auto& t : threads) t.join();
    report.objects = todo.size();
    report.object_bytes = bytes;
    for (size_t i = 0; i < todo.size(); ++i) {
        if (results[i].empty()) continue;
        damaged[todo[i]->rel] = report.problems.size();
        problem("objects/" + todo[i]->rel, results[i]);
        quarantine.emplace_back(store.objects_dir_fd(), todo[i]->rel);
    }
    return {};
}

Result<void> Checker::images() {
    int fd = store.dir_fd("images");
    auto entries = detail::list_dir(fd, ".");
    if (!entries) return std::move(entries).error();
    std::map<std::string, std::vector<std::string>> missing;  // object rel -> users
    for (const auto& e : *entries) {
        std::string path = "images/" + e.name;
        std::string_view name = e.name;
        if (name.size() == 69 && name.ends_with(".json") && is_lower_hex(name.substr(0, 64), 64) &&
            e.type == DT_REG) {
            auto d = *crypto::Digest::from_hex(name.substr(0, 64));
            auto meta = store.read_image_meta(d);
            if (!meta) problem(path, meta.error().message);
            if (!store.has_image(d)) problem(path, "metadata of an image that is not in the store");
            continue;
        }
        if (!is_lower_hex(name, 64) || e.type != DT_REG) {
            problem(path, e.type == DT_LNK ? "is a symlink (never followed)" : "unexpected entry (not an image digest)");
            continue;
        }
        ++report.images;
        auto d = *crypto::Digest::from_hex(name);
        if (auto msg = check_digest_at(fd, e.name, d, store.verity()); !msg.empty()) {
            problem(path, msg);
            quarantine.emplace_back(fd, e.name);
            continue;
        }
        auto img = open_at(fd, e.name, O_RDONLY | O_NOFOLLOW);
        auto uses = img ? image_objects(img->get()) : Result<std::vector<ObjectUse>>(std::move(img).error());
        if (!uses) {
            problem(path, "cannot be read: " + uses.error().message);
            continue;
        }
        for (const auto& u : *uses) {
            std::string rel = Store::object_path(u.object);
            std::string user = path + ":" + u.path;
            if (auto it = damaged.find(rel); it != damaged.end()) {
                report.problems[it->second].used_by.push_back(user);
            } else if (!store.has_object(u.object)) {
                missing[rel].push_back(user);
            }
        }
    }
    for (auto& [rel, users] : missing)
        report.problems.push_back({"objects/" + rel, "missing (used by an image)", std::move(users)});
    return {};
}

Result<void> Checker::refs(const std::string& prefix, int depth) {
    int fd = store.dir_fd("refs");
    auto entries = detail::list_dir(fd, prefix.empty() ? "." : prefix);
    if (!entries) return std::move(entries).error();
    for (const auto& e : *entries) {
        std::string name = prefix.empty() ? e.name : prefix + "/" + e.name;
        std::string path = "refs/" + name;
        if (auto v = validate_ref_name(name); !v) {
            problem(path, "unexpected entry: " + v.error().message);
            continue;
        }
        if (e.type == DT_DIR && depth < 64) {
            IMGCTL_TRY(refs(name, depth + 1));
            continue;
        }
        if (e.type != DT_REG) {
            problem(path, e.type == DT_LNK ? "is a symlink (never followed)" : "not a regular file");
            continue;
        }
        ++report.refs;
        auto d = store.resolve_ref(name);
        if (!d) {
            problem(path, d.error().message);
        } else if (!store.has_image(*d)) {
            problem(path, fmt::format("names image {} which is not in the store", d->hex()));
        }
    }
    return {};
}

Result<void> Checker::blobs() {
    int fd = store.dir_fd("blobs");
    auto entries = detail::list_dir(fd, ".");
    if (!entries) return std::move(entries).error();
    for (const auto& e : *entries) {
        std::string path = "oci/blobs/sha256/" + e.name;
        if (e.type != DT_REG || !is_lower_hex(e.name, 64)) {
            problem(path, e.type == DT_LNK ? "is a symlink (never followed)" : "unexpected entry (not a sha256 digest)");
            continue;
        }
        ++report.blobs;
        auto data = read_file_at(fd, e.name);
        if (!data) {
            problem(path, data.error().message);
        } else if (auto got = crypto::Sha256::of(*data); got != *crypto::Digest::from_hex(e.name)) {
            problem(path, fmt::format("content does not match its name (sha256:{})", got.hex()));
            quarantine.emplace_back(fd, e.name);
        }
    }
    return {};
}

Result<void> Checker::repair() {
    if (quarantine.empty()) return {};
    int tmp_fd = store.dir_fd("tmp");
    IMGCTL_TRY(mkdir_p_at(tmp_fd, "quarantine"));
    for (const auto& [dir_fd, name] : quarantine) {
        std::string flat;
        for (char c : name) flat.push_back(c == '/' ? '_' : c);
        std::string from = dir_fd == store.objects_dir_fd() ? "objects/" + name
                           : dir_fd == store.dir_fd("images") ? "images/" + name
                                                              : "oci/blobs/sha256/" + name;
        std::string to;
        int rc = -1;
        for (int i = 0; rc < 0 && i < 1000; ++i) {
            to = fmt::format("quarantine/{}{}", flat, i ? fmt::format(".{}", i) : "");
            rc = ::renameat2(dir_fd, name.c_str(), tmp_fd, to.c_str(), RENAME_NOREPLACE);
            if (rc < 0 && errno != EEXIST) return errno_error(errno, fmt::format("moving '{}' aside", from));
        }
        report.quarantined.push_back(from + " -> tmp/" + to);
    }
    return store.sync();
}

}  // namespace

Result<FsckReport> check_store(Store& store, const ImageObjectsFn& image_objects, const FsckOptions& opts) {
    if (opts.repair && store.lock_mode() != LockMode::Exclusive)
        return make_error(EPERM, "fsck --repair of '{}' needs the exclusive lock", store.path());
    Checker c{store, image_objects, {}, {}, {}};
    auto ctx = [&](Error e) { return std::move(e).context(fmt::format("checking store '{}'", store.path())); };
    if (auto r = c.objects(); !r) return ctx(std::move(r).error());
    if (auto r = c.images(); !r) return ctx(std::move(r).error());
    if (auto r = c.refs("", 0); !r) return ctx(std::move(r).error());
    if (auto r = c.blobs(); !r) return ctx(std::move(r).error());
    if (opts.repair) {
        if (auto r = c.repair(); !r) return ctx(std::move(r).error());
    }
    return std::move(c.report);
}

}  // namespace imgctl::store
