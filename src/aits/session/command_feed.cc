#include "aits/session/command_feed.h"

#include <utility>
#include <vector>

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
  AITS_ASSIGN_OR_RETURN(const bool open, Poll(link));
  if (open) thread_ = std::thread([this, link] { Run(link); });
  return Status::Ok();
}

void StoreCommandFeed::Run(node::ProducerLink link) {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (wake_.wait_for(lock, interval_,
                         [this] { return stop_.load(std::memory_order_relaxed); })) {
        return;
      }
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
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true, std::memory_order_relaxed);
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Now, not at destruction: the session closes its store next, and SQLite checkpoints the WAL
  // into the database file (and removes it) only when the last connection closes.
  store_.reset();
}

}  // namespace aits::session
