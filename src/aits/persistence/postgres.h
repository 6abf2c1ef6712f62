// The one PostgreSQL client wrapper (libpq): a connection with classified errors, statements with
// binary parameters and results, binary COPY, and versioned schema migrations. Used by the
// PostgreSQL stores (pg_event_store.h); nothing above this header sees libpq.
//
// Timeouts: every call waits for the server at most `timeout()` without progress (default 10 s:
// a result that keeps arriving may take longer), so a server that hangs (stopped, its disk stuck,
// the network silent) fails the call with DeadlineExceeded instead of freezing the role. The
// connection is then abandoned: its socket is shut down, so the server ends the session (rolling
// back its transaction, freeing its locks) once it runs again, and every later call fails at
// once with Unavailable. libpq runs in non-blocking mode for this: no call here blocks on the
// socket except through a poll with the deadline.
//
// Errors: a server that cannot be reached, or a connection lost mid-call, is Unavailable (retry
// later: core/resilience.h); a statement the server refused is InvalidArgument, except
// serialization and lock failures (SQLSTATE 40001, 40P01, 55P03: try again) which are
// Unavailable, and an undefined table or schema mismatch (42P01, 42703), which is
// FailedPrecondition. Every message names the server ("127.0.0.1:5432/aits") and what was being
// done.
//
// Not thread-safe: one connection per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/resilience.h"
#include "aits/core/status.h"
#include "aits/core/time.h"

struct pg_conn;
struct pg_result;

namespace aits::pg {

// A parameter sent in binary: a big-endian integer of 2 or 8 bytes, bytes (text or bytea), or
// NULL. Its type is the statement's ($1::bigint); libpq is told only "binary".
class Param {
 public:
  static Param Int16(int16_t value);
  static Param Int64(int64_t value);
  static Param Float64(double value);          // float8
  static Param Bytes(std::string_view bytes);  // not copied: must outlive the call
  static Param Null();

  const char* data() const;
  int size() const { return size_; }
  bool is_null() const { return null_; }

 private:
  char buffer_[8] = {};
  std::string_view bytes_;
  int size_ = 0;
  bool null_ = false;
  bool inline_ = false;
};

// The rows of one statement's result, in binary: read columns by the type the SQL selected.
class Rows {
 public:
  explicit Rows(pg_result* result) : result_(result) {}
  Rows(Rows&& other) noexcept : result_(other.result_) { other.result_ = nullptr; }
  Rows& operator=(Rows&& other) noexcept;
  Rows(const Rows&) = delete;
  Rows& operator=(const Rows&) = delete;
  ~Rows();

  int size() const;
  int64_t affected() const;  // rows changed by an INSERT/UPDATE/DELETE
  bool is_null(int row, int column) const;
  // DataLoss naming the column when the value has another width than the type read.
  Result<int64_t> Int64(int row, int column) const;
  Result<int16_t> Int16(int row, int column) const;
  Result<bool> Bool(int row, int column) const;
  Result<double> Float64(int row, int column) const;  // float8
  std::string_view Bytes(int row, int column) const;  // text, bytea: the raw bytes
  std::string_view column_name(int column) const;

 private:
  friend class Connection;
  pg_result* result_;
};

// How the PostgreSQL stores ride out a lost, restarted or silent server (docs/services.md,
// "Failures"): a call that fails with a retryable status is made again on a new connection after
// a back-off (100 ms doubling to 1.6 s, 7 calls: about 5 s in all), while a breaker of the store's
// admits it (open for 1 s after 5 failures in a row). A server restart takes about a second here;
// a store gone for longer stops a writer, which says so, and a reader is refused at once until
// the breaker lets a probe through.
BackoffPolicy StoreRetry();
CircuitBreaker::Options StoreBreaker();

// True for "postgresql://..." and "postgres://...", the URIs libpq takes: how a store location
// (a file or directory otherwise) says it is on a server.
bool IsPostgresUri(std::string_view location);

class Connection {
 public:
  // `conninfo`: a libpq connection string or URI ("host=127.0.0.1 port=5432 dbname=aits",
  // "postgresql://aits@127.0.0.1:5432/aits"). Unavailable naming the server when it cannot be
  // reached within `connect_timeout`.
  static Result<std::unique_ptr<Connection>> Open(const std::string& conninfo,
                                                  Duration connect_timeout = Duration::Seconds(5));
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // "host:port/dbname", for messages.
  const std::string& where() const { return where_; }
  // False once the connection was lost or abandoned after a timeout (every later call fails
  // Unavailable).
  bool healthy() const;
  // How long a call waits without progress from the server. Precondition: positive.
  Duration timeout() const { return timeout_; }
  void set_timeout(Duration timeout) { timeout_ = timeout; }
  // The server process serving this connection (for tests that stop or end it).
  int backend_pid() const;
  // Notifications (after a LISTEN): the socket to poll for them, and the payloads of those
  // that have arrived since the last call, read without blocking. Errors: the connection's.
  int socket() const;
  Result<std::vector<std::string>> TakeNotifications(std::string_view channel);
  // True inside a transaction a failed statement aborted: its COMMIT would roll it back (and
  // PostgreSQL answers such a COMMIT without an error).
  bool in_failed_transaction() const;
  // The SQLSTATE of the last statement the server refused ("23505": a unique violation), for a
  // caller that handles one refusal itself; empty when it gave none (a lost connection).
  const std::string& last_error_state() const { return last_error_state_; }

