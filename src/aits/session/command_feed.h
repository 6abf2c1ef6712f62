// StoreCommandFeed: operator commands from the event store's commands table, pushed into the
// event loop's inbox. Other processes (`aits breaker`) add rows to that table; this producer reads
// them on its own SQLite connection (read-only) and thread, and the kernel thread applies each one
// and marks its row applied in the session's own store (OperatorCommand::store_id). Commands
// given in-process (EventLoop::SubmitCommand) travel the same inbox.
//
// Threads: Start() and Stop() from the kernel thread (the loop calls them); the poll runs on the
// feed's own thread. The read-only connection sees a row marked applied only once the session
// commits, so the feed remembers the highest id it pushed and pushes each row once per run; a
// row pushed but not applied (the node stopped on an error) stays pending for the next run.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "aits/node/data_client.h"
#include "aits/persistence/event_store.h"

namespace aits::session {

class StoreCommandFeed final : public node::Producer {
 public:
  // `path`: the session's events.db, which must exist. `interval`: between polls.
  StoreCommandFeed(std::string path, std::chrono::milliseconds interval);
  ~StoreCommandFeed() override;  // Stop()
  StoreCommandFeed(const StoreCommandFeed&) = delete;
  StoreCommandFeed& operator=(const StoreCommandFeed&) = delete;

  std::string_view name() const override { return "operator commands"; }
  // Opens the read-only connection and polls once before it returns, so that commands queued
  // while the session was down are handled before any tick; then polls every interval. Errors:
  // the store's (the file cannot be opened). A later poll's error is reported as kError.
  Status Start(node::ProducerLink link) override;
  // Joins the thread and closes the read-only connection.
  void Stop() override;

  // Any thread: commands pushed so far.
  uint64_t pushed() const { return pushed_.load(std::memory_order_relaxed); }

 private:
  // Pushes the pending rows not pushed yet; false once the inbox refuses (the loop is stopping).
  Result<bool> Poll(node::ProducerLink& link);
  void Run(node::ProducerLink link);

  std::string path_;
  std::chrono::milliseconds interval_;
  std::unique_ptr<persistence::EventStore> store_;
  int64_t last_id_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> pushed_{0};
};

}  // namespace aits::session
