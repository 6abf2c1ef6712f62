// The record stores' contracts (trade_store.h, bar_store.h, feature_store.h), each run against
// both backends: a SQLite file and a database of its own on a real PostgreSQL server started
// once for this binary. Opened by location, as the roles open them.
#include <gtest/gtest.h>

#include <cctype>
#include <memory>
#include <string>
#include <vector>

#include "aits/persistence/bar_store.h"
#include "aits/persistence/feature_store.h"
#include "aits/persistence/postgres.h"
#include "aits/persistence/sqlite.h"
#include "aits/persistence/trade_store.h"
#include "aits/testing/servers.h"
#include "aits/testing/shared_postgres_test_util.h"

namespace aits::persistence {
namespace {

const auto* const kPostgresEnvironment =
    ::testing::AddGlobalTestEnvironment(new test_servers::SharedPostgresEnvironment);

test_servers::PostgresServer* Server() { return test_servers::SharedPostgresEnvironment::server(); }

enum class Backend { kSqlite, kPostgres };

std::string Name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

// A location of the test's own: a file in a temporary directory, or a fresh database.
class RecordStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    ASSERT_NE(Server(), nullptr) << "PostgreSQL did not start (see above)";
    auto dir = test_servers::TempDir::Make("aits-record-stores");
    ASSERT_TRUE(dir.ok()) << dir.status().ToString();
    dir_ = std::make_unique<test_servers::TempDir>(std::move(dir).value());
    location_ = GetParam() == Backend::kSqlite ? dir_->path() + "/records.db" : FreshDatabase();
  }

  // "postgresql://aits@127.0.0.1:PORT/<the test's name>", created empty.
  static std::string FreshDatabase() {
    const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(test->name()) + "_" + test->test_suite_name();
    for (char& c : name) {
      c = static_cast<char>(std::isalnum(static_cast<unsigned char>(c)) ? std::tolower(c) : '_');
    }
    name = name.substr(0, 63);
    EXPECT_TRUE(Server()->CreateDatabase(name).ok());
    return "postgresql://aits@127.0.0.1:" + std::to_string(Server()->port()) + "/" + name;
  }

