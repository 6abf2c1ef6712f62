#include "aits/persistence/feature_store.h"

#include <cstdio>
#include <map>
#include <utility>

#include "aits/core/hash.h"
#include "aits/persistence/internal/record_db.h"

namespace aits::persistence {
namespace {

using internal::Column;
using internal::ColumnType;
using internal::IntOf;
using internal::RealOf;
using internal::Row;
using internal::TextOf;

// A set's column names in one text, one per line (names never hold a line break: Register
// refuses them). Values as little-endian float32 in one bytea/BLOB per row. Never edit a
// migration that has shipped: add the next one.
constexpr pg::Migration kPostgres[] = {
    {1, "feature sets and rows",
     "CREATE TABLE feature_sets(id text PRIMARY KEY, name text NOT NULL, version text NOT NULL,"
     " hash text NOT NULL, columns bigint NOT NULL, names text NOT NULL);"
     "CREATE TABLE feature_rows(symbol text NOT NULL, feature_set text NOT NULL,"
     " time_ns bigint NOT NULL, close float8 NOT NULL, spread float8 NOT NULL,"
     " row_values bytea NOT NULL, PRIMARY KEY(symbol, feature_set, time_ns));"},
};
constexpr pg::Migration kSqlite[] = {
    {1, "feature sets and rows",
     "CREATE TABLE feature_sets(id TEXT PRIMARY KEY, name TEXT NOT NULL, version TEXT NOT NULL,"
     " hash TEXT NOT NULL, columns INTEGER NOT NULL, names TEXT NOT NULL);"
     "CREATE TABLE feature_rows(symbol TEXT NOT NULL, feature_set TEXT NOT NULL,"
     " time_ns INTEGER NOT NULL, close REAL NOT NULL, spread REAL NOT NULL,"
     " row_values BLOB NOT NULL, PRIMARY KEY(symbol, feature_set, time_ns)) WITHOUT ROWID;"},
};
constexpr internal::Schema kSchema = {"offline_features", "offline feature store", kPostgres,
                                      kSqlite};

constexpr Column kSetColumns[] = {{"id", ColumnType::kText},      {"name", ColumnType::kText},
                                  {"version", ColumnType::kText}, {"hash", ColumnType::kText},
                                  {"columns", ColumnType::kInt},  {"names", ColumnType::kText}};
constexpr internal::Table kSets = {"feature_sets", kSetColumns};
constexpr Column kRowColumns[] = {{"symbol", ColumnType::kText}, {"feature_set", ColumnType::kText},
                                  {"time_ns", ColumnType::kInt}, {"close", ColumnType::kReal},
                                  {"spread", ColumnType::kReal}, {"row_values", ColumnType::kBlob}};
constexpr internal::Table kRows = {"feature_rows", kRowColumns};

constexpr size_t kMaxLimit = 10'000'000;

std::string JoinLines(const std::vector<std::string>& names) {
  std::string out;
  for (size_t idx = 0; idx < names.size(); ++idx) {
    if (idx > 0) out += '\n';
    out += names[idx];
  }
  return out;
}

std::vector<std::string> SplitLines(const std::string& text, int64_t count) {
  std::vector<std::string> names;
  if (count == 0) return names;
  size_t start = 0;
  for (;;) {
    const size_t end = text.find('\n', start);
    names.push_back(text.substr(start, end == std::string::npos ? end : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return names;
}

class RecordFeatureStore final : public FeatureStore {
 public:
  explicit RecordFeatureStore(std::unique_ptr<internal::RecordDb> db) : db_(std::move(db)) {}

  const std::string& location() const override { return db_->location(); }

  Result<std::string> Register(const FeatureSet& set) override {
    if (set.name.empty()) {
      return InvalidArgument("offline feature store: a feature set needs a name");
    }
    for (const std::string& column : set.columns) {
      if (column.empty() || column.find('\n') != std::string::npos) {
        return InvalidArgument("offline feature store: feature set " + set.name +
                               ": a column name is empty or holds a line break");
      }
    }
    std::string id = set.Id();
    const Row row = {id,
                     set.name,
                     set.version,
                     set.hash,
                     static_cast<int64_t>(set.columns.size()),
                     JoinLines(set.columns)};
    AITS_RETURN_IF_ERROR(db_->Upsert(kSets, std::span(&row, 1)).status());
    widths_[id] = set.columns.size();
    return id;
  }

  Result<FeatureSet> FeatureSetOf(const std::string& id) override {
    internal::Query select;
    select.where.push_back({{"id"}, "=", {id}});
    AITS_ASSIGN_OR_RETURN(const std::vector<Row> rows, db_->Select(kSets, select));
    if (rows.empty()) {
      return NotFound("offline feature store " + location() + ": no feature set " + id);
    }
    const Row& row = rows.front();
    FeatureSet set;
    set.name = TextOf(row[1]);
    set.version = TextOf(row[2]);
    set.hash = TextOf(row[3]);
    set.columns = SplitLines(TextOf(row[5]), IntOf(row[4]));
    if (static_cast<int64_t>(set.columns.size()) != IntOf(row[4]) || set.Id() != id) {
      return DataLoss("offline feature store " + location() + ": feature set " + id +
                      " does not match its id");
    }
    return set;
  }

  Result<size_t> Write(std::span<const StoredFeatureRow> rows) override {
    std::vector<Row> encoded;
    encoded.reserve(rows.size());
    for (const StoredFeatureRow& row : rows) {
      AITS_ASSIGN_OR_RETURN(const size_t width, WidthOf(row.feature_set));
      if (row.values.size() != width) {
        return InvalidArgument("offline feature store: a row of " +
                               std::to_string(row.values.size()) + " values for feature set " +
                               row.feature_set + " of " + std::to_string(width) + " columns");
      }
      encoded.push_back({row.symbol, row.feature_set, row.time.ns, row.close, row.spread,
                         internal::EncodeFloats(row.values)});
    }
    AITS_ASSIGN_OR_RETURN(const int64_t stored, db_->Upsert(kRows, encoded));
    return static_cast<size_t>(stored);
  }

  Result<std::vector<StoredFeatureRow>> Read(const FeatureQuery& query) override {
    if (query.limit < 1 || query.limit > kMaxLimit) {
      return InvalidArgument("offline feature store: a read of " + std::to_string(query.limit) +
                             " rows; ask for 1 to " + std::to_string(kMaxLimit));
    }
    internal::Query select;
    select.where.push_back({{"symbol"}, "=", {query.symbol}});
    select.where.push_back({{"feature_set"}, "=", {query.feature_set}});
    if (query.from) select.where.push_back({{"time_ns"}, ">=", {query.from->ns}});
    if (query.to) select.where.push_back({{"time_ns"}, "<", {query.to->ns}});
    select.order_by = "time_ns";
    select.limit = static_cast<int64_t>(query.limit);
    AITS_ASSIGN_OR_RETURN(const std::vector<Row> rows, db_->Select(kRows, select));
    std::vector<StoredFeatureRow> out;
    out.reserve(rows.size());
    for (const Row& row : rows) {
      StoredFeatureRow& stored = out.emplace_back();
      stored.symbol = TextOf(row[0]);
      stored.feature_set = TextOf(row[1]);
      stored.time = Timestamp::FromNanos(IntOf(row[2]));
      stored.close = RealOf(row[3]);
      stored.spread = RealOf(row[4]);
      AITS_ASSIGN_OR_RETURN(
          stored.values,
          internal::DecodeFloats(TextOf(row[5]), "offline feature store " + location() + ": " +
                                                     stored.symbol + " at " +
                                                     std::to_string(stored.time.ns)));
    }
    return out;
  }

 private:
  // The columns of a set, from this store's registrations or the database (once per set).
  Result<size_t> WidthOf(const std::string& id) {
    if (const auto found = widths_.find(id); found != widths_.end()) return found->second;
    Result<FeatureSet> set = FeatureSetOf(id);
    if (set.status().code() == StatusCode::kNotFound) {
      return InvalidArgument("offline feature store " + location() + ": feature set " + id +
                             " is not registered (FeatureStore::Register first)");
    }
    AITS_RETURN_IF_ERROR(set.status());
    return widths_[id] = set->columns.size();
  }

  std::unique_ptr<internal::RecordDb> db_;
  std::map<std::string, size_t> widths_;  // columns per feature set id
};

}  // namespace

std::string FeatureSet::Id() const {
  // Each field ends with a 0 byte, so ("ab", "c") and ("a", "bc") differ.
  uint64_t value = kFnvOffset;
  for (const std::string* field : {&name, &version, &hash}) {
    value = Fnv1a64(std::string_view(field->c_str(), field->size() + 1), value);
  }
  for (const std::string& column : columns) {
    value = Fnv1a64(std::string_view(column.c_str(), column.size() + 1), value);
  }
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(value));
  return hex;
}

Result<ml::Dataset> FeatureStore::ReadDataset(const FeatureQuery& query) {
  AITS_ASSIGN_OR_RETURN(const FeatureSet set, FeatureSetOf(query.feature_set));
  AITS_ASSIGN_OR_RETURN(const std::vector<StoredFeatureRow> rows, Read(query));
  ml::Dataset dataset;
  dataset.feature_set_version = set.version;
  dataset.feature_set_hash = set.hash;
  dataset.feature_names = set.columns;
  dataset.x = ml::Matrix(0, set.columns.size());
  dataset.x.Reserve(rows.size());
  for (const StoredFeatureRow& row : rows) {
    if (row.values.size() != set.columns.size()) {
      return DataLoss("offline feature store " + location() + ": " + query.symbol + " at " +
                      std::to_string(row.time.ns) + ": a row of " +
                      std::to_string(row.values.size()) + " values in feature set " + set.name +
                      " of " + std::to_string(set.columns.size()));
    }
    dataset.time.push_back(row.time);
    dataset.close.push_back(row.close);
    dataset.spread.push_back(row.spread);
    dataset.x.AppendRow(row.values);
  }
  Status valid = dataset.Validate();
  if (!valid.ok()) {
    return InvalidArgument("offline feature store " + location() + ": " + query.symbol + ", " +
                           set.name + ": " + valid.message());
  }
  return dataset;
}

Result<std::unique_ptr<FeatureStore>> OpenFeatureStore(const std::string& location) {
  return internal::OpenStore<FeatureStore, RecordFeatureStore>(location, kSchema);
}

}  // namespace aits::persistence
