// imgctl mount IMAGE MOUNTPOINT --basedir DIR...: mount a composefs image (EROFS + overlayfs).
#include <getopt.h>

#include <fmt/format.h>

#include "base/log.hpp"
#include "cli/command.hpp"
#include "composefs/mount.hpp"

namespace imgctl::cli {

namespace {

constexpr std::string_view kUsage =
    "Usage: imgctl mount IMAGE MOUNTPOINT --basedir DIR [--basedir DIR2...] [OPTIONS]\n\n"
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
    "  --read-only            mount the overlay read-only even with an upperdir\n";

int run_mount(int argc, char** argv) {
    enum { kBasedir = 1, kDigest, kVerity, kUpper, kWork, kRo };
    static const option kOpts[] = {{"basedir", required_argument, nullptr, kBasedir},
                                   {"digest", required_argument, nullptr, kDigest},
                                   {"verity", required_argument, nullptr, kVerity},
                                   {"upperdir", required_argument, nullptr, kUpper},
                                   {"workdir", required_argument, nullptr, kWork},
                                   {"read-only", no_argument, nullptr, kRo},
                                   {}};
    composefs::MountOptions o;
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", kOpts, nullptr)) != -1) {
        std::string_view arg = optarg ? optarg : "";
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
            default: return usage_error("mount", fmt::format("unknown option '{}'", argv[optind - 1]));
        }
    }
    if (argc - optind != 2) return usage_error("mount", "expected IMAGE and MOUNTPOINT");
    if (o.basedirs.empty()) return usage_error("mount", "at least one --basedir is required");
    if (o.upperdir.empty() != o.workdir.empty()) return usage_error("mount", "--upperdir and --workdir go together");
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
