#include "aits/services/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>

extern char** environ;

namespace aits::services {
namespace {

using Steady = std::chrono::steady_clock;

constexpr std::string_view kErrorPrefix = "aits: error: ";
constexpr auto kTermGrace = std::chrono::seconds(3);

}  // namespace

Result<Child::Ended> Child::Run(const std::vector<std::string>& argv, const std::atomic<bool>* stop,
                                Duration tick_every, const std::function<void()>& tick,
                                const std::function<void(const std::string&)>& on_line,
                                const std::vector<std::string>& env) {
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return IoError(std::string("pipe: ") + strerror(errno));
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return IoError(std::string("pipe: ") + strerror(errno));
  }
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) envp.push_back(*e);
  for (const std::string& item : env) envp.push_back(const_cast<char*>(item.c_str()));
  envp.push_back(nullptr);
  // Made before the fork: only async-signal-safe calls after it.
  const std::string cannot_run = "aits: error: cannot run " + argv.front() + "\n";
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) ::close(fd);
    return IoError(std::string("fork: ") + strerror(errno));
  }
  if (pid == 0) {
    // Only async-signal-safe calls until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before the line above
    // A group of its own, so that a stop ends what it started too (whose pipes would otherwise
    // keep the read loop waiting).
    ::setpgid(0, 0);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    ::execve(args[0], args.data(), envp.data());
    [[maybe_unused]] const ssize_t written =
        ::write(STDERR_FILENO, cannot_run.data(), cannot_run.size());
    ::_exit(127);
  }
  // The group made from this side too, so that a stop right after the fork reaches it.
  ::setpgid(pid, pid);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  Ended ended;
  std::string line;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  Steady::time_point last_tick = Steady::now();
  std::optional<Steady::time_point> terminated;
  bool killed = false;
  char buffer[16 * 1024];
  while (open_fds > 0) {
    const int ready = ::poll(fds, 2, 100);
    if (ready < 0 && errno != EINTR) break;
    for (pollfd& fd : fds) {
      if (fd.fd < 0 || (fd.revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      const ssize_t n = ::read(fd.fd, buffer, sizeof buffer);
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        ::close(fd.fd);
        fd.fd = -1;
        --open_fds;
        continue;
      }
      const std::string_view got(buffer, static_cast<size_t>(n));
      if (&fd == &fds[0]) {
        if (ended.out.size() < kChildMaxResult) ended.out.append(got);
        continue;
      }
      ended.err_tail.append(got);
      if (ended.err_tail.size() > 2 * kChildStderrTail) {
        ended.err_tail.erase(0, ended.err_tail.size() - kChildStderrTail);
      }
      for (char ch : got) {
        if (ch != '\n' && ch != '\r') {
          line += ch;
          continue;
        }
        if (line.starts_with(kErrorPrefix)) ended.error = line.substr(kErrorPrefix.size());
        if (!line.empty()) on_line(line);
        line.clear();
      }
    }
    const Steady::time_point now = Steady::now();
    if (stop != nullptr && stop->load() && !terminated) {
      ::kill(-pid, SIGTERM);
      terminated = now;
      ended.stopped = true;
    }
    if (terminated && !killed && now - *terminated > kTermGrace) {
      ::kill(-pid, SIGKILL);
      killed = true;
    }
    if (now - last_tick >= std::chrono::nanoseconds(tick_every.ns)) {
      tick();
      last_tick = now;
    }
  }
  for (const pollfd& fd : fds) {
    if (fd.fd >= 0) ::close(fd.fd);
  }
  if (line.starts_with(kErrorPrefix)) ended.error = line.substr(kErrorPrefix.size());
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return IoError(std::string("waitpid: ") + strerror(errno));
  }
  if (WIFEXITED(status)) ended.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) ended.signal = WTERMSIG(status);
  if (ended.err_tail.size() > kChildStderrTail) {
    ended.err_tail.erase(0, ended.err_tail.size() - kChildStderrTail);
  }
  return ended;
}

// Why a child failed, for people: its own error line, else the end of what it said, and how it
// ended.
std::string FailureText(const Child::Ended& ended) {
  std::string how = ended.signal != 0 ? "killed by signal " + std::to_string(ended.signal) + " (" +
                                            strsignal(ended.signal) + ")"
                                      : "exit code " + std::to_string(ended.exit_code);
  if (!ended.error.empty()) return ended.error + " (" + how + ")";
  std::string tail = ended.err_tail;
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r')) tail.pop_back();
  const size_t cut = tail.size() > 500 ? tail.rfind('\n', tail.size() - 500) : std::string::npos;
  if (cut != std::string::npos) tail = tail.substr(cut + 1);
  return tail.empty() ? how : tail + " (" + how + ")";
}

// The last line of stdout that is a JSON object: aits-train's --json result.
std::optional<nlohmann::json> ResultOf(const std::string& out) {
  // A pretty-printed object is the whole output (aits backtest --json).
  nlohmann::json whole = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  if (!whole.is_discarded() && whole.is_object()) return whole;
  size_t end = out.size();
  while (end > 0) {
    const size_t start = out.rfind('\n', end - 1);
    const size_t from = start == std::string::npos ? 0 : start + 1;
    nlohmann::json parsed = nlohmann::json::parse(out.begin() + static_cast<std::ptrdiff_t>(from),
                                                  out.begin() + static_cast<std::ptrdiff_t>(end),
                                                  nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_discarded() && parsed.is_object()) return parsed;
    if (start == std::string::npos) break;
    end = start;
  }
  return std::nullopt;
}

}  // namespace aits::services
