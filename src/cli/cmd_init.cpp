// imgctl init: create an empty store.
#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/store_common.hpp"

namespace imgctl::cli {

namespace {

constexpr std::string_view kUsage =
    "Usage: imgctl init [--verity require|optional] [--repo DIR | --sysroot DIR]\n\n"
    "Create an empty store (docs/store-format.md) and print its path. The directory may exist\n"
    "if it is empty.\n\n"
    "  --verity MODE    require: every object and image gets fs-verity; refused when the file\n"
    "                   system lacks it. optional (default): fs-verity when available\n";

int run_init(int argc, char** argv) {
    static const option kOpts[] = {{"verity", required_argument, nullptr, 'V'}, IMGCTL_REPO_LONG_OPTIONS, {}};
    RepoOptions ro;
    auto verity = store::VerityPolicy::Optional;
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", kOpts, nullptr)) != -1) {
        if (parse_repo_option(opt, optarg, ro)) continue;
        if (opt == 'V') {
            std::string_view v = optarg;
            if (v == "require") verity = store::VerityPolicy::Require;
            else if (v == "optional") verity = store::VerityPolicy::Optional;
            else return usage_error("init", fmt::format("--verity takes require or optional, not '{}'", v));
            continue;
        }
        return usage_error("init", fmt::format("unknown option '{}'", argv[optind - 1]));
    }
    if (optind != argc) return usage_error("init", fmt::format("unexpected argument '{}'", argv[optind]));
    auto s = store::Store::init(repo_path(ro), verity);
    if (!s) return fail(s.error());
    fmt::print("{}\n", s->path());
    return kExitOk;
}

const Command kInit{"init", "create an empty store", kUsage, run_init};
const CommandRegistrar kReg(kInit);

}  // namespace
}  // namespace imgctl::cli
