#include "aits/persistence/pg_event_store.h"

#include <chrono>
#include <utility>
#include <vector>

#include "aits/core/clock.h"
#include "aits/core/hash.h"
#include "aits/core/resilience.h"

namespace aits::persistence {
namespace {

constexpr std::string_view kComponent = "event_store";
constexpr int64_t kScanChunk = 4096;  // rows per query of a Scan
constexpr size_t kMaxSessionName = 128;

// Never edit a migration that has shipped: add the next one.
constexpr pg::Migration kMigrations[] = {
    {1, "events, sessions and commands",
     "CREATE TABLE event_sessions(name text PRIMARY KEY,"
     " created timestamptz NOT NULL DEFAULT now());"
     // No foreign key on events: Open registers the session, and a per-row check would slow
     // the COPY of every batch.
     "CREATE TABLE events(session text NOT NULL, seq bigint NOT NULL, type smallint NOT NULL,"
     " ts bigint NOT NULL, wall bigint NOT NULL, payload bytea NOT NULL,"
     " checksum bigint NOT NULL, PRIMARY KEY(session, seq));"
     "CREATE TABLE event_commands(id bigserial PRIMARY KEY,"
     " session text NOT NULL REFERENCES event_sessions(name), created bigint NOT NULL,"
     " text text NOT NULL, applied_seq bigint);"
     "CREATE INDEX event_commands_pending ON event_commands(session, id)"
     " WHERE applied_seq IS NULL;"},
};

constexpr const char* kCopyEvents =
    "COPY events(session, seq, type, ts, wall, payload, checksum) FROM STDIN (FORMAT binary)";
constexpr const char* kScanEvents =
    "SELECT seq, type, ts, wall, payload, checksum FROM events"
    " WHERE session = $1::text AND seq >= $2::bigint ORDER BY seq LIMIT $3::bigint";
constexpr const char* kLastSeq =
    "SELECT coalesce(max(seq), 0)::bigint FROM events WHERE session = $1::text";
// The running session listens on kCommandChannel (command_wake.h): the notification, with the
// session's name, is delivered when the insert commits.
constexpr const char* kInsertCommand =
    "WITH added AS (INSERT INTO event_commands(session, created, text)"
    " VALUES($1::text, $2::bigint, $3::text) RETURNING session)"
    " SELECT pg_notify('aits_commands', session) FROM added";
constexpr const char* kPendingCommands =
    "SELECT id, created, text FROM event_commands WHERE session = $1::text"
    " AND applied_seq IS NULL ORDER BY id";
constexpr const char* kMarkApplied =
    "UPDATE event_commands SET applied_seq = $1::bigint WHERE id = $2::bigint"
    " AND session = $3::text AND applied_seq IS NULL";

int64_t WallNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool ValidSessionName(std::string_view name) {
  if (name.empty() || name.size() > kMaxSessionName) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// A statement of the writer's open batch besides its events, made again if the batch is sent
// again on a new connection.
struct BatchStatement {
  enum class Kind : uint8_t { kMarkCommand, kAddCommand };
  Kind kind = Kind::kMarkCommand;
  int64_t id = 0;            // kMarkCommand: the command
  uint64_t applied_seq = 0;  // kMarkCommand
  int64_t created = 0;       // kAddCommand
  std::string text;          // kAddCommand
};

class PgEventStore final : public EventStore {
 public:
  PgEventStore(const PgLocation& location, std::unique_ptr<pg::Connection> conn,
               const EventStoreOptions& options, bool read_only)
      : EventStore("postgresql://" + conn->where() + "#" + location.session, options),
        session_(location.session),
        conninfo_(location.conninfo),
        conn_(std::move(conn)),
        breaker_(path_, pg::StoreBreaker(), SystemWallClock()) {
    read_only_ = read_only;
  }
  ~PgEventStore() override {
    if (conn_ != nullptr) (void)Close();
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
  // Where the server's log stands against this writer's after a reconnection.
  enum class Position : uint8_t { kBatchNotStored, kBatchCommitted };

  bool IsOpen() const override { return conn_ != nullptr; }
  Status TakeWriterLock() const;
  Status ReadLastSeq();
  void OpenBatchIfNeeded();
  void ClearBatch();
  // Opens the batch's transaction on this connection if it is not yet, and sends the events
  // appended since (they are then visible to this connection's reads).
  Status SendBatch() const;
  Status RunStatement(const BatchStatement& statement, std::string_view what) const;
  // A new connection (the writer's lock taken again) with the open batch sent again; or, when
  // the lost connection's COMMIT had reached the server, kBatchCommitted.
  Result<Position> Reconnect() const;
  // Runs `call` on the connection, and after a retryable failure again on a new one
  // (pg::StoreRetry, breaker_). `landed`, if given, is set when a lost COMMIT turned out to have
  // been stored.
  Status Resilient(const std::function<Status()>& call, bool* landed = nullptr) const;
  // Marks the batch lost (LoseBatch) and rolls it back.
  Status Break(const Status& cause) const;

  std::string session_;
  std::string conninfo_;
  // Replaced by Reconnect, which const reads may call.
  mutable std::unique_ptr<pg::Connection> conn_;
  // The open batch, kept until it commits: its events in COPY's binary format and its other
  // statements.
  pg::CopyWriter batch_;
  std::vector<BatchStatement> statements_;
  uint64_t last_checksum_ = 0;  // of the event last_seq_
  // What the connection's transaction holds of the batch.
  mutable bool in_transaction_ = false;
  mutable size_t sent_mark_ = 0;
  mutable size_t sent_rows_ = 0;
  mutable CircuitBreaker breaker_;
};

Status PgEventStore::ReadLastSeq() {
  const pg::Param params[] = {pg::Param::Bytes(session_)};
  AITS_ASSIGN_OR_RETURN(pg::Rows rows, conn_->Exec(kLastSeq, params, "read the last seq"));
  AITS_ASSIGN_OR_RETURN(int64_t last, rows.Int64(0, 0));
  if (last < 0) return DataLoss(path_ + ": events hold seq " + std::to_string(last));
  last_seq_ = committed_seq_ = static_cast<uint64_t>(last);
  return Status::Ok();
}

Status PgEventStore::TakeWriterLock() const {
  const pg::Param lock[] = {
      pg::Param::Int64(static_cast<int64_t>(Fnv1a64("aits-event-store:" + session_)))};
  AITS_ASSIGN_OR_RETURN(pg::Rows locked, conn_->Exec("SELECT pg_try_advisory_lock($1::bigint)",
                                                     lock, "take the writer's lock"));
  AITS_ASSIGN_OR_RETURN(bool got, locked.Bool(0, 0));
  if (got) return Status::Ok();
  return FailedPrecondition(path_ +
                            ": another process has this session open for writing (one writer "
                            "per session; it is free once that process closes or dies)");
}

Status PgEventStore::OpenForWriting() {
  AITS_RETURN_IF_ERROR(pg::Migrate(*conn_, kComponent, kMigrations).status());
  AITS_RETURN_IF_ERROR(TakeWriterLock());
  const pg::Param name[] = {pg::Param::Bytes(session_)};
  AITS_RETURN_IF_ERROR(conn_
                           ->Exec("INSERT INTO event_sessions(name) VALUES($1::text)"
                                  " ON CONFLICT DO NOTHING",
                                  name, "register the session")
                           .status());
  if (options_.sync == Sync::kOff) {
    AITS_RETURN_IF_ERROR(
        conn_->ExecScript("SET synchronous_commit = off", "set synchronous_commit"));
  }
  return ReadLastSeq();
}

Status PgEventStore::OpenForReading() {
  AITS_ASSIGN_OR_RETURN(int version, pg::SchemaVersion(*conn_, kComponent));
  const int known = static_cast<int>(std::size(kMigrations));
  if (version > known) {
    return FailedPrecondition(path_ + ": event store schema version " + std::to_string(version) +
                              " is not supported (this build reads up to " + std::to_string(known) +
                              ")");
  }
  if (version == 0) return NotFound(path_ + ": event store does not exist (no tables)");
  const pg::Param name[] = {pg::Param::Bytes(session_)};
  AITS_ASSIGN_OR_RETURN(pg::Rows rows,
                        conn_->Exec("SELECT 1 FROM event_sessions WHERE name = $1::text", name,
                                    "look up the session"));
  if (rows.size() == 0) return NotFound(path_ + ": event store does not exist");
  return ReadLastSeq();
}

Status PgEventStore::Break(const Status& cause) const {
  if (broken_.ok() && conn_->healthy() && in_transaction_) {
    (void)conn_->ExecScript("ROLLBACK", "roll back the lost batch");
  }
  in_transaction_ = false;
  return LoseBatch(cause);
}

void PgEventStore::OpenBatchIfNeeded() {
  if (batch_open()) return;
  BatchOpened();
  ClearBatch();
}

void PgEventStore::ClearBatch() {
  batch_.Clear();
  statements_.clear();
  sent_mark_ = sent_rows_ = 0;
}

Status PgEventStore::SendBatch() const {
  if (!batch_open()) return Status::Ok();
  if (!in_transaction_) {
    AITS_RETURN_IF_ERROR(conn_->ExecScript("BEGIN", "begin batch"));
    in_transaction_ = true;
  }
  if (batch_.rows() == sent_rows_) return Status::Ok();
  const std::string_view pieces[] = {pg::CopyWriter::Header(), batch_.RowsSince(sent_mark_),
                                     pg::CopyWriter::Trailer()};
  const size_t sending = batch_.rows() - sent_rows_;
  AITS_ASSIGN_OR_RETURN(int64_t stored, conn_->CopyIn(kCopyEvents, pieces, "append events"));
  if (static_cast<size_t>(stored) != sending) {
    return DataLoss(path_ + ": COPY stored " + std::to_string(stored) + " of " +
                    std::to_string(sending) + " events");
  }
  sent_mark_ = batch_.mark();
  sent_rows_ = batch_.rows();
  return Status::Ok();
}

Status PgEventStore::RunStatement(const BatchStatement& statement, std::string_view what) const {
  if (statement.kind == BatchStatement::Kind::kAddCommand) {
    const pg::Param params[] = {pg::Param::Bytes(session_), pg::Param::Int64(statement.created),
                                pg::Param::Bytes(statement.text)};
    return conn_->Exec(kInsertCommand, params, what).status();
  }
  const pg::Param params[] = {pg::Param::Int64(static_cast<int64_t>(statement.applied_seq)),
                              pg::Param::Int64(statement.id), pg::Param::Bytes(session_)};
  AITS_ASSIGN_OR_RETURN(pg::Rows done, conn_->Exec(kMarkApplied, params, what));
  if (done.affected() == 0) {
    return NotFound(path_ + ": no pending command with id " + std::to_string(statement.id));
  }
  return Status::Ok();
}

Result<PgEventStore::Position> PgEventStore::Reconnect() const {
  in_transaction_ = false;
  sent_mark_ = sent_rows_ = 0;
  // A connection still up (the failure was the server's "try again") keeps its session and the
  // writer's lock; a new one would find that lock taken by it.
  if (conn_->healthy() && conn_->ExecScript("ROLLBACK", "roll back before a retry").ok()) {
    if (read_only_) return Position::kBatchNotStored;
  } else {
    AITS_ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> fresh, pg::Connection::Open(conninfo_));
    fresh->set_timeout(conn_->timeout());
    conn_ = std::move(fresh);
    if (read_only_) return Position::kBatchNotStored;
    // The lost connection's session may still hold the lock until the server notices it is
    // gone: refused, this attempt is retried like any other.
    if (Status lock = TakeWriterLock(); !lock.ok()) return Unavailable(lock.message());
  }
  const pg::Param params[] = {pg::Param::Bytes(session_)};
  AITS_ASSIGN_OR_RETURN(pg::Rows rows, conn_->Exec(kLastSeq, params, "read the last seq"));
  AITS_ASSIGN_OR_RETURN(int64_t last, rows.Int64(0, 0));
  if (static_cast<uint64_t>(last) == committed_seq_) {
    AITS_RETURN_IF_ERROR(SendBatch());
    for (const BatchStatement& statement : statements_) {
      AITS_RETURN_IF_ERROR(RunStatement(statement, "repeat a statement of the batch"));
    }
    return Position::kBatchNotStored;
  }
  if (static_cast<uint64_t>(last) == last_seq_) {
    // The lost COMMIT reached the server: the batch is stored if its last event is this one.
    const pg::Param at[] = {pg::Param::Bytes(session_), pg::Param::Int64(last)};
    AITS_ASSIGN_OR_RETURN(
        pg::Rows stored,
        conn_->Exec("SELECT checksum FROM events WHERE session = $1::text AND seq = $2::bigint", at,
                    "check the last stored event"));
    AITS_ASSIGN_OR_RETURN(int64_t checksum, stored.Int64(0, 0));
    if (static_cast<uint64_t>(checksum) == last_checksum_) return Position::kBatchCommitted;
  }
  return FailedPrecondition(path_ + ": the server's log ends at event " + std::to_string(last) +
                            ", this writer's at " + std::to_string(committed_seq_) +
                            " committed and " + std::to_string(last_seq_) +
                            " appended: another writer wrote to the session");
}

Status PgEventStore::Resilient(const std::function<Status()>& call, bool* landed) const {
  bool first = true;
  return CallWithRetry(breaker_, pg::StoreRetry(), [&]() -> Status {
    if (!first || !conn_->healthy()) {
      AITS_ASSIGN_OR_RETURN(Position position, Reconnect());
      if (position == Position::kBatchCommitted) {
        if (landed == nullptr) {
          return DataLoss(path_ + ": the batch was committed by a call that never did so");
        }
        *landed = true;
        return Status::Ok();
      }
    }
    first = false;
    return call();
  });
}

Result<uint64_t> PgEventStore::Append(EventType type, Timestamp ts, std::string_view payload) {
  AITS_RETURN_IF_ERROR(CheckAppend(payload));
  OpenBatchIfNeeded();
  const uint64_t seq = last_seq_ + 1;
  const auto type_value = static_cast<uint16_t>(type);
  const uint64_t checksum = EventChecksum(seq, type_value, ts.ns, payload);
  batch_.BeginRow(7);
  batch_.Bytes(session_);
  batch_.Int64(static_cast<int64_t>(seq));
  batch_.Int16(static_cast<int16_t>(type_value));
  batch_.Int64(ts.ns);
  batch_.Int64(WallNowNs());
  batch_.Bytes(payload);
  batch_.Int64(static_cast<int64_t>(checksum));
  ++batch_size_;
  last_seq_ = seq;
  last_checksum_ = checksum;
  return seq;
}

Status PgEventStore::CommitBatch() {
  if (!IsOpen()) return Closed("Commit");
  if (!broken_.ok()) return broken_;
  if (!batch_open()) return Status::Ok();
  bool landed = false;
  const Status status = Resilient(
      [&]() -> Status {
        AITS_RETURN_IF_ERROR(SendBatch());
        if (conn_->in_failed_transaction()) {
          return DataLoss(path_ + ": a statement of the batch failed; its transaction is void");
        }
        // Whether a COMMIT whose answer was lost took effect is unknown to this connection;
        // Reconnect reads what the server has.
        return conn_->ExecScript("COMMIT", "commit");
      },
      &landed);
  BatchClosed();
  if (!status.ok()) return Break(status);
  in_transaction_ = false;
  committed_seq_ = last_seq_;
  ClearBatch();
  return Status::Ok();
}

Status PgEventStore::Close() {
  if (!IsOpen()) return FailedPrecondition(path_ + ": event store already closed");
  Status status = read_only_ ? Status::Ok() : CommitBatch();
  conn_.reset();  // ends the session: an open transaction rolls back, the writer's lock is freed
  return status;
}

Status PgEventStore::Abandon() {
  if (!IsOpen()) return FailedPrecondition(path_ + ": event store already closed");
  ClearBatch();
  if (batch_open()) {
    BatchClosed();
    last_seq_ = committed_seq_;
  }
  conn_.reset();  // ends the session: an open transaction rolls back, the writer's lock is freed
  return Status::Ok();
}

Status PgEventStore::Scan(uint64_t from_seq, const std::function<Status(const Event&)>& fn) const {
  if (!IsOpen()) return Closed("Scan");
  uint64_t expected = from_seq == 0 ? 1 : from_seq;
  Event event;
  for (;;) {
    const pg::Param params[] = {pg::Param::Bytes(session_),
                                pg::Param::Int64(static_cast<int64_t>(expected)),
                                pg::Param::Int64(kScanChunk)};
    // A chunk at a time, read whole before `fn` sees it: `fn` may use this store (a nested
    // Scan, a command) while the scan goes on. The writer's own batch is sent first, so that it
    // reads it too.
    Result<pg::Rows> read = pg::Rows(nullptr);
    const Status got = Resilient([&]() -> Status {
      AITS_RETURN_IF_ERROR(SendBatch());
      read = conn_->Exec(kScanEvents, params, "read events from " + std::to_string(expected));
      return read.status();
    });
    // A failed statement aborts the open batch's transaction: the batch is lost, and says so.
    if (!got.ok()) return batch_open() ? Break(got) : got;
    const pg::Rows& rows = *read;
    for (int row = 0; row < rows.size(); ++row) {
      AITS_ASSIGN_OR_RETURN(int64_t seq, rows.Int64(row, 0));
      auto where = [&] { return path_ + ": event " + std::to_string(seq); };
      if (seq < 0 || static_cast<uint64_t>(seq) != expected) {
        return DataLoss(path_ + ": event " + std::to_string(expected) +
                        ": missing (the next stored event is " + std::to_string(seq) + ")");
      }
      Result<int16_t> type = rows.Int16(row, 1);
      Result<int64_t> ts = rows.Int64(row, 2);
      Result<int64_t> wall = rows.Int64(row, 3);
      Result<int64_t> checksum = rows.Int64(row, 5);
      for (const Status* status :
           {&type.status(), &ts.status(), &wall.status(), &checksum.status()}) {
        if (!status->ok()) return status->WithContext(where());
      }
      const auto type_value = static_cast<uint16_t>(*type);
      if (!IsKnownEventType(type_value)) {
        return DataLoss(where() + ": unknown type " + std::to_string(type_value));
      }
      const std::string_view payload = rows.Bytes(row, 4);
      const auto stored = static_cast<uint64_t>(*checksum);
      const uint64_t computed = EventChecksum(static_cast<uint64_t>(seq), type_value, *ts, payload);
      if (stored != computed) {
        return DataLoss(where() + ": checksum mismatch (stored " + std::to_string(stored) +
                        ", computed " + std::to_string(computed) + ")");
      }
      event.seq = static_cast<uint64_t>(seq);
      event.type = static_cast<EventType>(type_value);
      event.ts = Timestamp{*ts};
      event.wall = Timestamp{*wall};
      event.payload.assign(payload.data(), payload.size());
      AITS_RETURN_IF_ERROR(fn(event));
      ++expected;
    }
    if (rows.size() < kScanChunk) return Status::Ok();
  }
}

Status PgEventStore::AddCommand(std::string_view text) {
  if (!IsOpen()) return Closed("AddCommand");
  if (!read_only_ && !broken_.ok()) return broken_;
  BatchStatement statement{
      .kind = BatchStatement::Kind::kAddCommand, .created = WallNowNs(), .text = std::string(text)};
  if (read_only_ || !batch_open()) {
    // Anyone else's command, or the writer's between batches, commits at once (PostgreSQL has no
    // file lock to wait for). Not retried once sent: an answer lost after the insert would store
    // the command twice. A connection known lost is replaced first.
    if (!conn_->healthy()) AITS_RETURN_IF_ERROR(Resilient([] { return Status::Ok(); }));
    return RunStatement(statement, "add command");
  }
  // The writer's own command joins its open batch.
  const Status done = Resilient([&] {
    AITS_RETURN_IF_ERROR(SendBatch());
    return RunStatement(statement, "add command");
  });
  if (!done.ok()) return Break(done);
  statements_.push_back(std::move(statement));
  return Status::Ok();
}

Result<std::vector<Command>> PgEventStore::PendingCommands() const {
  if (!IsOpen()) return Closed("PendingCommands");
  const pg::Param params[] = {pg::Param::Bytes(session_)};
  Result<pg::Rows> read = pg::Rows(nullptr);
  const Status got = Resilient([&]() -> Status {
    // Inside the writer's batch: the commands it marked applied are not pending any more.
    AITS_RETURN_IF_ERROR(SendBatch());
    read = conn_->Exec(kPendingCommands, params, "read pending commands");
    return read.status();
  });
  if (!got.ok()) return batch_open() ? Break(got) : got;
  const pg::Rows& rows = *read;
  std::vector<Command> commands;
  for (int row = 0; row < rows.size(); ++row) {
    Command command;
    AITS_ASSIGN_OR_RETURN(command.id, rows.Int64(row, 0));
    AITS_ASSIGN_OR_RETURN(int64_t created, rows.Int64(row, 1));
    command.created = Timestamp{created};
    command.text = std::string(rows.Bytes(row, 2));
    commands.push_back(std::move(command));
  }
  return commands;
}

Status PgEventStore::MarkCommandApplied(int64_t id, uint64_t applied_seq) {
  AITS_RETURN_IF_ERROR(CheckWritable("MarkCommandApplied"));
  OpenBatchIfNeeded();
  BatchStatement statement{
      .kind = BatchStatement::Kind::kMarkCommand, .id = id, .applied_seq = applied_seq};
  const Status done = Resilient([&] {
    AITS_RETURN_IF_ERROR(SendBatch());
    return RunStatement(statement, "mark command " + std::to_string(id) + " applied");
  });
  if (done.code() == StatusCode::kNotFound) return done;
  if (!done.ok()) return Break(done);
  statements_.push_back(std::move(statement));
  return Status::Ok();
}

Result<std::unique_ptr<EventStore>> OpenPg(const PgLocation& location,
                                           const EventStoreOptions& options, bool read_only) {
  AITS_RETURN_IF_ERROR(options.Validate());
  if (!ValidSessionName(location.session)) {
    return InvalidArgument("event store session name \"" + location.session +
                           "\": 1-128 letters, digits, '-', '_' or '.'");
  }
  AITS_ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> conn,
                        pg::Connection::Open(location.conninfo));
  auto store = std::make_unique<PgEventStore>(location, std::move(conn), options, read_only);
  AITS_RETURN_IF_ERROR(read_only ? store->OpenForReading() : store->OpenForWriting());
  return std::unique_ptr<EventStore>(std::move(store));
}

}  // namespace

bool IsPostgresLocation(std::string_view location) { return pg::IsPostgresUri(location); }

Result<PgLocation> ParsePgLocation(std::string_view location) {
  const size_t hash = location.rfind('#');
  if (!IsPostgresLocation(location) || hash == std::string_view::npos) {
    return InvalidArgument("event store location \"" + std::string(location) +
                           "\": expected postgresql://[user@]host[:port]/database#session");
  }
  PgLocation parsed{std::string(location.substr(0, hash)), std::string(location.substr(hash + 1))};
  if (!ValidSessionName(parsed.session)) {
    return InvalidArgument("event store location \"" + std::string(location) +
                           "\": the session after '#' must be 1-128 letters, digits, '-', '_' "
                           "or '.'");
  }
  return parsed;
}

Result<std::unique_ptr<EventStore>> OpenPgEventStore(const PgLocation& location,
                                                     const EventStoreOptions& options) {
  return OpenPg(location, options, false);
}

Result<std::unique_ptr<EventStore>> OpenPgEventStoreReadOnly(const PgLocation& location,
                                                             const EventStoreOptions& options) {
  return OpenPg(location, options, true);
}

Result<std::unique_ptr<EventStore>> OpenEventStoreAt(const std::string& location,
                                                     const EventStoreOptions& options) {
  if (!IsPostgresLocation(location)) return EventStore::Open(location, options);
  AITS_ASSIGN_OR_RETURN(PgLocation parsed, ParsePgLocation(location));
  return OpenPgEventStore(parsed, options);
}

Result<std::unique_ptr<EventStore>> OpenEventStoreAtReadOnly(const std::string& location,
                                                             const EventStoreOptions& options) {
  if (!IsPostgresLocation(location)) return EventStore::OpenReadOnly(location, options);
  AITS_ASSIGN_OR_RETURN(PgLocation parsed, ParsePgLocation(location));
  return OpenPgEventStoreReadOnly(parsed, options);
}

std::span<const pg::Migration> EventStoreMigrations() { return kMigrations; }

}  // namespace aits::persistence
