#include "cli/store_common.hpp"

#include <sys/stat.h>

#include <cstdlib>

#include "base/log.hpp"
#include "base/progress_events.hpp"
#include "cli/command.hpp"

namespace imgctl::cli {

bool parse_repo_option(int opt, const char* arg, RepoOptions& o) {
    switch (opt) {
        case kOptRepo: o.repo = arg; return true;
        case kOptSysroot: o.sysroot = arg; return true;
        case kOptNoWait: o.no_wait = true; return true;
        default: return false;
    }
}

Result<ListArgs> parse_list_args(int argc, char** argv) {
    static const option kOpts[] = {{"json", no_argument, nullptr, 'j'}, IMGCTL_REPO_LONG_OPTIONS, {}};
    ListArgs a;
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", kOpts, nullptr)) != -1) {
        if (parse_repo_option(opt, optarg, a.repo)) continue;
        if (opt != 'j') return make_error(EINVAL, "unknown option '{}'", argv[optind - 1]);
        a.json = true;
    }
    a.next = optind;
    return a;
}

std::string repo_path(const RepoOptions& o) {
    if (!o.repo.empty()) return o.repo;
    std::string sysroot = o.sysroot;
    if (sysroot.empty()) {
        struct stat st {};
        sysroot = ::stat("/sysroot/imgctl", &st) == 0 ? "/sysroot" : "/";
    }
    if (sysroot.ends_with('/')) return sysroot + "imgctl";
    return sysroot + "/imgctl";
}

Result<store::Store> open_store(const RepoOptions& o, store::LockMode mode) {
    return store::Store::open(repo_path(o), mode, !o.no_wait,
                              [](const std::string& msg) { log_warning("cli", "{}", msg); });
}

int fail(const Error& e) {
    log_error("cli", "{}", e.message);
    return kExitFailure;
}

}  // namespace imgctl::cli

namespace imgctl::cli {

std::optional<int> parse_progress_fd(const char* arg) {
    char* end = nullptr;
    long n = std::strtol(arg, &end, 10);
    if (end == arg || *end != '\0' || n < 0 || n > (1 << 20)) return std::nullopt;
    return static_cast<int>(n);
}

int open_progress_fd(int fd, const char* verb, std::string_view source) {
    if (fd < 0) return kExitOk;
    if (auto o = progress_events::open(fd); !o) return usage_error(verb, o.error().message);
    progress_events::start("pull", source);
    return kExitOk;
}

}  // namespace imgctl::cli
