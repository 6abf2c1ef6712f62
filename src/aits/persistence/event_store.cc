#include "aits/persistence/event_store.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <utility>

#include "aits/persistence/command_wake.h"
#include "aits/persistence/sqlite.h"

namespace aits::persistence {
namespace {

// Written into `meta` at creation. The application marker tells our files from any other SQLite
// database; the schema version lets a later build refuse (or migrate) a layout it does not know.
constexpr const char* kApplicationMarker = "aits-event-store";
constexpr const char* kSchemaVersion = "1";
constexpr int kBusyTimeoutMs = 5000;

constexpr const char* kCreateSchema =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE IF NOT EXISTS events(seq INTEGER PRIMARY KEY, type INTEGER NOT NULL,"
    " ts INTEGER NOT NULL, wall INTEGER NOT NULL, payload BLOB NOT NULL,"
    " checksum INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS commands(id INTEGER PRIMARY KEY AUTOINCREMENT, created INTEGER,"
    " text TEXT, applied_seq INTEGER);"
    "INSERT OR IGNORE INTO meta(key, value) VALUES('application', 'aits-event-store');"
    "INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', '1');";

constexpr const char* kInsertEvent =
    "INSERT INTO events(seq, type, ts, wall, payload, checksum) VALUES(?1, ?2, ?3, ?4, ?5, ?6)";
constexpr const char* kScanEvents =
    "SELECT seq, type, ts, wall, payload, checksum FROM events WHERE seq >= ?1 ORDER BY seq";
constexpr const char* kInsertCommand = "INSERT INTO commands(created, text) VALUES(?1, ?2)";
constexpr const char* kPendingCommands =
    "SELECT id, created, text FROM commands WHERE applied_seq IS NULL ORDER BY id";
constexpr const char* kMarkApplied =
    "UPDATE commands SET applied_seq = ?1 WHERE id = ?2 AND applied_seq IS NULL";

// SQLite's busy handler for AddCommand's side connection: tries again every millisecond for up
// to kBusyTimeoutMs in all, telling on_busy first. Not SQLite's own back-off (what
// sqlite3_busy_timeout does, growing to 100 ms a wait): a writer whose events stream holds its
// lock for each whole batch and frees it only between a commit and the next event's append,
// for a millisecond or two, which long waits keep missing (docs/paper.md, "Operator commands").
int WaitWhileBusy(void* context, int attempt) {
  const auto& on_busy = *static_cast<const std::function<void(int)>*>(context);
  if (on_busy) on_busy(attempt);
  if (attempt >= kBusyTimeoutMs) return 0;
  sqlite3_sleep(1);
  return 1;
}

// The busy handler of a read-only handle's command connection: WaitWhileBusy's waits, and a
// wake of the running session at the first wait and every 10 ms after, so that it commits the
// batch it holds the lock for (a session waiting for the market may hold it until its next tick
// or idle turn, tens of milliseconds).
struct WaitForWriter {
  const std::function<void(int)>* on_busy = nullptr;
  std::string wake_path;
};
int WaitForWriterBusy(void* context, int attempt) {
  const auto& waiting = *static_cast<const WaitForWriter*>(context);
  if (attempt % 10 == 0 && !waiting.wake_path.empty()) (void)SendCommandWake(waiting.wake_path);
  return WaitWhileBusy(const_cast<std::function<void(int)>*>(waiting.on_busy), attempt);
}

int64_t WallNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Resets a statement on scope exit so that it never holds a read transaction open.
class ResetOnExit {
 public:
  explicit ResetOnExit(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~ResetOnExit() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

// First column of the first row as text ("" when there is no row).
Result<std::string> QueryText(const sqlite::Database& db, const char* sql, std::string_view what) {
  AITS_ASSIGN_OR_RETURN(std::optional<std::string> text, db.QueryText(sql, what));
  return text.value_or(std::string());
}

Status OpenFailure(const std::string& path, std::string_view why) {
  return DataLoss(path + " is not an AITS event store (" + std::string(why) + ")");
}

// Checks what the file holds. Sets *fresh when it has no tables at all (a new or empty file).
// Reads only, so that another application's database is refused before anything is written.
Status CheckSchema(const sqlite::Database& db, const std::string& path, bool* fresh) {
  AITS_ASSIGN_OR_RETURN(
      sqlite::Statement tables,
      sqlite::Statement::Prepare(db, "SELECT name FROM sqlite_master WHERE type = 'table'"));
  bool has_meta = false;
  bool has_events = false;
  bool has_commands = false;
  int table_count = 0;
  for (;;) {
    const int rc = sqlite3_step(tables.get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return db.Error(rc, "read schema");
    const unsigned char* raw_name = sqlite3_column_text(tables.get(), 0);
    const std::string_view name =
        raw_name == nullptr ? std::string_view() : reinterpret_cast<const char*>(raw_name);
    ++table_count;
    has_meta |= name == "meta";
    has_events |= name == "events";
    has_commands |= name == "commands";
  }
  *fresh = table_count == 0;
  if (*fresh) return Status::Ok();
  if (!has_meta) return OpenFailure(path, "it has tables but no meta table with the AITS marker");

  AITS_ASSIGN_OR_RETURN(
      std::string application,
      QueryText(db, "SELECT value FROM meta WHERE key = 'application'", "read meta"));
  if (application != kApplicationMarker) {
    return OpenFailure(path, "meta.application = \"" + application + "\", expected \"" +
                                 kApplicationMarker + "\"");
  }
  AITS_ASSIGN_OR_RETURN(
      std::string version,
      QueryText(db, "SELECT value FROM meta WHERE key = 'schema_version'", "read meta"));
  if (version != kSchemaVersion) {
    return FailedPrecondition(path + ": event store schema_version \"" + version +
                              "\" is not supported (this build reads version " + kSchemaVersion +
                              ")");
  }
  if (!has_events) return OpenFailure(path, "table events is missing");
  if (!has_commands) return OpenFailure(path, "table commands is missing");
  return Status::Ok();
}

bool FileExists(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0;
}

}  // namespace

// FNV-1a 64 (offset basis 14695981039346656037, prime 1099511628211) over the little-endian
// bytes of seq (8), type (2) and ts (8), then the payload bytes. Fixed forever: changing it
// makes every stored log fail its checks. Stored in SQLite as the same 64 bits read as int64.
uint64_t EventChecksum(uint64_t seq, uint16_t type, int64_t ts, std::string_view payload) {
  constexpr uint64_t kOffsetBasis = 14695981039346656037ull;
  constexpr uint64_t kPrime = 1099511628211ull;
  uint64_t hash = kOffsetBasis;
  auto mix_le = [&hash](uint64_t value, int bytes) {
    for (int idx = 0; idx < bytes; ++idx) {
      hash ^= (value >> (8 * idx)) & 0xff;
      hash *= kPrime;
    }
  };
  mix_le(seq, 8);
  mix_le(type, 2);
  mix_le(static_cast<uint64_t>(ts), 8);
  for (const char byte : payload) {
    hash ^= static_cast<uint8_t>(byte);
    hash *= kPrime;
  }
  return hash;
}

std::string_view ToString(EventType type) {
  switch (type) {
    case EventType::kSessionStart:
      return "session_start";
    case EventType::kTick:
      return "tick";
    case EventType::kSignal:
      return "signal";
    case EventType::kDecision:
      return "decision";
    case EventType::kOrderSubmitted:
      return "order_submitted";
    case EventType::kOrderUpdate:
      return "order_update";
    case EventType::kFill:
      return "fill";
    case EventType::kBreakerChange:
      return "breaker_change";
    case EventType::kCommand:
      return "command";
    case EventType::kSessionStop:
      return "session_stop";
    case EventType::kAccount:
      return "account";
    case EventType::kClock:
      return "clock";
    case EventType::kReconciliation:
      return "reconciliation";
    case EventType::kExecutionReport:
      return "execution_report";
    case EventType::kAccountReport:
      return "account_report";
    case EventType::kModelVerdict:
      return "model_verdict";
    case EventType::kModelShadow:
      return "model_shadow";
  }
  return "unknown";
}

bool IsKnownEventType(uint16_t value) {
  return value >= static_cast<uint16_t>(EventType::kSessionStart) &&
         value <= static_cast<uint16_t>(EventType::kModelShadow);
}

Status EventStoreOptions::Validate() const {
  if (batch_events < 1) {
    return InvalidArgument("event store: batch_events = " + std::to_string(batch_events) +
                           " must be at least 1");
  }
  if (batch_interval.ns < 0) {
    return InvalidArgument("event store: batch_interval = " + std::to_string(batch_interval.ns) +
                           " ns must not be negative");
  }
  return Status::Ok();
}

void EventStore::BatchOpened() {
  batch_open_ = true;
  batch_size_ = 0;
  batch_started_ns_ = BatchNowNs();
}

int64_t EventStore::BatchNowNs() const {
  if (options_.batch_clock != nullptr) return options_.batch_clock->Now().ns;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Status EventStore::Closed(std::string_view call) const {
  return FailedPrecondition(path_ + ": " + std::string(call) + " on a closed event store");
}

Status EventStore::CheckWritable(std::string_view call) const {
  if (!IsOpen()) return Closed(call);
  if (read_only_) {
    return FailedPrecondition(path_ + ": " + std::string(call) + " on a read-only event store");
  }
  return broken_;
}

Status EventStore::CheckAppend(std::string_view payload) const {
  AITS_RETURN_IF_ERROR(CheckWritable("Append"));
  if (payload.size() > kMaxPayloadBytes) {
    return InvalidArgument(path_ + ": event payload of " + std::to_string(payload.size()) +
                           " bytes is above the limit of " + std::to_string(kMaxPayloadBytes));
  }
  return Status::Ok();
}

Status EventStore::LoseBatch(const Status& cause) const {
  if (broken_.ok()) {
    broken_ = cause.WithContext("batch of events " + std::to_string(committed_seq_ + 1) + ".." +
                                std::to_string(last_seq_) + " lost");
  }
  return broken_;
}

Status EventStore::Commit() {
  if (!options_.on_commit || !batch_open_) return CommitBatch();
  const auto start = std::chrono::steady_clock::now();
  Status status = CommitBatch();
  options_.on_commit(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count(),
      status);
  return status;
}

Status EventStore::MaybeCommit() {
  if (!IsOpen()) return Closed("MaybeCommit");
  if (!batch_open_) return Status::Ok();
  if (batch_size_ >= options_.batch_events ||
      BatchNowNs() - batch_started_ns_ >= options_.batch_interval.ns) {
    return Commit();
  }
  return Status::Ok();
}

namespace {

// One SQLite file per session (the layout at the top of event_store.h).
class SqliteEventStore final : public EventStore {
 public:
  SqliteEventStore(std::string path, const EventStoreOptions& options)
      : EventStore(std::move(path), options) {}
  ~SqliteEventStore() override {
    if (db_.is_open()) (void)Close();
  }

  Status OpenForWriting();
  Status OpenForReading();

  Result<uint64_t> Append(EventType type, Timestamp ts, std::string_view payload) override;
  Status CommitBatch() override;
  Status Close() override;
  Status Abandon() override;
  Status Scan(uint64_t from_seq, const std::function<Status(const Event&)>& fn) const override;
  Status AddCommand(std::string_view text) override;
  Result<std::vector<Command>> PendingCommands() const override;
  Status MarkCommandApplied(int64_t id, uint64_t applied_seq) override;

 private:
  bool IsOpen() const override { return db_.is_open(); }
  static Status InsertCommand(const sqlite::Database& db, sqlite3_stmt* stmt,
                              std::string_view text);

  // Opens the batch's transaction on its first write (an event or a command mark).
  Status BeginBatchIfNeeded() {
    if (batch_open()) return Status::Ok();
    const int rc = sqlite3_step(begin_.get());
    sqlite3_reset(begin_.get());
    if (rc != SQLITE_DONE) return db_.Error(rc, "begin batch");
    BatchOpened();
    return Status::Ok();
  }

  void CloseDb() {
    for (sqlite::Statement* stmt : {&begin_, &commit_, &insert_event_, &scan_, &insert_command_,
                                    &pending_commands_, &mark_applied_}) {
      *stmt = sqlite::Statement();
    }
    db_.Close();
    std::lock_guard<std::mutex> lock(side_mutex_);
    side_insert_ = sqlite::Statement();
    side_db_.Close();
  }

  sqlite::Database db_;
  sqlite::Statement begin_;
  sqlite::Statement commit_;
  sqlite::Statement insert_event_;
  mutable sqlite::Statement scan_;
  sqlite::Statement insert_command_;
  mutable sqlite::Statement pending_commands_;
  sqlite::Statement mark_applied_;
  // True while Scan() runs the cached statement; a nested Scan prepares its own.
  mutable bool scan_active_ = false;
  // A read-only handle's connection for AddCommand (several threads may add commands).
  std::mutex side_mutex_;
  sqlite::Database side_db_;
  sqlite::Statement side_insert_;
  std::string wake_path_ = CommandWakePath(path_);
  WaitForWriter side_busy_;
};

}  // namespace

Result<std::unique_ptr<EventStore>> EventStore::Open(const std::string& path,
                                                     const EventStoreOptions& options) {
  AITS_RETURN_IF_ERROR(options.Validate().WithContext(path));
  auto store = std::make_unique<SqliteEventStore>(path, options);
  AITS_RETURN_IF_ERROR(store->OpenForWriting());
  return std::unique_ptr<EventStore>(std::move(store));
}

Result<std::unique_ptr<EventStore>> EventStore::OpenReadOnly(const std::string& path,
                                                             const EventStoreOptions& options) {
  if (!FileExists(path)) return NotFound(path + ": event store does not exist");
  auto store = std::make_unique<SqliteEventStore>(path, options);
  AITS_RETURN_IF_ERROR(store->OpenForReading());
  return std::unique_ptr<EventStore>(std::move(store));
}

Status SqliteEventStore::OpenForWriting() {
  const std::string& path = path_;
  AITS_ASSIGN_OR_RETURN(
      db_, sqlite::Database::Open(
               path, {.create = true, .no_mutex = true, .busy_timeout_ms = kBusyTimeoutMs}));

  bool fresh = false;
  AITS_RETURN_IF_ERROR(CheckSchema(db_, path, &fresh));

  AITS_ASSIGN_OR_RETURN(std::string journal_mode,
                        QueryText(db_, "PRAGMA journal_mode=WAL", "set WAL mode"));
  if (journal_mode != "wal") {
    return IoError(path + ": PRAGMA journal_mode=WAL answered \"" + journal_mode +
                   "\" (the file system may not support WAL's shared memory)");
  }
  const char* synchronous = options_.sync == Sync::kFull     ? "PRAGMA synchronous=FULL"
                            : options_.sync == Sync::kNormal ? "PRAGMA synchronous=NORMAL"
                                                             : "PRAGMA synchronous=OFF";
  AITS_RETURN_IF_ERROR(db_.Exec(synchronous, "set synchronous"));

  if (fresh) {
    // Another process may be creating the same file right now: IMMEDIATE serialises us, and
    // IF NOT EXISTS / OR IGNORE make the second creator a no-op.
    AITS_ASSIGN_OR_RETURN(sqlite::Transaction create, sqlite::Transaction::Begin(db_));
    AITS_RETURN_IF_ERROR(db_.Exec(kCreateSchema, "create schema"));
    AITS_RETURN_IF_ERROR(create.Commit());
    AITS_RETURN_IF_ERROR(CheckSchema(db_, path, &fresh));
  }

  // Crash recovery: continue after the last row on disk. Its checksum is not checked here; the
  // session's recovery Scan()s the log and decides what a damaged tail means.
  AITS_ASSIGN_OR_RETURN(
      std::string last,
      QueryText(db_, "SELECT seq FROM events ORDER BY seq DESC LIMIT 1", "read the last seq"));
  if (!last.empty()) {
    const long long value = std::strtoll(last.c_str(), nullptr, 10);
    if (value < 1) return DataLoss(path + ": events hold seq " + last + " (must be >= 1)");
    last_seq_ = committed_seq_ = static_cast<uint64_t>(value);
  }

  using sqlite::Statement;
  AITS_ASSIGN_OR_RETURN(begin_, Statement::Prepare(db_, "BEGIN IMMEDIATE", true));
  AITS_ASSIGN_OR_RETURN(commit_, Statement::Prepare(db_, "COMMIT", true));
  AITS_ASSIGN_OR_RETURN(insert_event_, Statement::Prepare(db_, kInsertEvent, true));
  AITS_ASSIGN_OR_RETURN(scan_, Statement::Prepare(db_, kScanEvents, true));
  AITS_ASSIGN_OR_RETURN(insert_command_, Statement::Prepare(db_, kInsertCommand, true));
  AITS_ASSIGN_OR_RETURN(pending_commands_, Statement::Prepare(db_, kPendingCommands, true));
  AITS_ASSIGN_OR_RETURN(mark_applied_, Statement::Prepare(db_, kMarkApplied, true));
  return Status::Ok();
}

Status SqliteEventStore::OpenForReading() {
  const std::string& path = path_;
  read_only_ = true;
  AITS_ASSIGN_OR_RETURN(
      db_, sqlite::Database::Open(
               path, {.read_only = true, .no_mutex = true, .busy_timeout_ms = kBusyTimeoutMs}));

  bool fresh = false;
  AITS_RETURN_IF_ERROR(CheckSchema(db_, path, &fresh));
  if (fresh) return OpenFailure(path, "it has no tables");

  AITS_ASSIGN_OR_RETURN(
      std::string last,
      QueryText(db_, "SELECT seq FROM events ORDER BY seq DESC LIMIT 1", "read the last seq"));
  if (!last.empty()) {
    const long long value = std::strtoll(last.c_str(), nullptr, 10);
    if (value >= 1) last_seq_ = committed_seq_ = static_cast<uint64_t>(value);
  }
  AITS_ASSIGN_OR_RETURN(scan_, sqlite::Statement::Prepare(db_, kScanEvents, true));
  AITS_ASSIGN_OR_RETURN(pending_commands_, sqlite::Statement::Prepare(db_, kPendingCommands, true));
  return Status::Ok();
}

Result<uint64_t> SqliteEventStore::Append(EventType type, Timestamp ts, std::string_view payload) {
  AITS_RETURN_IF_ERROR(CheckAppend(payload));
  AITS_RETURN_IF_ERROR(BeginBatchIfNeeded());

  const uint64_t seq = last_seq_ + 1;
  const auto type_value = static_cast<uint16_t>(type);
  const uint64_t checksum = EventChecksum(seq, type_value, ts.ns, payload);
  sqlite3_stmt* stmt = insert_event_.get();
  sqlite3_bind_int64(stmt, 1, static_cast<sqlite3_int64>(seq));
  sqlite3_bind_int(stmt, 2, type_value);
  sqlite3_bind_int64(stmt, 3, ts.ns);
  sqlite3_bind_int64(stmt, 4, WallNowNs());
  // SQLITE_STATIC: SQLite reads the caller's bytes during the step below and not after the
  // reset, so no copy. A null pointer would bind NULL, so an empty payload points at "".
  sqlite3_bind_blob(stmt, 5, payload.empty() ? "" : payload.data(),
                    static_cast<int>(payload.size()), SQLITE_STATIC);
  sqlite3_bind_int64(stmt, 6, static_cast<sqlite3_int64>(checksum));
  const int rc = sqlite3_step(stmt);
  sqlite3_reset(stmt);
  if (rc != SQLITE_DONE) {
    Status status = db_.Error(rc, "append event " + std::to_string(seq));
    if (db_.autocommit()) {
      // SQLite rolled the whole batch back: the events after committed_seq_ are gone.
      BatchClosed();
      return LoseBatch(status);
    }
    return status;
  }
  ++batch_size_;
  last_seq_ = seq;
  return seq;
}

Status SqliteEventStore::CommitBatch() {
  if (!IsOpen()) return Closed("Commit");
  if (!broken_.ok()) return broken_;
  if (!batch_open()) return Status::Ok();
  const int rc = sqlite3_step(commit_.get());
  sqlite3_reset(commit_.get());
  if (rc != SQLITE_DONE) {
    Status status = db_.Error(rc, "commit");
    if (db_.autocommit()) {
      BatchClosed();
      return LoseBatch(status);
    }
    return status;  // still open: a later Commit may succeed
  }
  BatchClosed();
  committed_seq_ = last_seq_;
  return Status::Ok();
}

Status SqliteEventStore::Close() {
  if (!db_.is_open()) {
    return FailedPrecondition(path_ + ": event store already closed");
  }
  Status status = read_only_ ? Status::Ok() : CommitBatch();
  if (!status.ok() && batch_open()) {
    // Could not commit: roll back explicitly so that close does not leave a half-written batch.
    (void)db_.Exec("ROLLBACK", "rollback");
    BatchClosed();
  }
  CloseDb();
  return status;
}

Status SqliteEventStore::Abandon() {
  if (!db_.is_open()) return FailedPrecondition(path_ + ": event store already closed");
  Status status = Status::Ok();
  if (batch_open()) {
    status = db_.Exec("ROLLBACK", "rollback");
    BatchClosed();
    last_seq_ = committed_seq_;
  }
  CloseDb();
  return status;
}

Status SqliteEventStore::Scan(uint64_t from_seq,
                              const std::function<Status(const Event&)>& fn) const {
  if (!IsOpen()) return Closed("Scan");
  sqlite::Statement nested;
  sqlite3_stmt* stmt = scan_.get();
  if (scan_active_) {
    AITS_ASSIGN_OR_RETURN(nested, sqlite::Statement::Prepare(db_, kScanEvents));
    stmt = nested.get();
  }
  const bool owns_cached = !scan_active_;
  scan_active_ = true;
  struct ClearActive {
    bool& active;
    bool owns;
    ~ClearActive() {
      if (owns) active = false;
    }
  } clear_active{scan_active_, owns_cached};
  ResetOnExit reset(stmt);

  uint64_t expected = from_seq == 0 ? 1 : from_seq;
  sqlite3_bind_int64(stmt, 1, static_cast<sqlite3_int64>(expected));
  Event event;
  for (;;) {
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) return Status::Ok();
    if (rc != SQLITE_ROW) {
      return db_.Error(rc, "read event " + std::to_string(expected));
    }
    const int64_t seq = sqlite3_column_int64(stmt, 0);
    // Built only on failure: no allocation per good row.
    auto where = [&] { return path_ + ": event " + std::to_string(seq); };
    if (seq < 0 || static_cast<uint64_t>(seq) != expected) {
      return DataLoss(path_ + ": event " + std::to_string(expected) +
                      ": missing (the next stored event is " + std::to_string(seq) + ")");
    }
    for (int column = 0; column < 6; ++column) {
      const int column_type = sqlite3_column_type(stmt, column);
      const bool is_payload = column == 4;
      if (is_payload ? column_type != SQLITE_BLOB && column_type != SQLITE_TEXT
                     : column_type != SQLITE_INTEGER) {
        return DataLoss(where() + ": column " + sqlite3_column_name(stmt, column) +
                        " has the wrong type");
      }
    }
    const int64_t type = sqlite3_column_int64(stmt, 1);
    if (type < 0 || type > 0xffff || !IsKnownEventType(static_cast<uint16_t>(type))) {
      return DataLoss(where() + ": unknown type " + std::to_string(type));
    }
    const int64_t ts = sqlite3_column_int64(stmt, 2);
    const void* blob = sqlite3_column_blob(stmt, 4);
    const int size = sqlite3_column_bytes(stmt, 4);
    const std::string_view payload(blob == nullptr ? "" : static_cast<const char*>(blob),
                                   static_cast<size_t>(size));
    const auto stored = static_cast<uint64_t>(sqlite3_column_int64(stmt, 5));
    const uint64_t computed =
        EventChecksum(static_cast<uint64_t>(seq), static_cast<uint16_t>(type), ts, payload);
    if (stored != computed) {
      return DataLoss(where() + ": checksum mismatch (stored " + std::to_string(stored) +
                      ", computed " + std::to_string(computed) + ")");
    }
    event.seq = static_cast<uint64_t>(seq);
    event.type = static_cast<EventType>(type);
    event.ts = Timestamp{ts};
    event.wall = Timestamp{sqlite3_column_int64(stmt, 3)};
    event.payload.assign(payload.data(), payload.size());
    AITS_RETURN_IF_ERROR(fn(event));
    ++expected;
  }
}

Status SqliteEventStore::AddCommand(std::string_view text) {
  if (!IsOpen()) return Closed("AddCommand");
  // A writer's own command lands in its open batch (or commits at once between batches).
  if (!read_only_) return InsertCommand(db_, insert_command_.get(), text);
  // A read-only handle (`aits breaker`, the API beside a running session) writes through a
  // read-write connection of its own, opened at the first command and kept, which waits for
  // the writer's batch. It commits without an fsync (synchronous=NORMAL): the row is safe from
  // this process dying at once, and from a power loss at the session's next commit, which
  // fsyncs the whole write-ahead log with it. An fsync here would cost each order several
  // hundred microseconds (docs/performance.md, "The API").
  Status status;
  {
    std::lock_guard<std::mutex> lock(side_mutex_);
    if (!side_db_.is_open()) {
      AITS_ASSIGN_OR_RETURN(sqlite::Database db, sqlite::Database::Open(path_, {.no_mutex = true}));
      // Replaces the busy timeout: the same waits, with on_busy told of each, and the session
      // woken to commit its batch.
      side_busy_ = WaitForWriter{&options_.on_busy, wake_path_};
      sqlite3_busy_handler(db.get(), WaitForWriterBusy, &side_busy_);
      // Nor does it checkpoint: the session's log grows fast, and whichever connection commits
      // past the threshold copies the whole log back, which is the session writer's work.
      AITS_RETURN_IF_ERROR(
          db.Exec("PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0", "settings"));
      AITS_ASSIGN_OR_RETURN(side_insert_, sqlite::Statement::Prepare(db, kInsertCommand));
      side_db_ = std::move(db);
    }
    status = InsertCommand(side_db_, side_insert_.get(), text);
  }
  // The running session reads its commands at once rather than at its next poll.
  if (status.ok() && !wake_path_.empty()) (void)SendCommandWake(wake_path_);
  return status;
}

Status SqliteEventStore::InsertCommand(const sqlite::Database& db, sqlite3_stmt* stmt,
                                       std::string_view text) {
  sqlite3_bind_int64(stmt, 1, WallNowNs());
  sqlite3_bind_text(stmt, 2, text.empty() ? "" : text.data(), static_cast<int>(text.size()),
                    SQLITE_STATIC);
  const int rc = sqlite3_step(stmt);
  Status status = rc == SQLITE_DONE ? Status::Ok() : db.Error(rc, "add command");
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  return status;
}

Result<std::vector<Command>> SqliteEventStore::PendingCommands() const {
  if (!IsOpen()) return Closed("PendingCommands");
  sqlite3_stmt* stmt = pending_commands_.get();
  ResetOnExit reset(stmt);
  std::vector<Command> commands;
  for (;;) {
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) return commands;
    if (rc != SQLITE_ROW) return db_.Error(rc, "read pending commands");
    Command command;
    command.id = sqlite3_column_int64(stmt, 0);
    command.created = Timestamp{sqlite3_column_int64(stmt, 1)};
    const unsigned char* text = sqlite3_column_text(stmt, 2);
    if (text != nullptr) {
      command.text.assign(reinterpret_cast<const char*>(text),
                          static_cast<size_t>(sqlite3_column_bytes(stmt, 2)));
    }
    commands.push_back(std::move(command));
  }
}

Status SqliteEventStore::MarkCommandApplied(int64_t id, uint64_t applied_seq) {
  AITS_RETURN_IF_ERROR(CheckWritable("MarkCommandApplied"));
  AITS_RETURN_IF_ERROR(BeginBatchIfNeeded());
  sqlite3_stmt* stmt = mark_applied_.get();
  sqlite3_bind_int64(stmt, 1, static_cast<sqlite3_int64>(applied_seq));
  sqlite3_bind_int64(stmt, 2, id);
  const int rc = sqlite3_step(stmt);
  sqlite3_reset(stmt);
  if (rc != SQLITE_DONE) {
    return db_.Error(rc, "mark command " + std::to_string(id) + " applied");
  }
  if (sqlite3_changes(db_.get()) == 0) {
    return NotFound(path_ + ": no pending command with id " + std::to_string(id));
  }
  return Status::Ok();
}

}  // namespace aits::persistence
