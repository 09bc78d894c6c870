#pragma once

#include <string>

#include "base/result.hpp"

namespace imgctl {

/// A fresh directory (mkdtemp) removed with its contents on destruction unless release()d.
class TempDir {
public:
    /// Creates "<parent>/<prefix>XXXXXX"; parent defaults to $TMPDIR or /tmp.
    static Result<TempDir> create(const std::string& prefix = "imgctl-", const std::string& parent = "");

    TempDir(TempDir&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
    TempDir& operator=(TempDir&& o) noexcept;
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir();

    const std::string& path() const { return path_; }
    /// Keeps the directory; returns its path.
    [[nodiscard]] std::string release() { return std::exchange(path_, {}); }

private:
    explicit TempDir(std::string path) : path_(std::move(path)) {}
    std::string path_;
};

}  // namespace imgctl
