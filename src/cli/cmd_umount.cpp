// imgctl umount MOUNTPOINT: unmount what `imgctl mount` mounted.
#include <getopt.h>

#include <fmt/format.h>

#include "base/log.hpp"
#include "cli/command.hpp"
#include "composefs/mount.hpp"

namespace imgctl::cli {

namespace {

constexpr std::string_view kUsage =
    "Usage: imgctl umount MOUNTPOINT\n\n"
    "Unmount a composefs image mounted with 'imgctl mount'. Refuses anything that is not an\n"
    "overlayfs mount.\n";

int run_umount(int argc, char** argv) {
    static const option kOpts[] = {{}};
    opterr = 0;
    if (getopt_long(argc, argv, "", kOpts, nullptr) != -1)
        return usage_error("umount", fmt::format("unknown option '{}'", argv[optind - 1]));
    if (argc - optind != 1) return usage_error("umount", "expected MOUNTPOINT");
    auto r = composefs::unmount_image(argv[optind]);
    if (!r) {
        log_error("cli", "{}", r.error().message);
        return kExitFailure;
    }
    return kExitOk;
}

const Command kUmount{"umount", "unmount a composefs image", kUsage, run_umount};
const CommandRegistrar kReg(kUmount);

}  // namespace
}  // namespace imgctl::cli
