#include "aits/persistence/postgres.h"

#include <endian.h>
#include <libpq-fe.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

namespace aits::pg {
namespace {

// The advisory lock migrations serialise on (any fixed number; "AITS" in ASCII).
constexpr int64_t kMigrationLock = 0x41495453;
// COPY data goes to the server in pieces of this size (libpq takes an int length).
constexpr size_t kCopyChunk = 1 << 20;

std::string Where(const PGconn* conn) {
  const char* host = PQhost(conn);
  const char* port = PQport(conn);
  const char* db = PQdb(conn);
  return std::string(host != nullptr ? host : "?") + ":" + (port != nullptr ? port : "?") + "/" +
         (db != nullptr ? db : "?");
}

// libpq's messages end in a newline and may hold more lines ("\n\tIs the server running ...");
// one line reads better inside ours.
std::string OneLine(const char* text) {
  std::string out;
  for (const char* at = text != nullptr ? text : ""; *at != '\0'; ++at) {
    if (*at == '\n' || *at == '\t') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += *at;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

void IgnoreNotice(void* /*arg*/, const char* /*message*/) {}

}  // namespace

Param Param::Int16(int16_t value) {
  Param param;
  const uint16_t be = htobe16(static_cast<uint16_t>(value));
  std::memcpy(param.buffer_, &be, sizeof(be));
  param.size_ = sizeof(be);
  param.inline_ = true;
  return param;
}

Param Param::Int64(int64_t value) {
  Param param;
  const uint64_t be = htobe64(static_cast<uint64_t>(value));
  std::memcpy(param.buffer_, &be, sizeof(be));
  param.size_ = sizeof(be);
  param.inline_ = true;
  return param;
}

// float8 travels as the big-endian bytes of its IEEE 754 binary64, as int8 does its integer.
Param Param::Float64(double value) {
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(bits));
  return Int64(static_cast<int64_t>(bits));
}

Param Param::Bytes(std::string_view bytes) {
  Param param;
  param.bytes_ = bytes;
  param.size_ = static_cast<int>(bytes.size());
  return param;
}

Param Param::Null() {
  Param param;
  param.null_ = true;
  return param;
}

const char* Param::data() const {
  if (null_) return nullptr;
  if (inline_) return buffer_;
  return bytes_.empty() ? "" : bytes_.data();
}

Rows& Rows::operator=(Rows&& other) noexcept {
  if (this != &other) {
    PQclear(result_);
    result_ = std::exchange(other.result_, nullptr);
  }
  return *this;
}

Rows::~Rows() { PQclear(result_); }

int Rows::size() const { return result_ == nullptr ? 0 : PQntuples(result_); }

int64_t Rows::affected() const {
  const char* count = result_ == nullptr ? nullptr : PQcmdTuples(result_);
  return count == nullptr || *count == '\0' ? 0 : std::strtoll(count, nullptr, 10);
}

bool Rows::is_null(int row, int column) const { return PQgetisnull(result_, row, column) != 0; }

std::string_view Rows::column_name(int column) const {
  const char* name = PQfname(result_, column);
  return name != nullptr ? name : "?";
}

std::string_view Rows::Bytes(int row, int column) const {
  return {PQgetvalue(result_, row, column), static_cast<size_t>(PQgetlength(result_, row, column))};
}

Result<int64_t> Rows::Int64(int row, int column) const {
  const std::string_view bytes = Bytes(row, column);
  if (bytes.size() != 8 || is_null(row, column)) {
    return DataLoss("column " + std::string(column_name(column)) + " of row " +
                    std::to_string(row) + ": expected a bigint, got " +
                    std::to_string(bytes.size()) + " bytes");
  }
  uint64_t be = 0;
  std::memcpy(&be, bytes.data(), 8);
  return static_cast<int64_t>(be64toh(be));
}

Result<double> Rows::Float64(int row, int column) const {
  AITS_ASSIGN_OR_RETURN(const int64_t bits, Int64(row, column));
  double value = 0;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

Result<int16_t> Rows::Int16(int row, int column) const {
  const std::string_view bytes = Bytes(row, column);
  if (bytes.size() != 2 || is_null(row, column)) {
    return DataLoss("column " + std::string(column_name(column)) + " of row " +
                    std::to_string(row) + ": expected a smallint, got " +
                    std::to_string(bytes.size()) + " bytes");
  }
  uint16_t be = 0;
  std::memcpy(&be, bytes.data(), 2);
  return static_cast<int16_t>(be16toh(be));
}

Result<bool> Rows::Bool(int row, int column) const {
  const std::string_view bytes = Bytes(row, column);
  if (bytes.size() != 1 || is_null(row, column)) {
    return DataLoss("column " + std::string(column_name(column)) + " of row " +
                    std::to_string(row) + ": expected a boolean");
  }
  return bytes[0] != 0;
}

BackoffPolicy StoreRetry() {
  return {.initial = Duration::Millis(100),
          .max = Duration::Millis(1600),
          .multiplier = 2.0,
          .jitter = 0.2,
          .max_attempts = 7};
}

CircuitBreaker::Options StoreBreaker() {
  return {.failure_threshold = 5, .open_for = Duration::Seconds(1), .half_open_probes = 1};
}

bool IsPostgresUri(std::string_view location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& conninfo,
                                                     Duration connect_timeout) {
  // expand_dbname: `conninfo` may be a whole connection string or URI; connect_timeout is added
  // unless it names one (libpq takes the later keyword).
  const std::string timeout =
      std::to_string(std::max<int64_t>(1, connect_timeout.ns / 1'000'000'000));
  const char* keywords[] = {"connect_timeout", "dbname", "application_name", nullptr};
  const char* values[] = {timeout.c_str(), conninfo.c_str(), "aits", nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn == nullptr) return Unavailable("PostgreSQL: out of memory for a connection");
  if (PQstatus(conn) != CONNECTION_OK) {
    const std::string error = OneLine(PQerrorMessage(conn));
    const std::string where = Where(conn);
    PQfinish(conn);
    // The server answered and refused: a wrong user, password or database will not pass by
    // retrying, so it must not read as "down" (a supervisor would restart the role for ever).
    // libpq gives no SQLSTATE for a failed connection; these are the server's own messages.
    for (const char* refusal :
         {"password authentication failed", "no password supplied", "does not exist",
          "no pg_hba.conf entry", "authentication failed"}) {
      if (error.find(refusal) != std::string::npos) {
        return FailedPrecondition("PostgreSQL at " + where + " refused the connection: " + error +
                                  " (check the location's user, password and database)");
      }
    }
    return Unavailable("PostgreSQL at " + where + " cannot be reached: " + error);
  }
  PQsetNoticeProcessor(conn, IgnoreNotice, nullptr);
  if (PQsetnonblocking(conn, 1) != 0) {
    const std::string error = OneLine(PQerrorMessage(conn));
    PQfinish(conn);
    return Unavailable("PostgreSQL: cannot make the connection non-blocking: " + error);
  }
  return std::unique_ptr<Connection>(new Connection(conn, Where(conn)));
}

Connection::~Connection() { PQfinish(conn_); }

bool Connection::healthy() const { return !abandoned_ && PQstatus(conn_) == CONNECTION_OK; }

int Connection::backend_pid() const { return PQbackendPID(conn_); }

int Connection::socket() const { return PQsocket(conn_); }

Result<std::vector<std::string>> Connection::TakeNotifications(std::string_view channel) {
  AITS_RETURN_IF_ERROR(CheckUsable("notifications"));
  if (PQconsumeInput(conn_) == 0) return Error("notifications", nullptr);
  std::vector<std::string> payloads;
  while (PGnotify* notify = PQnotifies(conn_)) {
    if (channel == notify->relname) payloads.emplace_back(notify->extra);
    PQfreemem(notify);
  }
  return payloads;
}

Status Connection::CheckUsable(std::string_view what) const {
  if (!abandoned_) return Status::Ok();
  return Unavailable("PostgreSQL " + where_ + ": " + std::string(what) +
                     ": the connection was abandoned after a call timed out");
}

Status Connection::Await(short events, std::string_view what) {
  pollfd fd{PQsocket(conn_), events, 0};
  const int64_t ms = std::clamp<int64_t>(timeout_.ns / 1'000'000, 1, INT_MAX);
  for (;;) {
    const int ready = ::poll(&fd, 1, static_cast<int>(ms));
    if (ready > 0) return Status::Ok();
    if (ready < 0 && errno == EINTR) continue;
    const std::string prefix = "PostgreSQL " + where_ + ": " + std::string(what) + ": ";
    if (ready < 0) return Unavailable(prefix + "poll: " + std::strerror(errno));
    // Whatever the server does with the half-sent command, this connection cannot be trusted
    // with another: shutting the socket down makes the server end the session when it looks.
    abandoned_ = true;
    ::shutdown(PQsocket(conn_), SHUT_RDWR);
    return DeadlineExceeded(prefix + "no answer within " + std::to_string(ms) +
                            " ms (the connection is abandoned)");
  }
}

Status Connection::Flush(std::string_view what) {
  for (;;) {
    const int left = PQflush(conn_);
    if (left == 0) return Status::Ok();
    if (left < 0) return Error(what, nullptr);
    AITS_RETURN_IF_ERROR(Await(POLLIN | POLLOUT, what));
    // libpq's advice: read what the server sends meanwhile, or both sides may wait on full
    // buffers.
    if (PQconsumeInput(conn_) == 0) return Error(what, nullptr);
  }
}

Result<PGresult*> Connection::NextResult(std::string_view what) {
  while (PQisBusy(conn_) != 0) {
    AITS_RETURN_IF_ERROR(Await(POLLIN, what));
    if (PQconsumeInput(conn_) == 0) return Error(what, nullptr);
  }
  return PQgetResult(conn_);
}

Result<Rows> Connection::Collect(std::string_view what) {
  AITS_RETURN_IF_ERROR(Flush(what));
  Rows first(nullptr);
  Status status = Status::Ok();
  // Every result is read, so that the connection is ready for the next command.
  for (;;) {
    AITS_ASSIGN_OR_RETURN(PGresult * raw, NextResult(what));
    if (raw == nullptr) break;
    Rows result(raw);
    const ExecStatusType type = PQresultStatus(raw);
    if (type != PGRES_COMMAND_OK && type != PGRES_TUPLES_OK) {
      if (status.ok()) status = Error(what, raw);
    } else if (first.result_ == nullptr) {
      first = std::move(result);
    }
  }
  if (!status.ok()) return status;
  if (first.result_ == nullptr) return Error(what, nullptr);
  return first;
}

bool Connection::in_failed_transaction() const {
  return PQtransactionStatus(conn_) == PQTRANS_INERROR;
}

Status Connection::Error(std::string_view what, PGresult* result) const {
  const std::string prefix = "PostgreSQL " + where_ + ": " + std::string(what) + ": ";
  last_error_state_.clear();
  if (PQstatus(conn_) != CONNECTION_OK) {
    return Unavailable(prefix + "connection lost: " + OneLine(PQerrorMessage(conn_)));
  }
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string message =
      OneLine(result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn_));
  const std::string_view code = state != nullptr ? state : "";
  last_error_state_ = std::string(code);
  // Serialization, deadlock, lock, connection, shutdown, cancelled or timed out, out of resources
  // (disk full, too many connections): the same statement may succeed later.
  if (code == "40001" || code == "40P01" || code == "55P03" || code == "57014" ||
      code.starts_with("08") || code.starts_with("57P") || code.starts_with("53")) {
    return Unavailable(prefix + message);
  }
  if (code == "42P01" || code == "42703") return FailedPrecondition(prefix + message);
  return InvalidArgument(prefix + message);
}

Result<Rows> Connection::Exec(std::string_view sql, std::span<const Param> params,
                              std::string_view what) {
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats(params.size(), 1);
  values.reserve(params.size());
  lengths.reserve(params.size());
  for (const Param& param : params) {
    values.push_back(param.data());
    lengths.push_back(param.size());
  }
  AITS_RETURN_IF_ERROR(CheckUsable(what));
  const std::string text(sql);
  if (PQsendQueryParams(conn_, text.c_str(), static_cast<int>(params.size()), nullptr,
                        values.data(), lengths.data(), formats.data(), /*resultFormat=*/1) == 0) {
    return Error(what, nullptr);
  }
  return Collect(what);
}

Status Connection::ExecScript(std::string_view sql, std::string_view what) {
  AITS_RETURN_IF_ERROR(CheckUsable(what));
  const std::string text(sql);
  if (PQsendQuery(conn_, text.c_str()) == 0) return Error(what, nullptr);
  return Collect(what).status();
}

Result<int64_t> Connection::CopyIn(std::string_view copy_sql, std::string_view data,
                                   std::string_view what) {
  const std::string_view pieces[] = {data};
  return CopyIn(copy_sql, pieces, what);
}

Result<int64_t> Connection::CopyIn(std::string_view copy_sql,
                                   std::span<const std::string_view> pieces,
                                   std::string_view what) {
  AITS_RETURN_IF_ERROR(CheckUsable(what));
  const std::string text(copy_sql);
  if (PQsendQuery(conn_, text.c_str()) == 0) return Error(what, nullptr);
  AITS_RETURN_IF_ERROR(Flush(what));
  {
    AITS_ASSIGN_OR_RETURN(PGresult * raw, NextResult(what));
    Rows start(raw);
    if (raw == nullptr || PQresultStatus(raw) != PGRES_COPY_IN) {
      Status refused = Error(what, raw);
      // A COPY refused before it began still owes its end of results.
      if (raw != nullptr) (void)Collect(what);
      return refused;
    }
  }
  // Non-blocking: 0 means libpq's buffer is full; send some of it and offer the data again.
  auto put = [&](auto&& call) -> Status {
    for (;;) {
      const int queued = call();
      if (queued == 1) return Status::Ok();
      if (queued < 0) return Error(what, nullptr);
      AITS_RETURN_IF_ERROR(Await(POLLIN | POLLOUT, what));
      if (PQconsumeInput(conn_) == 0 || PQflush(conn_) < 0) return Error(what, nullptr);
    }
  };
  for (const std::string_view data : pieces) {
    for (size_t at = 0; at < data.size(); at += kCopyChunk) {
      const size_t size = std::min(kCopyChunk, data.size() - at);
      AITS_RETURN_IF_ERROR(
          put([&] { return PQputCopyData(conn_, data.data() + at, static_cast<int>(size)); }));
    }
  }
  AITS_RETURN_IF_ERROR(put([&] { return PQputCopyEnd(conn_, nullptr); }));
  AITS_ASSIGN_OR_RETURN(Rows result, Collect(what));
  return result.affected();
}

namespace {
// Signature, flags (no OIDs), header extension length.
constexpr char kCopyHeader[] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
// A field count of -1: no more rows.
constexpr char kCopyTrailer[] = "\377\377";
}  // namespace

std::string_view CopyWriter::Header() { return {kCopyHeader, sizeof(kCopyHeader) - 1}; }

std::string_view CopyWriter::Trailer() { return {kCopyTrailer, sizeof(kCopyTrailer) - 1}; }

std::string_view CopyWriter::RowsSince(size_t mark) const {
  return std::string_view(buffer_).substr(std::max(mark, Header().size()));
}

void CopyWriter::Clear() {
  buffer_.clear();
  buffer_.append(Header());
  rows_ = 0;
}

void CopyWriter::BeginRow(int16_t fields) {
  const uint16_t be = htobe16(static_cast<uint16_t>(fields));
  buffer_.append(reinterpret_cast<const char*>(&be), sizeof(be));
  ++rows_;
}

void CopyWriter::Int16(int16_t value) {
  const uint32_t length = htobe32(2);
  const uint16_t be = htobe16(static_cast<uint16_t>(value));
  buffer_.append(reinterpret_cast<const char*>(&length), sizeof(length));
  buffer_.append(reinterpret_cast<const char*>(&be), sizeof(be));
}

void CopyWriter::Int64(int64_t value) {
  const uint32_t length = htobe32(8);
  const uint64_t be = htobe64(static_cast<uint64_t>(value));
  buffer_.append(reinterpret_cast<const char*>(&length), sizeof(length));
  buffer_.append(reinterpret_cast<const char*>(&be), sizeof(be));
}

void CopyWriter::Float64(double value) {
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(bits));
  Int64(static_cast<int64_t>(bits));
}

void CopyWriter::Bytes(std::string_view bytes) {
  const uint32_t length = htobe32(static_cast<uint32_t>(bytes.size()));
  buffer_.append(reinterpret_cast<const char*>(&length), sizeof(length));
  buffer_.append(bytes.data(), bytes.size());
}

std::string_view CopyWriter::Finish() {
  buffer_.append(Trailer());
  return buffer_;
}

namespace {

constexpr const char* kCreateMigrations =
    "CREATE TABLE IF NOT EXISTS aits_schema_migrations(component text NOT NULL,"
    " version integer NOT NULL, name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY(component, version))";

Result<int> ReadVersion(Connection& conn, std::string_view component) {
  const Param params[] = {Param::Bytes(component)};
  AITS_ASSIGN_OR_RETURN(
      Rows rows, conn.Exec("SELECT coalesce(max(version), 0)::bigint FROM aits_schema_migrations"
                           " WHERE component = $1::text",
                           params, "read the schema version"));
  AITS_ASSIGN_OR_RETURN(int64_t version, rows.Int64(0, 0));
  return static_cast<int>(version);
}

}  // namespace

Result<int> SchemaVersion(Connection& conn, std::string_view component) {
  AITS_ASSIGN_OR_RETURN(Rows exists,
                        conn.Exec("SELECT to_regclass('aits_schema_migrations') IS NOT NULL",
                                  "look for aits_schema_migrations"));
  AITS_ASSIGN_OR_RETURN(bool present, exists.Bool(0, 0));
  if (!present) return 0;
  return ReadVersion(conn, component);
}

Result<int> Migrate(Connection& conn, std::string_view component,
                    std::span<const Migration> migrations) {
  for (size_t idx = 0; idx < migrations.size(); ++idx) {
    if (migrations[idx].version != static_cast<int>(idx) + 1) {
      return InvalidArgument(std::string(component) + ": migration " + std::to_string(idx + 1) +
                             " is numbered " + std::to_string(migrations[idx].version));
    }
  }
  const int known = static_cast<int>(migrations.size());
  // READ COMMITTED whatever the server's default: the second of two starters must see the first
  // one's tables once the lock is its own, which a snapshot taken before the wait would not.
  AITS_RETURN_IF_ERROR(
      conn.ExecScript("BEGIN ISOLATION LEVEL READ COMMITTED", "begin the migration"));
  // Rolls back unless committed: a failed migration leaves the schema as it was.
  struct Rollback {
    Connection& conn;
    bool done = false;
    ~Rollback() {
      if (!done) (void)conn.ExecScript("ROLLBACK", "roll back the migration");
    }
  } rollback{conn};
  const Param lock[] = {Param::Int64(kMigrationLock)};
  AITS_RETURN_IF_ERROR(
      conn.Exec("SELECT pg_advisory_xact_lock($1::bigint)", lock, "take the migration lock")
          .status());
  AITS_RETURN_IF_ERROR(conn.ExecScript(kCreateMigrations, "create aits_schema_migrations"));
  AITS_ASSIGN_OR_RETURN(int version, ReadVersion(conn, component));
  if (version > known) {
    return FailedPrecondition("PostgreSQL " + conn.where() + ": " + std::string(component) +
                              " is at schema version " + std::to_string(version) +
                              ", this build knows versions up to " + std::to_string(known) +
                              " (a newer build migrated it)");
  }
  for (const Migration& migration : migrations.subspan(static_cast<size_t>(version))) {
    const std::string what = std::string(component) + " migration " +
                             std::to_string(migration.version) + " (" +
                             std::string(migration.name) + ")";
    AITS_RETURN_IF_ERROR(conn.ExecScript(migration.sql, what));
    const Param record[] = {Param::Bytes(component), Param::Int64(migration.version),
                            Param::Bytes(migration.name)};
    AITS_RETURN_IF_ERROR(conn.Exec("INSERT INTO aits_schema_migrations(component, version, name)"
                                   " VALUES($1::text, $2::bigint, $3::text)",
                                   record, "record " + what)
                             .status());
  }
  AITS_RETURN_IF_ERROR(conn.ExecScript("COMMIT", "commit the migration"));
  rollback.done = true;
  return known;
}

}  // namespace aits::pg
