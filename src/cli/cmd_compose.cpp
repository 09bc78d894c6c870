// imgctl compose [OPTIONS] SOURCE IMAGE: mkcomposefs. A directory or a composefs-dump file
// becomes a composefs image (and, with --digest-store, objects named by fs-verity digest).
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "base/atomic_file.hpp"
#include "base/file_util.hpp"
#include "base/log.hpp"
#include "cli/command.hpp"
#include "composefs/digest_store.hpp"
#include "composefs/dir_scanner.hpp"
#include "composefs/dump_parser.hpp"
#include "composefs/dump_writer.hpp"
#include "composefs/erofs_writer.hpp"

namespace imgctl::cli {

namespace {

constexpr std::string_view kUsage =
    "Usage: imgctl compose [OPTIONS] SOURCE IMAGE\n\n"
    "Write a composefs image of SOURCE (a directory, or with --from-file a composefs-dump\n"
    "file, '-' for stdin), byte-identical with mkcomposefs. Installed as 'mkcomposefs' it\n"
    "takes the same command line.\n\n"
    "  --from-file            SOURCE is a composefs-dump(5) file\n"
    "  --digest-store=DIR     copy external file contents to DIR/XX/<digest>\n"
    "  --print-digest         print the image's fs-verity digest\n"
    "  --print-digest-only    print the digest, write no image (IMAGE may be omitted)\n"
    "  --min-version=N        lowest format version to write (default 0)\n"
    "  --max-version=N        highest format version to write (default 1)\n"
    "  --use-epoch            set every mtime to 0\n"
    "  --skip-devices         leave out block and character devices\n"
    "  --skip-xattrs          leave out all xattrs\n"
    "  --user-xattrs          keep only user.* xattrs\n"
    "  --threads=N            digest with N threads (default: CPUs available)\n"
    "  --strict               strict dump parsing (also CFS_PARSE_STRICT=1)\n"
    "  --keep-hardlinks       keep hardlinks of a source directory (by device and inode)\n"
    "  --write-dump=FILE      also write the tree as a composefs-dump file\n";

struct Options {
    bool from_file = false, print_digest = false, print_only = false, strict = false;
    composefs::ScanOptions scan;
    composefs::ErofsOptions erofs;
    std::string digest_store, write_dump, source, image;
};

bool parse_u32(const char* s, uint32_t max, uint32_t& out) {
    char* end = nullptr;
    unsigned long v = std::strtoul(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v > max) return false;
    out = static_cast<uint32_t>(v);
    return true;
}

// Returns -1 on success, otherwise the exit code.
int parse_args(int argc, char** argv, Options& o) {
    enum { kFromFile = 256, kStore, kPrint, kPrintOnly, kMin, kMax, kEpoch, kSkipDev, kSkipX, kUserX,
           kThreads, kStrict, kKeepLinks, kWriteDump };
    static const option kOpts[] = {
        {"from-file", no_argument, nullptr, kFromFile}, {"digest-store", required_argument, nullptr, kStore},
        {"print-digest", no_argument, nullptr, kPrint}, {"print-digest-only", no_argument, nullptr, kPrintOnly},
        {"min-version", required_argument, nullptr, kMin}, {"max-version", required_argument, nullptr, kMax},
        {"use-epoch", no_argument, nullptr, kEpoch}, {"skip-devices", no_argument, nullptr, kSkipDev},
        {"skip-xattrs", no_argument, nullptr, kSkipX}, {"user-xattrs", no_argument, nullptr, kUserX},
        {"threads", required_argument, nullptr, kThreads}, {"strict", no_argument, nullptr, kStrict},
        {"keep-hardlinks", no_argument, nullptr, kKeepLinks}, {"write-dump", required_argument, nullptr, kWriteDump},
        {"help", no_argument, nullptr, 'h'}, {}};
    opterr = 0;
    int opt;
    bool skip_xattrs = false, user_xattrs = false;
    while ((opt = getopt_long(argc, argv, "", kOpts, nullptr)) != -1) {
        switch (opt) {
            case kFromFile: o.from_file = true; break;
            case kStore: o.digest_store = optarg; break;
            case kPrint: o.print_digest = true; break;
            case kPrintOnly: o.print_only = true; break;
            case kMin:
                if (!parse_u32(optarg, 1000, o.erofs.min_version))
                    return usage_error("compose", fmt::format("bad --min-version '{}'", optarg));
                break;
            case kMax:
                if (!parse_u32(optarg, 1000, o.erofs.max_version))
                    return usage_error("compose", fmt::format("bad --max-version '{}'", optarg));
                break;
            case kEpoch: o.scan.use_epoch = true; break;
            case kSkipDev: o.scan.skip_devices = true; break;
            case kSkipX: skip_xattrs = true; break;
            case kUserX: user_xattrs = true; break;
            case kThreads:
                if (!parse_u32(optarg, 1024, o.scan.threads) || o.scan.threads == 0)
                    return usage_error("compose", fmt::format("bad --threads '{}'", optarg));
                break;
            case kStrict: o.strict = true; break;
            case kKeepLinks: o.scan.keep_hardlinks = true; break;
            case kWriteDump: o.write_dump = optarg; break;
            case 'h': fmt::print("{}", kUsage); return kExitOk;  // reached when run as mkcomposefs
            default: return usage_error("compose", fmt::format("unknown option '{}'", argv[optind - 1]));
        }
    }
    if (skip_xattrs && user_xattrs) return usage_error("compose", "--skip-xattrs and --user-xattrs conflict");
    if (skip_xattrs) o.scan.xattrs = composefs::XattrMode::None;
    if (user_xattrs) o.scan.xattrs = composefs::XattrMode::User;
    if (o.from_file && (!o.digest_store.empty() || o.scan.keep_hardlinks))
        return usage_error("compose", "--digest-store and --keep-hardlinks need a directory SOURCE");
    int rest = argc - optind;
    if (rest < 1) return usage_error("compose", "no SOURCE given");
    o.source = argv[optind];
    if (rest >= 2) o.image = argv[optind + 1];
    if (rest > 2) return usage_error("compose", "too many arguments");
    if (o.image.empty() && !o.print_only) return usage_error("compose", "no IMAGE given");
    if (const char* e = std::getenv("CFS_PARSE_STRICT"); e && std::string_view(e) == "1") o.strict = true;
    return -1;
}

Result<composefs::Tree> load_tree(const Options& o) {
    if (o.from_file) {
        UniqueFd file;
        if (o.source != "-") {
            auto f = open_at(AT_FDCWD, o.source, O_RDONLY);
            if (!f) return std::move(f).error();
            file = std::move(*f);
        }
        auto tree = composefs::parse_dump_fd(o.source == "-" ? STDIN_FILENO : file.get(),
                                             composefs::DumpParseOptions{.strict = o.strict});
        if (!tree) return std::move(tree).error().context(fmt::format("parsing '{}'", o.source));
        return tree;
    }
    std::unique_ptr<composefs::DigestStore> store;
    if (!o.digest_store.empty()) {
        auto s = composefs::DigestStore::open(o.digest_store);
        if (!s) return std::move(s).error();
        store = std::make_unique<composefs::DigestStore>(std::move(*s));
    }
    return composefs::scan_directory(o.source, o.scan, store.get());
}

// Calls `fill(fd)` on a new file that appears under `path` only when fill and the commit succeed.
template <typename F>
auto write_file_with(const std::string& path, F fill) -> decltype(fill(0)) {
    std::string copy = path;
    std::string dir = dirname(copy.data());
    std::string name = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
    auto dfd = open_at(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY);
    if (!dfd) return std::move(dfd).error();
    auto f = AtomicFile::create_at(dfd->get(), name, 0644);
    if (!f) return std::move(f).error();
    auto r = fill(f->fd());
    if (!r) return r;
    IMGCTL_TRY(f->commit());
    return r;
}

Result<void> write_file(const std::string& path, std::string_view data) {
    return write_file_with(path, [&](int fd) { return write_all(fd, data); });
}

// Streams the image into IMAGE (or, with --print-digest-only, nowhere): the image is never
// held in memory as a whole.
Result<composefs::WrittenImage> write_image(const Options& o, const composefs::Tree& tree) {
    if (o.print_only) return composefs::write_erofs(tree, [](std::string_view) -> Result<void> { return {}; }, o.erofs);
    auto r = write_file_with(o.image, [&](int fd) {
        return composefs::write_erofs(tree, [fd](std::string_view chunk) { return write_all(fd, chunk); }, o.erofs);
    });
    if (!r) return std::move(r).error().context(fmt::format("writing image '{}'", o.image));
    return r;
}

int run_compose(int argc, char** argv) {
    Options o;
    if (int rc = parse_args(argc, argv, o); rc >= 0) return rc;
    using Clock = std::chrono::steady_clock;
    auto secs = [](Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); };
    auto t0 = Clock::now();
    auto tree = load_tree(o);
    log_info("compose", "read '{}' in {:.3f} s", o.source, secs(t0));
    if (!tree) {
        log_error("cli", "{}", tree.error().message);
        return kExitFailure;
    }
    if (!o.write_dump.empty()) {
        if (auto r = write_file(o.write_dump, composefs::write_dump(*tree)); !r) {
            log_error("cli", "{}", std::move(r).error().context(fmt::format("writing dump '{}'", o.write_dump)).message);
            return kExitFailure;
        }
    }
    auto t1 = Clock::now();
    auto img = write_image(o, *tree);
    log_info("compose", "built the image in {:.3f} s", secs(t1));
    if (!img) {
        log_error("cli", "{}", img.error().message);
        return kExitFailure;
    }
    log_info("compose", "done in {:.3f} s", secs(t0));
    if (o.print_digest || o.print_only) fmt::print("{}\n", img->fsverity.hex());
    return kExitOk;
}

const Command kCompose{"compose", "write a composefs image of a directory or dump file (mkcomposefs)", kUsage,
                       run_compose};
const CommandRegistrar kReg(kCompose);

}  // namespace
}  // namespace imgctl::cli
