// imgctl mount IMAGE MOUNTPOINT --basedir DIR...: mount a composefs image (EROFS + overlayfs).
#include <getopt.h>

#include <fmt/format.h>

#include "base/log.hpp"
#include "cli/command.hpp"
#include "cli/store_common.hpp"
#include "composefs/mount.hpp"

namespace imgctl::cli {

namespace {

constexpr std::string_view kUsage =
    "Usage: imgctl mount IMAGE MOUNTPOINT --basedir DIR [--basedir DIR2...] [OPTIONS]\n"
    "       imgctl mount DIGEST|REF MOUNTPOINT --repo DIR|--sysroot DIR [OPTIONS]\n\n"
    "Mount the composefs image IMAGE on MOUNTPOINT: its EROFS metadata as the lower layer of an\n"
    "overlayfs whose file contents come from the object directories (data-only layers).\n"
    "Needs root. Undo with 'imgctl umount MOUNTPOINT'.\n\n"
    "  --basedir DIR          an object directory (objects/XX/...); repeat for several\n"
    "  --digest HEX           refuse unless the image's fs-verity digest (measured by the\n"
    "                         kernel) is HEX\n"
    "  --verity MODE          require: every object must match its fs-verity digest (needs\n"
    "                         fs-verity); optional: require when available; off (default)\n"
    "  --upperdir DIR --workdir DIR\n"
    "                         a writable overlay with changes in DIR (both or neither)\n"
    "  --read-only            mount the overlay read-only even with an upperdir\n"
    "  --loop                 read the image through a loop device (as kernels < 6.12 need)\n"
    "  --legacy-overlay       mount(2) with 'lowerdir=IMG::BASE' instead of the new mount API\n"
    "  --repo DIR, --sysroot DIR\n"
    "                         mount the image DIGEST (or the one REF names) from the store: only\n"
    "                         an image whose measured digest equals its name is mounted, its\n"
    "                         objects/ is the data layer, --verity defaults to the store's policy\n";

// The store holds the image under its digest; open_image() checks that the content matches the
// name before anything is mounted, and the store's objects/ is the data-only layer.
int mount_from_store(const RepoOptions& ro, std::string_view spec, const std::string& target,
                     composefs::MountOptions o, bool verity_given) {
    if (o.expected_digest) return usage_error("mount", "--digest is implied by DIGEST|REF with --repo");
    auto s = open_store(ro, store::LockMode::Shared);
    if (!s) return fail(s.error());
    auto d = store::resolve_image(*s, spec);
    if (!d) return fail(d.error());
    auto fd = s->open_image(*d);
    if (!fd) return fail(fd.error());
    o.basedirs.insert(o.basedirs.begin(), s->objects_path());
    if (!verity_given)
        o.verity = s->verity() == store::VerityPolicy::Require ? composefs::VerityMode::Require
                                                                : composefs::VerityMode::Optional;
    if (auto r = composefs::mount_image_fd(fd->get(), d->hex(), target, o); !r) return fail(r.error());
    return kExitOk;
}

int run_mount(int argc, char** argv) {
    enum { kBasedir = 1, kDigest, kVerity, kUpper, kWork, kRo, kLoop, kLegacy };
    static const option kOpts[] = {{"basedir", required_argument, nullptr, kBasedir},
                                   {"digest", required_argument, nullptr, kDigest},
                                   {"verity", required_argument, nullptr, kVerity},
                                   {"upperdir", required_argument, nullptr, kUpper},
                                   {"workdir", required_argument, nullptr, kWork},
                                   {"read-only", no_argument, nullptr, kRo},
                                   {"loop", no_argument, nullptr, kLoop},
                                   {"legacy-overlay", no_argument, nullptr, kLegacy},
                                   IMGCTL_REPO_LONG_OPTIONS,
                                   {}};
    composefs::MountOptions o;
    RepoOptions ro;
    bool verity_given = false;
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", kOpts, nullptr)) != -1) {
        std::string_view arg = optarg ? optarg : "";
        if (parse_repo_option(opt, optarg, ro)) continue;
        verity_given |= opt == kVerity;
        switch (opt) {
            case kBasedir: o.basedirs.emplace_back(arg); break;
            case kDigest:
                o.expected_digest = crypto::Digest::from_hex(arg);
                if (!o.expected_digest) return usage_error("mount", fmt::format("'{}' is not 64 hex digits", arg));
                break;
            case kVerity:
                if (arg == "require") o.verity = composefs::VerityMode::Require;
                else if (arg == "optional") o.verity = composefs::VerityMode::Optional;
                else if (arg == "off") o.verity = composefs::VerityMode::Off;
                else return usage_error("mount", fmt::format("--verity takes require, optional or off, not '{}'", arg));
                break;
            case kUpper: o.upperdir = arg; break;
            case kWork: o.workdir = arg; break;
            case kRo: o.read_only = true; break;
            case kLoop: o.force_loop = true; break;
            case kLegacy: o.force_legacy_overlay = true; break;
            default: return usage_error("mount", fmt::format("unknown option '{}'", argv[optind - 1]));
        }
    }
    if (argc - optind != 2) return usage_error("mount", "expected IMAGE and MOUNTPOINT");
    if (o.upperdir.empty() != o.workdir.empty()) return usage_error("mount", "--upperdir and --workdir go together");
    if (!ro.repo.empty() || !ro.sysroot.empty())
        return mount_from_store(ro, argv[optind], argv[optind + 1], o, verity_given);
    if (o.basedirs.empty()) return usage_error("mount", "at least one --basedir (or --repo) is required");
    auto r = composefs::mount_image(argv[optind], argv[optind + 1], o);
    if (!r) {
        log_error("cli", "{}", r.error().message);
        return kExitFailure;
    }
    return kExitOk;
}

const Command kMount{"mount", "mount a composefs image (EROFS + overlayfs)", kUsage, run_mount};
const CommandRegistrar kReg(kMount);

}  // namespace
}  // namespace imgctl::cli
