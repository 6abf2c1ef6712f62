// The wake-up of a running session's command feed (docs/paper.md, "Operator commands").
//
// Commands travel through the session log's commands table, which the session reads every
// 250 ms. That poll alone would add up to a quarter of a second to every order the API places.
// So the running session binds a Unix datagram socket beside its log (`commands.wake` next to
// `events.db`), and whoever adds a command row from another process sends it one empty datagram
// after the row has committed: the session reads the table at once.
//
// A log on PostgreSQL has no directory to share: there the insert itself notifies the channel
// kPgCommandChannel with the session's name (pg_notify, delivered at its commit), on which the
// running session listens.
//
// Either wake is only a hint and carries nothing. A lost one, a socket that is not there (no
// session running), or a directory whose path is too long for a socket address costs the poll's
// wait, never a command: the row is in the table either way.
#pragma once

#include <string>
#include <string_view>

#include "aits/core/status.h"

namespace aits::persistence {

// The PostgreSQL channel of the commands' notifications; the payload is the session's name.
inline constexpr std::string_view kPgCommandChannel = "aits_commands";

// `commands.wake` in the directory of a SQLite log at `events_path`; empty for a PostgreSQL
// location (postgresql://...), which has no directory to share.
std::string CommandWakePath(std::string_view events_path);

// The session's end: a bound, non-blocking datagram socket. Closing it removes the file.
class CommandWakeSocket {
 public:
  // Binds at `path`, replacing a socket file left by a session that did not stop cleanly
  // (the log's writer lock keeps a second session out, so nobody else is bound there).
  // Errors: InvalidArgument when the path is longer than a socket address takes (107 bytes);
  // FailedPrecondition when something other than a socket is in the way; IoError otherwise.
  static Result<CommandWakeSocket> Bind(const std::string& path);
  CommandWakeSocket() = default;
  CommandWakeSocket(CommandWakeSocket&& other) noexcept;
  CommandWakeSocket& operator=(CommandWakeSocket&& other) noexcept;
  CommandWakeSocket(const CommandWakeSocket&) = delete;
  CommandWakeSocket& operator=(const CommandWakeSocket&) = delete;
  ~CommandWakeSocket();

  // -1 when not bound; readable (poll) once a wake has arrived.
  int fd() const { return fd_; }
  // Reads every datagram waiting, so that one read of the table answers them all. Returns how
  // many there were.
  int Drain();

 private:
  void Close();

  int fd_ = -1;
  std::string path_;
};

// The sender's end: one empty datagram to `path`, never blocking. False when nobody is bound
// there or the socket's queue is full (a wake is already pending); the caller goes on either way.
bool SendCommandWake(const std::string& path);

}  // namespace aits::persistence