  // One statement with binary parameters and binary results. `what` names it in errors.
  Result<Rows> Exec(std::string_view sql, std::span<const Param> params, std::string_view what);
  Result<Rows> Exec(std::string_view sql, std::string_view what) { return Exec(sql, {}, what); }
  // Several statements without parameters (a migration's script).
  Status ExecScript(std::string_view sql, std::string_view what);
  // COPY ... FROM STDIN (FORMAT binary) with `data` as written by CopyWriter (header and
  // trailer included). Returns the rows stored.
  Result<int64_t> CopyIn(std::string_view copy_sql, std::string_view data, std::string_view what);
  // The same with the data in pieces, sent one after another (a header, rows, a trailer).
  Result<int64_t> CopyIn(std::string_view copy_sql, std::span<const std::string_view> pieces,
                         std::string_view what);

 private:
  Connection(pg_conn* conn, std::string where) : conn_(conn), where_(std::move(where)) {}
  Status Error(std::string_view what, pg_result* result) const;
  // Unavailable once the connection was abandoned, so that no call waits on it again.
  Status CheckUsable(std::string_view what) const;
  // Waits until the socket is ready for `events` (poll's); DeadlineExceeded, abandoning the
  // connection, when `timeout_` passes first.
  Status Await(short events, std::string_view what);
  // Sends what libpq has queued.
  Status Flush(std::string_view what);
  // The running command's next result (null: no more), read without blocking past the deadline.
  Result<pg_result*> NextResult(std::string_view what);
  // Reads every result of the running command: the first error, else the first result.
  Result<Rows> Collect(std::string_view what);

  pg_conn* conn_;
  std::string where_;
  Duration timeout_ = Duration::Seconds(10);
  bool abandoned_ = false;
  mutable std::string last_error_state_;
};

// Writes PostgreSQL's binary COPY format into one buffer: BeginRow(fields), then one value per
// field, then Finish() once. Reused across batches (Clear keeps the capacity).
class CopyWriter {
 public:
  CopyWriter() { Clear(); }
  void Clear();
  void BeginRow(int16_t fields);
  void Int16(int16_t value);
  void Int64(int64_t value);
  void Float64(double value);  // float8
  void Bytes(std::string_view bytes);
  // The buffer with its trailer; rows() rows. The writer must be cleared before the next row.
  std::string_view Finish();
  size_t rows() const { return rows_; }
  bool empty() const { return rows_ == 0; }
  // A mark before the next row, and the rows written since a mark without header or trailer:
  // a writer that sends a batch in parts keeps one buffer and sends
  // {Header(), RowsSince(mark), Trailer()} (before Finish).
  size_t mark() const { return buffer_.size(); }
  std::string_view RowsSince(size_t mark) const;
  static std::string_view Header();
  static std::string_view Trailer();

 private:
  std::string buffer_;
  size_t rows_ = 0;
};

// A schema change: applied once, in order, inside one transaction with its version's record.
struct Migration {
  int version = 0;  // 1, 2, 3, ... without gaps
  std::string_view name;
  std::string_view sql;
};

// Brings `component`'s tables to the last version of `migrations` (kept per component in the
// table aits_schema_migrations, so the stores of several components share one database). Each
// missing migrations run in one transaction (PostgreSQL's DDL is transactional: a failure leaves
// the schema as it was); concurrent starters serialise on an advisory lock, the second finding
// the work done. Returns the version the database is at.
// FailedPrecondition when the database is at a version this build does not know (a newer
// build migrated it), InvalidArgument when `migrations` are not numbered 1, 2, 3, ...
Result<int> Migrate(Connection& conn, std::string_view component,
                    std::span<const Migration> migrations);
// The version `component` is at (0: never migrated), without changing anything.
Result<int> SchemaVersion(Connection& conn, std::string_view component);

}  // namespace aits::pg
