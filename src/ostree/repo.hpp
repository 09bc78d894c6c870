#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/result.hpp"

namespace imgctl::ostree {

struct RepoImpl;

/// What `status` shows about an imported commit.
struct CommitInfo {
    std::string checksum;   ///< 64 hex
    std::string version;    ///< the commit's "version" metadata, or empty
    std::string subject;
    uint64_t timestamp = 0; ///< seconds since the epoch (commit time)
    std::string root_tree;  ///< checksum of the root dirtree object
    std::string root_meta;  ///< checksum of the root dirmeta object
};

/// How a pull from a URL checks signatures.
struct PullOptions {
    /// Verify the commit's GPG signature (the default, as for `ostree remote add`). false is the
    /// explicit `--no-gpg-verify` opt-out.
    bool gpg_verify = true;
    /// ASCII-armored or binary public keys trusted for this URL (imported into the cache remote).
    std::string gpg_keyring_file;
};

/// An open libostree repository (move-only; GLib stays behind the pointer).
class Repo {
public:
    /// Opens an existing repository directory (any mode: bare, bare-user, archive…).
    static Result<Repo> open(const std::string& path);
    /// Opens the cache repository at `path`, creating it in archive mode when missing.
    static Result<Repo> open_or_create_cache(const std::string& path);

    Repo(Repo&&) noexcept;
    Repo& operator=(Repo&&) noexcept;
    ~Repo();

    /// Pulls `ref` from `url` into this repository (a remote named after the URL is added or
    /// updated in its config) and returns the refspec to resolve() it ("<remote>:<ref>").
    /// Fails when the transfer breaks or GPG verification is required and fails; libostree
    /// keeps partial downloads in its own staging, never under refs.
    Result<std::string> pull(const std::string& url, const std::string& ref, const PullOptions& opts);

    /// Resolves a ref, a "<remote>:<ref>" refspec or a checksum of this repository and loads
    /// the commit's metadata. Refuses a commit that is only partially present.
    Result<CommitInfo> resolve(const std::string& ref) const;

    const RepoImpl& impl() const { return *impl_; }

private:
    explicit Repo(std::unique_ptr<RepoImpl> impl);
    std::unique_ptr<RepoImpl> impl_;
};

/// The remote name used in the cache repository for `url` (escaped, stable).
std::string remote_name_for_url(const std::string& url);

}  // namespace imgctl::ostree
