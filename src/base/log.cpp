#include "base/log.hpp"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <string>

namespace imgctl::log {

namespace {

struct State {
    Level default_level = Level::Notice;
    std::map<std::string, Level, std::less<>> per_category;
    int journal = -1;  // -1 unknown, 0 no, 1 yes
    std::mutex mu;
};

State& state() {
    static State s;
    return s;
}

bool parse_level(std::string_view s, Level* out) {
    static const std::pair<std::string_view, Level> kNames[] = {
        {"error", Level::Error}, {"warning", Level::Warning}, {"notice", Level::Notice},
        {"info", Level::Info},   {"debug", Level::Debug},     {"trace", Level::Trace},
    };
    for (const auto& [name, lvl] : kNames)
        if (s == name) {
            *out = lvl;
            return true;
        }
    return false;
}

// systemd sets JOURNAL_STREAM=<dev>:<ino> when stderr is connected to the journal.
bool stderr_is_journal() {
    const char* js = ::getenv("JOURNAL_STREAM");
    if (!js) return false;
    struct stat st {};
    if (::fstat(STDERR_FILENO, &st) < 0) return false;
    unsigned long long dev = 0, ino = 0;
    if (::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return false;
    return dev == st.st_dev && ino == st.st_ino;
}

std::string_view level_name(Level l) {
    switch (l) {
        case Level::Error: return "error";
        case Level::Warning: return "warning";
        case Level::Notice: return "notice";
        case Level::Info: return "info";
        case Level::Debug: return "debug";
        case Level::Trace: return "trace";
    }
    return "?";
}

int syslog_priority(Level l) {
    switch (l) {
        case Level::Error: return LOG_ERR;
        case Level::Warning: return LOG_WARNING;
        case Level::Notice: return LOG_NOTICE;
        case Level::Info: return LOG_INFO;
        default: return LOG_DEBUG;
    }
}

struct EnvInit {
    EnvInit() {
        if (const char* e = ::getenv("IMGCTL_LOG")) (void)configure(e);  // a bad spec keeps the defaults
    }
};

}  // namespace

bool configure(std::string_view spec) {
    Level def = state().default_level;
    std::map<std::string, Level, std::less<>> cats;
    while (!spec.empty()) {
        auto comma = spec.find(',');
        std::string_view item = spec.substr(0, comma);
        spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
        if (item.empty()) continue;
        auto eq = item.find('=');
        Level lvl;
        if (eq == std::string_view::npos) {
            if (!parse_level(item, &lvl)) return false;
            def = lvl;
        } else {
            if (!parse_level(item.substr(eq + 1), &lvl)) return false;
            cats[std::string(item.substr(0, eq))] = lvl;
        }
    }
    std::lock_guard lock(state().mu);
    state().default_level = def;
    for (auto& [k, v] : cats) state().per_category[k] = v;
    return true;
}

void increase_verbosity(int n) {
    std::lock_guard lock(state().mu);
    int l = static_cast<int>(state().default_level) + n;
    if (l > static_cast<int>(Level::Trace)) l = static_cast<int>(Level::Trace);
    state().default_level = static_cast<Level>(l);
}

bool enabled(std::string_view category, Level level) {
    static EnvInit init;
    State& s = state();
    std::lock_guard lock(s.mu);
    auto it = s.per_category.find(category);
    Level limit = it != s.per_category.end() ? it->second : s.default_level;
    return level <= limit;
}

void write(std::string_view category, Level level, std::string_view message) {
    State& s = state();
    std::lock_guard lock(s.mu);
    if (s.journal < 0) s.journal = stderr_is_journal() ? 1 : 0;
    if (s.journal == 1) {
        sd_journal_send("MESSAGE=%.*s", static_cast<int>(message.size()), message.data(),
                        "PRIORITY=%d", syslog_priority(level), "IMGCTL_CATEGORY=%.*s",
                        static_cast<int>(category.size()), category.data(), "SYSLOG_IDENTIFIER=imgctl", nullptr);
        return;
    }
    std::string line;
    if (level <= Level::Notice && level != Level::Notice)
        line = fmt::format("imgctl: {}: {}\n", level_name(level), message);
    else if (level == Level::Notice)
        line = fmt::format("imgctl: {}\n", message);
    else
        line = fmt::format("imgctl: {} [{}]: {}\n", level_name(level), category, message);
    (void)::fwrite(line.data(), 1, line.size(), stderr);  // nowhere to report a failed log write
}

}  // namespace imgctl::log
