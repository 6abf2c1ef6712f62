// What the features role keeps beyond the bus (stage_records.h): every bar and ready row stored
// once through the writer's thread, and a store that fails ending the role with its error.
// Against a real PostgreSQL server started for this binary.
#include "aits/services/stage_records.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "aits/persistence/bar_store.h"
#include "aits/testing/servers.h"
#include "aits/testing/shared_postgres_test_util.h"

namespace aits::services {
namespace {

const auto* const kPostgresEnvironment =
    ::testing::AddGlobalTestEnvironment(new test_servers::SharedPostgresEnvironment);

// A source whose rows have two named values.
class TwoFeatures final : public trading::SignalSource {
 public:
  std::string_view name() const override { return "two"; }
  bool OnBar(const Bar& /*bar*/, decision::Signal* /*signal*/) override { return false; }
  void Describe(trading::JsonWriter& /*out*/, bool /*explain*/) const override {}
  size_t row_size() const override { return names_.size(); }
  std::span<const std::string> feature_names() const override { return names_; }

 private:
  std::vector<std::string> names_ = {"ret_1", "atr_14"};
};

Bar BarAt(int64_t minute) {
  Bar bar;
  bar.period = Duration::Minutes(1);
  bar.open_time = Timestamp{1'704'700'800'000'000'000 + minute * 60'000'000'000};
  const Price price = Price::FromRaw(1'085'000'000 + minute * 1000, 5);
  bar.bid = bar.ask = bar.mid = {price, price, price, price};
  bar.tick_count = 10;
  return bar;
}

std::string Database(const std::string& name) {
  EXPECT_TRUE(test_servers::SharedPostgresEnvironment::server()->CreateDatabase(name).ok());
  return "postgresql://aits@127.0.0.1:" +
         std::to_string(test_servers::SharedPostgresEnvironment::server()->port()) + "/" + name;
}

// 1,000 bars in batches of 64, the first 10 warming up: every bar and the 990 ready rows are
// stored; the same again (a restarted role) stores nothing new.
TEST(StageRecordsTest, EveryBarAndReadyRowIsStoredOnceInBatches) {
  ASSERT_NE(test_servers::SharedPostgresEnvironment::server(), nullptr);
  StageRecordOptions options;
  options.bars = options.offline_features = Database("records_once");
  options.feature_set = "two@1";
  options.batch = 64;
  TwoFeatures source;
  for (const bool again : {false, true}) {
    auto records = StageRecords::Open(options, source);
    ASSERT_TRUE(records.ok()) << records.status().ToString();
    for (int64_t minute = 0; minute < 1000; ++minute) {
      (*records)->Add("EURUSD", BarAt(minute), minute >= 10, {static_cast<float>(minute), 0.5f});
      ASSERT_TRUE((*records)->Flush().ok());
    }
    ASSERT_TRUE((*records)->Finish().ok());
    const RecordCounters counters = (*records)->counters();
    EXPECT_EQ(counters.bars, 1000u);
    EXPECT_EQ(counters.rows, 990u);
    EXPECT_EQ(counters.bars_new, again ? 0u : 1000u);
    EXPECT_EQ(counters.rows_new, again ? 0u : 990u);
    EXPECT_GE(counters.writes, 1990u / 64);
    EXPECT_LE(counters.writes, 1990u / 64 + 1);
  }
  auto features = persistence::OpenFeatureStore(options.offline_features);
  ASSERT_TRUE(features.ok());
  const persistence::FeatureSet set{"two@1", "", "", {"ret_1", "atr_14"}};
  auto dataset = (*features)->ReadDataset({"EURUSD", set.Id()});
  ASSERT_TRUE(dataset.ok()) << dataset.status().ToString();
  ASSERT_EQ(dataset->rows(), 990u);
  EXPECT_EQ(dataset->x(0, 0), 10.0f);
  EXPECT_EQ(dataset->time[0], BarAt(10).CloseTime());
}

// The server killed under a writing role: once the store's retries (about 5 s) run out, the next
// Flush or the Finish fails with the error naming the store, and what the counters claim stored
// is exactly what the database holds after a restart. (The killed postmaster's backend may
// still commit a batch or two before it notices: those are stored, and counted.)
TEST(StageRecordsTest, AStoreThatFailsEndsTheRunWithItsError) {
  test_servers::PostgresServer* server = test_servers::SharedPostgresEnvironment::server();
  ASSERT_NE(server, nullptr);
  StageRecordOptions options;
  options.bars = Database("records_killed");
  options.batch = 8;
  TwoFeatures source;
  auto records = StageRecords::Open(options, source);
  ASSERT_TRUE(records.ok()) << records.status().ToString();
  server->Kill();
  // Bars keep coming until the failure reaches the run (the orphaned backend lives for a moment;
  // on a loaded machine it has taken over 100 bars).
  Status status;
  int64_t added = 0;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (status.ok() && std::chrono::steady_clock::now() < give_up) {
    (*records)->Add("EURUSD", BarAt(added++), true, {});
    status = (*records)->Flush();
  }
  if (status.ok()) status = (*records)->Finish();
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.ToString();
  EXPECT_EQ(status.message().rfind("bar store: ", 0), 0u) << status.ToString();
  EXPECT_NE(status.message().find("127.0.0.1:" + std::to_string(server->port())), std::string::npos)
      << status.ToString();
  const uint64_t claimed = (*records)->counters().bars_new;
  EXPECT_LT(claimed, static_cast<uint64_t>(added));
  ASSERT_TRUE(server->Restart().ok());
  auto bars = persistence::OpenBarStore(options.bars);
  ASSERT_TRUE(bars.ok()) << bars.status().ToString();
  persistence::BarQuery query{"EURUSD", Duration::Minutes(1)};
  query.limit = 1'000'000;
  auto stored = (*bars)->Read(query);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(stored->size(), claimed);
}

}  // namespace
}  // namespace aits::services
