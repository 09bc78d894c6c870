#include "base/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/unique_fd.hpp"

extern char** environ;

namespace imgctl {

namespace {

struct Pipe {
    UniqueFd read, write;
};

Result<Pipe> make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) < 0) return errno_error(errno, "creating a pipe");
    return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Feeds `input` to the child and drains its stdout/stderr with poll(), so neither side can block
// the other whatever the sizes.
Result<void> exchange(UniqueFd in, UniqueFd out, UniqueFd err, std::string_view input, size_t max_output,
                      ProcessOutput& res) {
    size_t sent = 0;
    if (input.empty()) in.reset();
    while (out.is_valid() || err.is_valid()) {
        pollfd p[3] = {{in.is_valid() ? in.get() : -1, POLLOUT, 0},
                       {out.is_valid() ? out.get() : -1, POLLIN, 0},
                       {err.is_valid() ? err.get() : -1, POLLIN, 0}};
        if (::poll(p, 3, -1) < 0) {
            if (errno == EINTR) continue;
            return errno_error(errno, "waiting for the child's output");
        }
        if (p[0].revents) {
            ssize_t n = ::write(in.get(), input.data() + sent, input.size() - sent);
            if (n > 0) sent += static_cast<size_t>(n);
            if (n < 0 && errno != EINTR && errno != EAGAIN) sent = input.size();  // EPIPE: it stopped reading
            if (sent == input.size()) in.reset();
        }
        for (int i = 1; i <= 2; ++i) {
            if (!p[i].revents) continue;
            UniqueFd& fd = i == 1 ? out : err;
            std::string& dst = i == 1 ? res.out : res.err;
            char buf[4096];
            ssize_t n = ::read(fd.get(), buf, sizeof buf);
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (n <= 0) {
                fd.reset();
                continue;
            }
            if (dst.size() + static_cast<size_t>(n) > max_output)
                return make_error(E2BIG, "the child wrote more than {} bytes", max_output);
            dst.append(buf, static_cast<size_t>(n));
        }
    }
    return {};
}

}  // namespace

Result<ProcessOutput> run_process(const std::vector<std::string>& argv, std::string_view input, size_t max_output) {
    if (argv.empty()) return make_error(EINVAL, "no program to run");
    auto in = make_pipe();
    auto out = make_pipe();
    auto err = make_pipe();
    if (!in) return std::move(in).error();
    if (!out) return std::move(out).error();
    if (!err) return std::move(err).error();

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in->read.get(), 0);  // dup2 clears O_CLOEXEC on 0/1/2
    posix_spawn_file_actions_adddup2(&fa, out->write.get(), 1);
    posix_spawn_file_actions_adddup2(&fa, err->write.get(), 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    int rc = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return errno_error(rc, fmt::format("running '{}'", argv[0]));
    in->read.reset();
    out->write.reset();
    err->write.reset();
    // Our ends never block: a write bigger than the pipe's room would otherwise wait for a child
    // that is itself waiting for us to read its output.
    for (int fd : {in->write.get(), out->read.get(), err->read.get()})
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

    // A child that exits without reading its input must not kill us with SIGPIPE.
    struct sigaction ignore {}, old {};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ignore, &old);
    ProcessOutput res;
    auto ex = exchange(std::move(in->write), std::move(out->read), std::move(err->read), input, max_output, res);
    ::sigaction(SIGPIPE, &old, nullptr);
    if (!ex) ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return errno_error(errno, fmt::format("waiting for '{}'", argv[0]));
    }
    if (!ex) return std::move(ex).error().context(fmt::format("running '{}'", argv[0]));
    res.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return res;
}

}  // namespace imgctl
