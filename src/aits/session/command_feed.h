// StoreCommandFeed: operator commands from the event store's commands table, pushed into the
// event loop's inbox. Other processes (`aits breaker`) add rows to that table; this producer reads
// them on its own SQLite connection (read-only) and thread, and the kernel thread applies each one
// and marks its row applied in the session's own store (OperatorCommand::store_id). Commands
// given in-process (EventLoop::SubmitCommand) travel the same inbox.
//
// Besides the poll, the feed reads the table as soon as a command's sender wakes it
// (persistence/command_wake.h): through the wake socket it binds beside a SQLite log, or the
// notifications it listens for on a connection of its own to a PostgreSQL log. Without them (a
// path too long for a socket, a server that refuses the LISTEN or drops that connection) the
// poll alone remains.
//
// Threads: Start() and Stop() from the kernel thread (the loop calls them); the poll runs on the
// feed's own thread. The read-only connection sees a row marked applied only once the session
// commits, so the feed remembers the highest id it pushed and pushes each row once per run; a
// row pushed but not applied (the node stopped on an error) stays pending for the next run.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "aits/node/data_client.h"
#include "aits/persistence/command_wake.h"
#include "aits/persistence/event_store.h"
#include "aits/persistence/postgres.h"

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
  // while the session was down are handled before any tick; then polls every interval and at
  // every wake. Errors: the store's (the file cannot be opened). A later poll's error is
  // reported as kError. A wake socket that cannot be bound is logged (warn), not an error.
  Status Start(node::ProducerLink link) override;
  // Joins the thread and closes the read-only connection.
  void Stop() override;

  // Any thread: commands pushed so far, and the wakes that made the feed read the table.
  uint64_t pushed() const { return pushed_.load(std::memory_order_relaxed); }
  uint64_t wakes() const { return wakes_.load(std::memory_order_relaxed); }
  // The wakes that found no new row: each asked the node to commit its batch (OperatorCommand::
  // flush), for a writer waiting for the log's lock.
  uint64_t flushes() const { return flushes_.load(std::memory_order_relaxed); }
  // Whether Start bound the wake socket, or listens on PostgreSQL.
  bool wake_bound() const { return wake_.fd() >= 0 || listener_ != nullptr; }

 private:
  // Pushes the pending rows not pushed yet; false once the inbox refuses (the loop is stopping).
  Result<bool> Poll(node::ProducerLink& link);
  void Run(node::ProducerLink link);
  // Opens the listening connection to a PostgreSQL log's server (path_ is its location).
  Status ListenOnPostgres();
  // Any wake that has arrived: the socket drained, the notifications for this session taken.
  bool TakeWakes(short socket_events, short listener_events);

  std::string path_;
  std::chrono::milliseconds interval_;
  std::unique_ptr<persistence::EventStore> store_;
  int64_t last_id_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  int stop_fd_ = -1;  // an eventfd that Stop writes, beside the wake socket in the thread's poll
  persistence::CommandWakeSocket wake_;
  std::unique_ptr<pg::Connection> listener_;  // a PostgreSQL log's notifications
  std::string pg_session_;
  std::atomic<uint64_t> pushed_{0};
  std::atomic<uint64_t> wakes_{0};
  std::atomic<uint64_t> flushes_{0};
};

}  // namespace aits::session
