// Real servers for tests: the Debian packages' nats-server, PostgreSQL 15 and Redis 7, started on
// 127.0.0.1 with a free port and a throwaway data directory, and stopped at the end. Tests never
// depend on a system service being up. Test-only: no application links this.
//
// A child dies with the test process (PR_SET_PDEATHSIG), so a crashed test leaves no server
// behind. Every server's output goes to a log file in its directory; errors name it.
//
// Thread-compatible.
#pragma once

#include <sys/types.h>

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "aits/core/status.h"
#include "aits/core/time.h"

namespace aits::test_servers {

// A directory under $TMPDIR (or /tmp), removed with everything in it when this is destroyed.
class TempDir {
 public:
  static Result<TempDir> Make(const std::string& prefix);
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// A child process with stdin from /dev/null and stdout and stderr appended to `log_path`.
class ChildProcess {
 public:
  static Result<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv,
                                                     const std::string& log_path);
  ~ChildProcess();  // SIGKILL if still running
  pid_t pid() const { return pid_; }
  bool running();
  // Sends the signal and waits for the exit; SIGKILL after `grace` if it has not exited.
  void Stop(int signal, Duration grace);
  // Waits for the exit: the exit code (128 + signal when killed by one); DeadlineExceeded after
  // `timeout`, the process left running.
  Result<int> Wait(Duration timeout);

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  bool reaped_ = false;
};

// The absolute path of a program: $PATH, then /usr/sbin and /usr/bin (nats-server and
// redis-server live in sbin and bin; PATH of a non-root user may lack sbin). NotFound naming the
// Debian package to install.
Result<std::string> FindProgram(const std::string& name, const std::string& package);

// nats-server with JetStream, on 127.0.0.1, its store in its own directory.
class NatsServer {
 public:
  // A free port is chosen by the server itself (-p -1) and read from its ports file.
  // `jetstream` false: a plain NATS server, to test that a client refuses it. `extra`: more
  // arguments (a cluster node's name, cluster port and routes).
  static Result<std::unique_ptr<NatsServer>> Start(bool jetstream = true,
                                                   std::vector<std::string> extra = {});
  ~NatsServer();

  const std::string& url() const { return url_; }
  int port() const { return port_; }
  const std::string& log_path() const { return log_path_; }

  // SIGKILL: no shutdown, as a crash.
  void Kill();
  // Starts it again on the same port with the same store (after Kill).
  Status Restart();

 private:
  NatsServer(TempDir dir, std::string program, bool jetstream, std::vector<std::string> extra)
      : dir_(std::move(dir)),
        program_(std::move(program)),
        jetstream_(jetstream),
        extra_(std::move(extra)) {}
  Status Launch(int port);

  TempDir dir_;
  std::string program_;
  bool jetstream_;
  std::vector<std::string> extra_;
  std::string log_path_;
  std::string url_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

// JetStream as a cluster of `nodes` nats-servers on loopback (routes between them, cluster name
// "aits", node names n0, n1, ...), each with its own store; a node can be killed and restarted
// as NatsServer can. JetStream answers once the nodes have elected a meta leader, a few seconds
// after Start: the first calls should retry (WaitForJetStream).
class NatsCluster {
 public:
  static Result<std::unique_ptr<NatsCluster>> Start(int nodes = 3);
  NatsServer& node(size_t index) { return *nodes_.at(index); }
  size_t size() const { return nodes_.size(); }
  std::vector<std::string> urls() const;

 private:
  std::vector<std::unique_ptr<NatsServer>> nodes_;
};

// One nats-server for a whole test binary: started at the first call, killed with the process.
// Tests keep apart by stream or market names of their own. A server that cannot start aborts the
// binary, naming why: every test that asks needs it.
NatsServer& SharedNatsServer();

// A free TCP port on 127.0.0.1 at the time of asking (bound to port 0, then released): for
// servers that cannot choose their own. Another process may take it before the server binds it,
// so the servers below retry with a new port when the bind fails.
Result<int> FreePort();

// PostgreSQL 15 (Debian's postgresql-15): a cluster made by initdb in a throwaway directory, the
// server on 127.0.0.1 and a Unix socket in that directory, user `aits` trusted (loopback only).
// PostgreSQL refuses to run as root, so under root (as CI runs) initdb and postgres run as the
// `postgres` user through setpriv, the directory handed to it. fsync is off: a SIGKILL of the
// server loses nothing committed (the page cache survives it), only a machine crash would.
class PostgresServer {
 public:
  static Result<std::unique_ptr<PostgresServer>> Start();
  ~PostgresServer();

  int port() const { return port_; }
  // libpq connection strings: "host=127.0.0.1 port=N user=aits dbname=DB".
  std::string conninfo(const std::string& dbname = "postgres") const;
  const std::string& log_path() const { return log_path_; }
  // Creates a database (for a test of its own); AlreadyExists is not an error.
  Status CreateDatabase(const std::string& name) const;

  void Kill();       // SIGKILL the postmaster, as a crash (its backends exit on their own)
  Status Restart();  // after Kill: the same port and data directory (crash recovery runs)
  // After Kill: runs each call on a thread of its own, restarts the server from this thread
  // `after` later, and returns Restart's status once every call has returned. (The server is
  // started here, not on a call's thread: a child started by a thread that then ends gets its
  // parent-death signal.)
  Status RestartWhile(std::initializer_list<std::function<void()>> calls,
                      Duration after = Duration::Millis(300));
  // After Kill: waits until its backends have exited. Until they notice the postmaster's death
  // they go on answering their connections (on a loaded machine, for a dozen transactions), so a
  // test that needs its clients' connections dead waits for this. DeadlineExceeded after
  // `timeout`.
  Status WaitForBackendsToExit(Duration timeout) const;

 private:
  PostgresServer(TempDir dir, std::string bin_dir)
      : dir_(std::move(dir)), bin_dir_(std::move(bin_dir)) {}
  Status Launch(int port);
  std::vector<std::string> AsServerUser(std::vector<std::string> argv) const;

  TempDir dir_;
  std::string bin_dir_;
  std::string log_path_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

// Redis 7 (Debian's redis-server) on 127.0.0.1, no persistence (a cache: what it loses on a
// kill is recomputed), its working directory throwaway.
class RedisServer {
 public:
  static Result<std::unique_ptr<RedisServer>> Start();
  ~RedisServer();

  int port() const { return port_; }
  const std::string& log_path() const { return log_path_; }

  void Kill();       // SIGKILL, as a crash: everything in it is gone
  Status Restart();  // after Kill: the same port, empty

 private:
  RedisServer(TempDir dir, std::string program)
      : dir_(std::move(dir)), program_(std::move(program)) {}
  Status Launch(int port);

  TempDir dir_;
  std::string program_;
  std::string log_path_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace aits::test_servers
