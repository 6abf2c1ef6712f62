#include "aits/node/builder.h"

#include "aits/trading/scripted_signal_test_util.h"

#include <gtest/gtest.h>

#include <vector>

namespace aits::node {
namespace {

using trading::testing::ScriptedSignal;

// One tick every 20 s around 1.10000 with a 1-pip spread and a small wiggle (ATR > 0).
void Feed(kernel::Kernel& kernel, SimulatedClock& clock, int minutes) {
  const Timestamp start = FromCivil(2024, 3, 4, 10, 0);  // a Monday
  for (int idx = 0; idx <= minutes * 3; ++idx) {
    Tick tick;
    tick.ts = start + Duration::Seconds(20 * idx);
    const int64_t wiggle = (idx % 3) * 50 * 10'000;
    tick.bid = Price::FromRaw(1'100'000'000 + wiggle, 5);
    tick.ask = Price::FromRaw(1'100'100'000 + wiggle, 5);
    clock.AdvanceTo(tick.ts);
    kernel.OnTick(tick);
  }
}

NodeConfig DecisionNode(std::vector<double> strengths, double lots) {
  NodeConfig config;
  config.instruments = {Instrument::Infer("EURUSD")};
  DecisionStack stack;
  stack.signal = [strengths](const Instrument&,
                             Duration) -> Result<std::unique_ptr<trading::SignalSource>> {
    return std::unique_ptr<trading::SignalSource>(std::make_unique<ScriptedSignal>(strengths));
  };
  stack.decision.sizing = decision::SizingMode::kFixedLots;
  stack.decision.lots = lots;
  stack.decision.scale_by_confidence = false;
  stack.decision.atr_period = 2;
  stack.options.client_id_prefix = "b";
  config.decision = std::move(stack);
  return config;
}

TEST(NodeBuilderTest, NoInstrumentIsAnError) {
  SimulatedClock clock;
  NodeConfig config;
  auto node = BuildNode(config, clock);
  ASSERT_FALSE(node.ok());
  EXPECT_NE(node.status().message().find("no instrument"), std::string::npos);
}

TEST(NodeBuilderTest, BuiltInStrategyByNameAndUnknownNamesAreErrors) {
  SimulatedClock clock;
  NodeConfig config;
  config.instruments = {Instrument::Infer("EURUSD")};
  config.strategy = "sma_cross";
  config.params.Set("fast", "2");
  auto node = BuildNode(config, clock);
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  EXPECT_EQ(node->decision_strategy, nullptr);
  EXPECT_EQ(node->kernel->instrument(InstrumentId{0}).symbol, "EURUSD");

  config.params.Set("fsat", "3");
  auto misspelt = BuildNode(config, clock);
  ASSERT_FALSE(misspelt.ok());
  EXPECT_NE(misspelt.status().message().find("fsat"), std::string::npos);

  config.strategy = "no_such_strategy";
  auto unknown = BuildNode(config, clock);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("no_such_strategy"), std::string::npos);
}

TEST(NodeBuilderTest, FactoryGetsTheKernelsInstrument) {
  SimulatedClock clock;
  NodeConfig config;
  config.instruments = {Instrument::Infer("EURUSD")};
  const Instrument* seen = nullptr;
  config.strategy_factory = [&seen](const Instrument& instrument) {
    seen = &instrument;
    return strategy::MakeStrategy("buy_and_hold", {}, instrument);
  };
  auto node = BuildNode(config, clock);
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  // Strategies keep a reference: it must be the kernel's copy, not the configuration's.
  EXPECT_EQ(seen, &node->kernel->instrument(InstrumentId{0}));
}

// Builds the node, starts it and feeds it `minutes` of ticks; the orders it made.
std::vector<Order> BuildAndFeed(const NodeConfig& config, int minutes) {
  SimulatedClock clock;
  auto node = BuildNode(config, clock);
  EXPECT_TRUE(node.ok()) << node.status().ToString();
  if (!node.ok()) return {};
  EXPECT_NE(node->decision_strategy, nullptr);
  node->kernel->Start();
  Feed(*node->kernel, clock, minutes);
  return {node->kernel->orders().begin(), node->kernel->orders().end()};
}

TEST(NodeBuilderTest, DecisionStackSizesAndProtectsItsOrders) {
  const std::vector<Order> orders = BuildAndFeed(DecisionNode({0.9}, 0.5), 8);
  ASSERT_EQ(orders.size(), 1u);
  EXPECT_EQ(orders[0].request.client_order_id, "b-1");
  EXPECT_EQ(orders[0].request.quantity.ToString(), "0.50");
  EXPECT_EQ(orders[0].status, OrderStatus::kFilled);
  EXPECT_TRUE(orders[0].request.stop_loss.has_value());
}

TEST(NodeBuilderTest, UncappedSizingIsCappedAtTheRiskLimits) {
  NodeConfig config = DecisionNode({0.9}, 5.0);
  risk::RiskLimits limits = risk::RiskLimits::Defaults();
  limits.max_order_lots = 2;
  limits.max_position_lots = 3;
  config.kernel.risk = limits;
  const std::vector<Order> orders = BuildAndFeed(config, 8);
  ASSERT_EQ(orders.size(), 1u);
  // Sized down to the order limit and accepted, rather than a 5-lot order the risk manager
  // would refuse.
  EXPECT_EQ(orders[0].request.quantity.ToString(), "2.00");
  EXPECT_EQ(orders[0].status, OrderStatus::kFilled);
}

TEST(NodeBuilderTest, BadSettingsAreErrorsNamingThem) {
  SimulatedClock clock;
  NodeConfig config = DecisionNode({0.9}, 0.5);
  config.decision->signal = nullptr;
  auto no_signal = BuildNode(config, clock);
  ASSERT_FALSE(no_signal.ok());
  EXPECT_NE(no_signal.status().message().find("signal"), std::string::npos);

  auto decision = DecisionConfigFor({{"buy_threshold", "abc"}});
  ASSERT_FALSE(decision.ok());
  EXPECT_NE(decision.status().message().find("buy_threshold"), std::string::npos)
      << decision.status().ToString();
  auto missing = RiskLimitsFor({{"max_order_lots", "2"}});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("missing"), std::string::npos);
  auto based = RiskLimitsFor({{"base", "defaults"}, {"max_order_lots", "2"}});
  ASSERT_TRUE(based.ok()) << based.status().ToString();
  EXPECT_EQ(based->max_order_lots, 2);
  auto bad_base = RiskLimitsFor({{"base", "strict"}});
  ASSERT_FALSE(bad_base.ok());
  EXPECT_NE(bad_base.status().message().find("strict"), std::string::npos);
}

}  // namespace
}  // namespace aits::node

