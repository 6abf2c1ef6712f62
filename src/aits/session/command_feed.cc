#include "aits/session/command_feed.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "aits/log/log.h"
#include "aits/persistence/pg_event_store.h"

namespace aits::session {

StoreCommandFeed::StoreCommandFeed(std::string path, std::chrono::milliseconds interval)
    : path_(std::move(path)), interval_(interval) {}

StoreCommandFeed::~StoreCommandFeed() { Stop(); }

Result<bool> StoreCommandFeed::Poll(node::ProducerLink& link) {
  AITS_ASSIGN_OR_RETURN(std::vector<persistence::Command> commands, store_->PendingCommands());
  for (persistence::Command& command : commands) {
    if (command.id <= last_id_) continue;  // pushed already, not committed as applied yet
    if (!link.Send(node::OperatorCommand{std::move(command.text), command.id}, stop_)) {
      return false;
    }
    last_id_ = command.id;
    pushed_.fetch_add(1, std::memory_order_relaxed);
  }
  return true;
}

Status StoreCommandFeed::Start(node::ProducerLink link) {
  if (thread_.joinable()) return FailedPrecondition("the command feed is already started");
  AITS_ASSIGN_OR_RETURN(store_, persistence::OpenEventStoreAtReadOnly(path_));
  stop_.store(false, std::memory_order_relaxed);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) return IoError(std::string("command feed: eventfd: ") + std::strerror(errno));
  // Listening before the first poll: a command added after that poll wakes the thread.
  Status listening = Status::Ok();
  if (persistence::IsPostgresLocation(path_)) {
    listening = ListenOnPostgres();
  } else if (const std::string wake_path = persistence::CommandWakePath(path_);
             !wake_path.empty()) {
    Result<persistence::CommandWakeSocket> bound = persistence::CommandWakeSocket::Bind(wake_path);
    if (bound.ok()) wake_ = std::move(*bound);
    listening = bound.status();
  }
  if (!listening.ok()) {
    AITS_LOG_WARN("session", "operator commands are read every " +
                                 std::to_string(interval_.count()) +
                                 " ms only: " + listening.message());
  }
  AITS_ASSIGN_OR_RETURN(const bool open, Poll(link));
  if (open) thread_ = std::thread([this, link] { Run(link); });
  return Status::Ok();
}

Status StoreCommandFeed::ListenOnPostgres() {
  AITS_ASSIGN_OR_RETURN(persistence::PgLocation location, persistence::ParsePgLocation(path_));
  AITS_ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> connection,
                        pg::Connection::Open(location.conninfo));
  AITS_RETURN_IF_ERROR(
      connection->Exec("LISTEN " + std::string(persistence::kPgCommandChannel), "listen").status());
  listener_ = std::move(connection);
  pg_session_ = std::move(location.session);
  return Status::Ok();
}

bool StoreCommandFeed::TakeWakes(short socket_events, short listener_events) {
  bool woken = false;
  if ((socket_events & POLLIN) != 0) woken = wake_.Drain() > 0;
  if (listener_ != nullptr && listener_events != 0) {
    Result<std::vector<std::string>> sessions =
        listener_->TakeNotifications(persistence::kPgCommandChannel);
    if (!sessions.ok()) {
      // The poll goes on; the listening connection is not made again.
      AITS_LOG_WARN("session", "operator commands are read every " +
                                   std::to_string(interval_.count()) +
                                   " ms only from now: " + sessions.status().message());
      listener_.reset();
    } else {
      for (const std::string& session : *sessions) woken = woken || session == pg_session_;
    }
  }
  return woken;
}

void StoreCommandFeed::Run(node::ProducerLink link) {
  for (;;) {
    // poll() skips an entry whose descriptor is negative: a wake the feed does not have.
    pollfd fds[3] = {{stop_fd_, POLLIN, 0},
                     {wake_.fd(), POLLIN, 0},
                     {listener_ != nullptr ? listener_->socket() : -1, POLLIN, 0}};
    const int ready = ::poll(fds, 3, static_cast<int>(interval_.count()));
    if (stop_.load(std::memory_order_relaxed)) return;
    const bool woken = ready > 0 && TakeWakes(fds[1].revents, fds[2].revents);
    if (woken) wakes_.fetch_add(1, std::memory_order_relaxed);
    const uint64_t before = pushed();
    auto polled = Poll(link);
    if (!polled.ok()) {
      link.Report(node::ProducerState::kError, polled.status(), stop_);
      return;
    }
    if (!*polled) return;
    // Woken with no new row: a writer is waiting for the log's lock (it wakes the session before
    // its insert too), which the node may hold for a whole batch. The node commits that batch.
    if (woken && pushed() == before) {
      node::OperatorCommand flush;
      flush.flush = true;
      if (!link.Send(std::move(flush), stop_)) return;
      flushes_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

void StoreCommandFeed::Stop() {
  stop_.store(true, std::memory_order_relaxed);
  if (stop_fd_ >= 0) {
    const uint64_t one = 1;
    (void)!::write(stop_fd_, &one, sizeof(one));
  }
  if (thread_.joinable()) thread_.join();
  if (stop_fd_ >= 0) ::close(stop_fd_);
  stop_fd_ = -1;
  wake_ = persistence::CommandWakeSocket();
  listener_.reset();
  // Now, not at destruction: the session closes its store next, and SQLite checkpoints the WAL
  // into the database file (and removes it) only when the last connection closes.
  store_.reset();
}

}  // namespace aits::session
