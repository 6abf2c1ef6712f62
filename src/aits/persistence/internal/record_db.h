// What the record stores (trade_store.h, bar_store.h, feature_store.h) stand on, internal to
// aits::record_stores: a database of plain tables reached by location — a SQLite file or a
// PostgreSQL database — with each store's schema migrated at open, an idempotent batch write and
// filtered, ordered reads. The stores turn their records into rows of values and back; this
// writes the SQL of each dialect, so a store's rules are written once for both backends.
//
// Not thread-safe: a database, and so its connection, belongs to one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "aits/core/status.h"
#include "aits/persistence/postgres.h"

namespace aits::persistence::internal {

// kInt: bigint / INTEGER; kReal: float8 / REAL; kText: text / TEXT; kBlob: bytea / BLOB.
enum class ColumnType : uint8_t { kInt, kReal, kText, kBlob };
struct Column {
  std::string_view name;
  ColumnType type;
};
struct Table {
  std::string_view name;
  std::span<const Column> columns;  // the columns a row carries, in its order
};

// A column's value: int64_t for kInt, double for kReal, the bytes for kText and kBlob.
using Value = std::variant<int64_t, double, std::string>;
using Row = std::vector<Value>;

// `(columns...) op (values...)`: one column compared with a value ("symbol" "=" "EURUSD"), or a
// row comparison for keyset pagination ("(exit_ns, session, number) > (...)"). Column types
// are the table's.
struct Condition {
  std::vector<std::string_view> columns;
  std::string_view op;  // "=", "<", ">=", ">"
  Row values;
};
struct Query {
  std::vector<Condition> where;  // all must hold
  std::string_view order_by;     // columns, as SQL ("exit_ns, session, number")
  int64_t limit = 0;             // 0: no limit
};

// One component's schema in both dialects: the same numbered scripts.
struct Schema {
  std::string_view component;  // "trades", "bars", "offline_features"
  std::string_view what;       // "trade store": starts every error message
  std::span<const pg::Migration> postgres;
  std::span<const pg::Migration> sqlite;
};

class RecordDb {
 public:
  virtual ~RecordDb() = default;
  // The file, or "postgresql://host:port/db" (never a password).
  virtual const std::string& location() const = 0;
  // Stores `rows` (values in `table.columns` order) in one transaction, each unless a row with
  // its key is stored already (the table's primary key: ON CONFLICT DO NOTHING / INSERT OR
  // IGNORE). Returns the rows newly stored. A failure stores none of them.
  virtual Result<int64_t> Upsert(const Table& table, std::span<const Row> rows) = 0;
  // The rows of `table` that `query` selects, values in `table.columns` order.
  virtual Result<std::vector<Row>> Select(const Table& table, const Query& query) = 0;
};

// A file: SQLite, created when missing, in WAL mode, `schema` migrated with its versions kept
// per component in the file's aits_schema_migrations as PostgreSQL keeps them (so stores may
// share a file); each migration in one immediate transaction with its record, so two processes
// opening a new file migrate it once. "postgresql://user@host:port/db": PostgreSQL, migrated by
// pg::Migrate, the connection opened again on the next call after it was lost (a restarted
// server), so a long-lived reader outlives an outage.
// Errors name `schema.what` and the location: IoError/DataLoss for a file that cannot be opened
// or is no database; Unavailable for a server that cannot be reached; FailedPrecondition for a
// schema newer than this build; InvalidArgument for a PostgreSQL location with a '#' (event
// store locations name a session so; these stores are the whole database).
Result<std::unique_ptr<RecordDb>> OpenRecordDb(const std::string& location, const Schema& schema);

// A store of interface `Store` implemented by `Impl` (constructed from its RecordDb) at
// `location`: what each store's Open function is.
template <typename Store, typename Impl>
Result<std::unique_ptr<Store>> OpenStore(const std::string& location, const Schema& schema) {
  AITS_ASSIGN_OR_RETURN(std::unique_ptr<RecordDb> db, OpenRecordDb(location, schema));
  std::unique_ptr<Store> store = std::make_unique<Impl>(std::move(db));
  return store;
}

// Values of a row as little-endian IEEE 754 binary32: the compact form of a feature row (4 bytes
// a value, exactly what the features role computed).
std::string EncodeFloats(std::span<const float> values);
// DataLoss naming `what` when the size is not a multiple of 4.
Result<std::vector<float>> DecodeFloats(std::string_view bytes, std::string_view what);

// A row's value read back by its type (the stores check what they read).
inline int64_t IntOf(const Value& value) { return std::get<int64_t>(value); }
inline double RealOf(const Value& value) { return std::get<double>(value); }
inline const std::string& TextOf(const Value& value) { return std::get<std::string>(value); }

}  // namespace aits::persistence::internal
