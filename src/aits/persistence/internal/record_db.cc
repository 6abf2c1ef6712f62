#include "aits/persistence/internal/record_db.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstring>
#include <map>
#include <utility>

#include "aits/core/resilience.h"
#include "aits/persistence/sqlite.h"

namespace aits::persistence::internal {
namespace {
constexpr int kBusyTimeoutMs = 10'000;

// The same record as PostgreSQL's (postgres.cc), so a reader of either finds the versions alike.
constexpr char kCreateMigrations[] =
    "CREATE TABLE IF NOT EXISTS aits_schema_migrations(component TEXT NOT NULL,"
    " version INTEGER NOT NULL, name TEXT NOT NULL, applied_ns INTEGER NOT NULL,"
    " PRIMARY KEY(component, version))";

Status CheckNumbering(std::span<const pg::Migration> migrations, std::string_view component) {
  for (size_t idx = 0; idx < migrations.size(); ++idx) {
    if (migrations[idx].version != static_cast<int>(idx) + 1) {
      return InvalidArgument(std::string(component) + ": migration " + std::to_string(idx + 1) +
                             " is numbered " + std::to_string(migrations[idx].version));
    }
  }
  return Status::Ok();
}

int64_t WallNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string ColumnList(const Table& table) {
  std::string out;
  for (const Column& column : table.columns) {
    if (!out.empty()) out += ", ";
    out += column.name;
  }
  return out;
}

ColumnType TypeOf(const Table& table, std::string_view column) {
  for (const Column& c : table.columns) {
    if (c.name == column) return c.type;
  }
  return ColumnType::kText;
}

bool Fits(const Value& value, ColumnType type) {
  switch (type) {
    case ColumnType::kInt:
      return std::holds_alternative<int64_t>(value);
    case ColumnType::kReal:
      return std::holds_alternative<double>(value);
    case ColumnType::kText:
    case ColumnType::kBlob:
      return std::holds_alternative<std::string>(value);
  }
  return false;
}

// The caller's rows against the table's columns: a mismatch is a bug of the store above.
Status CheckRows(const Table& table, std::span<const Row> rows) {
  for (const Row& row : rows) {
    if (row.size() != table.columns.size()) {
      return InvalidArgument(std::string(table.name) + ": a row of " + std::to_string(row.size()) +
                             " values for " + std::to_string(table.columns.size()) + " columns");
    }
    for (size_t idx = 0; idx < row.size(); ++idx) {
      if (!Fits(row[idx], table.columns[idx].type)) {
        return InvalidArgument(std::string(table.name) + "." +
                               std::string(table.columns[idx].name) + ": a value of another type");
      }
    }
  }
  return Status::Ok();
}

// "SELECT cols FROM t WHERE ... ORDER BY ... LIMIT n", each value's placeholder written by
// `placeholder(value index, column type)`.
template <typename Placeholder>
std::string SelectSql(const Table& table, const Query& query, const Placeholder& placeholder) {
  std::string sql = "SELECT " + ColumnList(table) + " FROM " + std::string(table.name);
  int index = 0;
  for (size_t idx = 0; idx < query.where.size(); ++idx) {
    const Condition& condition = query.where[idx];
    std::string columns;
    std::string values;
    for (size_t col = 0; col < condition.columns.size(); ++col) {
      if (col > 0) columns += ", ", values += ", ";
      columns += condition.columns[col];
      values += placeholder(++index, TypeOf(table, condition.columns[col]));
    }
    sql += idx == 0 ? " WHERE " : " AND ";
    sql += condition.columns.size() == 1
               ? columns + " " + std::string(condition.op) + " " + values
               : "(" + columns + ") " + std::string(condition.op) + " (" + values + ")";
  }
  if (!query.order_by.empty()) sql += " ORDER BY " + std::string(query.order_by);
  if (query.limit > 0) sql += " LIMIT " + std::to_string(query.limit);
  return sql;
}

class SqliteDb final : public RecordDb {
 public:
  SqliteDb(std::string path, sqlite::Database db) : path_(std::move(path)), db_(std::move(db)) {}

  const std::string& location() const override { return path_; }

