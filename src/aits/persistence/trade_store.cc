#include "aits/persistence/trade_store.h"

#include <utility>

#include "aits/persistence/internal/record_db.h"

namespace aits::persistence {
namespace {

using internal::Column;
using internal::ColumnType;
using internal::IntOf;
using internal::Row;
using internal::TextOf;

// Prices and quantities as their raw 1e-9 units with their digits, money as its 1e-6 units: the
// record comes back exactly as the portfolio closed it. Never edit a migration that has shipped:
// add the next one.
constexpr pg::Migration kPostgres[] = {
    {1, "trades",
     "CREATE TABLE trades(session text NOT NULL, number bigint NOT NULL, symbol text NOT NULL,"
     " instrument bigint NOT NULL, side bigint NOT NULL, quantity bigint NOT NULL,"
     " quantity_digits bigint NOT NULL, entry_ns bigint NOT NULL, exit_ns bigint NOT NULL,"
     " entry_price bigint NOT NULL, entry_digits bigint NOT NULL, exit_price bigint NOT NULL,"
     " exit_digits bigint NOT NULL, gross_pnl bigint NOT NULL, commission bigint NOT NULL,"
     " net_pnl bigint NOT NULL, exit_reason text NOT NULL, PRIMARY KEY(session, number));"
     "CREATE INDEX trades_by_exit ON trades(exit_ns, session, number);"
     "CREATE INDEX trades_by_symbol ON trades(symbol, exit_ns, session, number);"},
};
constexpr pg::Migration kSqlite[] = {
    {1, "trades",
     "CREATE TABLE trades(session TEXT NOT NULL, number INTEGER NOT NULL, symbol TEXT NOT NULL,"
     " instrument INTEGER NOT NULL, side INTEGER NOT NULL, quantity INTEGER NOT NULL,"
     " quantity_digits INTEGER NOT NULL, entry_ns INTEGER NOT NULL, exit_ns INTEGER NOT NULL,"
     " entry_price INTEGER NOT NULL, entry_digits INTEGER NOT NULL,"
     " exit_price INTEGER NOT NULL, exit_digits INTEGER NOT NULL, gross_pnl INTEGER NOT NULL,"
     " commission INTEGER NOT NULL, net_pnl INTEGER NOT NULL, exit_reason TEXT NOT NULL,"
     " PRIMARY KEY(session, number));"
     "CREATE INDEX trades_by_exit ON trades(exit_ns, session, number);"
     "CREATE INDEX trades_by_symbol ON trades(symbol, exit_ns, session, number);"},
};
constexpr internal::Schema kSchema = {"trades", "trade store", kPostgres, kSqlite};

constexpr Column kColumns[] = {{"session", ColumnType::kText},
                               {"number", ColumnType::kInt},
                               {"symbol", ColumnType::kText},
                               {"instrument", ColumnType::kInt},
                               {"side", ColumnType::kInt},
                               {"quantity", ColumnType::kInt},
                               {"quantity_digits", ColumnType::kInt},
                               {"entry_ns", ColumnType::kInt},
                               {"exit_ns", ColumnType::kInt},
                               {"entry_price", ColumnType::kInt},
                               {"entry_digits", ColumnType::kInt},
                               {"exit_price", ColumnType::kInt},
                               {"exit_digits", ColumnType::kInt},
                               {"gross_pnl", ColumnType::kInt},
                               {"commission", ColumnType::kInt},
                               {"net_pnl", ColumnType::kInt},
                               {"exit_reason", ColumnType::kText}};
constexpr internal::Table kTrades = {"trades", kColumns};

constexpr size_t kMaxLimit = 100'000;

Row RowOf(const StoredTrade& stored) {
  const portfolio::TradeRecord& t = stored.trade;
  return {stored.session,
          stored.number,
          stored.symbol,
          int64_t{t.instrument.value},
          int64_t{static_cast<uint8_t>(t.side)},
          t.quantity.raw(),
          int64_t{t.quantity.precision()},
          t.entry_time.ns,
          t.exit_time.ns,
          t.entry_price.raw(),
          int64_t{t.entry_price.precision()},
          t.exit_price.raw(),
          int64_t{t.exit_price.precision()},
          t.gross_pnl.raw(),
          t.commission.raw(),
          t.net_pnl.raw(),
          t.exit_reason};
}

bool ValidDigits(int64_t digits) { return digits >= 0 && digits <= kFixedDigits; }

Result<StoredTrade> TradeOf(const Row& row, const std::string& location) {
  StoredTrade stored;
  stored.session = TextOf(row[0]);
  stored.number = IntOf(row[1]);
  stored.symbol = TextOf(row[2]);
  const int64_t instrument = IntOf(row[3]);
  const int64_t side = IntOf(row[4]);
  if (instrument < 0 || instrument > UINT32_MAX || (side != 0 && side != 1) ||
      !ValidDigits(IntOf(row[6])) || !ValidDigits(IntOf(row[10])) || !ValidDigits(IntOf(row[12]))) {
    return DataLoss("trade store " + location + ": trade " + stored.session + "/" +
                    std::to_string(stored.number) + " holds values no trade has");
  }
  portfolio::TradeRecord& t = stored.trade;
  t.instrument = InstrumentId{static_cast<uint32_t>(instrument)};
  t.side = static_cast<Side>(side);
  t.quantity = Quantity::FromRaw(IntOf(row[5]), static_cast<int>(IntOf(row[6])));
  t.entry_time = Timestamp::FromNanos(IntOf(row[7]));
  t.exit_time = Timestamp::FromNanos(IntOf(row[8]));
  t.entry_price = Price::FromRaw(IntOf(row[9]), static_cast<int>(IntOf(row[10])));
  t.exit_price = Price::FromRaw(IntOf(row[11]), static_cast<int>(IntOf(row[12])));
  t.gross_pnl = Money::FromRaw(IntOf(row[13]));
  t.commission = Money::FromRaw(IntOf(row[14]));
  t.net_pnl = Money::FromRaw(IntOf(row[15]));
  t.exit_reason = TextOf(row[16]);
  return stored;
}

class RecordTradeStore final : public TradeStore {
 public:
  explicit RecordTradeStore(std::unique_ptr<internal::RecordDb> db) : db_(std::move(db)) {}

