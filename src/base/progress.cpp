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

size_t Progress::add_item(std::string name, uint64_t total, std::string item_task) {
    auto item = std::make_unique<Item>();
    item->name = std::move(name);
    item->task = std::move(item_task);
    item->total = total;
    items_.push_back(std::move(item));
    send_item_event(*items_.back(), false);
    return items_.size() - 1;
}

void Progress::add(size_t item, uint64_t delta) {
    Item& it = *items_.at(item);
    uint64_t now = it.done += delta;
    done_ += delta;
    if (visible_) draw(false);
    send_event(false);
    send_item_event(it, now >= it.total);
}

void Progress::send_item_event(Item& item, bool final) {
    if (!progress_events::enabled()) return;
    {
        std::lock_guard lock(mu_);
        auto now = std::chrono::steady_clock::now();
        if (finished_ || item.final_sent ||
            (!final && item.last_event.time_since_epoch().count() != 0 &&
             now - item.last_event < std::chrono::milliseconds(250)))
            return;
        item.last_event = now;
        item.final_sent = final;
    }
    progress_events::bytes(item.task, item.name, item.done.load(), item.total);
}

void Progress::finish() {
    if (finished_) return;
    for (auto& it : items_) send_item_event(*it, true);
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

std::vector<std::string> Progress::format_lines(const std::string& title, const std::vector<ItemState>& items,
                                                uint64_t done, uint64_t total, double seconds, int width) {
    std::vector<const ItemState*> shown;
    for (bool finished : {false, true})
        for (const auto& it : items)
            if ((it.done >= it.total) == finished && shown.size() < kItemLines) shown.push_back(&it);
    std::vector<std::string> lines;
    for (const auto& it : items)  // in the items' order
        if (std::find(shown.begin(), shown.end(), &it) != shown.end())
            // A digest is shown as its first 12 hex digits, as docker and podman do.
            lines.push_back(format_line("  " + (it.name.rfind("sha256:", 0) == 0 ? it.name.substr(0, 19) : it.name),
                                        it.done, it.total, seconds, width));
    if (items.size() > shown.size()) {
        size_t rest = items.size() - shown.size();
        lines.push_back(fmt::format("  ... and {} more", rest));
    }
    lines.push_back(format_line(title, done, total, seconds, width));
    return lines;
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
    std::vector<ItemState> states;
    for (const auto& it : items_) states.push_back({it->name, it->done.load(), it->total});
    auto lines = format_lines(title_, states, done_.load(), total_.load(), secs, width - 1);
    // Back to the first line of the last draw, then every line rewritten (the count never shrinks:
    // items only finish).
    std::string out;
    if (drawn_lines_ > 1) out += fmt::format("\033[{}A", drawn_lines_ - 1);
    for (size_t i = 0; i < lines.size(); ++i) out += "\r\033[K" + lines[i] + (i + 1 < lines.size() ? "\n" : "");
    if (final) out += "\n";
    drawn_lines_ = lines.size();
    ::fputs(out.c_str(), stderr);
    ::fflush(stderr);
}

}  // namespace imgctl
