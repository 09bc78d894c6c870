// imgctl dump IMAGE: print a composefs image as composefs-dump(5) text (composefs-info dump).
#include <fcntl.h>
#include <getopt.h>

#include <fmt/format.h>

#include "base/log.hpp"
#include "base/mapped_file.hpp"
#include "cli/command.hpp"
#include "composefs/dump_writer.hpp"
#include "composefs/erofs_reader.hpp"

namespace imgctl::cli {

namespace {

constexpr std::string_view kUsage =
    "Usage: imgctl dump [--format-version] IMAGE\n\n"
    "Print the composefs image IMAGE as composefs-dump(5) text, like 'composefs-info dump'.\n"
    "'imgctl compose --from-file --min-version=V --max-version=V' of the output, with V the\n"
    "image's format version, writes the same image again, byte for byte.\n\n"
    "  --format-version   print only the image's format version V (0 or 1)\n";

int run_dump(int argc, char** argv) {
    static const option kOpts[] = {{"format-version", no_argument, nullptr, 'f'}, {}};
    bool version_only = false;
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", kOpts, nullptr)) != -1) {
        if (opt == 'f') version_only = true;
        else return usage_error("dump", fmt::format("unknown option '{}'", argv[optind - 1]));
    }
    if (argc - optind != 1) return usage_error("dump", "expected one IMAGE");
    std::string path = argv[optind];
    auto map = MappedFile::open_at(AT_FDCWD, path);
    if (!map) {
        log_error("cli", "{}", std::move(map).error().context(fmt::format("reading image '{}'", path)).message);
        return kExitFailure;
    }
    if (version_only) {
        auto info = composefs::read_image_info(map->data(), path);
        if (!info) {
            log_error("cli", "{}", info.error().message);
            return kExitFailure;
        }
        fmt::print("{}\n", info->format_version);
        return kExitOk;
    }
    auto img = composefs::read_image(map->data(), path);
    if (!img) {
        log_error("cli", "{}", img.error().message);
        return kExitFailure;
    }
    std::string text = composefs::write_dump(img->tree);
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0) {
        log_error("cli", "writing the dump: {}", strerror(errno));
        return kExitFailure;
    }
    return kExitOk;
}

const Command kDump{"dump", "print a composefs image as composefs-dump text", kUsage, run_dump};
const CommandRegistrar kReg(kDump);

}  // namespace
}  // namespace imgctl::cli
