#include "base/progress.hpp"

#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "base/progress_events.hpp"

namespace imgctl {

std::string format_bytes(uint64_t bytes) {
    static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(bytes);
    size_t u = 0;
    while (v >= 1024 && u + 1 < std::size(kUnits)) {
        v /= 1024;
        ++u;
    }
    return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, kUnits[u]);
}

namespace {
std::atomic<bool> g_tty_bar_disabled{false};
}

void Progress::disable_tty_bar() { g_tty_bar_disabled = true; }

Progress::Progress(std::string title, uint64_t total, std::string task)
    : title_(std::move(title)), task_(std::move(task)), total_(total), start_(std::chrono::steady_clock::now()) {
    const char* env = ::getenv("IMGCTL_PROGRESS");
    visible_ = ::isatty(STDERR_FILENO) && !(env && std::strcmp(env, "0") == 0) && !g_tty_bar_disabled;
    send_event(false);
}

Progress::~Progress() { finish(); }

void Progress::set_total(uint64_t total) { total_ = total; }

void Progress::add(uint64_t delta) {
    done_ += delta;
    if (visible_) draw(false);
    send_event(false);
}

void Progress::finish() {
    if (finished_) return;
    send_event(true);
    if (visible_) draw(true);
    finished_ = true;
}

void Progress::send_event(bool final) {
    if (!progress_events::enabled()) return;
    {
        std::lock_guard lock(mu_);
        auto now = std::chrono::steady_clock::now();
        if (finished_ || (!final && last_event_.time_since_epoch().count() != 0 &&
                          now - last_event_ < std::chrono::milliseconds(250)))
            return;
        last_event_ = now;
    }
    progress_events::bytes(task_, title_, done_.load(), total_.load());
}

std::string Progress::format_line(const std::string& title, uint64_t done, uint64_t total, double seconds,
                                  int width) {
    double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
    std::string tail = total ? fmt::format(" {}/{}", format_bytes(done), format_bytes(total))
                             : fmt::format(" {}", format_bytes(done));
    tail += fmt::format(" {}/s", format_bytes(static_cast<uint64_t>(rate)));
    if (total && rate > 0 && done < total)
        tail += fmt::format(" ETA {}s", static_cast<uint64_t>(static_cast<double>(total - done) / rate + 0.5));
    std::string bar;
    int bar_width = width - static_cast<int>(title.size() + tail.size()) - 4;
    if (total && bar_width >= 10) {
        bar_width = std::min(bar_width, 40);
        int filled = static_cast<int>(static_cast<double>(bar_width) * static_cast<double>(std::min(done, total)) /
                                      static_cast<double>(total));
        bar = " [" + std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(bar_width - filled), ' ') + "]";
    }
    std::string line = title + bar + tail;
    if (width > 0 && static_cast<int>(line.size()) > width) line.resize(static_cast<size_t>(width));
    return line;
}

void Progress::draw(bool final) {
    std::lock_guard lock(mu_);
    if (finished_) return;
    auto now = std::chrono::steady_clock::now();
    if (!final && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    struct winsize ws {};
    int width = (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) ? ws.ws_col : 80;
    double secs = std::chrono::duration<double>(now - start_).count();
    std::string line = format_line(title_, done_.load(), total_.load(), secs, width - 1);
    ::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final ? "\n" : "");
    ::fflush(stderr);
}

}  // namespace imgctl
