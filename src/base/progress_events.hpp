#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace imgctl::progress_events {

/// Machine-readable progress as JSON Lines on a file descriptor (`--progress-fd N`; the format
/// is docs/progress-fd.md, version kVersion). One channel per process; every function below is
/// a no-op until open() succeeds, and all are thread-safe. A reader that goes away (EPIPE) or
/// any other write error closes the channel silently: progress never fails an operation.
inline constexpr int kVersion = 1;

/// Starts writing to `fd` (which stays open and owned by the caller). EBADF when `fd` is not
/// open for writing. Ignores SIGPIPE for the process so a closed pipe cannot kill it mid-update.
Result<void> open(int fd);
bool enabled();

/// {"type":"start","version":1,"command":…,"source":…}
void start(std::string_view command, std::string_view source);
/// {"type":"bytes","task":…,"description":…,"bytes":N,"bytesTotal":N} (bytesTotal 0: unknown)
void bytes(std::string_view task, std::string_view description, uint64_t done, uint64_t total);
/// {"type":"step","task":…,"step":…,"steps":N,"stepsTotal":N}: step N (1-based) of the task begins.
void step(std::string_view task, std::string_view name, unsigned n, unsigned total);
/// {"type":"end","ok":true,"image":…} after success (`image` may be empty).
void end_ok(std::string_view image, bool up_to_date = false);
/// {"type":"end","ok":false,"error":…}
void end_error(std::string_view message);

/// `s` as a JSON string literal, quotes included (exposed for tests).
std::string json_string(std::string_view s);
/// For tests: forget the channel.
void close_for_tests();

}  // namespace imgctl::progress_events