  template <typename Store, typename Open>
  std::unique_ptr<Store> MustOpen(const Open& open) const {
    auto store = open(location_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  std::unique_ptr<test_servers::TempDir> dir_;
  std::string location_;
};

// ---------------------------------------------------------------- trades

StoredTrade Trade(const std::string& session, int64_t number, const std::string& symbol,
                  int64_t exit_s) {
  StoredTrade stored;
  stored.session = session;
  stored.number = number;
  stored.symbol = symbol;
  portfolio::TradeRecord& t = stored.trade;
  t.instrument = InstrumentId{symbol == "EURUSD" ? 0u : 1u};
  t.side = number % 2 == 0 ? Side::kSell : Side::kBuy;
  t.quantity = Quantity::FromRaw(1'250'000'000 * number, 2);
  t.entry_time = Timestamp::FromNanos(exit_s * 1'000'000'000 - 60'000'000'123);
  t.exit_time = Timestamp::FromNanos(exit_s * 1'000'000'000);
  t.entry_price = Price::FromRaw(1'085'430'000, 5);
  t.exit_price = Price::FromRaw(1'086'010'000 - number, 9);
  t.gross_pnl = Money::FromRaw(-72'500'000 + number);
  t.commission = Money::FromRaw(8'750'000);
  t.net_pnl = t.gross_pnl - t.commission;
  t.exit_reason = number == 3 ? "stop_loss" : "market";
  return stored;
}

void ExpectSame(const StoredTrade& a, const StoredTrade& b) {
  EXPECT_EQ(a.session, b.session);
  EXPECT_EQ(a.number, b.number);
  EXPECT_EQ(a.symbol, b.symbol);
  const portfolio::TradeRecord& x = a.trade;
  const portfolio::TradeRecord& y = b.trade;
  EXPECT_EQ(x.instrument, y.instrument);
  EXPECT_EQ(x.side, y.side);
  EXPECT_EQ(x.quantity.raw(), y.quantity.raw());
  EXPECT_EQ(x.quantity.precision(), y.quantity.precision());
  EXPECT_EQ(x.entry_time, y.entry_time);
  EXPECT_EQ(x.exit_time, y.exit_time);
  EXPECT_EQ(x.entry_price.raw(), y.entry_price.raw());
  EXPECT_EQ(x.entry_price.precision(), y.entry_price.precision());
  EXPECT_EQ(x.exit_price.raw(), y.exit_price.raw());
  EXPECT_EQ(x.exit_price.precision(), y.exit_price.precision());
  EXPECT_EQ(x.gross_pnl, y.gross_pnl);
  EXPECT_EQ(x.commission, y.commission);
  EXPECT_EQ(x.net_pnl, y.net_pnl);
  EXPECT_EQ(x.exit_reason, y.exit_reason);
}

std::vector<StoredTrade> ReadAll(TradeStore& store, TradeQuery query) {
  std::vector<StoredTrade> all;
  for (;;) {
    auto page = store.Read(query);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    if (!page.ok()) return all;
    all.insert(all.end(), page->trades.begin(), page->trades.end());
    if (!page->next) return all;
    query.after = page->next;
  }
}

using TradeStoreTest = RecordStoreTest;

TEST_P(TradeStoreTest, EveryFieldComesBackInExitTimeOrder) {
  auto store = MustOpen<TradeStore>(OpenTradeStore);
  ASSERT_NE(store, nullptr);
  // Written out of order, and over two sessions.
  const std::vector<StoredTrade> trades = {
      Trade("s1", 2, "GBPUSD", 300), Trade("s1", 1, "EURUSD", 100), Trade("s2", 1, "EURUSD", 200)};
  auto written = store->Write(trades);
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  EXPECT_EQ(*written, 3u);
  // Another connection (another process's view) reads what was committed.
  auto reader = MustOpen<TradeStore>(OpenTradeStore);
  ASSERT_NE(reader, nullptr);
  const std::vector<StoredTrade> read = ReadAll(*reader, {});
  ASSERT_EQ(read.size(), 3u);
  ExpectSame(read[0], trades[1]);
  ExpectSame(read[1], trades[2]);
  ExpectSame(read[2], trades[0]);
}

// The owner that restarts replays its log and writes every trade again, then the new ones.
TEST_P(TradeStoreTest, ARestartedOwnerWritingItsTradesAgainStoresEachOnce) {
  auto store = MustOpen<TradeStore>(OpenTradeStore);
  ASSERT_NE(store, nullptr);
  std::vector<StoredTrade> first;
  for (int64_t number = 1; number <= 5; ++number) {
    first.push_back(Trade("owner", number, "EURUSD", 100 * number));
  }
  ASSERT_EQ(*store->Write(first), 5u);
  store.reset();
  auto restarted = MustOpen<TradeStore>(OpenTradeStore);
  ASSERT_NE(restarted, nullptr);
  std::vector<StoredTrade> again = first;
  again.push_back(Trade("owner", 6, "EURUSD", 600));
  again.push_back(Trade("owner", 7, "EURUSD", 700));
  auto written = restarted->Write(again);
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  EXPECT_EQ(*written, 2u);  // only the two new ones
  EXPECT_EQ(*restarted->Write(again), 0u);
  // A trade written again with other values is not changed: the first write stands.
  StoredTrade changed = Trade("owner", 3, "EURUSD", 300);
  changed.trade.exit_reason = "take_profit";
  EXPECT_EQ(*restarted->Write(std::span(&changed, 1)), 0u);
  const std::vector<StoredTrade> read = ReadAll(*restarted, {});
  ASSERT_EQ(read.size(), 7u);
  for (size_t idx = 0; idx < read.size(); ++idx) {
    EXPECT_EQ(read[idx].number, static_cast<int64_t>(idx) + 1);
  }
  EXPECT_EQ(read[2].trade.exit_reason, "stop_loss");
}

TEST_P(TradeStoreTest, FiltersBySessionSymbolAndTimeAndPagesThroughAll) {
  auto store = MustOpen<TradeStore>(OpenTradeStore);
  ASSERT_NE(store, nullptr);
  std::vector<StoredTrade> trades;
  for (int64_t number = 1; number <= 9; ++number) {
    trades.push_back(Trade("a", number, number % 3 == 0 ? "GBPUSD" : "EURUSD", 10 * number));
    trades.push_back(Trade("b", number, "EURUSD", 10 * number));  // the same exit times
  }
  ASSERT_EQ(*store->Write(trades), 18u);

  TradeQuery eurusd_a;
  eurusd_a.session = "a";
  eurusd_a.symbol = "EURUSD";
  EXPECT_EQ(ReadAll(*store, eurusd_a).size(), 6u);
  TradeQuery window;  // exit in [30 s, 70 s): numbers 3..6 of both sessions
  window.from = Timestamp::FromNanos(30'000'000'000);
  window.to = Timestamp::FromNanos(70'000'000'000);
  const std::vector<StoredTrade> in_window = ReadAll(*store, window);
  ASSERT_EQ(in_window.size(), 8u);
  EXPECT_EQ(in_window.front().number, 3);
  EXPECT_EQ(in_window.front().session, "a");  // ties on exit time ordered by session
  EXPECT_EQ(in_window[1].session, "b");
  EXPECT_EQ(in_window.back().number, 6);

  // Pages of 4 (the cursor breaks ties on exit time) give every trade once, in order.
  TradeQuery paged;
  paged.limit = 4;
  auto page = store->Read(paged);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->trades.size(), 4u);
  ASSERT_TRUE(page->next.has_value());
  const std::vector<StoredTrade> all = ReadAll(*store, paged);
  ASSERT_EQ(all.size(), 18u);
  for (size_t idx = 1; idx < all.size(); ++idx) {
    EXPECT_TRUE(all[idx - 1].trade.exit_time < all[idx].trade.exit_time ||
                (all[idx - 1].trade.exit_time == all[idx].trade.exit_time &&
                 all[idx - 1].session < all[idx].session));
  }
}

TEST_P(TradeStoreTest, BadTradesAndPagesAreRefusedAndNothingOfTheBatchIsStored) {
  auto store = MustOpen<TradeStore>(OpenTradeStore);
  ASSERT_NE(store, nullptr);
  const std::vector<StoredTrade> bad = {Trade("s", 1, "EURUSD", 1), Trade("s", 0, "EURUSD", 2)};
  EXPECT_EQ(store->Write(bad).status().code(), StatusCode::kInvalidArgument);
  const std::vector<StoredTrade> no_session = {Trade("", 1, "EURUSD", 1)};
  EXPECT_EQ(store->Write(no_session).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(ReadAll(*store, {}).empty());
  TradeQuery zero;
  zero.limit = 0;
  EXPECT_EQ(store->Read(zero).status().code(), StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Backends, TradeStoreTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres), Name);

// ---------------------------------------------------------------- bars

StoredBar MakeBar(const std::string& symbol, int64_t minute, int64_t timeframe_s = 60) {
  StoredBar stored;
  stored.symbol = symbol;
  Bar& bar = stored.bar;
  bar.period = Duration::Seconds(timeframe_s);
  bar.open_time = Timestamp::FromNanos(1'704'700'800'000'000'000 + minute * 60'000'000'000);
  const int64_t base = 1'085'000'000 + minute * 10'000;
  const auto ohlc = [&](int64_t offset) {
    return Ohlc{Price::FromRaw(base + offset, 5), Price::FromRaw(base + offset + 40'000, 5),
                Price::FromRaw(base + offset - 30'000, 5),
                Price::FromRaw(base + offset + 10'000, 5)};
  };
  bar.bid = ohlc(0);
  bar.ask = ohlc(20'000);
  bar.mid = ohlc(10'000);
  bar.tick_count = static_cast<uint32_t>(17 + minute);
  bar.volume = 1.5 * static_cast<double>(minute) + 0.125;
  return stored;
}

void ExpectSame(const StoredBar& a, const StoredBar& b) {
  EXPECT_EQ(a.symbol, b.symbol);
  EXPECT_EQ(a.bar.period.ns, b.bar.period.ns);
  EXPECT_EQ(a.bar.open_time, b.bar.open_time);
  const Ohlc* x[] = {&a.bar.bid, &a.bar.ask, &a.bar.mid};
  const Ohlc* y[] = {&b.bar.bid, &b.bar.ask, &b.bar.mid};
  for (int side = 0; side < 3; ++side) {
    EXPECT_EQ(x[side]->open.raw(), y[side]->open.raw());
    EXPECT_EQ(x[side]->high.raw(), y[side]->high.raw());
    EXPECT_EQ(x[side]->low.raw(), y[side]->low.raw());
    EXPECT_EQ(x[side]->close.raw(), y[side]->close.raw());
    EXPECT_EQ(x[side]->close.precision(), y[side]->close.precision());
  }
  EXPECT_EQ(a.bar.tick_count, b.bar.tick_count);
  EXPECT_EQ(a.bar.volume, b.bar.volume);
}

using BarStoreTest = RecordStoreTest;

TEST_P(BarStoreTest, BarsComeBackExactlyByRangeAndAreStoredOnce) {
  auto store = MustOpen<BarStore>(OpenBarStore);
  ASSERT_NE(store, nullptr);
  std::vector<StoredBar> bars;
  for (int64_t minute = 0; minute < 10; ++minute) bars.push_back(MakeBar("EURUSD", minute));
  bars.push_back(MakeBar("GBPUSD", 0));
  bars.push_back(MakeBar("EURUSD", 0, 300));  // another timeframe, the same open time
  ASSERT_EQ(*store->Write(bars), 12u);
  // The features role restarted: the same bars, and the next ones.
  std::vector<StoredBar> again(bars.begin(), bars.begin() + 10);
  again.push_back(MakeBar("EURUSD", 10));
  EXPECT_EQ(*store->Write(again), 1u);

  BarQuery all{"EURUSD", Duration::Seconds(60)};
  auto read = store->Read(all);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->size(), 11u);
  for (size_t idx = 0; idx < 10; ++idx) ExpectSame((*read)[idx], bars[idx]);
  EXPECT_EQ((*read)[0].bar.instrument.value, 0u);

  BarQuery range = all;  // opens in [minute 3, minute 6)
  range.from = MakeBar("EURUSD", 3).bar.open_time;
  range.to = MakeBar("EURUSD", 6).bar.open_time;
  read = store->Read(range);
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->size(), 3u);
  ExpectSame(read->front(), bars[3]);
  range.limit = 2;
  EXPECT_EQ(store->Read(range)->size(), 2u);

  BarQuery five{"EURUSD", Duration::Seconds(300)};
  ASSERT_EQ(store->Read(five)->size(), 1u);
  BarQuery none{"USDJPY", Duration::Seconds(60)};
  EXPECT_TRUE(store->Read(none)->empty());

  StoredBar bad = MakeBar("", 1);
  EXPECT_EQ(store->Write(std::span(&bad, 1)).status().code(), StatusCode::kInvalidArgument);
  BarQuery zero = all;
  zero.limit = 0;
  EXPECT_EQ(store->Read(zero).status().code(), StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Backends, BarStoreTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres), Name);

// ---------------------------------------------------------------- offline features

FeatureSet Ensemble() {
  return {"ensemble@3", "v2", "9f1c", {"ret_1", "ret_5", "atr_14", "rsi_14"}};
}

StoredFeatureRow FeatureRowAt(const std::string& set, int64_t bar, size_t width = 4) {
  StoredFeatureRow row;
  row.symbol = "EURUSD";
  row.feature_set = set;
  row.time = Timestamp::FromNanos(1'704'700'860'000'000'000 + bar * 60'000'000'000);
  row.close = 1.0855 + 1e-5 * static_cast<double>(bar);
  row.spread = 0.00012;
  for (size_t col = 0; col < width; ++col) {
    row.values.push_back(static_cast<float>(bar) * -0.25f + 1e-7f * static_cast<float>(col));
  }
  return row;
}

using FeatureStoreTest = RecordStoreTest;

TEST_P(FeatureStoreTest, RowsComeBackExactlyAsATrainingDatasetAndAreStoredOnce) {
  auto store = MustOpen<FeatureStore>(OpenFeatureStore);
  ASSERT_NE(store, nullptr);
  auto id = store->Register(Ensemble());
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, Ensemble().Id());
  EXPECT_EQ(id->size(), 16u);
  EXPECT_EQ(*store->Register(Ensemble()), *id);  // once
  std::vector<StoredFeatureRow> rows;
  for (int64_t bar = 0; bar < 20; ++bar) rows.push_back(FeatureRowAt(*id, bar));
  ASSERT_EQ(*store->Write(rows), 20u);
  rows.push_back(FeatureRowAt(*id, 20));
  EXPECT_EQ(*store->Write(rows), 1u);  // a restarted features role: only the new row

  // Another connection knows the set from the database.
  auto reader = MustOpen<FeatureStore>(OpenFeatureStore);
  ASSERT_NE(reader, nullptr);
  auto set = reader->FeatureSetOf(*id);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(*set, Ensemble());
  FeatureQuery query{"EURUSD", *id};
  query.from = rows[5].time;
  query.to = rows[15].time;
  auto read = reader->Read(query);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->size(), 10u);
  EXPECT_EQ((*read)[0].values, rows[5].values);  // bit for bit
  EXPECT_EQ((*read)[0].close, rows[5].close);
  EXPECT_EQ((*read)[9].time, rows[14].time);

  auto dataset = reader->ReadDataset(query);
  ASSERT_TRUE(dataset.ok()) << dataset.status().ToString();
  EXPECT_EQ(dataset->feature_names, Ensemble().columns);
  EXPECT_EQ(dataset->feature_set_version, "v2");
  EXPECT_EQ(dataset->feature_set_hash, "9f1c");
  ASSERT_EQ(dataset->rows(), 10u);
  EXPECT_EQ(dataset->x.cols(), 4u);
  EXPECT_EQ(dataset->x(3, 2), rows[8].values[2]);
  EXPECT_EQ(dataset->time[3], rows[8].time);
  EXPECT_EQ(dataset->spread[3], rows[8].spread);
  EXPECT_TRUE(dataset->Validate().ok());
}

TEST_P(FeatureStoreTest, SetsKeepTheirRowsApartAndBadRowsAreRefused) {
  auto store = MustOpen<FeatureStore>(OpenFeatureStore);
  ASSERT_NE(store, nullptr);
  const std::string ensemble = *store->Register(Ensemble());
  // A rule signal reads bars only: its rows have no values.
  const std::string rule = *store->Register({"sma_cross(fast=3,slow=8)", "", "", {}});
  EXPECT_NE(rule, ensemble);
  ASSERT_EQ(*store->Write(std::vector{FeatureRowAt(ensemble, 1), FeatureRowAt(rule, 1, 0)}), 2u);
  auto rule_rows = store->Read({"EURUSD", rule});
  ASSERT_TRUE(rule_rows.ok());
  ASSERT_EQ(rule_rows->size(), 1u);
  EXPECT_TRUE(rule_rows->front().values.empty());
  EXPECT_EQ(store->Read({"EURUSD", ensemble})->size(), 1u);

  EXPECT_EQ(store->Write(std::vector{FeatureRowAt(ensemble, 2, 3)}).status().code(),
            StatusCode::kInvalidArgument);  // three values for four columns
  EXPECT_EQ(store->Write(std::vector{FeatureRowAt("0123456789abcdef", 2)}).status().code(),
            StatusCode::kInvalidArgument);  // no such set
  EXPECT_EQ(store->FeatureSetOf("0123456789abcdef").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->Register({"bad", "", "", {"a\nb"}}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Register({"", "", "", {}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Read({"EURUSD", ensemble}).value().size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, FeatureStoreTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres), Name);

// ---------------------------------------------------------------- opening and migrations

using RecordStoreOpenTest = RecordStoreTest;

// From an empty database (or file): each store creates its tables at open, records its version
// under its own component, shares the database with the others, and a reopen changes nothing.
TEST_P(RecordStoreOpenTest, EveryStoreMigratesAnEmptyDatabaseOnceAndTheyShareIt) {
  ASSERT_NE(MustOpen<TradeStore>(OpenTradeStore), nullptr);
  ASSERT_NE(MustOpen<BarStore>(OpenBarStore), nullptr);
  ASSERT_NE(MustOpen<FeatureStore>(OpenFeatureStore), nullptr);
  auto trades = MustOpen<TradeStore>(OpenTradeStore);
  ASSERT_NE(trades, nullptr);
  EXPECT_EQ(*trades->Write(std::vector{Trade("s", 1, "EURUSD", 1)}), 1u);
  if (GetParam() == Backend::kPostgres) {
    auto conn = pg::Connection::Open(location_);
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    for (const char* component : {"trades", "bars", "offline_features"}) {
      EXPECT_EQ(*pg::SchemaVersion(**conn, component), 1) << component;
    }
    auto tables = (*conn)->Exec(
        "SELECT count(*)::bigint FROM pg_tables WHERE schemaname = 'public' AND tablename IN"
        " ('trades', 'bars', 'feature_sets', 'feature_rows')",
        "count tables");
    ASSERT_TRUE(tables.ok()) << tables.status().ToString();
    EXPECT_EQ(*tables->Int64(0, 0), 4);
  } else {
    auto db = sqlite::Database::Open(location_, {});
    ASSERT_TRUE(db.ok());
    auto versions = db->QueryText(
        "SELECT group_concat(component || '=' || version, ',') FROM (SELECT component, version"
        " FROM aits_schema_migrations ORDER BY component)",
        "read versions");
    ASSERT_TRUE(versions.ok());
    EXPECT_EQ(versions->value_or(""), "bars=1,offline_features=1,trades=1");
  }
}

// A database a newer build migrated is refused, naming the store and the versions.
TEST_P(RecordStoreOpenTest, ANewerSchemaIsRefused) {
  ASSERT_NE(MustOpen<BarStore>(OpenBarStore), nullptr);
  const char* newer =
      "INSERT INTO aits_schema_migrations(component, version, name, applied_ns)"
      " VALUES('bars', 2, 'from the future', 0)";
  if (GetParam() == Backend::kPostgres) {
    auto conn = pg::Connection::Open(location_);
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE((*conn)
                    ->ExecScript("INSERT INTO aits_schema_migrations(component, version, name)"
                                 " VALUES('bars', 2, 'from the future')",
                                 "forge")
                    .ok());
  } else {
    auto db = sqlite::Database::Open(location_, {});
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec(newer, "forge").ok());
  }
  auto opened = OpenBarStore(location_);
  ASSERT_EQ(opened.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(opened.status().message().find("bar store"), std::string::npos)
      << opened.status().ToString();
  // The other components of the database are not concerned.
  EXPECT_TRUE(OpenTradeStore(location_).ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, RecordStoreOpenTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres), Name);

// Bad locations are clear errors at open, naming what and where.
TEST(RecordStoreLocationTest, UnreachableServerMissingDirectoryAndSessionPartAreRefused) {
  auto port = test_servers::FreePort();
  ASSERT_TRUE(port.ok());
  const std::string down =
      "postgresql://aits@127.0.0.1:" + std::to_string(*port) + "/aits?connect_timeout=2";
  auto trades = OpenTradeStore(down);
  ASSERT_EQ(trades.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(trades.status().message().find("trade store"), std::string::npos);
  EXPECT_NE(trades.status().message().find("127.0.0.1:" + std::to_string(*port)), std::string::npos)
      << trades.status().ToString();

  auto bars = OpenBarStore("/nonexistent-dir/bars.db");
  ASSERT_FALSE(bars.ok());
  EXPECT_NE(bars.status().message().find("bar store /nonexistent-dir/bars.db"), std::string::npos)
      << bars.status().ToString();

  auto features = OpenFeatureStore("postgresql://aits@127.0.0.1:5432/aits#session");
  ASSERT_EQ(features.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(features.status().message().find("offline feature store"), std::string::npos);
}

// A server restarted while a batch of trades is written and a page is read: both wait for it
// (pg::StoreRetry, about 5 s) and succeed, every trade stored once. Without the retries both
// fail with Unavailable and the role writing them restarts.
TEST(RecordStoreKillTest, AWriteAndAReadRideOutAServerRestart) {
  auto server = test_servers::PostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const std::string uri =
      "postgresql://aits@127.0.0.1:" + std::to_string((*server)->port()) + "/postgres";
  auto writer = OpenTradeStore(uri);
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  auto reader = OpenTradeStore(uri);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::vector<StoredTrade> first;
  std::vector<StoredTrade> second;
  for (int64_t number = 1; number <= 200; ++number) {
    (number <= 100 ? first : second).push_back(Trade("owner", number, "EURUSD", 100 * number));
  }
  ASSERT_EQ(*(*writer)->Write(first), 100u);

  (*server)->Kill();
  // Their connections are dead, so both calls fail at first and only their retries save them.
  ASSERT_TRUE((*server)->WaitForBackendsToExit(Duration::Seconds(30)).ok());
  Result<size_t> written = Internal("not run");
  Result<TradePage> page = Internal("not run");
  const Status restarted = (*server)->RestartWhile(
      {[&] { written = (*writer)->Write(second); }, [&] { page = (*reader)->Read(TradeQuery{}); }});
  ASSERT_TRUE(restarted.ok()) << restarted.ToString();
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  EXPECT_EQ(*written, 100u);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_GE(page->trades.size(), 100u);  // the first batch, and the second if it landed first
  const std::vector<StoredTrade> all = ReadAll(**reader, {});
  ASSERT_EQ(all.size(), 200u);
  for (size_t idx = 0; idx < all.size(); ++idx) {
    EXPECT_EQ(all[idx].number, static_cast<int64_t>(idx) + 1);
  }
}

}  // namespace
}  // namespace aits::persistence
