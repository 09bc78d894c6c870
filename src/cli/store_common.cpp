#include "cli/store_common.hpp"

#include <sys/stat.h>

#include "base/log.hpp"
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
