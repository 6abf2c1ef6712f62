#include "aits/persistence/writer_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include "aits/core/hash.h"
#include "aits/persistence/pg_event_store.h"
#include "aits/persistence/postgres.h"

namespace aits::persistence {
namespace {

class FileLock final : public WriterLock {
 public:
  FileLock(std::string location, int fd) : WriterLock(std::move(location)), fd_(fd) {}
  ~FileLock() override { ::close(fd_); }  // closing the descriptor releases the flock

 private:
  int fd_;
};

Result<std::unique_ptr<WriterLock>> LockFile(const std::string& location) {
  const std::string path = location + ".lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    char holder[32] = {};
    (void)::pread(fd, holder, sizeof(holder) - 1, 0);
    ::close(fd);
    if (error != EWOULDBLOCK) return IoError("cannot lock " + path + ": " + std::strerror(error));
    std::string pid(holder);
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return FailedPrecondition(location + " is open for writing by another process" +
                              (pid.empty() ? std::string() : " (pid " + pid + ")") +
                              ": one owner per session");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    // The pid is only for the message; the lock holds without it.
  }
  return std::unique_ptr<WriterLock>(new FileLock(location, fd));
}

class ServerLock final : public WriterLock {
 public:
  ServerLock(std::string location, std::unique_ptr<pg::Connection> conn)
      : WriterLock(std::move(location)), conn_(std::move(conn)) {}
  // Closing the connection ends the server session, which releases the advisory lock.

 private:
  std::unique_ptr<pg::Connection> conn_;
};

Result<std::unique_ptr<WriterLock>> LockOnServer(const std::string& location) {
  AITS_ASSIGN_OR_RETURN(PgLocation parsed, ParsePgLocation(location));
  AITS_ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> conn,
                        pg::Connection::Open(parsed.conninfo));
  // Another key than the event store's own writer lock (pg_event_store.cc): the owner's process
  // holds both, on two connections.
  const pg::Param key[] = {
      pg::Param::Int64(static_cast<int64_t>(Fnv1a64("aits-session-owner:" + parsed.session)))};
  AITS_ASSIGN_OR_RETURN(pg::Rows rows, conn->Exec("SELECT pg_try_advisory_lock($1::bigint)", key,
                                                  "take the session's owner lock"));
  AITS_ASSIGN_OR_RETURN(bool got, rows.Bool(0, 0));
  if (!got) {
    return FailedPrecondition(location +
                              " is open for writing by another process: one owner per session");
  }
  return std::unique_ptr<WriterLock>(new ServerLock(location, std::move(conn)));
}

}  // namespace

Result<std::unique_ptr<WriterLock>> WriterLock::TryAcquire(const std::string& location) {
  return IsPostgresLocation(location) ? LockOnServer(location) : LockFile(location);
}

Result<std::unique_ptr<WriterLock>> WriterLock::Acquire(
    const std::string& location, const std::atomic<bool>* stop,
    const std::function<void(const std::string&)>& waiting, Duration poll) {
  bool told = false;
  for (;;) {
    Result<std::unique_ptr<WriterLock>> lock = TryAcquire(location);
    if (lock.ok() || lock.status().code() != StatusCode::kFailedPrecondition) return lock;
    if (!told && waiting) waiting(lock.status().message());
    told = true;
    if (stop != nullptr && stop->load()) {
      return FailedPrecondition(location + ": stopped while waiting to own the session");
    }
    std::this_thread::sleep_for(std::chrono::nanoseconds(poll.ns));
  }
}

}  // namespace aits::persistence
