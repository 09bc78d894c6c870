// imgctl pull-ostree ostree:REPO_OR_URL:REF: import an OSTree commit into the store (the
// `ostree:` branch of `imgctl pull`, kept as its own hidden verb until pull dispatches to it).
#include <getopt.h>

#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/log.hpp"
#include "base/progress.hpp"
#include "base/progress_events.hpp"
#include "cli/command.hpp"
#include "cli/store_common.hpp"
#include "ostree/importer.hpp"
#include "store/store.hpp"

namespace imgctl::cli {

namespace {

constexpr std::string_view kUsage =
    "Usage: imgctl pull-ostree [OPTIONS] ostree:REPO_OR_URL:REF\n\n"
    "Import the OSTree commit REF of a local repository (read in place) or of an\n"
    "http(s):// or file:// URL (pulled into <store>/ostree-cache) into the store, build its\n"
    "composefs image and set the ref ostree/<location>/<ref>. Prints the image digest.\n\n"
    "  --no-gpg-verify     do not verify the commit signature of a URL (verified by default)\n"
    "  --gpg-keyring FILE  trust the public keys in FILE for this URL\n"
    "  --keep-usr-etc      keep /usr/etc as it is instead of moving it to /etc\n"
    "  --json              print image, ref, commit and counts as JSON\n"
    "  --quiet             no progress bar\n"
    "  --progress-fd N     progress as JSON lines on file descriptor N (docs/progress-fd.md)\n";

const std::string kFullUsage = std::string(kUsage) + std::string(kRepoUsage);

void print_result(const ostree::ImportResult& r, bool json) {
    if (!json) {
        fmt::print("{}\n", r.image.hex());
        return;
    }
    nlohmann::json j = {
        {"image", r.image.hex()},
        {"ref", r.store_ref},
        {"commit", r.commit.checksum},
        {"version", r.commit.version},
        {"subject", r.commit.subject},
        {"timestamp", r.commit.timestamp},
        {"directories", r.stats.dirs},
        {"files", r.stats.files},
        {"symlinks", r.stats.symlinks},
        {"objects", r.stats.external},
        {"object_bytes", r.stats.external_bytes},
    };
    fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

int run_pull_ostree(int argc, char** argv) {
    enum { kNoGpg = 1, kKeyring, kKeepUsrEtc, kJson, kQuiet, kProgressFd };
    static const option kOpts[] = {
        IMGCTL_REPO_LONG_OPTIONS,
        {"no-gpg-verify", no_argument, nullptr, kNoGpg},     {"gpg-keyring", required_argument, nullptr, kKeyring},
        {"keep-usr-etc", no_argument, nullptr, kKeepUsrEtc}, {"json", no_argument, nullptr, kJson},
        {"quiet", no_argument, nullptr, kQuiet},             {"progress-fd", required_argument, nullptr, kProgressFd},
        {},
    };
    RepoOptions repo;
    ostree::ImportOptions opts;
    bool json = false;
    int progress_fd = -1;
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+q", kOpts, nullptr)) != -1) {
        if (parse_repo_option(opt, optarg, repo)) continue;
        switch (opt) {
            case kNoGpg: opts.pull.gpg_verify = false; break;
            case kKeyring: opts.pull.gpg_keyring_file = optarg; break;
            case kKeepUsrEtc: opts.read.map_usr_etc = false; break;
            case kJson: json = true; break;
            case 'q':
            case kQuiet: Progress::disable_tty_bar(); break;
            case kProgressFd: {
                auto fd = parse_progress_fd(optarg);
                if (!fd) return usage_error("pull-ostree", fmt::format("bad --progress-fd '{}'", optarg));
                progress_fd = *fd;
                break;
            }
            default: return usage_error("pull-ostree", fmt::format("unknown option '{}'", argv[optind - 1]));
        }
    }
    if (optind + 1 != argc) return usage_error("pull-ostree", "expected exactly one ostree:REPO_OR_URL:REF");
    auto src = ostree::parse_source(argv[optind]);
    if (!src) return usage_error("pull-ostree", src.error().message);
    if (src->kind == ostree::OstreeSource::Kind::Local && !opts.pull.gpg_keyring_file.empty())
        return usage_error("pull-ostree", "--gpg-keyring applies to URLs only (a local repository is read in place)");

    if (int rc = open_progress_fd(progress_fd, "pull-ostree", argv[optind]); rc != kExitOk) return rc;
    auto fail = [](Error e) {
        progress_events::end_error(e.message);
        return cli::fail(std::move(e));
    };
    // Open the store for writing (waits for another writer), then import.
    auto store = open_store(repo, store::LockMode::Exclusive);
    if (!store) return fail(store.error());
    auto r = ostree::import_commit(*store, *src, opts);
    if (!r) return fail(r.error());
    log_info("cli", "{}: commit {} -> image {} ({} files, {} objects)", src->to_string(), r->commit.checksum,
             r->image.hex(), r->stats.files, r->stats.external);
    print_result(*r, json);
    progress_events::end_ok(r->image.hex());
    return kExitOk;
}

const Command kPullOstree{"pull-ostree", "import an OSTree commit (internal; 'pull ostree:…' calls it)", kFullUsage,
                          run_pull_ostree, /*hidden=*/true};
const CommandRegistrar kReg(kPullOstree);

}  // namespace
}  // namespace imgctl::cli
