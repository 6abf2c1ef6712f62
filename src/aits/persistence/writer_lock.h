// One writer per session, across processes and machines: the lock a session's owner holds for as
// long as it runs (docs/services.md, "One owner per account"). A second owner is refused at
// start — before it reads, trades or writes anything — or, as a standby, waits and takes over
// when the first one dies, resuming from the log.
//
// For a SQLite log the lock is flock(2) on "<log>.lock" beside it (the holder's pid written in
// it for the message); for a PostgreSQL location a session-level advisory lock on a connection
// of its own. Either is released by the operating system or the server when the holder dies,
// however it dies: a kill -9 frees the session at once for the standby.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "aits/core/status.h"
#include "aits/core/time.h"

namespace aits::persistence {

class WriterLock {
 public:
  // Takes the lock of the log at `location` (a file path or a PostgreSQL location) or fails at
  // once: FailedPrecondition naming the location (and the holder's pid for a file). Unavailable
  // when the server cannot be reached.
  static Result<std::unique_ptr<WriterLock>> TryAcquire(const std::string& location);
  // Waits until the lock is free, polling every `poll`; `waiting` is told once, with the reason,
  // when it has to wait. Cancelled (FailedPrecondition "stopped while waiting") when `stop` is
  // set first. Other errors as TryAcquire's.
  static Result<std::unique_ptr<WriterLock>> Acquire(
      const std::string& location, const std::atomic<bool>* stop,
      const std::function<void(const std::string&)>& waiting,
      Duration poll = Duration::Millis(100));

  virtual ~WriterLock() = default;  // releases it
  const std::string& location() const { return location_; }

 protected:
  explicit WriterLock(std::string location) : location_(std::move(location)) {}

 private:
  std::string location_;
};

}  // namespace aits::persistence