  Result<int64_t> Upsert(const Table& table, std::span<const Row> rows) override {
    AITS_RETURN_IF_ERROR(CheckRows(table, rows));
    auto found = inserts_.find(std::string(table.name));
    if (found == inserts_.end()) {
      std::string marks;
      for (size_t idx = 0; idx < table.columns.size(); ++idx) marks += idx == 0 ? "?" : ", ?";
      AITS_ASSIGN_OR_RETURN(
          sqlite::Statement stmt,
          sqlite::Statement::Prepare(db_,
                                     "INSERT OR IGNORE INTO " + std::string(table.name) + "(" +
                                         ColumnList(table) + ") VALUES(" + marks + ")",
                                     /*persistent=*/true));
      found = inserts_.emplace(std::string(table.name), std::move(stmt)).first;
    }
    sqlite::Statement& insert = found->second;
    AITS_ASSIGN_OR_RETURN(sqlite::Transaction txn, sqlite::Transaction::Begin(db_));
    int64_t stored = 0;
    for (const Row& row : rows) {
      insert.Reset();
      for (size_t idx = 0; idx < row.size(); ++idx) {
        Bind(insert, row[idx], table.columns[idx].type);
      }
      AITS_RETURN_IF_ERROR(insert.Run());
      stored += db_.Changes();
    }
    insert.Reset();  // let go of the bound bytes
    AITS_RETURN_IF_ERROR(txn.Commit());
    return stored;
  }

  Result<std::vector<Row>> Select(const Table& table, const Query& query) override {
    AITS_ASSIGN_OR_RETURN(
        sqlite::Statement stmt,
        sqlite::Statement::Prepare(
            db_, SelectSql(table, query, [](int, ColumnType) { return std::string("?"); })));
    for (const Condition& condition : query.where) {
      for (size_t idx = 0; idx < condition.values.size(); ++idx) {
        Bind(stmt, condition.values[idx], TypeOf(table, condition.columns[idx]));
      }
    }
    std::vector<Row> rows;
    for (;;) {
      AITS_ASSIGN_OR_RETURN(const bool more, stmt.Step());
      if (!more) break;
      Row& row = rows.emplace_back();
      for (size_t idx = 0; idx < table.columns.size(); ++idx) {
        const int col = static_cast<int>(idx);
        switch (table.columns[idx].type) {
          case ColumnType::kInt:
            row.emplace_back(stmt.ColumnInt(col));
            break;
          case ColumnType::kReal:
            row.emplace_back(stmt.ColumnDouble(col));
            break;
          case ColumnType::kText:
            row.emplace_back(stmt.ColumnText(col));
            break;
          case ColumnType::kBlob:
            row.emplace_back(std::string(stmt.ColumnBlob(col)));
            break;
        }
      }
    }
    return rows;
  }

 private:
  // Text as text: SQLite never finds a BLOB equal to a TEXT, so a key bound one way would not
  // match a row stored the other.
  static void Bind(sqlite::Statement& stmt, const Value& value, ColumnType type) {
    if (const auto* number = std::get_if<int64_t>(&value)) {
      stmt.Int(*number);
    } else if (const auto* real = std::get_if<double>(&value)) {
      stmt.Double(*real);
    } else if (type == ColumnType::kText) {
      stmt.Text(std::get<std::string>(value));
    } else {
      stmt.BlobNoCopy(std::get<std::string>(value));
    }
  }

  std::string path_;
  sqlite::Database db_;
  std::map<std::string, sqlite::Statement> inserts_;  // by table
};

const char* PgType(ColumnType type) {
  switch (type) {
    case ColumnType::kInt:
      return "bigint";
    case ColumnType::kReal:
      return "float8";
    case ColumnType::kText:
      return "text";
    case ColumnType::kBlob:
      return "bytea";
  }
  return "text";
}

pg::Param ParamOf(const Value& value) {
  if (const auto* number = std::get_if<int64_t>(&value)) return pg::Param::Int64(*number);
  if (const auto* real = std::get_if<double>(&value)) return pg::Param::Float64(*real);
  return pg::Param::Bytes(std::get<std::string>(value));
}

class PgDb final : public RecordDb {
 public:
  PgDb(std::string uri, std::string location, std::unique_ptr<pg::Connection> conn)
      : uri_(std::move(uri)),
        location_(std::move(location)),
        conn_(std::move(conn)),
        breaker_(location_, pg::StoreBreaker(), SystemWallClock()) {}

