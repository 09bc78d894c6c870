#pragma once

#include <string_view>
#include <vector>

namespace imgctl::cli {

/// Exit codes of every verb (ninja's / dnf5's convention).
enum ExitCode : int { kExitOk = 0, kExitFailure = 1, kExitUsage = 2 };

/// One verb of the imgctl binary. `run` gets the verb's own argv (argv[0] is the verb name)
/// and returns an ExitCode. Verbs only orchestrate: parse, call the library, print.
struct Command {
    std::string_view name;
    std::string_view summary;  ///< one line for `imgctl --help`
    std::string_view usage;    ///< the full text for `imgctl VERB --help`
    int (*run)(int argc, char** argv);
    bool hidden = false;       ///< internal verbs are left out of `imgctl --help`
};

/// All registered commands, sorted by name.
const std::vector<const Command*>& commands();
const Command* find_command(std::string_view name);

/// Registers a command at static-initialisation time (each cmd_*.cpp holds one).
struct CommandRegistrar {
    explicit CommandRegistrar(const Command& c);
};

/// Prints "imgctl: VERB: <message>\nTry 'imgctl VERB --help'." to stderr and returns kExitUsage.
int usage_error(std::string_view verb, std::string_view message);

/// True if argv holds -h/--help before "--"; then the usage was printed.
bool handle_help(const Command& c, int argc, char** argv);

}  // namespace imgctl::cli
