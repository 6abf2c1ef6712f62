// One node configuration, two modes: a backtest and a paper session of the same spec over the same
// tick file make the same decisions, byte for byte, and end with the same account. Both build
// their kernel through node::BuildNode from session::NodeConfigFor (docs/architecture.md, "The
// node"); only the driver differs (the backtest reads as fast as it can, the paper session logs
// every tick and output to its event log first).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "aits/backtest/backtest.h"
#include "aits/data/synthetic.h"
#include "aits/persistence/event_store.h"
#include "aits/session/paper.h"

namespace aits::session {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("aits_parity_test_" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string Sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

// `count` synthetic EURUSD ticks as a csv-ticks file (timestamp,bid,ask).
std::string WriteTickFile(const std::string& path, uint64_t count) {
  data::SyntheticOptions options;
  options.seed = 7;
  options.count = count;
  options.start = FromCivil(2024, 1, 8);
  options.digits = 5;
  auto source = data::SyntheticTickSource::Create(options);
  EXPECT_TRUE(source.ok());
  std::ofstream out(path);
  out << "timestamp,bid,ask\n";
  std::vector<Tick> batch(1024);
  while (true) {
    auto got = (*source)->Read(batch);
    EXPECT_TRUE(got.ok());
    if (!got.ok() || *got == 0) break;
    for (size_t idx = 0; idx < *got; ++idx) {
      out << FormatIso8601(batch[idx].ts) << ',' << batch[idx].bid.ToString() << ','
          << batch[idx].ask.ToString() << '\n';
    }
  }
  return path;
}

SessionSpec ParitySpec(const std::string& feed) {
  SessionSpec spec;
  spec.feed = feed;
  spec.instrument = Instrument::Infer("EURUSD");
  spec.signal = "sma_cross";
  spec.signal_params = "fast=3,slow=8,atr=5,scale=0.2";
  spec.decision = {{"buy_threshold", "0.5"},   {"sell_threshold", "-0.5"},
                   {"close_threshold", "0.2"}, {"sizing", "fixed_fraction"},
                   {"risk_fraction", "0.001"}, {"atr_period", "5"},
                   {"max_lots", "10"}};
  // Tight enough that the risk manager refuses some orders: the stack, not just the signal,
  // must agree.
  spec.risk = {{"base", "defaults"}, {"max_order_lots", "2"}, {"max_position_lots", "3"}};
  spec.commission = "per_lot:7";
  spec.latency_us = 250'000;
  spec.session_id = "parity";
  return spec;
}

TEST(BacktestPaperParityTest, SameNodeConfigTradesIdentically) {
  TempDir tmp;
  const std::string ticks = WriteTickFile(tmp.Sub("eurusd-ticks.csv"), 30'000);
  const SessionSpec spec = ParitySpec(ticks);

  // Paper: the session's decision records as logged.
  PaperOptions options;
  options.spec = spec;
  options.state_dir = tmp.Sub("paper");
  options.speed = 0;
  auto paper = RunPaper(options);
  ASSERT_TRUE(paper.ok()) << paper.status().message();
  ASSERT_TRUE(paper->feed_ended);
  std::vector<std::string> paper_decisions;
  auto store = persistence::EventStore::OpenReadOnly(options.state_dir + "/events.db");
  ASSERT_TRUE(store.ok()) << store.status().message();
  ASSERT_TRUE((*store)
                  ->Scan(1,
                         [&](const persistence::Event& event) {
                           if (event.type == persistence::EventType::kDecision) {
                             paper_decisions.push_back(event.payload);
                           }
                           return Status::Ok();
                         })
                  .ok());

  // Backtest: the same node configuration, driven from the same file.
  std::vector<std::string> backtest_decisions;
  auto node = NodeConfigFor(spec, MakeRuleSignalFor,
                            [&backtest_decisions](Timestamp, std::string_view json) {
                              backtest_decisions.emplace_back(json);
                            });
  ASSERT_TRUE(node.ok()) << node.status().message();
  backtest::BacktestConfig config;
  config.data_path = ticks;
  config.instrument = node->instruments.front();
  config.kernel = node->kernel;
  config.decision = node->decision;
  config.strategy = spec.signal;
  auto backtest = backtest::RunBacktest(config);
  ASSERT_TRUE(backtest.ok()) << backtest.status().message();

  ASSERT_GT(paper->fills, 10u) << "the test should trade";
  uint64_t rejected = 0;
  for (const Order& order : backtest->orders) rejected += order.status == OrderStatus::kRejected;
  EXPECT_GT(rejected, 0u) << "the risk limits should refuse some orders";
  EXPECT_EQ(backtest->ticks, paper->ticks);
  EXPECT_EQ(backtest->decisions, paper->decisions);
  ASSERT_EQ(backtest_decisions.size(), paper_decisions.size());
  for (size_t idx = 0; idx < paper_decisions.size(); ++idx) {
    ASSERT_EQ(backtest_decisions[idx], paper_decisions[idx]) << "decision " << idx;
  }
  EXPECT_EQ(backtest->orders.size(), paper->orders);
  EXPECT_EQ(backtest->fills.size(), paper->fills);
  EXPECT_EQ(backtest->final_account.balance.raw(), paper->account.balance.raw());
  EXPECT_EQ(backtest->final_account.equity.raw(), paper->account.equity.raw());
}

}  // namespace
}  // namespace aits::session
