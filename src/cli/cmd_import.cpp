// imgctl import DIR --ref NAME: a directory tree → objects + composefs image → ref.
#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/store_common.hpp"
#include "composefs/store_glue.hpp"
#include "store/ref_name.hpp"

namespace imgctl::cli {

namespace {

constexpr std::string_view kUsage =
    "Usage: imgctl import DIR --ref NAME [OPTIONS]\n\n"
    "Store the tree DIR: every regular file of more than 64 bytes becomes an object (stored once\n"
    "across all images), the metadata a composefs image, and NAME points at it. Prints the image\n"
    "digest, which equals 'imgctl compose --keep-hardlinks DIR' (or 'imgctl compose DIR' with\n"
    "--no-hardlinks).\n\n"
    "  --ref NAME       the ref to set (e.g. local/base; see 'imgctl refs --help')\n"
    "  --no-hardlinks   give every name its own inode, as mkcomposefs does for directories\n"
    "  --threads N      digest with N threads (default: one per CPU)\n"
    "  --no-cache       read and hash every file, ignoring the digest cache of the last import\n"
    "                   (which is then left as it is)\n";

int run_import(int argc, char** argv) {
    static const option kOpts[] = {{"ref", required_argument, nullptr, 'r'},
                                   {"no-hardlinks", no_argument, nullptr, 'H'},
                                   {"threads", required_argument, nullptr, 't'},
                                   {"no-cache", no_argument, nullptr, 'C'},
                                   IMGCTL_REPO_LONG_OPTIONS,
                                   {}};
    RepoOptions ro;
    composefs::ImportOptions io;
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", kOpts, nullptr)) != -1) {
        if (parse_repo_option(opt, optarg, ro)) continue;
        switch (opt) {
            case 'r': io.ref = optarg; break;
            case 'H': io.keep_hardlinks = false; break;
            case 'C': io.use_cache = false; break;
            case 't': {
                char* end = nullptr;
                long v = std::strtol(optarg, &end, 10);
                if (*optarg == '\0' || *end != '\0' || v < 1 || v > 1024)
                    return usage_error("import", fmt::format("bad thread count '{}'", optarg));
                io.threads = static_cast<unsigned>(v);
                break;
            }
            default: return usage_error("import", fmt::format("unknown option '{}'", argv[optind - 1]));
        }
    }
    if (argc - optind != 1) return usage_error("import", "expected one DIR");
    if (io.ref.empty()) return usage_error("import", "--ref NAME is required (an image without a ref is garbage)");
    if (auto v = store::validate_ref_name(io.ref); !v) return usage_error("import", v.error().message);
    auto s = open_store(ro, store::LockMode::Exclusive);
    if (!s) return fail(s.error());
    auto d = composefs::import_directory(*s, argv[optind], io);
    if (!d) return fail(d.error());
    fmt::print("{}\n", d->hex());
    return kExitOk;
}

const std::string kFullUsage = std::string(kUsage) + std::string(kRepoUsage);

const Command kImport{"import", "store a directory tree as an image and set a ref", kFullUsage, run_import};
const CommandRegistrar kReg(kImport);

}  // namespace
}  // namespace imgctl::cli
