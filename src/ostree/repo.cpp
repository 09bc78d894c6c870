#include "ostree/repo.hpp"

#include <fcntl.h>

#include <cstring>

#include <gio/gio.h>

#include "base/log.hpp"
#include "crypto/sha256.hpp"
#include "ostree/glib_support.hpp"

namespace imgctl::ostree {

Error gerror_to_error(GError* err, std::string_view what) {
    if (!err) return make_error(EIO, "{}: failed (no details from libostree)", what);
    int code = EIO;
    if (err->domain == G_IO_ERROR) {
        switch (err->code) {
            case G_IO_ERROR_NOT_FOUND: code = ENOENT; break;
            case G_IO_ERROR_EXISTS: code = EEXIST; break;
            case G_IO_ERROR_PERMISSION_DENIED: code = EACCES; break;
            case G_IO_ERROR_NO_SPACE: code = ENOSPC; break;
            case G_IO_ERROR_CANCELLED: code = ECANCELED; break;
            case G_IO_ERROR_INVALID_ARGUMENT: code = EINVAL; break;
            default: break;
        }
    }
    Error e = make_error(code, "{}: {}", what, err->message ? err->message : "unknown error");
    g_error_free(err);
    return e;
}

Result<std::string> checksum_hex(GVariant* bytes, std::string_view what) {
    GError* err = nullptr;
    const guchar* csum = ostree_checksum_bytes_peek_validate(bytes, &err);
    if (!csum) return gerror_to_error(err, what);
    GCharPtr hex(ostree_checksum_from_bytes(csum));
    return std::string(hex.get());
}

namespace {

// The cache repository lives next to the store's objects (private, archive mode): its writes
// are made durable by libostree itself, and a crash leaves at most staging data it cleans up.
Result<GObjectPtr<OstreeRepo>> open_path(const std::string& path) {
    GError* err = nullptr;
    GObjectPtr<OstreeRepo> repo(ostree_repo_open_at(AT_FDCWD, path.c_str(), nullptr, &err));
    if (!repo) return gerror_to_error(err, fmt::format("opening OSTree repository '{}'", path));
    return repo;
}

std::string variant_string(GVariant* dict, const char* key) {
    const char* s = nullptr;
    if (dict && g_variant_lookup(dict, key, "&s", &s) && s) return s;
    return {};
}

}  // namespace

Repo::Repo(std::unique_ptr<RepoImpl> impl) : impl_(std::move(impl)) {}
Repo::Repo(Repo&&) noexcept = default;
Repo& Repo::operator=(Repo&&) noexcept = default;
Repo::~Repo() = default;

Result<Repo> Repo::open(const std::string& path) {
    auto r = open_path(path);
    if (!r) return std::move(r).error();
    auto impl = std::make_unique<RepoImpl>();
    impl->repo = std::move(*r);
    impl->path = path;
    return Repo(std::move(impl));
}

Result<Repo> Repo::open_or_create_cache(const std::string& path) {
    if (::faccessat(AT_FDCWD, (path + "/config").c_str(), F_OK, 0) == 0) return open(path);
    GError* err = nullptr;
    // create_at is idempotent on an existing repo and creates the directory itself.
    GObjectPtr<OstreeRepo> repo(
        ostree_repo_create_at(AT_FDCWD, path.c_str(), OSTREE_REPO_MODE_ARCHIVE, nullptr, nullptr, &err));
    if (!repo) return gerror_to_error(err, fmt::format("creating OSTree cache repository '{}'", path));
    auto impl = std::make_unique<RepoImpl>();
    impl->repo = std::move(repo);
    impl->path = path;
    return Repo(std::move(impl));
}

std::string remote_name_for_url(const std::string& url) {
    // Remote names allow only [-._\w\d]; a hash of the URL keeps one remote per URL.
    return "imgctl-" + crypto::Sha256::of(url).hex().substr(0, 20);
}

Result<std::string> Repo::pull(const std::string& url, const std::string& ref, const PullOptions& opts) {
    OstreeRepo* repo = impl_->repo.get();
    std::string remote = remote_name_for_url(url);
    GError* err = nullptr;

    GVariantBuilder rb;
    g_variant_builder_init(&rb, G_VARIANT_TYPE("a{sv}"));
    g_variant_builder_add(&rb, "{sv}", "gpg-verify", g_variant_new_boolean(opts.gpg_verify));
    GVariantPtr remote_opts(g_variant_ref_sink(g_variant_builder_end(&rb)));
    if (!ostree_repo_remote_change(repo, nullptr, OSTREE_REPO_REMOTE_CHANGE_REPLACE, remote.c_str(),
                                   url.c_str(), remote_opts.get(), nullptr, &err))
        return gerror_to_error(err, fmt::format("configuring remote for '{}'", url));

    if (!opts.gpg_keyring_file.empty()) {
        GObjectPtr<GFile> f(g_file_new_for_path(opts.gpg_keyring_file.c_str()));
        GObjectPtr<GFileInputStream> in(g_file_read(f.get(), nullptr, &err));
        if (!in) return gerror_to_error(err, fmt::format("reading GPG keyring '{}'", opts.gpg_keyring_file));
        guint imported = 0;
        if (!ostree_repo_remote_gpg_import(repo, remote.c_str(), G_INPUT_STREAM(in.get()), nullptr, &imported,
                                           nullptr, &err))
            return gerror_to_error(err, fmt::format("importing GPG keys from '{}'", opts.gpg_keyring_file));
        log_debug("ostree", "imported {} GPG key(s) for '{}'", imported, url);
    }

    GVariantBuilder pb;
    g_variant_builder_init(&pb, G_VARIANT_TYPE("a{sv}"));
    const char* refs[] = {ref.c_str(), nullptr};
    g_variant_builder_add(&pb, "{sv}", "refs", g_variant_new_strv(refs, -1));
    g_variant_builder_add(&pb, "{sv}", "flags", g_variant_new_int32(OSTREE_REPO_PULL_FLAGS_NONE));
    // One retry at most: a broken server should fail the pull quickly, not after a minute.
    g_variant_builder_add(&pb, "{sv}", "n-network-retries", g_variant_new_uint32(1));
    GVariantPtr pull_opts(g_variant_ref_sink(g_variant_builder_end(&pb)));
    log_debug("ostree", "pulling '{}' from '{}' (remote {}, gpg-verify={})", ref, url, remote, opts.gpg_verify);
    if (!ostree_repo_pull_with_options(repo, remote.c_str(), pull_opts.get(), nullptr, nullptr, &err)) {
        bool gpg = opts.gpg_verify && err && err->message &&
                   (strstr(err->message, "GPG") || strstr(err->message, "signature"));
        Error e = gerror_to_error(err, fmt::format("pulling '{}' from '{}'", ref, url));
        if (gpg) e.message += " (signature verification is on: trust the signing key with --gpg-keyring FILE, "
                              "or opt out with --no-gpg-verify)";
        return e;
    }
    return remote + ":" + ref;
}

Result<CommitInfo> Repo::resolve(const std::string& ref) const {
    OstreeRepo* repo = impl_->repo.get();
    GError* err = nullptr;
    char* rev = nullptr;
    if (!ostree_repo_resolve_rev(repo, ref.c_str(), FALSE, &rev, &err))
        return gerror_to_error(err, fmt::format("resolving ref '{}'", ref));
    GCharPtr rev_owner(rev);
    GVariant* commit_raw = nullptr;
    OstreeRepoCommitState state{};
    if (!ostree_repo_load_commit(repo, rev, &commit_raw, &state, &err))
        return gerror_to_error(err, fmt::format("loading commit {}", rev));
    GVariantPtr commit(commit_raw);
    if (state & OSTREE_REPO_COMMIT_STATE_PARTIAL)
        return make_error(EIO, "commit {} of '{}' is only partially present in the repository", rev, ref);

    CommitInfo info;
    info.checksum = rev;
    GVariantPtr meta(g_variant_get_child_value(commit.get(), 0));
    info.version = variant_string(meta.get(), OSTREE_COMMIT_META_KEY_VERSION);
    const char* subject = nullptr;
    g_variant_get_child(commit.get(), 3, "&s", &subject);
    info.subject = subject ? subject : "";
    info.timestamp = ostree_commit_get_timestamp(commit.get());
    GVariantPtr tree(g_variant_get_child_value(commit.get(), 6));
    GVariantPtr tmeta(g_variant_get_child_value(commit.get(), 7));
    auto tree_hex = checksum_hex(tree.get(), fmt::format("root tree of commit {}", rev));
    if (!tree_hex) return std::move(tree_hex).error();
    auto meta_hex = checksum_hex(tmeta.get(), fmt::format("root metadata of commit {}", rev));
    if (!meta_hex) return std::move(meta_hex).error();
    info.root_tree = std::move(*tree_hex);
    info.root_meta = std::move(*meta_hex);
    return info;
}

}  // namespace imgctl::ostree