  const std::string& location() const override { return location_; }

  // A failure that may pass (a lost or restarted server, a call past its deadline) is tried
  // again on a new connection (pg::StoreRetry, about 5 s; the breaker refuses calls at once
  // after 5 failures in a row). A write is idempotent, so it is sent again whole; when the lost
  // COMMIT had landed, the rows count as stored already.
  Result<int64_t> Upsert(const Table& table, std::span<const Row> rows) override {
    AITS_RETURN_IF_ERROR(CheckRows(table, rows));
    if (rows.empty()) return int64_t{0};
    return Retried<int64_t>([&] { return UpsertOnce(table, rows); });
  }

  Result<std::vector<Row>> Select(const Table& table, const Query& query) override {
    return Retried<std::vector<Row>>([&] { return SelectOnce(table, query); });
  }

 private:
  template <typename T, typename Call>
  Result<T> Retried(const Call& call) {
    Result<T> out = Internal("not called");
    const Status status = CallWithRetry(breaker_, pg::StoreRetry(), [&]() -> Status {
      out = call();
      return out.status();
    });
    if (!status.ok()) return status;
    return out;
  }

  // The batch as binary COPY straight into the table, one round trip for the whole batch. A
  // batch that holds a key stored already (a restarted writer's) fails as a whole with a unique
  // violation: it is then sent again through a temporary table and INSERT ... ON CONFLICT DO
  // NOTHING, which skips those rows — several times slower, so only when needed.
  Result<int64_t> UpsertOnce(const Table& table, std::span<const Row> rows) {
    copy_.Clear();
    for (const Row& row : rows) {
      copy_.BeginRow(static_cast<int16_t>(row.size()));
      for (const Value& value : row) {
        if (const auto* number = std::get_if<int64_t>(&value)) {
          copy_.Int64(*number);
        } else if (const auto* real = std::get_if<double>(&value)) {
          copy_.Float64(*real);
        } else {
          copy_.Bytes(std::get<std::string>(value));
        }
      }
    }
    const std::string_view data = copy_.Finish();
    AITS_ASSIGN_OR_RETURN(pg::Connection * conn, Conn());
    const std::string name(table.name);
    const std::string columns = ColumnList(table);
    const std::string what = "store " + std::to_string(rows.size()) + " rows of " + name;
    Result<int64_t> stored = InTransaction(*conn, what, [&]() -> Result<int64_t> {
      return conn->CopyIn("COPY " + name + "(" + columns + ") FROM STDIN (FORMAT binary)", data,
                          what);
    });
    // 23505: unique_violation.
    if (stored.ok() || conn->last_error_state() != "23505") return stored;
    const std::string staging = name + "_in";
    if (std::find(staged_.begin(), staged_.end(), staging) == staged_.end()) {
      // Made once per connection and outside any transaction (a rollback would drop it);
      // every commit empties it.
      AITS_RETURN_IF_ERROR(conn->ExecScript("CREATE TEMP TABLE IF NOT EXISTS " + staging +
                                                " (LIKE " + name + ") ON COMMIT DELETE ROWS",
                                            "make the staging table of " + name)
                               .WithContext(location_));
      staged_.push_back(staging);
    }
    return InTransaction(*conn, what, [&]() -> Result<int64_t> {
      AITS_RETURN_IF_ERROR(
          conn->CopyIn("COPY " + staging + "(" + columns + ") FROM STDIN (FORMAT binary)", data,
                       what)
              .status());
      AITS_ASSIGN_OR_RETURN(pg::Rows inserted,
                            conn->Exec("INSERT INTO " + name + "(" + columns + ") SELECT " +
                                           columns + " FROM " + staging + " ON CONFLICT DO NOTHING",
                                       what));
      return inserted.affected();
    });
  }

