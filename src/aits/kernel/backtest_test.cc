#include "aits/kernel/backtest.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace aits::kernel {
namespace {

const std::string kData = AITS_SHARED_DATA_DIR;

BacktestConfig GbpUsd() {
  BacktestConfig config;
  config.data_path = kData + "/gbpusd-m1-bid-2012.csv";
  config.ask_path = kData + "/gbpusd-m1-ask-2012.csv";
  config.instrument = Instrument::Infer("GBPUSD");
  config.strategy = "sma_cross";
  config.params = *strategy::StrategyParams::Parse("fast=10,slow=30");
  config.kernel.venue.commission = *execution::ParseCommission("per_lot:7");
  return config;
}

TEST(BacktestTest, RealGbpUsdBarsGiveAConsistentReport) {
  auto result = RunBacktest(GbpUsd());
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_TRUE(result->bar_data);
  EXPECT_EQ(result->bars, 30'117u);
  EXPECT_EQ(result->read_stats.TotalRejected(), 0u);
  EXPECT_GT(result->stats.trades, 100);
  // The ledger adds up: initial + realised - commission + open P&L = final equity.
  const auto& s = result->stats;
  EXPECT_NEAR(s.initial_equity + s.net_profit, s.final_equity, 0.01);
  double trade_sum = 0;
  for (const auto& trade : result->trades) trade_sum += trade.net_pnl.AsDouble();
  EXPECT_LE(std::fabs(trade_sum - (result->final_account.balance.AsDouble() - s.initial_equity)),
            // commissions of a still-open position are in the balance but not in a trade yet
            20.0);
  EXPECT_GT(s.total_commission, 0);
  EXPECT_GE(s.max_drawdown, 0);
  EXPECT_LE(s.max_drawdown, 1);
  // Bar data fill at the next bar's open: every fill is at some bar's open price.
  for (const auto& fill : result->fills) EXPECT_GT(fill.price.raw(), 0);
}

TEST(BacktestTest, SameInputsSameResult) {
  auto first = RunBacktest(GbpUsd());
  auto second = RunBacktest(GbpUsd());
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_EQ(first->fills.size(), second->fills.size());
  EXPECT_EQ(first->final_account.equity, second->final_account.equity);
  EXPECT_EQ(MetricsJson(*first).size() > 0, true);
}

TEST(BacktestTest, TickDataRunsThroughBarsBuiltFromTicks) {
  BacktestConfig config;
  config.data_path = kData + "/usdjpy-ticks.csv";
  config.instrument = Instrument::Infer("USDJPY");
  config.params = *strategy::StrategyParams::Parse("fast=3,slow=8,lots=0.1");
  auto result = RunBacktest(config);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_FALSE(result->bar_data);
  EXPECT_EQ(result->ticks + result->read_stats.TotalRejected(), 1'000u);
  EXPECT_GT(result->bars, 10u);
}

// The window passes exactly the bars (or ticks) in [start, end) and a strategy factory replaces
// the named built-in.
TEST(BacktestTest, TimeWindowAndStrategyFactory) {
  BacktestConfig config = GbpUsd();
  auto full = RunBacktest(config);
  ASSERT_TRUE(full.ok());
  config.start = FromCivil(2012, 2, 10, 0, 0, 0);
  config.end = FromCivil(2012, 2, 17, 0, 0, 0);
  config.strategy_factory = [](const Instrument& instrument) {
    return strategy::MakeStrategy("buy_and_hold", strategy::StrategyParams(), instrument);
  };
  auto window = RunBacktest(config);
  ASSERT_TRUE(window.ok()) << window.status().ToString();
  EXPECT_GT(window->bars, 5'000u);
  EXPECT_LT(window->bars, full->bars / 2);
  EXPECT_GE(window->first.ns, config.start->ns);
  EXPECT_LE(window->last.ns, config.end->ns);
  ASSERT_FALSE(window->fills.empty());
  EXPECT_EQ(window->fills.size(), 1u);  // bought once, held
  EXPECT_EQ(window->fills[0].side, Side::kBuy);

  config.start = FromCivil(2030, 1, 1, 0, 0, 0);
  config.end.reset();
  auto empty = RunBacktest(config);
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("within the time window"), std::string::npos);

  BacktestConfig ticks;
  ticks.data_path = kData + "/usdjpy-ticks.csv";
  ticks.instrument = Instrument::Infer("USDJPY");
  auto all_ticks = RunBacktest(ticks);
  ASSERT_TRUE(all_ticks.ok());
  ticks.start = Timestamp{all_ticks->first.ns + Duration::Minutes(5).ns};
  auto later = RunBacktest(ticks);
  ASSERT_TRUE(later.ok());
  EXPECT_LT(later->ticks, all_ticks->ticks);
  EXPECT_GE(later->first.ns, ticks.start->ns);
}

TEST(BacktestTest, ErrorsNameWhatIsWrong) {
  BacktestConfig config = GbpUsd();
  config.data_path = kData + "/does-not-exist.csv";
  auto missing = RunBacktest(config);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("does-not-exist.csv"), std::string::npos);

  config = GbpUsd();
  config.strategy = "magic";
  EXPECT_NE(RunBacktest(config).status().message().find("magic"), std::string::npos);

  config = GbpUsd();
  config.kernel.leverage = 0;
  EXPECT_FALSE(RunBacktest(config).ok());
}

TEST(BacktestTest, WritesEveryOutputFile) {
  auto result = RunBacktest(GbpUsd());
  ASSERT_TRUE(result.ok());
  const std::string dir = ::testing::TempDir() + "/aits-backtest-out";
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(WriteBacktestOutputs(*result, dir).ok());
  for (const char* name :
       {"metrics.json", "trades.csv", "orders.csv", "equity.csv", "report.html"}) {
    EXPECT_GT(std::filesystem::file_size(dir + "/" + name), 100u) << name;
  }
  std::ifstream in(dir + "/metrics.json");
  const auto doc = nlohmann::json::parse(in);
  EXPECT_EQ(doc["run"]["bars_processed"], 30'117);
  EXPECT_EQ(doc["metrics"]["trades"], result->stats.trades);
  EXPECT_TRUE(doc["data"]["rejected"].contains("time_backwards"));
  // An unwritable directory is an error naming it.
  EXPECT_FALSE(WriteBacktestOutputs(*result, "/proc/aits-cannot-write").ok());
}

}  // namespace
}  // namespace aits::kernel
