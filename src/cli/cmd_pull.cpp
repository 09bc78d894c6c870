// imgctl pull SOURCE: fetch an OCI image (registry, oci: layout, oci-archive:) into the store
// as one composefs image, and point a ref at it.
#include <filesystem>

#include <fmt/format.h>

#include "base/log.hpp"
#include "base/progress.hpp"
#include "base/progress_events.hpp"
#include "cli/command.hpp"
#include "cli/store_common.hpp"
#include "composefs/erofs_writer.hpp"
#include "oci/image_source.hpp"
#include "oci/puller.hpp"
#include "oci/registry_config.hpp"
#include "store/ref_name.hpp"

namespace imgctl::cli {

namespace {

constexpr std::string_view kUsage =
    "Usage: imgctl pull [OPTIONS] SOURCE\n\n"
    "Fetch an OS image and store it as a composefs image; print the image digest.\n"
    "SOURCE is docker://REGISTRY/NAME[:TAG|@sha256:…], REGISTRY/NAME[:TAG|@…], NAME[:TAG]\n"
    "(with a default registry), oci:DIR[:TAG] or oci-archive:FILE[:TAG]; ostree:REPO_OR_URL:REF\n"
    "is handed to 'imgctl pull-ostree' with all options (see its --help).\n\n"
    "  --ref NAME                store ref to set (default: oci/<escaped reference>)\n"
    "  --platform OS/ARCH[/VAR]  pick this platform from an image index (default: the host's)\n"
    "  --default-registry HOST   registry for names without one (else registries.conf; no fallback)\n"
    "  --insecure-registry HOST  reach HOST[:PORT] over plain HTTP (repeatable; for test registries)\n"
    "  --authfile FILE           the only auth.json to use (default: see docs/oci.md)\n"
    "  --jobs N                  layers downloaded at once (default 3)\n"
    "  --quiet                   no progress bar\n"
    "  --progress-fd N           progress as JSON lines on file descriptor N (docs/progress-fd.md)\n";

const std::string kFullUsage = std::string(kUsage) + std::string(kRepoUsage) +
                               "Settings: /etc/imgctl/registries.conf (or $IMGCTL_REGISTRIES_CONF), docs/oci.md.\n";

// The composefs image of the pulled tree: the mkcomposefs-compatible writer, stored by digest.
Result<crypto::Digest> write_image(const composefs::Tree& tree, store::Store& st) {
    auto img = composefs::write_erofs(tree);
    if (!img) return std::move(img).error();
    return st.put_image(std::as_bytes(std::span(img->bytes.data(), img->bytes.size())));
}

struct PullArgs {
    RepoOptions repo;
    oci::PullOptions pull;
    oci::RegistryOptions registry;
    std::string default_registry;
    std::string source;
    int progress_fd = -1;
};

int parse(int argc, char** argv, PullArgs& a) {
    enum { kRef = 1, kPlatform, kDefault, kInsecure, kAuth, kJobs, kQuiet, kProgressFd };
    static const option kOpts[] = {{"ref", required_argument, nullptr, kRef},
                                   {"platform", required_argument, nullptr, kPlatform},
                                   {"default-registry", required_argument, nullptr, kDefault},
                                   {"insecure-registry", required_argument, nullptr, kInsecure},
                                   {"authfile", required_argument, nullptr, kAuth},
                                   {"jobs", required_argument, nullptr, kJobs},
                                   {"quiet", no_argument, nullptr, kQuiet},
                                   {"progress-fd", required_argument, nullptr, kProgressFd},
                                   IMGCTL_REPO_LONG_OPTIONS,
                                   {}};
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "q", kOpts, nullptr)) != -1) {
        if (parse_repo_option(opt, optarg, a.repo)) continue;
        switch (opt) {
            case kRef: a.pull.ref_name = optarg; break;
            case kPlatform: {
                auto p = oci::parse_platform(optarg);
                if (!p) return usage_error("pull", p.error().message);
                a.pull.platform = *p;
                break;
            }
            case kDefault: a.default_registry = optarg; break;
            case kInsecure: a.registry.insecure.insert(optarg); break;
            case kAuth: a.registry.auth_file = optarg; break;
            case kJobs: {
                char* end = nullptr;
                long n = std::strtol(optarg, &end, 10);
                if (*end != '\0' || n < 1 || n > 16) return usage_error("pull", fmt::format("bad --jobs '{}' (1..16)", optarg));
                a.pull.max_connections = static_cast<unsigned>(n);
                break;
            }
            case 'q':
            case kQuiet: Progress::disable_tty_bar(); break;
            case kProgressFd: {
                auto fd = parse_progress_fd(optarg);
                if (!fd) return usage_error("pull", fmt::format("bad --progress-fd '{}'", optarg));
                a.progress_fd = *fd;
                break;
            }
            default: return usage_error("pull", fmt::format("unknown option '{}'", argv[optind - 1]));
        }
    }
    if (optind + 1 != argc) return usage_error("pull", optind >= argc ? "no SOURCE given" : "more than one SOURCE given");
    a.source = argv[optind];
    return kExitOk;
}

