#include "aits/persistence/bar_store.h"

#include <utility>

#include "aits/persistence/internal/record_db.h"

namespace aits::persistence {
namespace {

using internal::Column;
using internal::ColumnType;
using internal::IntOf;
using internal::RealOf;
using internal::Row;
using internal::TextOf;

// Prices as raw 1e-9 units with one digits column (an instrument's bar has one precision).
// Never edit a migration that has shipped: add the next one.
constexpr pg::Migration kPostgres[] = {
    {1, "bars",
     "CREATE TABLE bars(symbol text NOT NULL, timeframe_ns bigint NOT NULL,"
     " open_ns bigint NOT NULL, digits bigint NOT NULL,"
     " bid_open bigint NOT NULL, bid_high bigint NOT NULL, bid_low bigint NOT NULL,"
     " bid_close bigint NOT NULL, ask_open bigint NOT NULL, ask_high bigint NOT NULL,"
     " ask_low bigint NOT NULL, ask_close bigint NOT NULL, mid_open bigint NOT NULL,"
     " mid_high bigint NOT NULL, mid_low bigint NOT NULL, mid_close bigint NOT NULL,"
     " tick_count bigint NOT NULL, volume float8 NOT NULL,"
     " PRIMARY KEY(symbol, timeframe_ns, open_ns));"},
};
constexpr pg::Migration kSqlite[] = {
    {1, "bars",
     "CREATE TABLE bars(symbol TEXT NOT NULL, timeframe_ns INTEGER NOT NULL,"
     " open_ns INTEGER NOT NULL, digits INTEGER NOT NULL,"
     " bid_open INTEGER NOT NULL, bid_high INTEGER NOT NULL, bid_low INTEGER NOT NULL,"
     " bid_close INTEGER NOT NULL, ask_open INTEGER NOT NULL, ask_high INTEGER NOT NULL,"
     " ask_low INTEGER NOT NULL, ask_close INTEGER NOT NULL, mid_open INTEGER NOT NULL,"
     " mid_high INTEGER NOT NULL, mid_low INTEGER NOT NULL, mid_close INTEGER NOT NULL,"
     " tick_count INTEGER NOT NULL, volume REAL NOT NULL,"
     " PRIMARY KEY(symbol, timeframe_ns, open_ns)) WITHOUT ROWID;"},
};
constexpr internal::Schema kSchema = {"bars", "bar store", kPostgres, kSqlite};

constexpr Column kColumns[] = {{"symbol", ColumnType::kText},    {"timeframe_ns", ColumnType::kInt},
                               {"open_ns", ColumnType::kInt},    {"digits", ColumnType::kInt},
                               {"bid_open", ColumnType::kInt},   {"bid_high", ColumnType::kInt},
                               {"bid_low", ColumnType::kInt},    {"bid_close", ColumnType::kInt},
                               {"ask_open", ColumnType::kInt},   {"ask_high", ColumnType::kInt},
                               {"ask_low", ColumnType::kInt},    {"ask_close", ColumnType::kInt},
                               {"mid_open", ColumnType::kInt},   {"mid_high", ColumnType::kInt},
                               {"mid_low", ColumnType::kInt},    {"mid_close", ColumnType::kInt},
                               {"tick_count", ColumnType::kInt}, {"volume", ColumnType::kReal}};
constexpr internal::Table kBars = {"bars", kColumns};
constexpr size_t kFirstPrice = 4;  // bid_open's column

constexpr size_t kMaxLimit = 1'000'000;

Row RowOf(const StoredBar& stored) {
  const Bar& bar = stored.bar;
  Row row = {stored.symbol, bar.period.ns, bar.open_time.ns, int64_t{bar.bid.open.precision()}};
  for (const Ohlc* ohlc : {&bar.bid, &bar.ask, &bar.mid}) {
    for (const Price* price : {&ohlc->open, &ohlc->high, &ohlc->low, &ohlc->close}) {
      row.emplace_back(price->raw());
    }
  }
  row.emplace_back(int64_t{bar.tick_count});
  row.emplace_back(bar.volume);
  return row;
}

Result<StoredBar> BarOf(const Row& row, const std::string& location) {
  StoredBar stored;
  stored.symbol = TextOf(row[0]);
  Bar& bar = stored.bar;
  bar.period = Duration::Nanos(IntOf(row[1]));
  bar.open_time = Timestamp::FromNanos(IntOf(row[2]));
  const int64_t digits = IntOf(row[3]);
  const int64_t ticks = IntOf(row[16]);
  if (digits < 0 || digits > kFixedDigits || ticks < 0 || ticks > UINT32_MAX) {
    return DataLoss("bar store " + location + ": the bar of " + stored.symbol + " at " +
                    std::to_string(bar.open_time.ns) + " holds values no bar has");
  }
  size_t column = kFirstPrice;
  for (Ohlc* ohlc : {&bar.bid, &bar.ask, &bar.mid}) {
    for (Price* price : {&ohlc->open, &ohlc->high, &ohlc->low, &ohlc->close}) {
      *price = Price::FromRaw(IntOf(row[column++]), static_cast<int>(digits));
    }
  }
  bar.tick_count = static_cast<uint32_t>(ticks);
  bar.volume = RealOf(row[17]);
  return stored;
}

class RecordBarStore final : public BarStore {
 public:
  explicit RecordBarStore(std::unique_ptr<internal::RecordDb> db) : db_(std::move(db)) {}

  const std::string& location() const override { return db_->location(); }

  Result<size_t> Write(std::span<const StoredBar> bars) override {
    std::vector<Row> rows;
    rows.reserve(bars.size());
    for (const StoredBar& bar : bars) {
      if (bar.symbol.empty() || bar.bar.period.ns <= 0) {
        return InvalidArgument("bar store " + location() +
                               ": a bar needs a symbol and a positive timeframe");
      }
      rows.push_back(RowOf(bar));
    }
    AITS_ASSIGN_OR_RETURN(const int64_t stored, db_->Upsert(kBars, rows));
    return static_cast<size_t>(stored);
  }

  Result<std::vector<StoredBar>> Read(const BarQuery& query) override {
    if (query.limit < 1 || query.limit > kMaxLimit) {
      return InvalidArgument("bar store: a read of " + std::to_string(query.limit) +
                             " bars; ask for 1 to " + std::to_string(kMaxLimit));
    }
    internal::Query select;
    select.where.push_back({{"symbol"}, "=", {query.symbol}});
    select.where.push_back({{"timeframe_ns"}, "=", {query.timeframe.ns}});
    if (query.from) select.where.push_back({{"open_ns"}, ">=", {query.from->ns}});
    if (query.to) select.where.push_back({{"open_ns"}, "<", {query.to->ns}});
    select.order_by = "open_ns";
    select.limit = static_cast<int64_t>(query.limit);
    AITS_ASSIGN_OR_RETURN(const std::vector<Row> rows, db_->Select(kBars, select));
    std::vector<StoredBar> bars;
    bars.reserve(rows.size());
    for (const Row& row : rows) {
      AITS_ASSIGN_OR_RETURN(StoredBar bar, BarOf(row, location()));
      bars.push_back(std::move(bar));
    }
    return bars;
  }

 private:
  std::unique_ptr<internal::RecordDb> db_;
};

}  // namespace

Result<std::unique_ptr<BarStore>> OpenBarStore(const std::string& location) {
  return internal::OpenStore<BarStore, RecordBarStore>(location, kSchema);
}

}  // namespace aits::persistence
