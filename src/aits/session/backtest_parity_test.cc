// One node configuration, two modes: a backtest and a paper session of the same spec over the same
// tick file make the same decisions, byte for byte, and end with the same account. Both build
// their kernel through node::BuildNode from session::NodeConfigFor (docs/architecture.md, "The
// node"); only the driver differs (the backtest reads as fast as it can, the paper session logs
// every tick and output to its event log first).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "aits/backtest/backtest.h"
#include "aits/data/synthetic.h"
#include "aits/persistence/codec.h"
#include "aits/persistence/event_store.h"
#include "aits/session/paper.h"
#include "aits/session/replay.h"

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

// ---- Several instruments ----

const std::string kData = AITS_SHARED_DATA_DIR;

// The real one-minute bid/ask bars of a ../shared/data pair as a csv-ticks file: one tick per
// bar, in its last second, at the bar's closing bid and ask. (Paper sessions consume ticks; the
// backtest is given the same file, so both trade the same real prices.)
struct RealFeeds {
  std::string gbpusd;
  std::string usdjpy;
};

std::string WriteBarCloses(const std::string& bid, const std::string& ask, int digits,
                           const std::string& path) {
  data::ReadOptions options;
  options.ask_path = ask;
  options.price_precision = digits;
  auto source = data::OpenBars(bid, options);
  EXPECT_TRUE(source.ok()) << source.status().message();
  if (!source.ok()) return path;
  std::ofstream out(path);
  out << "timestamp,bid,ask\n";
  std::vector<Bar> batch(1024);
  while (true) {
    auto got = (*source)->Read(batch);
    EXPECT_TRUE(got.ok()) << got.status().message();
    if (!got.ok() || *got == 0) break;
    for (size_t idx = 0; idx < *got; ++idx) {
      const Bar& bar = batch[idx];
      out << FormatIso8601(bar.CloseTime() - Duration::Seconds(1)) << ','
          << bar.bid.close.ToString() << ',' << bar.ask.close.ToString() << '\n';
    }
  }
  return path;
}

RealFeeds WriteRealFeeds(const TempDir& tmp) {
  return {WriteBarCloses(kData + "/gbpusd-m1-bid-2012.csv", kData + "/gbpusd-m1-ask-2012.csv", 5,
                         tmp.Sub("gbpusd-ticks.csv")),
          WriteBarCloses(kData + "/usdjpy-m1-bid-2013.csv", kData + "/usdjpy-m1-ask-2013.csv", 3,
                         tmp.Sub("usdjpy-ticks.csv"))};
}

Instrument Fx(const std::string& symbol, uint32_t id) {
  Instrument instrument = Instrument::Infer(symbol);
  instrument.symbol = symbol;
  instrument.id = InstrumentId{id};
  return instrument;
}

SessionSpec TwoSymbolSpec(const RealFeeds& feeds) {
  SessionSpec spec = ParitySpec(feeds.gbpusd);
  spec.signal_params = "fast=10,slow=30,atr=14,scale=0.2";
  spec.decision = {{"buy_threshold", "0.5"},   {"sell_threshold", "-0.5"},
                   {"close_threshold", "0.2"}, {"sizing", "fixed_fraction"},
                   {"risk_fraction", "0.001"}, {"atr_period", "14"},
                   {"max_lots", "2"}};
  // A group over both whose exposure limit is below some entries' notional: the risk manager
  // refuses them for the group, across the instances.
  spec.risk = {{"base", "defaults"},
               {"max_order_lots", "2"},
               {"max_position_lots", "3"},
               {"group", "both:GBPUSD,USDJPY:max_exposure=150000"}};
  spec.feeds = {FeedSpec{feeds.gbpusd, Fx("GBPUSD", 0), true},
                FeedSpec{feeds.usdjpy, Fx("USDJPY", 1), true}};
  spec.symbol = "GBPUSD";
  spec.instrument = spec.feeds[0].instrument;
  spec.session_id = "multi";
  return spec;
}