  const std::string& location() const override { return db_->location(); }

  Result<size_t> Write(std::span<const StoredTrade> trades) override {
    std::vector<Row> rows;
    rows.reserve(trades.size());
    for (const StoredTrade& trade : trades) {
      if (trade.session.empty() || trade.number < 1) {
        return InvalidArgument("trade store " + location() + ": a trade needs a session and a " +
                               "number from 1 (got \"" + trade.session + "\", " +
                               std::to_string(trade.number) + ")");
      }
      rows.push_back(RowOf(trade));
    }
    AITS_ASSIGN_OR_RETURN(const int64_t stored, db_->Upsert(kTrades, rows));
    return static_cast<size_t>(stored);
  }

  Result<TradePage> Read(const TradeQuery& query) override {
    if (query.limit < 1 || query.limit > kMaxLimit) {
      return InvalidArgument("trade store: a page of " + std::to_string(query.limit) +
                             " trades; ask for 1 to " + std::to_string(kMaxLimit));
    }
    internal::Query select;
    if (query.session) select.where.push_back({{"session"}, "=", {*query.session}});
    if (query.symbol) select.where.push_back({{"symbol"}, "=", {*query.symbol}});
    if (query.from) select.where.push_back({{"exit_ns"}, ">=", {query.from->ns}});
    if (query.to) select.where.push_back({{"exit_ns"}, "<", {query.to->ns}});
    if (query.after) {
      select.where.push_back(
          {{"exit_ns", "session", "number"},
           ">",
           {query.after->exit_time.ns, query.after->session, query.after->number}});
    }
    select.order_by = "exit_ns, session, number";
    select.limit = static_cast<int64_t>(query.limit);
    AITS_ASSIGN_OR_RETURN(const std::vector<Row> rows, db_->Select(kTrades, select));
    TradePage page;
    for (const Row& row : rows) {
      AITS_ASSIGN_OR_RETURN(StoredTrade trade, TradeOf(row, location()));
      page.trades.push_back(std::move(trade));
    }
    if (page.trades.size() == query.limit) {
      const StoredTrade& last = page.trades.back();
      page.next = TradeCursor{last.trade.exit_time, last.session, last.number};
    }
    return page;
  }

 private:
  std::unique_ptr<internal::RecordDb> db_;
};

}  // namespace

Result<std::unique_ptr<TradeStore>> OpenTradeStore(const std::string& location) {
  return internal::OpenStore<TradeStore, RecordTradeStore>(location, kSchema);
}

}  // namespace aits::persistence
