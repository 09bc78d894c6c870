// imgctl digest FILE...: the fs-verity digest of files, in `fsverity digest`'s format.
#include <fcntl.h>
#include <getopt.h>

#include <fmt/format.h>

#include "base/file_util.hpp"
#include "base/log.hpp"
#include "cli/command.hpp"
#include "crypto/fsverity.hpp"

namespace imgctl::cli {

namespace {

constexpr std::string_view kUsage =
    "Usage: imgctl digest [--threads N] FILE...\n\n"
    "Print the fs-verity digest (SHA-256, 4096-byte blocks, no salt) of each FILE as\n"
    "'sha256:<hex> FILE', like 'fsverity digest'. Large files hash on every core.\n\n"
    "  --threads N   hash with N threads (default: one per CPU)\n";

int run_digest(int argc, char** argv) {
    static const option kOpts[] = {{"threads", required_argument, nullptr, 't'}, {}};
    unsigned threads = 0;
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+", kOpts, nullptr)) != -1) {
        if (opt == 't') {
            char* end = nullptr;
            long v = std::strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || v < 1 || v > 1024)
                return usage_error("digest", fmt::format("bad thread count '{}'", optarg));
            threads = static_cast<unsigned>(v);
        } else {
            return usage_error("digest", fmt::format("unknown option '{}'", argv[optind - 1]));
        }
    }
    if (optind >= argc) return usage_error("digest", "no file given");
    int rc = kExitOk;
    for (int i = optind; i < argc; ++i) {
        auto fd = open_at(AT_FDCWD, argv[i], O_RDONLY);
        Result<crypto::Digest> d = fd ? crypto::fsverity_digest_fd(fd->get(), threads)
                                      : Result<crypto::Digest>(std::move(fd).error());
        if (!d) {
            log_error("cli", "{}", std::move(d).error().context(fmt::format("digest of '{}'", argv[i])).message);
            rc = kExitFailure;
            continue;
        }
        fmt::print("{}\n", crypto::fsverity_line(*d, argv[i]));
    }
    return rc;
}

const Command kDigest{"digest", "print the fs-verity digest of files", kUsage, run_digest};
const CommandRegistrar kReg(kDigest);

}  // namespace
}  // namespace imgctl::cli