namespace aits::node {
namespace {

TEST(NodeBuilderTest, OneDecisionStackPerTradedInstrumentWithTheirOwnClientIds) {
  NodeConfig config = DecisionNode({0.9}, 0.5);
  config.instruments = {Instrument::Infer("EURUSD"), Instrument::Infer("GBPUSD")};
  config.instruments[1].id = InstrumentId{1};
  config.traded = {InstrumentId{0}, InstrumentId{1}};
  SimulatedClock clock;
  auto node = BuildNode(config, clock);
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  ASSERT_EQ(node->decision_strategies.size(), 2u);
  EXPECT_EQ(node->decision_strategy, node->decision_strategies[0]);
  node->kernel->Start();
  const Timestamp start = FromCivil(2024, 3, 4, 10, 0);
  for (int idx = 0; idx <= 8 * 3; ++idx) {
    for (uint32_t id : {0u, 1u}) {
      Tick tick;
      tick.instrument = InstrumentId{id};
      tick.ts = start + Duration::Seconds(20 * idx);
      const int64_t wiggle = (idx % 3) * 50 * 10'000;
      tick.bid = Price::FromRaw(1'100'000'000 + wiggle, 5);
      tick.ask = Price::FromRaw(1'100'100'000 + wiggle, 5);
      clock.AdvanceTo(tick.ts);
      node->kernel->OnTick(tick);
    }
  }
  std::vector<std::string> ids;
  for (const Order& order : node->kernel->orders()) {
    ids.push_back(order.request.client_order_id + "@" +
                  node->kernel->instrument(order.request.instrument).symbol);
  }
  // Each instance numbers its own orders; the symbol keeps the two id sequences apart (the
  // kernel refuses a client id it has seen).
  EXPECT_EQ(ids, (std::vector<std::string>{"b-EURUSD-1@EURUSD", "b-GBPUSD-1@GBPUSD"}));
}

TEST(NodeBuilderTest, TradedInstrumentsMustBeTheNodesOnceEach) {
  NodeConfig config;
  config.instruments = {Instrument::Infer("EURUSD")};
  SimulatedClock clock;
  config.traded = {InstrumentId{3}};
  auto unknown = BuildNode(config, clock);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("traded instrument id 3 is not one of the node's 1"),
            std::string::npos)
      << unknown.status().message();
  config.traded = {InstrumentId{0}, InstrumentId{0}};
  auto twice = BuildNode(config, clock);
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("is named twice"), std::string::npos);
}

}  // namespace
}  // namespace aits::node
