// Event store: the append-only log of a trading session (docs/paper.md; why the log is the
// session: docs/adr/0003-paper-time-and-event-log.md).
// Every command and event the kernel sees or makes (ticks consumed, signals, decisions, orders,
// order updates, fills, circuit-breaker changes, operator commands) is appended here, and a
// session's orders, positions and account are rebuilt from it after a crash.
//
// Storage: one SQLite database in WAL mode, table `events(seq INTEGER PRIMARY KEY, type, ts,
// wall, payload BLOB, checksum)`, plus `commands` (operator commands written by other processes,
// e.g. `aits breaker`, and picked up by the running session) and `meta` (schema version).
//
// Durability policy (docs/paper.md states it for users): appends go into one open transaction;
// it is committed when `batch_events` events are waiting or the oldest waiting one is
// `batch_interval` old (wall clock unless EventStoreOptions::batch_clock), checked at MaybeCommit()
// — which the session calls only between ticks, so a committed log always holds whole ticks with
// all their effects — and at Commit()/Close(). With Sync::kFull (the default) a commit has reached
// the disk when it returns (SQLite synchronous=FULL in WAL mode: survives power loss); kNormal
// survives a crash of the process (kill -9) but may lose the last commits on power loss. A crash
// loses at most the open batch, never a committed event; SQLite's WAL makes each commit atomic.
//
// Integrity: each row carries a 64-bit checksum of (seq, type, ts, payload). Scan() checks it and
// that seq runs 1, 2, 3, ... without gaps; the first bad row stops the scan with DataLoss naming
// the file and the seq, after every good row before it has been delivered — so a damaged tail
// loses nothing that was committed before it. A file that is not an AITS event store, or one
// SQLite cannot read, gives a clear error naming the file.
//
// Not thread-safe; one writer process per file (Open takes SQLite's write lock only while a
// batch is open, so `aits breaker` can add a command between batches).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aits/core/clock.h"
#include "aits/core/status.h"
#include "aits/core/time.h"

namespace aits::persistence {

// Stored as integers: never renumber.
enum class EventType : uint16_t {
  kSessionStart = 1,    // JSON: the session's configuration (what replay needs to rebuild it)
  kTick = 2,            // binary Tick (codec.h)
  kSignal = 3,          // JSON: a strategy's signal
  kDecision = 4,        // JSON: a decision record with its inputs (aits explain)
  kOrderSubmitted = 5,  // binary Order as submitted (id, request with client id, created)
  kOrderUpdate = 6,     // binary Order after a state change
  kFill = 7,            // binary Fill
  kBreakerChange = 8,   // JSON: circuit breaker change (from, to, rule, detail, manual)
  kCommand = 9,         // JSON: an operator command applied at this point of the session
  kSessionStop = 10,    // JSON: summary at a clean stop
  kAccount = 11,        // JSON: balance/equity/positions checkpoint
  kClock = 12,          // empty: kernel time moved to ts between ticks, firing the timers due
  // JSON: a reconciliation at start that found differences: the policy, the venue's holdings,
  // one line per difference and the actions taken (docs/execution.md, "Reconciliation")
  kReconciliation = 13,
  // Inputs of a session on an asynchronous venue (docs/paper.md), logged where the kernel
  // consumed them: binary ExecutionReport and AccountReport (codec.h).
  kExecutionReport = 14,
  kAccountReport = 15,
  // JSON: a watched model's verdict changed (ml::WatchPolicy): healthy, update or retrain, with
  // the figures behind it; an output, after the bar's signal (docs/ml.md, "The watch's verdict").
  kModelVerdict = 16,
  // JSON: a candidate model's shadow trial beside the production model ended (ml::ShadowTrial):
  // both models' records over the same bars; an output, after the bar's signal (docs/ml.md,
  // "Shadow trial").
  kModelShadow = 17,
};
std::string_view ToString(EventType type);  // "tick", "order_update", ...
bool IsKnownEventType(uint16_t value);

struct Event {
  uint64_t seq = 0;  // 1, 2, 3, ...
  EventType type = EventType::kTick;
  Timestamp ts;    // kernel time of the event
  Timestamp wall;  // wall-clock time it was appended (not part of replay equality)
  std::string payload;
};

enum class Sync : uint8_t { kFull, kNormal, kOff };

struct EventStoreOptions {
  size_t batch_events = 8192;
  Duration batch_interval = Duration::Millis(100);
  Sync sync = Sync::kFull;
  // Measures batch_interval; null: the steady wall clock. Not owned: must outlive the store. A
  // test moves a SimulatedClock to put the batch exactly before or at its interval.
  const Clock* batch_clock = nullptr;
  // Called (with the attempt, 0, 1, ...) each time AddCommand on a read-only store finds the
  // write lock taken and waits for it, up to a few seconds in all. Lets a test release the lock
  // exactly when someone waits for it.
  std::function<void(int attempt)> on_busy;
  // Called after each commit of an open batch (Commit, MaybeCommit), on the committing thread,
  // with its steady-clock duration and outcome: the store's latency and errors for the session's
  // metrics (docs/monitoring.md). Not called by Close, so it need not outlive the store.
  std::function<void(int64_t nanos, const Status& status)> on_commit;
  Status Validate() const;  // batch_events >= 1, batch_interval >= 0
};

struct Command {
  int64_t id = 0;
  Timestamp created;  // wall clock
  std::string text;   // JSON
};

// The interface of every event store; Open/OpenReadOnly make the SQLite one (one file per
// session), aits/persistence/pg_event_store.h the PostgreSQL one (one database, many sessions).
// Every implementation keeps the contract above: seq from 1 without gaps, the batch policy,
// checksums checked by Scan, commands from other processes; event_store_contract_test.cc runs
// the same tests against each.
class EventStore {
 public:
  // Opens or creates the store for appending; reads the last seq. IoError/DataLoss naming the
  // file if it cannot be opened, is not an event store, or has a schema version it does not know
  // (FailedPrecondition for the last). Crash recovery: appends continue after the highest seq on
  // disk, whose row is not checked here; a damaged tail still opens, and the session's recovery
  // Scan()s the log to find it and decide what to do.
  static Result<std::unique_ptr<EventStore>> Open(const std::string& path,
                                                  const EventStoreOptions& options = {});
  // Opens an existing store for reading only (NotFound if the file does not exist). Of the
  // options only on_busy applies.
  static Result<std::unique_ptr<EventStore>> OpenReadOnly(const std::string& path,
                                                          const EventStoreOptions& options = {});
  // Implementations commit the open batch (errors are lost: call Close() to see them).
  virtual ~EventStore() = default;
  EventStore(const EventStore&) = delete;
  EventStore& operator=(const EventStore&) = delete;

