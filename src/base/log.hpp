#pragma once

#include <string_view>

#include <fmt/format.h>

namespace imgctl::log {

enum class Level { Error = 0, Warning, Notice, Info, Debug, Trace };

/// Sets levels from a spec like "debug" or "info,oci=trace,store=debug" (IMGCTL_LOG syntax).
/// Returns false on a malformed spec (the levels are then left unchanged).
bool configure(std::string_view spec);
/// Raises the default level by `n` steps (each -v).
void increase_verbosity(int n);
/// True if a message of `level` in `category` would be written.
bool enabled(std::string_view category, Level level);
/// Writes one line: to stderr ("imgctl: error: ...") or, when stderr is the journal, to journald.
void write(std::string_view category, Level level, std::string_view message);

}  // namespace imgctl::log

namespace imgctl {

template <typename... Args>
void log_at(log::Level lvl, std::string_view cat, fmt::format_string<Args...> f, Args&&... args) {
    if (log::enabled(cat, lvl)) log::write(cat, lvl, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void log_error(std::string_view cat, fmt::format_string<Args...> f, Args&&... args) {
    log_at(log::Level::Error, cat, f, std::forward<Args>(args)...);
}
template <typename... Args>
void log_warning(std::string_view cat, fmt::format_string<Args...> f, Args&&... args) {
    log_at(log::Level::Warning, cat, f, std::forward<Args>(args)...);
}
template <typename... Args>
void log_notice(std::string_view cat, fmt::format_string<Args...> f, Args&&... args) {
    log_at(log::Level::Notice, cat, f, std::forward<Args>(args)...);
}
template <typename... Args>
void log_info(std::string_view cat, fmt::format_string<Args...> f, Args&&... args) {
    log_at(log::Level::Info, cat, f, std::forward<Args>(args)...);
}
template <typename... Args>
void log_debug(std::string_view cat, fmt::format_string<Args...> f, Args&&... args) {
    log_at(log::Level::Debug, cat, f, std::forward<Args>(args)...);
}

}  // namespace imgctl
