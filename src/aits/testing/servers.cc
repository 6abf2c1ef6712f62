#include "aits/testing/servers.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace aits::test_servers {
namespace {

namespace fs = std::filesystem;

std::string ErrnoText() { return std::strerror(errno); }

// The last lines of a server's log, for an error that says why it did not start.
std::string Tail(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::string out;
  for (size_t i = lines.size() > 8 ? lines.size() - 8 : 0; i < lines.size(); ++i) {
    out += "\n  " + lines[i];
  }
  return out;
}

}  // namespace

Result<TempDir> TempDir::Make(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/" + prefix + "-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    return IoError("mkdtemp " + pattern + ": " + ErrnoText());
  }
  return TempDir(pattern);
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

Result<std::unique_ptr<ChildProcess>> ChildProcess::Start(const std::vector<std::string>& argv,
                                                          const std::string& log_path) {
  if (argv.empty()) return InvalidArgument("ChildProcess: empty argv");
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return IoError("open " + log_path + ": " + ErrnoText());
  const int null_in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log);
    if (null_in >= 0) ::close(null_in);
    return IoError("fork for " + argv[0] + ": " + ErrnoText());
  }
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the test died before the prctl
    if (null_in >= 0) ::dup2(null_in, 0);
    ::dup2(log, 1);
    ::dup2(log, 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(log);
  if (null_in >= 0) ::close(null_in);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid));
}

ChildProcess::~ChildProcess() {
  if (!reaped_) Stop(SIGKILL, Duration::Seconds(5));
}

bool ChildProcess::running() {
  if (reaped_) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) reaped_ = true;
  return !reaped_;
}

void ChildProcess::Stop(int signal, Duration grace) {
  if (reaped_) return;
  ::kill(pid_, signal);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::nanoseconds(grace.ns);
  while (running()) {
    if (std::chrono::steady_clock::now() >= give_up) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      reaped_ = true;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Result<std::string> FindProgram(const std::string& name, const std::string& package) {
  std::vector<std::string> dirs;
  const char* path = std::getenv("PATH");
  std::stringstream in(path != nullptr ? path : "");
  for (std::string dir; std::getline(in, dir, ':');) {
    if (!dir.empty()) dirs.push_back(dir);
  }
  dirs.insert(dirs.end(), {"/usr/sbin", "/usr/bin"});
  for (const std::string& dir : dirs) {
    const std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return NotFound(name + " is not installed (Debian package " + package +
                  "; scripts/install-deps.sh installs it)");
}

Result<std::unique_ptr<NatsServer>> NatsServer::Start(bool jetstream) {
  Result<std::string> program = FindProgram("nats-server", "nats-server");
  if (!program.ok()) return program.status();
  Result<TempDir> dir = TempDir::Make("aits-nats");
  if (!dir.ok()) return dir.status();
  std::unique_ptr<NatsServer> server(
      new NatsServer(std::move(dir).value(), program.value(), jetstream));
  if (Status s = server->Launch(-1); !s.ok()) return s;
  return server;
}

NatsServer::~NatsServer() {
  if (process_) process_->Stop(SIGTERM, Duration::Seconds(5));
}

void NatsServer::Kill() {
  if (process_) process_->Stop(SIGKILL, Duration::Seconds(5));
  process_.reset();
}

Status NatsServer::Restart() {
  Kill();
  return Launch(port_);
}

Status NatsServer::Launch(int port) {
  const std::string dir = dir_.path();
  const std::string ports_dir = dir + "/ports";
  std::error_code ec;
  fs::remove_all(ports_dir, ec);
  fs::create_directories(ports_dir, ec);
  log_path_ = dir + "/nats-server.log";
  std::vector<std::string> argv = {
      program_, "-a", "127.0.0.1", "-p", std::to_string(port), "--ports_file_dir", ports_dir};
  if (jetstream_) argv.insert(argv.end(), {"-js", "-sd", dir + "/store"});
  Result<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(argv, log_path_);
  if (!child.ok()) return child.status();
  process_ = std::move(child).value();
  // The ports file appears once the server listens; JetStream is ready a moment later, and a
  // client's first JetStream call waits for it.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < give_up) {
    if (!process_->running()) {
      process_.reset();
      return Unavailable("nats-server exited at start; its log " + log_path_ + ":" +
                         Tail(log_path_));
    }
    for (const auto& entry : fs::directory_iterator(ports_dir, ec)) {
      std::ifstream in(entry.path());
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      const size_t at = text.find("nats://");
      const size_t end = text.find('"', at);
      if (at == std::string::npos || end == std::string::npos) continue;
      url_ = text.substr(at, end - at);
      port_ = std::atoi(url_.substr(url_.rfind(':') + 1).c_str());
      if (port_ > 0) return Status::Ok();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Unavailable("nats-server did not listen within 15 s; its log " + log_path_ + ":" +
                     Tail(log_path_));
}

}  // namespace aits::test_servers