  Result<std::vector<Row>> SelectOnce(const Table& table, const Query& query) {
    AITS_ASSIGN_OR_RETURN(pg::Connection * conn, Conn());
    const std::string sql = SelectSql(table, query, [](int index, ColumnType type) {
      return "$" + std::to_string(index) + "::" + PgType(type);
    });
    std::vector<pg::Param> params;
    for (const Condition& condition : query.where) {
      for (const Value& value : condition.values) params.push_back(ParamOf(value));
    }
    Result<pg::Rows> selected = conn->Exec(sql, params, "read " + std::string(table.name));
    if (!selected.ok()) return selected.status().WithContext(location_);
    const pg::Rows& result = *selected;
    std::vector<Row> rows;
    rows.reserve(static_cast<size_t>(result.size()));
    for (int at = 0; at < result.size(); ++at) {
      Row& row = rows.emplace_back();
      for (size_t idx = 0; idx < table.columns.size(); ++idx) {
        const int col = static_cast<int>(idx);
        switch (table.columns[idx].type) {
          case ColumnType::kInt: {
            AITS_ASSIGN_OR_RETURN(const int64_t number, result.Int64(at, col));
            row.emplace_back(number);
            break;
          }
          case ColumnType::kReal: {
            AITS_ASSIGN_OR_RETURN(const double real, result.Float64(at, col));
            row.emplace_back(real);
            break;
          }
          case ColumnType::kText:
          case ColumnType::kBlob:
            row.emplace_back(std::string(result.Bytes(at, col)));
            break;
        }
      }
    }
    return rows;
  }

  // Runs `body` between BEGIN and COMMIT; rolled back (when the connection still stands) if
  // anything fails, with the error naming the database.
  template <typename Body>
  Result<int64_t> InTransaction(pg::Connection& conn, const std::string& what, const Body& body) {
    AITS_RETURN_IF_ERROR(conn.ExecScript("BEGIN", what).WithContext(location_));
    Result<int64_t> done = body();
    if (done.ok()) {
      const Status committed = conn.ExecScript("COMMIT", what);
      if (committed.ok()) return done;
      done = committed;
    }
    if (conn.healthy()) (void)conn.ExecScript("ROLLBACK", "roll back");
    return done.status().WithContext(location_);
  }

  // The connection, opened again when the server was lost since the last call.
  Result<pg::Connection*> Conn() {
    if (conn_->healthy()) return conn_.get();
    staged_.clear();  // temporary tables die with their connection
    AITS_ASSIGN_OR_RETURN(conn_, pg::Connection::Open(uri_));
    return conn_.get();
  }

