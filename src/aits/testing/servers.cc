#include "aits/testing/servers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
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

bool LogSays(const std::string& path, std::string_view what) {
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.find(what) != std::string::npos;
}

constexpr int kPortAttempts = 5;

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

Result<int> ChildProcess::Wait(Duration timeout) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::nanoseconds(timeout.ns);
  for (;;) {
    int status = 0;
    const pid_t got = ::waitpid(pid_, &status, WNOHANG);
    if (got == pid_) {
      reaped_ = true;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
    if (got < 0) return IoError("waitpid " + std::to_string(pid_) + ": " + ErrnoText());
    if (std::chrono::steady_clock::now() >= give_up) {
      return DeadlineExceeded("process " + std::to_string(pid_) + " still runs after " +
                              std::to_string(timeout.ns / 1'000'000) + " ms");
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

NatsServer& SharedNatsServer() {
  static std::unique_ptr<NatsServer> server = [] {
    Result<std::unique_ptr<NatsServer>> started = NatsServer::Start();
    if (!started.ok()) {
      std::fprintf(stderr, "the shared nats-server did not start: %s\n",
                   started.status().ToString().c_str());
      std::abort();
    }
    return std::move(started).value();
  }();
  return *server;
}

Result<std::unique_ptr<NatsServer>> NatsServer::Start(bool jetstream,
                                                      std::vector<std::string> extra) {
  Result<std::string> program = FindProgram("nats-server", "nats-server");
  if (!program.ok()) return program.status();
  Result<TempDir> dir = TempDir::Make("aits-nats");
  if (!dir.ok()) return dir.status();
  std::unique_ptr<NatsServer> server(
      new NatsServer(std::move(dir).value(), program.value(), jetstream, std::move(extra)));
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
  argv.insert(argv.end(), extra_.begin(), extra_.end());
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

Result<std::unique_ptr<NatsCluster>> NatsCluster::Start(int nodes) {
  if (nodes < 1) return InvalidArgument("a cluster of " + std::to_string(nodes) + " nodes");
  std::vector<int> route_ports;
  std::string routes;
  for (int i = 0; i < nodes; ++i) {
    Result<int> port = FreePort();
    if (!port.ok()) return port.status();
    route_ports.push_back(port.value());
    routes += (i == 0 ? "" : ",") + std::string("nats://127.0.0.1:") + std::to_string(*port);
  }
  auto cluster = std::unique_ptr<NatsCluster>(new NatsCluster());
  for (int i = 0; i < nodes; ++i) {
    Result<std::unique_ptr<NatsServer>> node = NatsServer::Start(
        /*jetstream=*/true,
        {"-n", "n" + std::to_string(i), "--cluster_name", "aits", "--cluster",
         "nats://127.0.0.1:" + std::to_string(route_ports[static_cast<size_t>(i)]), "--routes",
         routes});
    if (!node.ok()) return node.status().WithContext("cluster node n" + std::to_string(i));
    cluster->nodes_.push_back(std::move(node).value());
  }
  return cluster;
}

std::vector<std::string> NatsCluster::urls() const {
  std::vector<std::string> out;
  for (const auto& node : nodes_) out.push_back(node->url());
  return out;
}

Result<int> FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return IoError("socket: " + ErrnoText());
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t length = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    const std::string why = ErrnoText();
    ::close(fd);
    return IoError("bind 127.0.0.1:0: " + why);
  }
  ::close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

// --- PostgreSQL ---

namespace {

// Debian installs PostgreSQL's programs outside PATH, one directory per major version.
Result<std::string> FindPostgresBin() {
  for (const char* dir : {"/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin"}) {
    if (::access((std::string(dir) + "/postgres").c_str(), X_OK) == 0) return std::string(dir);
  }
  return NotFound(
      "PostgreSQL is not installed (/usr/lib/postgresql/15/bin/postgres; Debian package "
      "postgresql-15; scripts/install-deps.sh installs it)");
}

bool RunningAsRoot() { return ::geteuid() == 0; }

}  // namespace

std::vector<std::string> PostgresServer::AsServerUser(std::vector<std::string> argv) const {
  if (!RunningAsRoot()) return argv;
  // setpriv's --pdeathsig keep: changing the uid clears the parent-death signal, which setpriv
  // sets again, so the server still dies with the test.
  std::vector<std::string> wrapped = {"/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres",
                                      "--init-groups",    "--pdeathsig",      "keep"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;
}

Result<std::unique_ptr<PostgresServer>> PostgresServer::Start() {
  Result<std::string> bin = FindPostgresBin();
  if (!bin.ok()) return bin.status();
  Result<TempDir> dir = TempDir::Make("aits-pg");
  if (!dir.ok()) return dir.status();
  std::unique_ptr<PostgresServer> server(new PostgresServer(std::move(dir).value(), bin.value()));
  const std::string path = server->dir_.path();
  if (RunningAsRoot()) {
    const passwd* user = ::getpwnam("postgres");
    if (user == nullptr) {
      return NotFound(
          "running as root, PostgreSQL needs the user postgres (package postgresql-15)");
    }
    if (::chown(path.c_str(), user->pw_uid, user->pw_gid) != 0) {
      return IoError("chown " + path + " to postgres: " + ErrnoText());
    }
  }
  server->log_path_ = path + "/postgres.log";
  Result<std::unique_ptr<ChildProcess>> initdb = ChildProcess::Start(
      server->AsServerUser({server->bin_dir_ + "/initdb", "-D", path + "/data", "-U", "aits",
                            "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"}),
      server->log_path_);
  if (!initdb.ok()) return initdb.status();
  Result<int> code = (*initdb)->Wait(Duration::Seconds(120));
  if (!code.ok()) return code.status().WithContext("initdb");
  if (*code != 0) {
    return Unavailable("initdb exited with " + std::to_string(*code) + "; its log " +
                       server->log_path_ + ":" + Tail(server->log_path_));
  }
  for (int attempt = 1;; ++attempt) {
    Result<int> port = FreePort();
    if (!port.ok()) return port.status();
    Status launched = server->Launch(*port);
    if (launched.ok()) return server;
    if (attempt >= kPortAttempts || !LogSays(server->log_path_, "could not bind")) return launched;
  }
}

PostgresServer::~PostgresServer() {
  // SIGINT: PostgreSQL's fast shutdown (SIGTERM waits for clients to leave).
  if (process_) process_->Stop(SIGINT, Duration::Seconds(10));
}

std::string PostgresServer::conninfo(const std::string& dbname) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=aits dbname=" + dbname;
}

Status PostgresServer::CreateDatabase(const std::string& name) const {
  PGconn* conn = PQconnectdb(conninfo().c_str());
  std::string error;
  if (PQstatus(conn) != CONNECTION_OK) {
    error = PQerrorMessage(conn);
  } else {
    std::string quoted = "\"";
    for (const char c : name) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    quoted += '"';
    PGresult* result = PQexec(conn, ("CREATE DATABASE " + quoted).c_str());
    const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    if (PQresultStatus(result) != PGRES_COMMAND_OK &&
        (state == nullptr || std::string_view(state) != "42P04")) {  // duplicate_database
      error = PQresultErrorMessage(result);
    }
    PQclear(result);
  }
  PQfinish(conn);
  if (!error.empty()) return Unavailable("create database " + name + ": " + error);
  return Status::Ok();
}

void PostgresServer::Kill() {
  if (process_) process_->Stop(SIGKILL, Duration::Seconds(5));
  process_.reset();
}

Status PostgresServer::WaitForBackendsToExit(Duration timeout) const {
  // A backend's working directory is its server's data directory.
  std::error_code ec;
  const fs::path data = fs::canonical(dir_.path() + "/data", ec);
  if (ec) return IoError("postgres: data directory " + dir_.path() + "/data: " + ec.message());
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::nanoseconds(timeout.ns);
  for (;;) {
    int left = 0;
    for (const fs::directory_entry& entry : fs::directory_iterator("/proc", ec)) {
      const std::string name = entry.path().filename().string();
      if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::error_code gone;
      if (fs::read_symlink(entry.path() / "cwd", gone) == data && !gone) ++left;
    }
    if (left == 0) return Status::Ok();
    if (std::chrono::steady_clock::now() >= give_up) {
      return DeadlineExceeded("postgres: " + std::to_string(left) +
                              " backends of the killed server still run");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Status PostgresServer::RestartWhile(std::initializer_list<std::function<void()>> calls,
                                    Duration after) {
  std::vector<std::thread> threads;
  for (const std::function<void()>& call : calls) threads.emplace_back(call);
  std::this_thread::sleep_for(std::chrono::nanoseconds(after.ns));
  const Status restarted = Restart();
  for (std::thread& thread : threads) thread.join();
  return restarted;
}

Status PostgresServer::Restart() {
  Kill();
  // The killed postmaster's backends may hold the port and the shared memory for a moment;
  // a restart waits for them (PostgreSQL itself refuses while they live).
  Status status = Status::Ok();
  for (int attempt = 0; attempt < 50; ++attempt) {
    status = Launch(port_);
    if (status.ok()) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return status;
}

Status PostgresServer::Launch(int port) {
  const std::string path = dir_.path();
  // A fresh log per launch: the start's checks read it ("could not bind").
  std::error_code ec;
  fs::remove(log_path_, ec);
  std::vector<std::string> argv = {bin_dir_ + "/postgres",
                                   "-D",
                                   path + "/data",
                                   "-p",
                                   std::to_string(port),
                                   "-c",
                                   "listen_addresses=127.0.0.1",
                                   "-c",
                                   "unix_socket_directories=" + path,
                                   "-c",
                                   "fsync=off",
                                   "-c",
                                   "full_page_writes=off",
                                   "-c",
                                   "shared_buffers=32MB",
                                   "-c",
                                   "max_connections=200"};
  Result<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(AsServerUser(argv), log_path_);
  if (!child.ok()) return child.status();
  process_ = std::move(child).value();
  port_ = port;
  const std::string info = conninfo();
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < give_up) {
    if (!process_->running()) {
      process_.reset();
      return Unavailable("postgres exited at start; its log " + log_path_ + ":" + Tail(log_path_));
    }
    if (PQping(info.c_str()) == PQPING_OK) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  process_->Stop(SIGKILL, Duration::Seconds(5));
  process_.reset();
  return Unavailable("postgres did not accept connections within 30 s; its log " + log_path_ + ":" +
                     Tail(log_path_));
}

// --- Redis ---

Result<std::unique_ptr<RedisServer>> RedisServer::Start() {
  Result<std::string> program = FindProgram("redis-server", "redis-server");
  if (!program.ok()) return program.status();
  Result<TempDir> dir = TempDir::Make("aits-redis");
  if (!dir.ok()) return dir.status();
  std::unique_ptr<RedisServer> server(new RedisServer(std::move(dir).value(), program.value()));
  server->log_path_ = server->dir_.path() + "/redis.log";
  for (int attempt = 1;; ++attempt) {
    Result<int> port = FreePort();
    if (!port.ok()) return port.status();
    Status launched = server->Launch(*port);
    if (launched.ok()) return server;
    if (attempt >= kPortAttempts || !LogSays(server->log_path_, "Address already in use")) {
      return launched;
    }
  }
}

RedisServer::~RedisServer() {
  if (process_) process_->Stop(SIGTERM, Duration::Seconds(5));
}

void RedisServer::Kill() {
  if (process_) process_->Stop(SIGKILL, Duration::Seconds(5));
  process_.reset();
}

Status RedisServer::Restart() {
  Kill();
  return Launch(port_);
}

Status RedisServer::Launch(int port) {
  // The log is read for readiness; a fresh one per launch.
  std::error_code ec;
  fs::remove(log_path_, ec);
  const std::vector<std::string> argv = {program_,
                                         "--bind",
                                         "127.0.0.1",
                                         "--port",
                                         std::to_string(port),
                                         "--dir",
                                         dir_.path(),
                                         "--save",
                                         "",
                                         "--appendonly",
                                         "no",
                                         "--daemonize",
                                         "no",
                                         "--protected-mode",
                                         "no",
                                         "--logfile",
                                         ""};
  Result<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(argv, log_path_);
  if (!child.ok()) return child.status();
  process_ = std::move(child).value();
  port_ = port;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < give_up) {
    if (!process_->running()) {
      process_.reset();
      return Unavailable("redis-server exited at start; its log " + log_path_ + ":" +
                         Tail(log_path_));
    }
    if (LogSays(log_path_, "Ready to accept connections")) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  process_->Stop(SIGKILL, Duration::Seconds(5));
  process_.reset();
  return Unavailable("redis-server was not ready within 15 s; its log " + log_path_ + ":" +
                     Tail(log_path_));
}

}  // namespace aits::test_servers