PaperOptions AtMaxSpeed(const SessionSpec& spec, std::string state_dir) {
  PaperOptions options;
  options.spec = spec;
  options.state_dir = std::move(state_dir);
  options.speed = 0;
  return options;
}

// Everything a session logged, by type: payloads in log order.
struct Logged {
  std::vector<std::string> decisions;
  std::vector<std::string> fills;
  std::vector<std::string> updates;
  std::vector<std::string> ticks;
};

Logged ReadLog(const std::string& state_dir) {
  Logged logged;
  auto store = persistence::EventStore::OpenReadOnly(state_dir + "/events.db");
  EXPECT_TRUE(store.ok()) << store.status().message();
  if (!store.ok()) return logged;
  EXPECT_TRUE((*store)
                  ->Scan(1,
                         [&](const persistence::Event& event) {
                           switch (event.type) {
                             case persistence::EventType::kDecision:
                               logged.decisions.push_back(event.payload);
                               break;
                             case persistence::EventType::kFill:
                               logged.fills.push_back(event.payload);
                               break;
                             case persistence::EventType::kOrderUpdate:
                               logged.updates.push_back(event.payload);
                               break;
                             case persistence::EventType::kTick:
                               logged.ticks.push_back(event.payload);
                               break;
                             default:
                               break;
                           }
                           return Status::Ok();
                         })
                  .ok());
  return logged;
}

