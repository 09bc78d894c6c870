#pragma once

#include <string>
#include <string_view>

#include "base/result.hpp"
#include "store/store.hpp"

namespace imgctl::store {

/// The content of repo.json (docs/store-format.md).
struct RepoConfig {
    static constexpr int kVersion = 1;
    static constexpr std::string_view kDigest = "fsverity-sha256-12";
    static constexpr int kImageFormat = 1;

    VerityPolicy verity = VerityPolicy::Optional;
    int image_format = kImageFormat;

    /// Parses repo.json; EINVAL (garbled, missing keys) or EPROTONOSUPPORT (unknown version or
    /// digest) with a message meant to be prefixed with the file name.
    static Result<RepoConfig> parse(std::string_view json);
    /// One line of JSON plus a newline.
    std::string serialize() const;
};

}  // namespace imgctl::store
