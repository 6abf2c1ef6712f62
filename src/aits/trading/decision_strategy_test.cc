#include "aits/trading/decision_strategy.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "aits/kernel/kernel.h"
#include "aits/trading/scripted_signal_test_util.h"

namespace aits::trading {
namespace {

using testing::ScriptedSignal;

struct Harness {
  SimulatedClock clock;
  std::unique_ptr<kernel::Kernel> kernel;
  DecisionStrategy* strategy = nullptr;
  std::vector<nlohmann::json> records;

  Harness(std::vector<double> strengths, decision::DecisionConfig decision,
          std::optional<risk::RiskLimits> limits, AccountMode mode = AccountMode::kNetting) {
    kernel::KernelConfig config;
    config.risk = limits;
    config.venue.account_mode = mode;
    kernel = std::make_unique<kernel::Kernel>(config, clock);
    EXPECT_TRUE(kernel->AddInstrument(Instrument::Infer("EURUSD")).ok());
    DecisionStrategyOptions options;
    options.client_id_prefix = "t";
    auto owned = std::make_unique<DecisionStrategy>(
        kernel->instrument(InstrumentId{0}), std::make_unique<ScriptedSignal>(std::move(strengths)),
        decision::DecisionEngine(std::move(decision)), options,
        [this](Timestamp, std::string_view json) {
          records.push_back(nlohmann::json::parse(json));
        });
    strategy = owned.get();
    kernel->SetStrategy(std::move(owned));
    kernel->Start();
  }

