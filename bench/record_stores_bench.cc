// The record stores' batch writes (persistence/bar_store.h, feature_store.h), the way the
// features role writes them: one transaction per batch of new records, idempotent by key.
//
//   BM_WriteBars/{sqlite,pg}/batch:N: N new bars per Write.
//   BM_WriteRows/{sqlite,pg}/batch:N: N new feature rows of 32 values per Write.
//   BM_WriteBarsAgain/{sqlite,pg}/batch:N: N bars stored already (a restarted role's writes).
//
// PostgreSQL 15 is started by the bench on loopback (aits::test_servers) with fsync off; the
// SQLite file is in WAL mode with synchronous NORMAL, its default. items_per_second is records/s.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "aits/persistence/bar_store.h"
#include "aits/persistence/feature_store.h"
#include "aits/testing/servers.h"

namespace {

using aits::Duration;
using aits::Price;
using aits::Timestamp;
using aits::persistence::StoredBar;
using aits::persistence::StoredFeatureRow;

// One PostgreSQL server for the process, started at first use.
aits::test_servers::PostgresServer* Postgres() {
  static auto server = aits::test_servers::PostgresServer::Start();
  return server.ok() ? server->get() : nullptr;
}

// A location of its own for each benchmark: a new database, or a file in a new directory.
std::string Location(bool postgres, const aits::test_servers::TempDir& dir) {
  static int databases = 0;
  if (!postgres) return dir.path() + "/records.db";
  const std::string name = "bench" + std::to_string(++databases);
  (void)Postgres()->CreateDatabase(name);
  return "postgresql://aits@127.0.0.1:" + std::to_string(Postgres()->port()) + "/" + name;
}

StoredBar BarAt(int64_t minute) {
  StoredBar stored;
  stored.symbol = "EURUSD";
  stored.bar.period = Duration::Minutes(1);
  stored.bar.open_time = Timestamp{1'704'700'800'000'000'000 + minute * 60'000'000'000};
  const Price price = Price::FromRaw(1'085'000'000 + minute, 5);
  stored.bar.bid = stored.bar.ask = stored.bar.mid = {price, price, price, price};
  stored.bar.tick_count = 120;
  stored.bar.volume = 3.5;
  return stored;
}

template <typename Make, typename Open, typename Write>
void RunBatches(benchmark::State& state, bool postgres, bool again, const Open& open,
                const Make& make, const Write& write) {
  const auto batch = static_cast<int64_t>(state.range(0));
  auto dir = aits::test_servers::TempDir::Make("aits-record-stores-bench");
  if (!dir.ok() || (postgres && Postgres() == nullptr)) {
    state.SkipWithError("no temporary directory or PostgreSQL server");
    return;
  }
  auto store = open(Location(postgres, *dir));
  if (!store.ok()) {
    state.SkipWithError(store.status().ToString().c_str());
    return;
  }
  int64_t next = 0;
  std::vector<decltype(make(0))> records;
  for (auto _ : state) {
    state.PauseTiming();
    records.clear();
    if (again) next = 0;  // the same keys every time: all stored after the first
    for (int64_t idx = 0; idx < batch; ++idx) records.push_back(make(next++));
    state.ResumeTiming();
    auto stored = write(**store, records);
    if (!stored.ok()) [[unlikely]] {
      state.SkipWithError(stored.status().ToString().c_str());
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

void BM_WriteBars(benchmark::State& state, bool postgres) {
  RunBatches(state, postgres, /*again=*/false, aits::persistence::OpenBarStore, BarAt,
             [](aits::persistence::BarStore& store, const std::vector<StoredBar>& bars) {
               return store.Write(bars);
             });
}

void BM_WriteBarsAgain(benchmark::State& state, bool postgres) {
  RunBatches(state, postgres, /*again=*/true, aits::persistence::OpenBarStore, BarAt,
             [](aits::persistence::BarStore& store, const std::vector<StoredBar>& bars) {
               return store.Write(bars);
             });
}

void BM_WriteRows(benchmark::State& state, bool postgres) {
  std::vector<std::string> columns;
  for (int col = 0; col < 32; ++col) columns.push_back("f" + std::to_string(col));
  const aits::persistence::FeatureSet set{"bench", "v1", "h", columns};
  const auto make = [id = set.Id()](int64_t bar) {
    StoredFeatureRow row;
    row.symbol = "EURUSD";
    row.feature_set = id;
    row.time = Timestamp{1'704'700'860'000'000'000 + bar * 60'000'000'000};
    row.close = 1.0855;
    row.spread = 0.0001;
    row.values.assign(32, 0.25f);
    return row;
  };
  RunBatches(
      state, postgres, /*again=*/false,
      [&set](const std::string& location)
          -> aits::Result<std::unique_ptr<aits::persistence::FeatureStore>> {
        AITS_ASSIGN_OR_RETURN(std::unique_ptr<aits::persistence::FeatureStore> store,
                              aits::persistence::OpenFeatureStore(location));
        AITS_RETURN_IF_ERROR(store->Register(set).status());
        return store;
      },
      make,
      [](aits::persistence::FeatureStore& store, const std::vector<StoredFeatureRow>& rows) {
        return store.Write(rows);
      });
}

BENCHMARK_CAPTURE(BM_WriteBars, sqlite, false)->Arg(1)->Arg(64)->Arg(512)->UseRealTime();
BENCHMARK_CAPTURE(BM_WriteBars, pg, true)->Arg(1)->Arg(64)->Arg(512)->UseRealTime();
BENCHMARK_CAPTURE(BM_WriteBarsAgain, sqlite, false)->Arg(512)->UseRealTime();
BENCHMARK_CAPTURE(BM_WriteBarsAgain, pg, true)->Arg(512)->UseRealTime();
BENCHMARK_CAPTURE(BM_WriteRows, sqlite, false)->Arg(512)->UseRealTime();
BENCHMARK_CAPTURE(BM_WriteRows, pg, true)->Arg(512)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
