#include "base/progress_events.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <mutex>

#include <fmt/format.h>

namespace imgctl::progress_events {

namespace {

std::mutex g_mu;
int g_fd = -1;

double now_seconds() {
    using namespace std::chrono;
    return duration<double>(system_clock::now().time_since_epoch()).count();
}

// Writes one line; any failure (EPIPE: the reader is gone) closes the channel for good.
void emit(const std::string& fields) {
    std::lock_guard lock(g_mu);
    if (g_fd < 0) return;
    std::string line = fmt::format("{{{},\"time\":{:.3f}}}\n", fields, now_seconds());
    size_t off = 0;
    while (off < line.size()) {
        ssize_t n = ::write(g_fd, line.data() + off, line.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            g_fd = -1;
            return;
        }
        off += static_cast<size_t>(n);
    }
}

// Length of the valid UTF-8 sequence at s[i], or 0.
size_t utf8_len(std::string_view s, size_t i) {
    auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = b(i);
    size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    if (n == 0 || i + n > s.size()) return 0;
    for (size_t k = 1; k < n; ++k)
        if ((b(i + k) & 0xc0) != 0x80) return 0;
    if (n == 3 && ((c == 0xe0 && b(i + 1) < 0xa0) || (c == 0xed && b(i + 1) >= 0xa0))) return 0;  // overlong, surrogate
    if (n == 4 && ((c == 0xf0 && b(i + 1) < 0x90) || (c == 0xf4 && b(i + 1) >= 0x90))) return 0;
    return n;
}

}  // namespace

std::string json_string(std::string_view s) {
    std::string o = "\"";
    for (size_t i = 0; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x80) {
            // Names from images may hold any bytes; JSON must stay valid UTF-8.
            size_t n = utf8_len(s, i);
            if (n == 0) {
                o += "\\ufffd";
            } else {
                o.append(s.substr(i, n));
                i += n - 1;
            }
            continue;
        }
        switch (c) {
            case '"': o += "\\\""; break;
            case '\\': o += "\\\\"; break;
            case '\n': o += "\\n"; break;
            case '\r': o += "\\r"; break;
            case '\t': o += "\\t"; break;
            default:
                if (c < 0x20 || c == 0x7f) o += fmt::format("\\u{:04x}", c);
                else o += static_cast<char>(c);
        }
    }
    return o + "\"";
}

Result<void> open(int fd) {
    int fl = ::fcntl(fd, F_GETFL);
    if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY)
        return make_error(EBADF, "--progress-fd {}: not a file descriptor open for writing", fd);
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ign, nullptr);
    std::lock_guard lock(g_mu);
    g_fd = fd;
    return {};
}

bool enabled() {
    std::lock_guard lock(g_mu);
    return g_fd >= 0;
}

void close_for_tests() {
    std::lock_guard lock(g_mu);
    g_fd = -1;
}

void start(std::string_view command, std::string_view source) {
    emit(fmt::format("\"type\":\"start\",\"version\":{},\"command\":{},\"source\":{}", kVersion,
                     json_string(command), json_string(source)));
}

void bytes(std::string_view task, std::string_view description, uint64_t done, uint64_t total) {
    emit(fmt::format("\"type\":\"bytes\",\"task\":{},\"description\":{},\"bytes\":{},\"bytesTotal\":{}",
                     json_string(task), json_string(description), done, total));
}

void step(std::string_view task, std::string_view name, unsigned n, unsigned total) {
    emit(fmt::format("\"type\":\"step\",\"task\":{},\"step\":{},\"steps\":{},\"stepsTotal\":{}", json_string(task),
                     json_string(name), n, total));
}

void end_ok(std::string_view image, bool up_to_date) {
    emit(fmt::format("\"type\":\"end\",\"ok\":true,\"image\":{},\"upToDate\":{}", json_string(image),
                     up_to_date ? "true" : "false"));
}

void end_error(std::string_view message) {
    emit(fmt::format("\"type\":\"end\",\"ok\":false,\"error\":{}", json_string(message)));
}

}  // namespace imgctl::progress_events