// Two real instruments, one strategy instance each, one account and risk manager across them: the
// paper session at --speed max (one data client per feed, merged by the event loop) and the
// backtest of the same node configuration (data::MergedTickSource) make the same decisions, orders
// and fills, byte for byte, and end with the same account.
TEST(BacktestPaperParityTest, SeveralInstrumentsTradeIdentically) {
  TempDir tmp;
  const RealFeeds feeds = WriteRealFeeds(tmp);
  const SessionSpec spec = TwoSymbolSpec(feeds);
  const PaperOptions options = AtMaxSpeed(spec, tmp.Sub("paper"));
  auto paper = RunPaper(options);
  ASSERT_TRUE(paper.ok()) << paper.status().message();
  ASSERT_TRUE(paper->feed_ended);
  const Logged logged = ReadLog(options.state_dir);

  std::vector<std::string> backtest_decisions;
  auto node = NodeConfigFor(spec, MakeRuleSignalFor,
                            [&backtest_decisions](Timestamp, std::string_view json) {
                              backtest_decisions.emplace_back(json);
                            });
  ASSERT_TRUE(node.ok()) << node.status().message();
  ASSERT_EQ(node->kernel.risk->groups.size(), 1u);
  backtest::BacktestConfig config;
  config.feeds = {backtest::FeedConfig{spec.feeds[0].instrument, feeds.gbpusd, ""},
                  backtest::FeedConfig{spec.feeds[1].instrument, feeds.usdjpy, ""}};
  config.kernel = node->kernel;
  config.kernel.history = 0;  // every order, to compare with the log (paper keeps the last ones)
  config.decision = node->decision;
  config.strategy = spec.signal;
  auto backtest = backtest::RunBacktest(config);
  ASSERT_TRUE(backtest.ok()) << backtest.status().message();

  ASSERT_EQ(paper->symbols.size(), 2u);
  EXPECT_EQ(paper->symbols[0].ticks, 30'117u);
  EXPECT_EQ(paper->symbols[1].ticks, 28'761u);
  EXPECT_EQ(backtest->ticks, paper->ticks);
  for (const PaperSymbolResult& symbol : paper->symbols) {
    EXPECT_GT(symbol.fills, 10u) << symbol.symbol << " should trade";
  }
  uint64_t group_refusals = 0;
  for (const Order& order : backtest->orders) {
    group_refusals += order.reject_reason == RejectReason::kRiskCorrelatedExposure;
  }
  EXPECT_GT(group_refusals, 0u) << "the correlation group should refuse some orders";
  EXPECT_EQ(backtest->decisions, paper->decisions);
  ASSERT_EQ(backtest_decisions.size(), logged.decisions.size());
  for (size_t idx = 0; idx < logged.decisions.size(); ++idx) {
    ASSERT_EQ(backtest_decisions[idx], logged.decisions[idx]) << "decision " << idx;
  }
  ASSERT_EQ(backtest->fills.size(), logged.fills.size());
  for (size_t idx = 0; idx < logged.fills.size(); ++idx) {
    std::string mine;
    // A netting session logs its fills without their position ticket (session.cc), so that its
    // log reads as before tickets were logged; the backtest's fills carry it.
    Fill fill = backtest->fills[idx];
    fill.position_ticket = 0;
    persistence::EncodeFill(fill, &mine);
    ASSERT_EQ(mine, logged.fills[idx]) << "fill " << idx;
  }
  // Every order's last logged state is the backtest's order.
  std::map<uint64_t, std::string> last_update;
  for (const std::string& payload : logged.updates) {
    auto order = persistence::DecodeOrder(payload);
    ASSERT_TRUE(order.ok());
    last_update[order->id.value] = payload;
  }
  ASSERT_EQ(backtest->orders.size(), paper->orders);
  ASSERT_EQ(last_update.size(), backtest->orders.size());
  for (const Order& order : backtest->orders) {
    std::string mine;
    persistence::EncodeOrder(order, &mine);
    EXPECT_EQ(mine, last_update[order.id.value]) << "order " << order.id.value;
  }
  EXPECT_EQ(backtest->final_account.balance.raw(), paper->account.balance.raw());
  EXPECT_EQ(backtest->final_account.equity.raw(), paper->account.equity.raw());
  // Per symbol: the backtest's summary and the session's own counts agree, and the symbols' net
  // P&L is the balance's change.
  const auto summaries = backtest::SummarizeBySymbol(*backtest);
  ASSERT_EQ(summaries.size(), 2u);
  Money net;
  for (size_t idx = 0; idx < 2; ++idx) {
    EXPECT_EQ(summaries[idx].symbol, paper->symbols[idx].symbol);
    EXPECT_EQ(summaries[idx].orders, paper->symbols[idx].orders);
    EXPECT_EQ(summaries[idx].fills, paper->symbols[idx].fills);
    EXPECT_EQ(summaries[idx].net_pnl.raw(), paper->symbols[idx].net_pnl.raw())
        << summaries[idx].symbol;
    net += paper->symbols[idx].net_pnl;
  }
  EXPECT_EQ(net.raw(), (paper->account.balance - *Money::FromDouble(spec.balance)).raw());

  // The log alone replays to the same session.
  auto store = persistence::EventStore::OpenReadOnly(options.state_dir + "/events.db");
  ASSERT_TRUE(store.ok());
  auto replayed = Replay(**store, MakeRuleSignalFor);
  ASSERT_TRUE(replayed.ok()) << replayed.status().message();
  EXPECT_TRUE(replayed->equal) << replayed->divergence.logged << " / "
                               << replayed->divergence.produced;
  EXPECT_EQ(replayed->account.balance.raw(), paper->account.balance.raw());
  EXPECT_EQ(replayed->fills, paper->fills);
}

// Stopped mid-way (inside the first feed, and again once the merge is in the second) and resumed
// from the log: the same events as one uninterrupted run, and the same account.
TEST(BacktestPaperParityTest, SeveralInstrumentsResumeAsIfNeverStopped) {
  TempDir tmp;
  const RealFeeds feeds = WriteRealFeeds(tmp);
  const SessionSpec spec = TwoSymbolSpec(feeds);
  const PaperOptions whole = AtMaxSpeed(spec, tmp.Sub("whole"));
  auto uninterrupted = RunPaper(whole);
  ASSERT_TRUE(uninterrupted.ok()) << uninterrupted.status().message();

  PaperOptions parts = whole;
  parts.state_dir = tmp.Sub("parts");
  parts.stop_after = 20'000;
  auto first = RunPaper(parts);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_FALSE(first->feed_ended);
  parts.spec_given = false;
  parts.stop_after = 20'000;
  auto second = RunPaper(parts);
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_TRUE(second->resumed);
  EXPECT_FALSE(second->feed_ended);
  parts.stop_after = 0;
  auto third = RunPaper(parts);
  ASSERT_TRUE(third.ok()) << third.status().message();
  EXPECT_TRUE(third->feed_ended);
  EXPECT_EQ(third->resumed_ticks, 40'000u);

  const Logged a = ReadLog(whole.state_dir);
  const Logged b = ReadLog(parts.state_dir);
  EXPECT_EQ(a.ticks, b.ticks);
  EXPECT_EQ(a.decisions, b.decisions);
  EXPECT_EQ(a.fills, b.fills);
  EXPECT_EQ(a.updates, b.updates);
  EXPECT_EQ(uninterrupted->account.balance.raw(), third->account.balance.raw());
  EXPECT_EQ(uninterrupted->account.equity.raw(), third->account.equity.raw());
  EXPECT_EQ(uninterrupted->decisions, third->decisions);
  ASSERT_EQ(third->symbols.size(), 2u);
  EXPECT_EQ(third->symbols[0].ticks, 30'117u);
  EXPECT_EQ(third->symbols[1].ticks, 28'761u);
  for (size_t idx = 0; idx < 2; ++idx) {
    EXPECT_EQ(uninterrupted->symbols[idx].net_pnl.raw(), third->symbols[idx].net_pnl.raw());
    EXPECT_EQ(uninterrupted->symbols[idx].fills, third->symbols[idx].fills);
  }
}

// Bad specs: a symbol given twice, a feed that cannot be opened, ids that are not 0..n-1 once.
TEST(BacktestPaperParityTest, BadFeedsAreRefusedNamingTheFeed) {
  TempDir tmp;
  SessionSpec spec = ParitySpec(WriteTickFile(tmp.Sub("eurusd-ticks.csv"), 100));
  spec.feeds = {FeedSpec{spec.feed, Fx("EURUSD", 0), true},
                FeedSpec{spec.feed, Fx("EURUSD", 1), true}};
  auto twice = Session::Create(spec);
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("feeds[1] (EURUSD): symbol EURUSD has two feeds"),
            std::string::npos)
      << twice.status().message();

  spec.feeds[1] = FeedSpec{tmp.Sub("missing.csv"), Fx("GBPUSD", 1), true};
  ASSERT_TRUE(Session::Create(spec).ok());
  auto opened = OpenFeeds(spec);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.status().message().find("GBPUSD feed"), std::string::npos)
      << opened.status().message();
  EXPECT_NE(opened.status().message().find("missing.csv"), std::string::npos)
      << opened.status().message();

  spec.feeds[1].instrument.id = InstrumentId{0};
  auto ids = Session::Create(spec);
  ASSERT_FALSE(ids.ok());
  EXPECT_NE(ids.status().message().find("feeds[1] (GBPUSD): instrument id 0"), std::string::npos)
      << ids.status().message();

  // The description in a log is checked the same way.
  spec.feeds[1].instrument.id = InstrumentId{1};
  spec.feeds[0].traded = spec.feeds[1].traded = false;
  auto parsed = SessionSpec::FromJson(spec.ToJson());
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("nothing is traded"), std::string::npos);
  spec.feeds[0].traded = true;
  auto round_trip = SessionSpec::FromJson(spec.ToJson());
  ASSERT_TRUE(round_trip.ok()) << round_trip.status().message();
  EXPECT_EQ(round_trip->FirstDifference(spec), "");
  ASSERT_EQ(round_trip->feeds.size(), 2u);
  EXPECT_FALSE(round_trip->feeds[1].traded);
  EXPECT_EQ(round_trip->feeds[1].instrument.id.value, 1u);
}

}  // namespace
}  // namespace aits::session
