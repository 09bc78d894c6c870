#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace imgctl {

/// What a finished child process left behind.
struct ProcessOutput {
    int exit_status = -1;  ///< the exit code; 128 + signal number when killed by a signal
    std::string out;       ///< everything it wrote to stdout
    std::string err;       ///< everything it wrote to stderr
};

/// Runs `argv` (argv[0] looked up in $PATH, environment inherited) with `input` on its stdin and
/// collects stdout and stderr until it exits. Output beyond `max_output` bytes per stream is an
/// error (E2BIG), so a runaway child cannot exhaust memory. ENOENT when argv[0] is not found.
/// A non-zero exit is not an error here: the caller reads exit_status.
Result<ProcessOutput> run_process(const std::vector<std::string>& argv, std::string_view input,
                                  size_t max_output = 1 << 20);

}  // namespace imgctl