// `pull ostree:…` belongs to the OSTree module's verb (its own options): hand the whole
// command line over when SOURCE (the last argument) is an ostree: source.
bool is_ostree_source(int argc, char** argv) { return argc > 1 && std::string_view(argv[argc - 1]).starts_with("ostree:"); }

int run_pull(int argc, char** argv) {
    if (is_ostree_source(argc, argv)) {
        const Command* c = find_command("pull-ostree");
        if (!c) return fail(make_error(ENOTSUP, "'{}': this imgctl was built without OSTree support", argv[argc - 1]));
        return c->run(argc, argv);
    }
    PullArgs a;
    if (int rc = parse(argc, argv, a); rc != kExitOk) return rc;
    if (int rc = open_progress_fd(a.progress_fd, "pull", a.source); rc != kExitOk) return rc;
    // Every failure from here on also ends the progress stream.
    auto fail = [](Error e) {
        progress_events::end_error(e.message);
        return cli::fail(std::move(e));
    };
    if (!a.pull.ref_name.empty()) {
        if (auto v = store::validate_ref_name(a.pull.ref_name); !v) return usage_error("pull", v.error().message);
    }
    auto conf = oci::load_registries_conf();
    if (!conf) return fail(conf.error());
    a.registry.insecure.insert(conf->insecure.begin(), conf->insecure.end());
    a.registry.http = oci::http_options_from_env();
    a.registry.http.ca_file = conf->ca_file;
    auto ref = oci::parse_reference(a.source, a.default_registry.empty() ? conf->default_registry : a.default_registry);
    if (!ref) return fail(ref.error());
    a.pull.source = a.source;
    if (ref->kind != oci::SourceKind::Registry && !ref->path.starts_with("/")) {
        // Refs and image metadata name layouts by absolute path: a relative one is ambiguous.
        std::error_code ec;
        auto abs = std::filesystem::absolute(ref->path, ec);
        if (ec) return fail(make_error(ec.value(), "resolving '{}': {}", ref->path, ec.message()));
        ref->path = abs.lexically_normal().string();
    }

    // 1. The store, exclusively: pulls write objects and move a ref.
    auto st = open_store(a.repo, store::LockMode::Exclusive);
    if (!st) return fail(st.error());
    // 2. The source: a registry, a layout directory, or an archive unpacked into tmp/.
    Result<std::unique_ptr<oci::ImageSource>> src = [&]() -> Result<std::unique_ptr<oci::ImageSource>> {
        switch (ref->kind) {
            case oci::SourceKind::OciLayout: return oci::open_layout(ref->path, ref->tag);
            case oci::SourceKind::OciArchive: return oci::open_archive(ref->path, ref->tag, st->path() + "/tmp");
            case oci::SourceKind::Registry: break;
        }
        return oci::open_registry(*ref, a.registry, st->dir_fd("tmp"));
    }();
    if (!src) return fail(std::move(src).error().context(fmt::format("pulling '{}'", a.source)));
    // 3. Manifest, config, layers → Tree → EROFS image → ref.
    auto res = oci::pull_image(*st, **src, *ref, a.pull, write_image);
    if (!res) return fail(std::move(res).error().context(fmt::format("pulling '{}'", a.source)));
    if (res->up_to_date) {
        log_notice("cli", "'{}' is up to date ({})", a.source, res->manifest_digest);
    } else {
        log_info("cli", "pulled '{}': {} entries, {} objects ({} bytes), {} compressed bytes read, {} layers from cache",
                 a.source, res->totals.entries, res->totals.objects, res->totals.object_bytes, res->downloaded,
                 res->cached_layers);
    }
    fmt::print("{}\n", res->image.hex());
    progress_events::end_ok(res->image.hex(), res->up_to_date);
    return kExitOk;
}

const Command kPull{"pull", "fetch an OCI image into the store", kFullUsage, run_pull};
const CommandRegistrar kReg(kPull);

}  // namespace
}  // namespace imgctl::cli
