#pragma once

#include <optional>
// Options every store verb shares (--repo, --sysroot, --no-wait) and opening the store.

#include <getopt.h>

#include <string>

#include "base/result.hpp"
#include "store/store.hpp"

namespace imgctl::cli {

struct RepoOptions {
    std::string repo;     ///< --repo DIR
    std::string sysroot;  ///< --sysroot DIR
    bool no_wait = false; ///< --no-wait: fail at once when the lock is held
};

/// getopt_long values of the shared options; verbs put kRepoLongOptions into their table.
enum : int { kOptRepo = 1000, kOptSysroot, kOptNoWait };
#define IMGCTL_REPO_LONG_OPTIONS                                   \
    {"repo", required_argument, nullptr, ::imgctl::cli::kOptRepo},       \
        {"sysroot", required_argument, nullptr, ::imgctl::cli::kOptSysroot}, \
        {"no-wait", no_argument, nullptr, ::imgctl::cli::kOptNoWait}

/// Handles one of the shared options; false when `opt` is not one of them.
bool parse_repo_option(int opt, const char* arg, RepoOptions& o);

/// What a listing verb's command line holds: [--json] and the shared options.
struct ListArgs {
    RepoOptions repo;
    bool json = false;
    int next = 0;  ///< argv index of the first non-option argument
};
/// Parses [--json] plus the shared options; an Error is a usage error (its message says why).
Result<ListArgs> parse_list_args(int argc, char** argv);

/// The usage lines of the shared options.
inline constexpr std::string_view kRepoUsage =
    "  --repo DIR       the store (default: <sysroot>/imgctl)\n"
    "  --sysroot DIR    the physical root (default: /sysroot if /sysroot/imgctl exists, else /)\n"
    "  --no-wait        fail at once instead of waiting when another process holds the lock\n";

/// --repo, else <sysroot>/imgctl with the default sysroot rule (docs/store-format.md "Location").
std::string repo_path(const RepoOptions& o);

/// Opens the store, telling the user on stderr when it waits for the lock.
Result<store::Store> open_store(const RepoOptions& o, store::LockMode mode);

/// Logs `e` once as the final error and returns kExitFailure.
int fail(const Error& e);

/// The N of `--progress-fd N` (0 to 2^20), or nullopt when it is not such a number.
std::optional<int> parse_progress_fd(const char* arg);
/// When `fd` >= 0: opens the progress_events channel on it and sends the start line for
/// `source`. Returns kExitOk, or a usage error's exit code (fd not open for writing).
int open_progress_fd(int fd, const char* verb, std::string_view source);

}  // namespace imgctl::cli
