// imgctl: the command-line entry point. Global options, then one verb from the command table.
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>

#include <cstring>
#include <exception>
#include <string>

#include <fmt/format.h>

#include "base/log.hpp"
#include "cli/command.hpp"
#include "imgctl_version.h"

using namespace imgctl;

namespace {

void print_help() {
    fmt::print("Usage: imgctl [-v] [--log SPEC] VERB [OPTIONS...]\n\n"
               "Manage image-based Linux hosts on composefs.\n\nVerbs:\n");
    for (auto* c : cli::commands())
        if (!c->hidden) fmt::print("  {:<12} {}\n", c->name, c->summary);
    fmt::print("\nOptions:\n"
               "  -v, --verbose   more log output (repeat for more)\n"
               "      --log SPEC  log levels, e.g. 'debug' or 'info,oci=trace' (also $IMGCTL_LOG)\n"
               "  -h, --help      show this help\n"
               "      --version   show the version\n\n"
               "'imgctl VERB --help' describes a verb. See imgctl(8).\n");
}

int run(int argc, char** argv) {
    // Installed as a symlink named mkcomposefs, imgctl is a drop-in for the reference tool.
    std::string self = basename(argv[0]);
    if (self == "mkcomposefs") {
        if (const auto* c = cli::find_command("compose")) return c->run(argc, argv);
    }
    static const option kOpts[] = {{"verbose", no_argument, nullptr, 'v'},
                                   {"log", required_argument, nullptr, 'L'},
                                   {"help", no_argument, nullptr, 'h'},
                                   {"version", no_argument, nullptr, 'V'},
                                   {}};
    int opt;
    opterr = 0;
    // '+' stops at the first non-option: the verb.
    while ((opt = getopt_long(argc, argv, "+vh", kOpts, nullptr)) != -1) {
        switch (opt) {
            case 'v': log::increase_verbosity(1); break;
            case 'L':
                if (!log::configure(optarg)) {
                    fmt::print(stderr, "imgctl: bad log specification '{}'\n", optarg);
                    return cli::kExitUsage;
                }
                break;
            case 'h': print_help(); return cli::kExitOk;
            case 'V': fmt::print("imgctl {}\n", IMGCTL_VERSION); return cli::kExitOk;
            default:
                fmt::print(stderr, "imgctl: unknown option '{}'\nTry 'imgctl --help'.\n", argv[optind - 1]);
                return cli::kExitUsage;
        }
    }
    if (optind >= argc) {
        fmt::print(stderr, "imgctl: no verb given\nTry 'imgctl --help'.\n");
        return cli::kExitUsage;
    }
    const cli::Command* cmd = cli::find_command(argv[optind]);
    if (!cmd) {
        fmt::print(stderr, "imgctl: unknown verb '{}'\nTry 'imgctl --help'.\n", argv[optind]);
        return cli::kExitUsage;
    }
    if (cli::handle_help(*cmd, argc - optind, argv + optind)) return cli::kExitOk;
    int verb_argc = argc - optind;
    char** verb_argv = argv + optind;
    optind = 0;  // a full reset of getopt for the verb's own parsing
    return cmd->run(verb_argc, verb_argv);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {  // last resort: imgctl itself throws nothing
        fmt::print(stderr, "imgctl: error: {}\n", e.what());
        return cli::kExitFailure;
    }
}