  // One tick every 20 s around 1.10000 with a 1-pip spread and a small oscillation (ATR > 0);
  // `minutes` more bars, continuing where the last call stopped.
  void Run(int minutes) {
    const Timestamp start = FromCivil(2024, 3, 4, 10, 0);  // a Monday
    const int end = next_tick + minutes * 3 + (next_tick == 0 ? 1 : 0);
    for (int idx = next_tick; idx < end; ++idx) {
      Tick tick;
      tick.ts = start + Duration::Seconds(20 * idx);
      const int64_t wiggle = (idx % 3) * 50 * 10'000;  // 0, 5, 10 points
      tick.bid = Price::FromRaw(1'100'000'000 + wiggle, 5);
      tick.ask = Price::FromRaw(1'100'100'000 + wiggle, 5);
      clock.AdvanceTo(tick.ts);
      kernel->OnTick(tick);
    }
    next_tick = end;
  }
  int next_tick = 0;
};

decision::DecisionConfig FixedLots(double lots) {
  decision::DecisionConfig config;
  config.sizing = decision::SizingMode::kFixedLots;
  config.lots = lots;
  config.scale_by_confidence = false;
  config.atr_period = 2;
  return config;
}

TEST(DecisionStrategyTest, BuysHoldsAndClosesWithRecordsForEveryDecision) {
  Harness h({0.1, 0.8, 0.5, 0.2}, FixedLots(0.5), std::nullopt);
  h.Run(11);
  ASSERT_EQ(h.strategy->decisions(), 4u);
  ASSERT_EQ(h.records.size(), 4u);
  EXPECT_EQ(h.records[0]["action"], "HOLD");
  EXPECT_EQ(h.records[1]["action"], "BUY");
  EXPECT_EQ(h.records[2]["action"], "HOLD");
  EXPECT_EQ(h.records[3]["action"], "CLOSE");
  // The BUY: client id, SL/TP attached, filled by the venue, risk "passed" (no limits set), and
  // the expensive explanation asked for only here.
  const auto& buy = h.records[1];
  EXPECT_EQ(buy["order"]["client_order_id"], "t-1");
  EXPECT_EQ(buy["order"]["status"], "filled");
  EXPECT_TRUE(buy["order"]["risk"]["passed"].get<bool>());
  EXPECT_TRUE(buy["signal"]["explained"].get<bool>());
  EXPECT_FALSE(h.records[0]["signal"].contains("explained"));
  EXPECT_DOUBLE_EQ(buy["sizing"]["lots"].get<double>(), 0.5);
  EXPECT_FALSE(buy["sizing"]["stop_loss"].is_null());
  EXPECT_EQ(h.records[3]["order"]["client_order_id"], "t-2");
  // Orders as the kernel saw them.
  ASSERT_EQ(h.kernel->orders().size(), 2u);
  EXPECT_TRUE(h.kernel->orders()[0].request.stop_loss.has_value());
  EXPECT_TRUE(h.kernel->orders()[0].request.take_profit.has_value());
  EXPECT_FALSE(h.kernel->orders()[1].request.stop_loss.has_value());
  EXPECT_TRUE(h.kernel->position(InstrumentId{0}).IsFlat());
}

TEST(DecisionStrategyTest, NettingRecordNamesItsOneOrderAsBefore) {
  Harness h({0.9, -0.9}, FixedLots(0.5), std::nullopt);
  h.Run(6);
  ASSERT_EQ(h.records.size(), 2u);
  // The reversal is one order of 1 lot on a netting account: "order" only, no ticket.
  const auto& sell = h.records[1];
  EXPECT_EQ(sell["action"], "SELL");
  EXPECT_FALSE(sell.contains("orders"));
  EXPECT_FALSE(sell["order"].contains("position_ticket"));
  EXPECT_DOUBLE_EQ(sell["order"]["lots"].get<double>(), 1.0);
  EXPECT_EQ(sell["order"]["id"], 2);
}

TEST(DecisionStrategyTest, HedgedDecisionRecordNamesEveryOrderAndTheTicketsItCloses) {
  Harness h({0.9, -0.9}, FixedLots(0.5), std::nullopt, AccountMode::kHedging);
  h.Run(4);  // the BUY (0.5 lots) fills: position ticket 1
  ASSERT_EQ(h.records.size(), 1u);
  // A second long position, opened by hand (order 2, ticket 2): the SELL must close both.
  OrderRequest by_hand;
  by_hand.instrument = InstrumentId{0};
  by_hand.side = Side::kBuy;
  by_hand.quantity = *Quantity::Parse("0.30", 2);
  by_hand.client_order_id = "by-hand";
  ASSERT_EQ(h.kernel->Submit(by_hand).value, 2u);
  ASSERT_EQ(h.kernel->orders().size(), 2u);
  EXPECT_EQ(h.kernel->orders()[1].status, OrderStatus::kFilled)
      << ToString(h.kernel->orders()[1].reject_reason);
  ASSERT_EQ(h.kernel->OpenPositions(InstrumentId{0}).size(), 2u);
  h.Run(2);
  ASSERT_EQ(h.records.size(), 2u);
  const auto& sell = h.records[1];
  EXPECT_EQ(sell["action"], "SELL");
  // Reversing 0.8 long into 0.5 short: close ticket 1 (0.5), close ticket 2 (0.3), open 0.5.
  ASSERT_TRUE(sell.contains("orders")) << sell.dump();
  const auto& orders = sell["orders"];
  ASSERT_EQ(orders.size(), 3u);
  EXPECT_EQ(orders[0]["id"], 3);
  EXPECT_EQ(orders[0]["client_order_id"], "t-2");
  EXPECT_EQ(orders[0]["position_ticket"], 1);
  EXPECT_DOUBLE_EQ(orders[0]["lots"].get<double>(), 0.5);
  EXPECT_EQ(orders[1]["id"], 4);
  EXPECT_EQ(orders[1]["client_order_id"], "t-3");
  EXPECT_EQ(orders[1]["position_ticket"], 2);
  EXPECT_DOUBLE_EQ(orders[1]["lots"].get<double>(), 0.3);
  EXPECT_EQ(orders[2]["id"], 5);
  EXPECT_EQ(orders[2]["client_order_id"], "t-4");
  EXPECT_FALSE(orders[2].contains("position_ticket"));
  EXPECT_DOUBLE_EQ(orders[2]["lots"].get<double>(), 0.5);
  for (const auto& order : orders) EXPECT_EQ(order["status"], "filled") << order.dump();
  EXPECT_EQ(sell["order"], orders[2]);  // "order" is still the last, for readers of one order
  // The kernel's view agrees: one short position of 0.5 lots left.
  ASSERT_EQ(h.kernel->OpenPositions(InstrumentId{0}).size(), 1u);
  EXPECT_EQ(h.kernel->OpenPositions(InstrumentId{0})[0].side, Side::kSell);
}

TEST(DecisionStrategyTest, RiskRejectionIsPartOfTheRecord) {
  risk::RiskLimits limits = risk::RiskLimits::Defaults();
  limits.max_order_lots = 0.2;  // the 0.5-lot entry is too big
  Harness h({0.9}, FixedLots(0.5), limits);
  h.Run(9);
  ASSERT_EQ(h.records.size(), 1u);
  const auto& order = h.records[0]["order"];
  EXPECT_EQ(order["status"], "rejected");
  EXPECT_FALSE(order["risk"]["passed"].get<bool>());
  EXPECT_EQ(order["risk"]["reason"], "risk_order_size");
  EXPECT_NE(order["risk"]["detail"].get<std::string>(), "");
  EXPECT_TRUE(h.kernel->position(InstrumentId{0}).IsFlat());
  ASSERT_EQ(h.kernel->orders().size(), 1u);
  EXPECT_EQ(h.kernel->orders()[0].reject_reason, RejectReason::kRiskOrderSize);
}

TEST(DecisionStrategyTest, HaltedBreakerRejectsAndFlattens) {
  risk::RiskLimits limits = risk::RiskLimits::Defaults();
  Harness h({0.9, 0.9, -0.9}, FixedLots(0.5), limits);
  h.Run(5);  // the BUY (bar 4) fills; bar 5 holds
  ASSERT_FALSE(h.kernel->position(InstrumentId{0}).IsFlat());
  std::vector<risk::BreakerChange> changes;
  h.kernel->bus().Subscribe<risk::BreakerChange>(
      [&](const risk::BreakerChange& change) { changes.push_back(change); });
  ASSERT_TRUE(h.kernel->SetBreaker(risk::BreakerState::kHalted, "test").ok());
  EXPECT_TRUE(h.kernel->position(InstrumentId{0}).IsFlat());  // halting flattened it
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_TRUE(changes[0].manual);
  EXPECT_EQ(changes[0].to, risk::BreakerState::kHalted);
  h.Run(4);  // the SELL signal is refused while halted
  bool saw_halted_reject = false;
  for (const Order& order : h.kernel->orders()) {
    if (order.reject_reason == RejectReason::kRiskHalted) saw_halted_reject = true;
  }
  EXPECT_TRUE(saw_halted_reject);
  EXPECT_TRUE(h.kernel->position(InstrumentId{0}).IsFlat());
}

TEST(RuleSignalTest, SmaCrossFollowsTheTrendAndRsiFadesIt) {
  const Instrument eurusd = Instrument::Infer("EURUSD");
  auto sma =
      MakeRuleSignal("sma_cross", *strategy::StrategyParams::Parse("fast=3,slow=6,atr=3"), eurusd);
  auto rsi = MakeRuleSignal("rsi", *strategy::StrategyParams::Parse("period=5"), eurusd);
  ASSERT_TRUE(sma.ok());
  ASSERT_TRUE(rsi.ok());
  decision::Signal s_sma, s_rsi;
  bool have_sma = false, have_rsi = false;
  for (int idx = 0; idx < 20; ++idx) {  // a steady climb with some range
    Bar bar;
    bar.period = Duration::Minutes(1);
    bar.open_time = Timestamp{Duration::Minutes(idx).ns};
    const int64_t close = 1'100'000'000 + idx * 200'000;
    bar.mid.open = Price::FromRaw(close - 100'000, 5);
    bar.mid.close = Price::FromRaw(close, 5);
    bar.mid.high = Price::FromRaw(close + 100'000, 5);
    bar.mid.low = Price::FromRaw(close - 200'000, 5);
    have_sma = (*sma)->OnBar(bar, &s_sma);
    have_rsi = (*rsi)->OnBar(bar, &s_rsi);
  }
  ASSERT_TRUE(have_sma && have_rsi);
  EXPECT_GT(s_sma.strength, 0.7);  // fast above slow by more than the scale: buy
  EXPECT_LE(s_sma.strength, 1.0);
  EXPECT_LT(s_rsi.strength, -0.7);  // RSI near 100: overbought, sell
  EXPECT_GE(s_rsi.strength, -1.0);
  EXPECT_FALSE(
      MakeRuleSignal("sma_cross", *strategy::StrategyParams::Parse("fast=9,slow=3"), eurusd).ok());
  EXPECT_FALSE(MakeRuleSignal("nope", {}, eurusd).ok());
  EXPECT_FALSE(MakeRuleSignal("rsi", *strategy::StrategyParams::Parse("perod=5"), eurusd).ok());
}

}  // namespace
}  // namespace aits::trading
