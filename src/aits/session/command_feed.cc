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
  // Bound before the first poll: a command added after that poll wakes the thread.
  if (const std::string wake_path = persistence::CommandWakePath(path_); !wake_path.empty()) {
    Result<persistence::CommandWakeSocket> bound = persistence::CommandWakeSocket::Bind(wake_path);
    if (bound.ok()) {
      wake_ = std::move(*bound);
    } else {
      AITS_LOG(LogLevel::kWarn, "session",
               "operator commands are read every " + std::to_string(interval_.count()) +
                   " ms only: " + bound.status().message());
    }
  }
  AITS_ASSIGN_OR_RETURN(const bool open, Poll(link));
  if (open) thread_ = std::thread([this, link] { Run(link); });
  return Status::Ok();
}

void StoreCommandFeed::Run(node::ProducerLink link) {
  for (;;) {
    pollfd fds[2] = {{stop_fd_, POLLIN, 0}, {wake_.fd(), POLLIN, 0}};
    const int ready = ::poll(fds, wake_.fd() >= 0 ? 2 : 1, static_cast<int>(interval_.count()));
    if (stop_.load(std::memory_order_relaxed)) return;
    if (ready > 0 && (fds[1].revents & POLLIN) != 0) {
      wake_.Drain();
      wakes_.fetch_add(1, std::memory_order_relaxed);
    }
    auto polled = Poll(link);
    if (!polled.ok()) {
      link.Report(node::ProducerState::kError, polled.status(), stop_);
      return;
    }
    if (!*polled) return;
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
  // Now, not at destruction: the session closes its store next, and SQLite checkpoints the WAL
  // into the database file (and removes it) only when the last connection closes.
  store_.reset();
}

}  // namespace aits::session
