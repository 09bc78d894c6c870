#pragma once

#include <sys/types.h>

#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace imgctl {

/// The one way to create a file that must never be seen half-written under its final name.
/// create_at() opens an anonymous O_TMPFILE in the target directory (or, where the file
/// system lacks it, a hidden ".#name.XXXXXX" file); commit() fsyncs the file, links or renames
/// it to its final name and fsyncs the directory. If commit() never succeeds, the destructor
/// discards the temporary file. Not thread-safe; one owner.
class AtomicFile {
public:
    enum class Mode {
        Replace,    ///< commit() replaces an existing file atomically
        NoReplace,  ///< commit() fails with EEXIST when the name exists
    };

    static Result<AtomicFile> create_at(int dir_fd, const std::string& name, mode_t mode = 0644,
                                        Mode replace = Mode::Replace);

    AtomicFile(AtomicFile&&) noexcept;
    AtomicFile& operator=(AtomicFile&&) noexcept;
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;
    ~AtomicFile();

    /// The descriptor to write to (opened read-write).
    int fd() const { return fd_.get(); }

    /// Makes the file durable under its final name. `sync=false` skips the fsyncs
    /// (for callers that batch them with syncfs()).
    Result<void> commit(bool sync = true);

    /// Discards the file now.
    void discard();

private:
    AtomicFile() = default;
    int dir_fd_ = -1;  // borrowed; must outlive this object
    std::string name_;
    std::string tmp_name_;  // empty when O_TMPFILE is used
    UniqueFd fd_;
    Mode replace_ = Mode::Replace;
    mode_t mode_ = 0644;
    bool done_ = false;
};

}  // namespace imgctl