  // Appends one event to the open batch and returns its seq. No commit. FailedPrecondition on a
  // read-only store.
  virtual Result<uint64_t> Append(EventType type, Timestamp ts, std::string_view payload) = 0;
  // Commits when the batch policy says so (see above). Call at consistent points only.
  Status MaybeCommit();
  // Commits the open batch now.
  Status Commit();
  // Commits and closes; further calls fail with FailedPrecondition.
  virtual Status Close() = 0;
  // Closes without committing: the events appended since the last commit are not stored, as if
  // the process had died. For a writer that learns within an event that what it has appended
  // must not stand: a tick whose decision could not be made because another role did not answer
  // (aits serve's account owner; PaperOptions::check_tick), which a resume must take again.
  // Further calls fail with FailedPrecondition.
  virtual Status Abandon() = 0;

  uint64_t last_seq() const { return last_seq_; }            // last appended
  uint64_t committed_seq() const { return committed_seq_; }  // last committed
  // The file, or for a server's store "postgresql://host:port/db#session".
  const std::string& path() const { return path_; }

  // Delivers events with seq >= from_seq in order; stops early (returning fn's status) if fn
  // fails. DataLoss naming the file and seq at the first row whose checksum, type or seq order
  // is wrong, after every good row before it was delivered.
  virtual Status Scan(uint64_t from_seq, const std::function<Status(const Event&)>& fn) const = 0;

  // Operator commands: Add (from any process; waits for the writer's batch to commit, up to a
  // few seconds), Pending (not yet applied, oldest first), MarkApplied (in the writer's batch).
  // On a read-only store AddCommand writes through a short-lived read-write connection; on the
  // writer's own store it joins the open batch (or commits at once when none is open).
  // MarkCommandApplied: NotFound when no pending command has that id.
  virtual Status AddCommand(std::string_view text) = 0;
  virtual Result<std::vector<Command>> PendingCommands() const = 0;
  virtual Status MarkCommandApplied(int64_t id, uint64_t applied_seq) = 0;

 protected:
  EventStore(std::string path, const EventStoreOptions& options)
      : path_(std::move(path)), options_(options) {}
  virtual bool IsOpen() const = 0;
  // Commit's work, without the on_commit observer (Close calls it directly).
  virtual Status CommitBatch() = 0;
  // The batch's bookkeeping, for MaybeCommit: implementations call BatchOpened when the first
  // write of a batch begins and BatchClosed when it ends (committed or rolled back).
  void BatchOpened();
  void BatchClosed() { batch_open_ = false, batch_size_ = 0; }
  bool batch_open() const { return batch_open_; }
  int64_t BatchNowNs() const;

  // Below SQLite's SQLITE_MAX_LENGTH (1e9), int range, and PostgreSQL's 1 GB bytea.
  static constexpr size_t kMaxPayloadBytes = 512u << 20;
  // FailedPrecondition "PATH: CALL on a closed event store".
  Status Closed(std::string_view call) const;
  // What every write checks first: open, not read-only, no batch lost (then broken_ itself).
  Status CheckWritable(std::string_view call) const;
  // Append's checks: writable, and the payload within kMaxPayloadBytes.
  Status CheckAppend(std::string_view payload) const;
  // Records that the open batch is gone (the events after committed_seq_): every later write
  // fails with the cause. Returns broken_.
  Status LoseBatch(const Status& cause) const;

  std::string path_;
  EventStoreOptions options_;
  uint64_t last_seq_ = 0;
  uint64_t committed_seq_ = 0;
  size_t batch_size_ = 0;  // events in the open batch
  bool read_only_ = false;
  mutable Status broken_;  // set by LoseBatch

 private:
  bool batch_open_ = false;
  int64_t batch_started_ns_ = 0;
};

// The checksum stored with each row (exposed for tests that forge rows).
uint64_t EventChecksum(uint64_t seq, uint16_t type, int64_t ts, std::string_view payload);

}  // namespace aits::persistence
