#include "ostree/importer.hpp"

#include <cstdlib>
#include <ctime>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/log.hpp"
#include "composefs/erofs_writer.hpp"
#include "store/store.hpp"

namespace imgctl::ostree {

namespace {

constexpr size_t kCopyChunk = 256 * 1024;

// Puts the commit's external files into the store. Called from several reader threads: it
// relies on Store's object insertion being reentrant (each call has its own O_TMPFILE in tmp/
// and ends in linkat(), EEXIST meaning "already there"; no Store member changes).
class StoreSink : public ContentSink {
public:
    explicit StoreSink(store::Store& store) : store_(store) {}

    Result<crypto::Digest> put_fd(int fd) override { return store_.insert_object_fd(fd); }

    Result<crypto::Digest> put_stream(uint64_t size, const ReadFn& read) override {
        auto w = store_.begin_object(size);
        if (!w) return std::move(w).error();
        thread_local std::vector<std::byte> buf;
        buf.resize(kCopyChunk);
        uint64_t left = size;
        while (left > 0) {
            auto n = read(std::span(buf).first(std::min<uint64_t>(left, buf.size())));
            if (!n) return std::move(n).error();
            if (*n == 0) return make_error(EIO, "content ends {} bytes early", left);
            IMGCTL_TRY(w->write(std::span<const std::byte>(buf).first(*n)));
            left -= *n;
        }
        std::byte extra[1];
        auto n = read(extra);
        if (!n) return std::move(n).error();
        if (*n != 0) return make_error(EIO, "content is longer than its announced {} bytes", size);
        return w->commit();
    }

private:
    store::Store& store_;
};

std::string rfc3339(uint64_t t) {
    time_t tt = static_cast<time_t>(t);
    struct tm tm {};
    gmtime_r(&tt, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// images/<hex>.json (docs/store-format.md keys + "ostree"). Checksums are plain hex, never
// "sha256:…", which the store would take for blob names.
std::string image_meta(const OstreeSource& src, const CommitInfo& c) {
    nlohmann::json j = {
        {"source", src.to_string()},
        {"created", rfc3339(c.timestamp)},
        {"hardlinks", true},
        {"ostree",
         {{"location", src.location},
          {"ref", src.ref},
          {"commit", c.checksum},
          {"subject", c.subject},
          {"timestamp", c.timestamp}}},
    };
    if (!c.version.empty()) j["version"] = c.version;
    // Subjects and versions are arbitrary bytes; replace invalid UTF-8 instead of throwing.
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Opens the repository holding the commit (pulling a URL into the cache first) and resolves it.
Result<std::pair<Repo, CommitInfo>> open_commit(store::Store& store, const OstreeSource& src,
                                                const ImportOptions& opts) {
    if (src.kind == OstreeSource::Kind::Local) {
        auto repo = Repo::open(src.location);
        if (!repo) return std::move(repo).error();
        auto info = repo->resolve(src.ref);
        if (!info) return std::move(info).error();
        return std::pair{std::move(*repo), std::move(*info)};
    }
    std::string cache = opts.cache_dir.empty() ? store.path() + "/ostree-cache" : opts.cache_dir;
    auto repo = Repo::open_or_create_cache(cache);
    if (!repo) return std::move(repo).error();
    auto local_ref = repo->pull(src.location, src.ref, opts.pull);
    if (!local_ref) return std::move(local_ref).error();
    auto info = repo->resolve(*local_ref);
    if (!info) return std::move(info).error();
    return std::pair{std::move(*repo), std::move(*info)};
}

// A local repository is recorded by its absolute, symlink-free path, so the ref and the
// metadata name the same repository whatever the current directory of a later `upgrade`.
Result<OstreeSource> canonical(const OstreeSource& given) {
    if (given.kind != OstreeSource::Kind::Local) return given;
    char* abs = ::realpath(given.location.c_str(), nullptr);
    if (!abs) return errno_error(errno, fmt::format("OSTree repository '{}'", given.location));
    OstreeSource src = given;
    src.location = abs;
    ::free(abs);
    return src;
}

}  // namespace

Result<ImportResult> import_commit(store::Store& store, const OstreeSource& given, const ImportOptions& opts) {
    auto canon = canonical(given);
    if (!canon) return std::move(canon).error().context(fmt::format("importing '{}'", given.to_string()));
    const OstreeSource& src = *canon;
    const std::string what = fmt::format("importing '{}'", src.to_string());
    auto opened = open_commit(store, src, opts);
    if (!opened) return std::move(opened).error().context(what);
    auto& [repo, commit] = *opened;
    log_debug("ostree", "{}: commit {} (version '{}')", what, commit.checksum, commit.version);

    StoreSink sink(store);
    auto tree = read_commit_tree(repo, commit, sink, opts.read);
    if (!tree) return std::move(tree).error().context(what);

    auto image = composefs::write_erofs(tree->tree);
    if (!image) return std::move(image).error().context(what + ": writing the composefs image");
    auto digest = store.put_image(std::as_bytes(std::span(image->bytes)));
    if (!digest) return std::move(digest).error().context(what + ": storing the image");
    auto meta = store.set_image_meta(*digest, image_meta(src, commit));
    if (!meta) return std::move(meta).error().context(what + ": writing the image metadata");

    ImportResult out{*digest, src.store_ref(), std::move(commit), tree->stats};
    auto ref = store.set_ref(out.store_ref, out.image);
    if (!ref) return std::move(ref).error().context(what);
    return out;
}

}  // namespace imgctl::ostree
