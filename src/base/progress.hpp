#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace imgctl {

/// A one-line terminal progress bar on stderr ("title [####    ] 12.0/40.0 MiB 3.1 MiB/s ETA 9s").
/// It draws only when stderr is a TTY (and IMGCTL_PROGRESS is not "0"), at most 10 times a
/// second; otherwise it is silent, so logs and pipes stay clean. add() is thread-safe.
/// With a progress_events channel open (--progress-fd), it also sends a "bytes" event for `task`
/// at most 4 times a second and once at finish(), TTY or not.
class Progress {
public:
    /// `total` may be 0 when unknown (then no bar and no ETA are shown).
    Progress(std::string title, uint64_t total, std::string task = "download");
    /// Turns the TTY bar off for the whole process (`--quiet`); progress events stay on.
    static void disable_tty_bar();
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    void add(uint64_t delta);
    void set_total(uint64_t total);

    /// Sub-progress per item (a pull: one per layer it downloads), all added before the first
    /// add(). add(item, delta) counts for the item and the total. On a TTY the bar then shows
    /// one line per item (at most kItemLines: those still in flight first) above the total line;
    /// each item also sends its own "bytes" events, task `item_task`, description its name.
    size_t add_item(std::string name, uint64_t total, std::string item_task = "layer");
    void add(size_t item, uint64_t delta);
    static constexpr size_t kItemLines = 8;
    /// Draws the final state and ends the line.
    void finish();
    bool is_visible() const { return visible_; }

    /// The line that would be drawn for `done` of `total` after `seconds` (exposed for tests).
    static std::string format_line(const std::string& title, uint64_t done, uint64_t total, double seconds,
                                   int width);
    struct ItemState {
        std::string name;
        uint64_t done, total;
    };
    /// The lines drawn for these items and the total (exposed for tests): at most kItemLines
    /// item lines, unfinished items first, then the total line.
    static std::vector<std::string> format_lines(const std::string& title, const std::vector<ItemState>& items,
                                                 uint64_t done, uint64_t total, double seconds, int width);

private:
    struct Item {
        std::string name, task;
        uint64_t total;
        std::atomic<uint64_t> done{0};
        std::chrono::steady_clock::time_point last_event{};  // under mu_
        bool final_sent = false;                             // under mu_
    };
    void draw(bool final);
    void send_event(bool final);
    void send_item_event(Item& item, bool final);
    std::string title_;
    std::string task_;
    std::chrono::steady_clock::time_point last_event_{};
    std::atomic<uint64_t> total_;
    std::atomic<uint64_t> done_{0};
    std::chrono::steady_clock::time_point start_;
    std::chrono::steady_clock::time_point last_draw_{};
    std::mutex mu_;
    bool visible_ = false;
    bool finished_ = false;
    std::vector<std::unique_ptr<Item>> items_;
    size_t drawn_lines_ = 0;  // lines of the last draw (under mu_)
};

/// "1.5 MiB" style formatting of a byte count.
std::string format_bytes(uint64_t bytes);

}  // namespace imgctl
