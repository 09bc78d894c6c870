// imgctl fsck: verify every digest of the store and what images need; optionally quarantine damage.
#include <fmt/format.h>

#include "base/log.hpp"
#include "base/progress.hpp"
#include "cli/command.hpp"
#include "cli/store_common.hpp"
#include "composefs/store_glue.hpp"
#include "store/maintenance.hpp"

namespace imgctl::cli {

namespace {

constexpr std::string_view kUsage =
    "Usage: imgctl fsck [--repair] [OPTIONS]\n\n"
    "Check the store: repo.json, every object, image and blob digest (recomputed, or measured\n"
    "by fs-verity), that every image's objects exist, and that every ref names an image.\n"
    "Prints one line per problem ('PATH: what is wrong'), followed by the image files that use\n"
    "a damaged or missing object ('  used by images/<digest>:/path'). Exits 1 when anything is\n"
    "wrong (also after --repair: the moved objects must be fetched again).\n\n"
    "  --repair         move damaged objects, images and blobs into tmp/quarantine/\n";

int run_fsck(int argc, char** argv) {
    static const option kOpts[] = {{"repair", no_argument, nullptr, 'r'}, IMGCTL_REPO_LONG_OPTIONS, {}};
    RepoOptions ro;
    store::FsckOptions fo;
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", kOpts, nullptr)) != -1) {
        if (parse_repo_option(opt, optarg, ro)) continue;
        if (opt == 'r') {
            fo.repair = true;
            continue;
        }
        return usage_error("fsck", fmt::format("unknown option '{}'", argv[optind - 1]));
    }
    if (optind != argc) return usage_error("fsck", fmt::format("unexpected argument '{}'", argv[optind]));
    auto s = open_store(ro, fo.repair ? store::LockMode::Exclusive : store::LockMode::Shared);
    if (!s) return fail(s.error());
    auto report = store::check_store(*s, composefs::image_objects(), fo);
    if (!report) return fail(report.error());
    for (const auto& p : report->problems) {
        fmt::print("{}: {}\n", p.path, p.message);
        for (const auto& u : p.used_by) fmt::print("  used by {}\n", u);
    }
    for (const auto& q : report->quarantined) fmt::print("moved {}\n", q);
    log_notice("cli", "checked {} objects ({}), {} images, {} refs, {} blobs: {} problem(s)", report->objects,
               format_bytes(report->object_bytes), report->images, report->refs, report->blobs,
               report->problems.size());
    return report->is_clean() ? kExitOk : kExitFailure;
}

const std::string kFullUsage = std::string(kUsage) + std::string(kRepoUsage);

const Command kFsck{"fsck", "check the store's digests and references", kFullUsage, run_fsck};
const CommandRegistrar kReg(kFsck);

}  // namespace
}  // namespace imgctl::cli
