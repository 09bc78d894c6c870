#include "base/guarded_map.hpp"

#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>

namespace imgctl {

namespace {

// The jump buffer of the read on this thread, while it touches a mapping.
thread_local sigjmp_buf* t_guard = nullptr;
struct sigaction g_previous {};

void on_sigbus(int sig, siginfo_t* info, void* ctx) {
    if (sigjmp_buf* jb = t_guard) {
        t_guard = nullptr;
        siglongjmp(*jb, 1);
    }
    // Not ours: what was installed before, or the default (the process dies as it would have).
    if (g_previous.sa_flags & SA_SIGINFO) {
        if (g_previous.sa_sigaction) return g_previous.sa_sigaction(sig, info, ctx);
    } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
        return g_previous.sa_handler(sig);
    }
    ::signal(sig, SIG_DFL);
    ::raise(sig);
}

void install_handler() {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction sa {};
        sa.sa_sigaction = &on_sigbus;
        sa.sa_flags = SA_SIGINFO | SA_NODEFER;
        sigemptyset(&sa.sa_mask);
        ::sigaction(SIGBUS, &sa, &g_previous);
    });
}

// fn(data) with SIGBUS on this thread turned into a false return. Nothing here changes after
// sigsetjmp, so nothing is clobbered by the jump back.
bool call_guarded(const std::function<void(std::span<const std::byte>)>& fn, std::span<const std::byte> data) {
    sigjmp_buf jb;
    if (sigsetjmp(jb, 1) != 0) return false;  // the handler cleared t_guard
    t_guard = &jb;
    fn(data);
    t_guard = nullptr;
    return true;
}

}  // namespace

Result<void> read_mapped(int fd, uint64_t size, size_t window,
                         const std::function<void(std::span<const std::byte>)>& fn) {
    install_handler();
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    window = std::max(page, window / page * page);
    for (uint64_t off = 0; off < size;) {
        size_t len = static_cast<size_t>(std::min<uint64_t>(window, size - off));
        void* p = ::mmap(nullptr, len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, static_cast<off_t>(off));
        if (p == MAP_FAILED) return errno_error(off == 0 ? ENODEV : errno, "mapping the file");
        bool ok = call_guarded(fn, std::span(static_cast<const std::byte*>(p), len));
        ::munmap(p, len);
        if (!ok) return make_error(EAGAIN, "the file shrank while it was read");
        off += len;
    }
    // Nothing may follow the last byte: a file that grew is as changed as one that shrank.
    char extra;
    ssize_t n;
    do n = ::pread(fd, &extra, 1, static_cast<off_t>(size)); while (n < 0 && errno == EINTR);
    if (n < 0) return errno_error(errno, "reading");
    if (n > 0) return make_error(EAGAIN, "the file grew while it was read");
    return {};
}

}  // namespace imgctl
