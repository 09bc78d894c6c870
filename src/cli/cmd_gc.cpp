// imgctl gc: remove what no ref reaches.
#include <fmt/format.h>

#include "base/progress.hpp"
#include "cli/command.hpp"
#include "cli/store_common.hpp"
#include "composefs/store_glue.hpp"
#include "store/maintenance.hpp"

namespace imgctl::cli {

namespace {

constexpr std::string_view kUsage =
    "Usage: imgctl gc [--dry-run] [OPTIONS]\n\n"
    "Remove every image, object and blob that no ref reaches, and everything in tmp/. Prints\n"
    "one 'removed PATH' line per file (or 'would remove PATH' with --dry-run) and a summary\n"
    "'freed N bytes (…): …' (the apparent size of the removed files).\n\n"
    "  --dry-run        only print what would be removed\n";

int run_gc(int argc, char** argv) {
    static const option kOpts[] = {{"dry-run", no_argument, nullptr, 'n'}, IMGCTL_REPO_LONG_OPTIONS, {}};
    RepoOptions ro;
    store::GcOptions go;
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", kOpts, nullptr)) != -1) {
        if (parse_repo_option(opt, optarg, ro)) continue;
        if (opt == 'n') {
            go.dry_run = true;
            continue;
        }
        return usage_error("gc", fmt::format("unknown option '{}'", argv[optind - 1]));
    }
    if (optind != argc) return usage_error("gc", fmt::format("unexpected argument '{}'", argv[optind]));
    auto s = open_store(ro, store::LockMode::Exclusive);
    if (!s) return fail(s.error());
    auto r = store::collect_garbage(*s, composefs::image_objects(), go);
    if (!r) return fail(r.error());
    const char* verb = go.dry_run ? "would remove" : "removed";
    for (const auto& p : r->removed) fmt::print("{} {}\n", verb, p);
    fmt::print("{} {} bytes ({}): {} images, {} objects, {} blobs, {} tmp entries; kept {} images, {} objects\n",
               go.dry_run ? "would free" : "freed", r->bytes, format_bytes(r->bytes), r->images, r->objects,
               r->blobs, r->tmp_entries, r->kept_images, r->kept_objects);
    return kExitOk;
}

const std::string kFullUsage = std::string(kUsage) + std::string(kRepoUsage);

const Command kGc{"gc", "remove unreferenced images and objects", kFullUsage, run_gc};
const CommandRegistrar kReg(kGc);

}  // namespace
}  // namespace imgctl::cli