  std::string uri_;  // as given: may hold a password, so never in a message
  std::string location_;
  std::unique_ptr<pg::Connection> conn_;
  std::vector<std::string> staged_;  // the temporary tables made on conn_
  pg::CopyWriter copy_;
  CircuitBreaker breaker_;
};

Result<sqlite::Database> OpenSqliteFile(const std::string& path, const Schema& schema) {
  const std::string label = std::string(schema.what) + " " + path;
  AITS_RETURN_IF_ERROR(CheckNumbering(schema.sqlite, schema.component));
  AITS_ASSIGN_OR_RETURN(
      sqlite::Database db,
      sqlite::Database::Open(path, {.create = true, .busy_timeout_ms = kBusyTimeoutMs}, label));
  // WAL: readers (the API) do not block the role that writes, and a commit is one fsync.
  AITS_ASSIGN_OR_RETURN(std::optional<std::string> mode,
                        db.QueryText("PRAGMA journal_mode = WAL", "switch to WAL mode"));
  if (!mode || *mode != "wal") {
    return IoError(label + ": cannot switch to WAL mode (journal_mode is " + mode.value_or("?") +
                   ")");
  }
  AITS_ASSIGN_OR_RETURN(sqlite::Transaction txn, sqlite::Transaction::Begin(db));
  AITS_RETURN_IF_ERROR(db.Exec(kCreateMigrations, "create aits_schema_migrations"));
  AITS_ASSIGN_OR_RETURN(
      sqlite::Statement read,
      sqlite::Statement::Prepare(
          db, "SELECT coalesce(max(version), 0) FROM aits_schema_migrations WHERE component = ?"));
  read.Text(schema.component);
  AITS_RETURN_IF_ERROR(read.Step().status());
  const int64_t version = read.ColumnInt(0);
  read.Reset();
  const auto known = static_cast<int64_t>(schema.sqlite.size());
  if (version > known) {
    return FailedPrecondition(label + ": " + std::string(schema.component) + " schema version " +
                              std::to_string(version) + " is newer than this build knows (" +
                              std::to_string(known) + "): a newer aits wrote it");
  }
  AITS_ASSIGN_OR_RETURN(
      sqlite::Statement record,
      sqlite::Statement::Prepare(db,
                                 "INSERT INTO aits_schema_migrations(component,"
                                 " version, name, applied_ns) VALUES(?, ?, ?, ?)"));
  for (const pg::Migration& migration : schema.sqlite.subspan(static_cast<size_t>(version))) {
    const std::string sql(migration.sql);
    AITS_RETURN_IF_ERROR(db.Exec(sql.c_str(), "migrate to version " +
                                                  std::to_string(migration.version) + " (" +
                                                  std::string(migration.name) + ")"));
    record.Reset();
    AITS_RETURN_IF_ERROR(record.Text(schema.component)
                             .Int(migration.version)
                             .Text(migration.name)
                             .Int(WallNowNs())
                             .Run());
  }
  record.Reset();
  AITS_RETURN_IF_ERROR(txn.Commit());
  return db;
}

Result<std::unique_ptr<RecordDb>> OpenPgDb(const std::string& uri, const Schema& schema) {
  if (uri.find('#') != std::string::npos) {
    return InvalidArgument(std::string(schema.what) +
                           " location has a '#': expected "
                           "postgresql://[user[:password]@]host[:port]/database[?options], "
                           "without '#session'");
  }
  AITS_RETURN_IF_ERROR(CheckNumbering(schema.postgres, schema.component));
  Result<std::unique_ptr<pg::Connection>> opened = pg::Connection::Open(uri);
  // Its message names host, port and database; the URI itself may hold a password.
  if (!opened.ok()) return opened.status().WithContext(schema.what);
  std::unique_ptr<pg::Connection> conn = std::move(opened).value();
  std::string location = "postgresql://" + conn->where();
  const std::string label = std::string(schema.what) + " " + location;
  Result<int> version = pg::SchemaVersion(*conn, schema.component);
  if (!version.ok()) return version.status().WithContext(label);
  // A current schema is left alone, so that a user who may only read opens it too (Migrate
  // creates aits_schema_migrations if missing, which needs the right to create tables).
  if (*version != static_cast<int>(schema.postgres.size())) {
    version = pg::Migrate(*conn, schema.component, schema.postgres);
    if (!version.ok()) return version.status().WithContext(label);
  }
  std::unique_ptr<RecordDb> db = std::make_unique<PgDb>(uri, std::move(location), std::move(conn));
  return db;
}

}  // namespace

Result<std::unique_ptr<RecordDb>> OpenRecordDb(const std::string& location, const Schema& schema) {
  if (pg::IsPostgresUri(location)) return OpenPgDb(location, schema);
  if (location.empty()) return InvalidArgument(std::string(schema.what) + ": no location given");
  AITS_ASSIGN_OR_RETURN(sqlite::Database db, OpenSqliteFile(location, schema));
  std::unique_ptr<RecordDb> opened = std::make_unique<SqliteDb>(location, std::move(db));
  return opened;
}

std::string EncodeFloats(std::span<const float> values) {
  std::string bytes(values.size() * 4, '\0');
  for (size_t idx = 0; idx < values.size(); ++idx) {
    auto bits = std::bit_cast<uint32_t>(values[idx]);
    if constexpr (std::endian::native == std::endian::big) bits = __builtin_bswap32(bits);
    std::memcpy(bytes.data() + idx * 4, &bits, 4);
  }
  return bytes;
}

Result<std::vector<float>> DecodeFloats(std::string_view bytes, std::string_view what) {
  if (bytes.size() % 4 != 0) {
    return DataLoss(std::string(what) + ": " + std::to_string(bytes.size()) +
                    " bytes of values, not a multiple of 4");
  }
  std::vector<float> values(bytes.size() / 4);
  for (size_t idx = 0; idx < values.size(); ++idx) {
    uint32_t bits = 0;
    std::memcpy(&bits, bytes.data() + idx * 4, 4);
    if constexpr (std::endian::native == std::endian::big) bits = __builtin_bswap32(bits);
    values[idx] = std::bit_cast<float>(bits);
  }
  return values;
}

}  // namespace aits::persistence::internal
