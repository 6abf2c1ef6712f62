#include "aits/trading/strategy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace aits::strategy {
namespace {

// Fills every order at once and keeps the position, so a test sees what the strategy asked for.
class FakeContext final : public StrategyContext {
 public:
  explicit FakeContext(Instrument instrument) : instrument_(std::move(instrument)) {
    position_.instrument = instrument_.id;
  }
  Timestamp Now() const override { return now_; }
  OrderId Submit(const OrderRequest& request) override {
    orders.push_back(request);
    const int64_t signed_raw =
        request.side == Side::kBuy ? request.quantity.raw() : -request.quantity.raw();
    position_.quantity = Quantity::FromRaw(position_.quantity.raw() + signed_raw, 2);
    return OrderId{orders.size()};
  }
  Status Cancel(OrderId) override { return Status::Ok(); }
  Quantity PendingLots(InstrumentId) const override { return Quantity(); }
  const Position& position(InstrumentId) const override { return position_; }
  Account account() const override { return Account{}; }
  const Instrument& instrument(InstrumentId) const override { return instrument_; }
  std::optional<Tick> LastQuote(InstrumentId) const override { return quote_; }
  void SetTimer(Timestamp, uint64_t) override {}
  Money ToAccount(InstrumentId, Money amount) const override { return amount; }

  void SetQuote(double bid, double ask) {
    quote_ = Tick{now_, *Price::FromDouble(bid, 5), *Price::FromDouble(ask, 5)};
  }

  std::vector<OrderRequest> orders;

 private:
  Instrument instrument_;
  Position position_;
  Timestamp now_{};
  std::optional<Tick> quote_;
};

Bar MakeBar(int index, double close) {
  Bar bar;
  bar.period = Duration::Minutes(1);
  bar.open_time = Timestamp{index * Duration::Minutes(1).ns};
  const Price price = *Price::FromDouble(close, 5);
  bar.mid = bar.bid = bar.ask = Ohlc{price, price, price, price};
  return bar;
}

TEST(StrategyParamsTest, ParsesAndValidates) {
  auto params = StrategyParams::Parse("fast=5,slow=20,mode=long_only");
  ASSERT_TRUE(params.ok());
  EXPECT_EQ(*params->Int("fast", 10, 1, 100), 5);
  EXPECT_EQ(*params->Int("missing", 7, 1, 100), 7);
  EXPECT_FALSE(params->Int("slow", 10, 1, 10).ok());
  EXPECT_EQ(*params->Choice("mode", "long_short", {"long_only", "long_short"}), "long_only");
  EXPECT_TRUE(params->CheckAllUsed("x").ok());
  EXPECT_FALSE(StrategyParams::Parse("fast").ok());
}

TEST(StrategyParamsTest, UnknownOrBadParametersAreNamed) {
  const Instrument inst = Instrument::Infer("EURUSD");
  auto typo = MakeStrategy("sma_cross", *StrategyParams::Parse("fsat=5"), inst);
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("'fsat'"), std::string::npos);
  auto bad = MakeStrategy("sma_cross", *StrategyParams::Parse("fast=abc"), inst);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'abc'"), std::string::npos);
  auto order = MakeStrategy("sma_cross", *StrategyParams::Parse("fast=30,slow=10"), inst);
  EXPECT_FALSE(order.ok());
  EXPECT_FALSE(MakeStrategy("nope", StrategyParams(), inst).ok());
  auto tiny = MakeStrategy("sma_cross", *StrategyParams::Parse("lots=0.001"), inst);
  ASSERT_FALSE(tiny.ok());
  EXPECT_NE(tiny.status().message().find("rounds to zero"), std::string::npos);
}

TEST(SmaCrossTest, GoesLongOnCrossUpAndReversesOnCrossDown) {
  const Instrument inst = Instrument::Infer("EURUSD");
  auto strategy = MakeStrategy("sma_cross", *StrategyParams::Parse("fast=2,slow=4,lots=0.5"), inst);
  ASSERT_TRUE(strategy.ok()) << strategy.status().ToString();
  FakeContext context(inst);
  (*strategy)->OnStart(context);
  // Falling, then rising (cross up), then falling (cross down).
  const std::vector<double> closes = {1.10, 1.09, 1.08, 1.07, 1.06, 1.08,
                                      1.10, 1.12, 1.10, 1.07, 1.04, 1.01};
  for (size_t idx = 0; idx < closes.size(); ++idx) {
    (*strategy)->OnBar(MakeBar(static_cast<int>(idx), closes[idx]));
  }
  ASSERT_EQ(context.orders.size(), 2u);
  EXPECT_EQ(context.orders[0].side, Side::kBuy);
  EXPECT_EQ(context.orders[0].quantity.ToString(), "0.50");
  EXPECT_EQ(context.orders[0].tag, "cross_up");
  EXPECT_EQ(context.orders[1].side, Side::kSell);
  EXPECT_EQ(context.orders[1].quantity.ToString(), "1.00");  // long 0.5 -> short 0.5
  EXPECT_EQ(context.position(inst.id).quantity.ToString(), "-0.50");
}

TEST(SmaCrossTest, LongOnlyGoesFlatAndAttachesProtection) {
  const Instrument inst = Instrument::Infer("EURUSD");
  auto strategy = MakeStrategy(
      "sma_cross", *StrategyParams::Parse("fast=2,slow=4,mode=long_only,sl_pips=20,tp_pips=40"),
      inst);
  ASSERT_TRUE(strategy.ok());
  FakeContext context(inst);
  context.SetQuote(1.10000, 1.10010);
  (*strategy)->OnStart(context);
  const std::vector<double> closes = {1.10, 1.09, 1.08, 1.07, 1.06, 1.08,
                                      1.10, 1.12, 1.10, 1.07, 1.04, 1.01};
  for (size_t idx = 0; idx < closes.size(); ++idx) {
    (*strategy)->OnBar(MakeBar(static_cast<int>(idx), closes[idx]));
  }
  ASSERT_EQ(context.orders.size(), 2u);
  ASSERT_TRUE(context.orders[0].stop_loss.has_value());
  EXPECT_EQ(context.orders[0].stop_loss->ToString(), "1.09810");    // ask - 20 pips
  EXPECT_EQ(context.orders[0].take_profit->ToString(), "1.10410");  // ask + 40 pips
  EXPECT_EQ(context.orders[1].side, Side::kSell);
  EXPECT_TRUE(context.position(inst.id).quantity.IsZero());
}

TEST(BaselineTest, BuyAndHoldBuysOnceAndHolds) {
  const Instrument inst = Instrument::Infer("EURUSD");
  auto strategy = MakeStrategy("buy_and_hold", *StrategyParams::Parse("lots=2"), inst);
  ASSERT_TRUE(strategy.ok()) << strategy.status().ToString();
  FakeContext context(inst);
  (*strategy)->OnStart(context);
  for (int idx = 0; idx < 50; ++idx) (*strategy)->OnBar(MakeBar(idx, 1.1 - 0.001 * idx));
  ASSERT_EQ(context.orders.size(), 1u);
  EXPECT_EQ(context.orders[0].side, Side::kBuy);
  EXPECT_EQ(context.position(inst.id).quantity.ToString(), "2.00");
}

// The random baseline redraws every `hold` bars, reproducibly for a seed, and its draws cover
// long, flat and short.
TEST(BaselineTest, RandomSignalIsSeededAndRedrawsEveryHoldBars) {
  const Instrument inst = Instrument::Infer("EURUSD");
  auto run = [&](const std::string& params) {
    auto strategy = MakeStrategy("random_signal", *StrategyParams::Parse(params), inst);
    EXPECT_TRUE(strategy.ok()) << strategy.status().ToString();
    FakeContext context(inst);
    (*strategy)->OnStart(context);
    std::vector<std::string> positions;
    for (int idx = 0; idx < 300; ++idx) {
      (*strategy)->OnBar(MakeBar(idx, 1.1));
      positions.push_back(context.position(inst.id).quantity.ToString());
    }
    return positions;
  };
  const auto first = run("hold=10,seed=7");
  EXPECT_EQ(first, run("hold=10,seed=7"));
  EXPECT_NE(first, run("hold=10,seed=8"));
  for (size_t idx = 0; idx < first.size(); ++idx) {
    if (idx % 10 != 0) {
      EXPECT_EQ(first[idx], first[idx - 1]) << "bar " << idx;
    }
  }
  EXPECT_NE(std::find(first.begin(), first.end(), "1.00"), first.end());
  EXPECT_NE(std::find(first.begin(), first.end(), "-1.00"), first.end());
  EXPECT_NE(std::find(first.begin(), first.end(), "0.00"), first.end());
  EXPECT_FALSE(MakeStrategy("random_signal", *StrategyParams::Parse("hold=0"), inst).ok());
}

TEST(RsiReversionTest, BuysOversoldAndExitsAtTheMiddle) {
  const Instrument inst = Instrument::Infer("EURUSD");
  auto strategy = MakeStrategy("rsi_reversion", *StrategyParams::Parse("period=3,lots=1"), inst);
  ASSERT_TRUE(strategy.ok());
  FakeContext context(inst);
  (*strategy)->OnStart(context);
  const std::vector<double> closes = {1.10, 1.09, 1.08, 1.07, 1.06, 1.07, 1.09, 1.11};
  for (size_t idx = 0; idx < closes.size(); ++idx) {
    (*strategy)->OnBar(MakeBar(static_cast<int>(idx), closes[idx]));
  }
  ASSERT_GE(context.orders.size(), 2u);
  EXPECT_EQ(context.orders[0].side, Side::kBuy);
  EXPECT_EQ(context.orders[0].tag, "oversold");
  EXPECT_EQ(context.orders[1].tag, "exit_long");
  EXPECT_TRUE(context.position(inst.id).quantity.IsZero() ||
              context.position(inst.id).quantity.IsNegative());
}

}  // namespace
}  // namespace aits::strategy

namespace aits::strategy {
namespace {

// A hedging account's context: open positions given by the test, orders recorded.
class HedgingContext final : public StrategyContext {
 public:
  Timestamp Now() const override { return Timestamp{}; }
  OrderId Submit(const OrderRequest& request) override {
    orders.push_back(request);
    return OrderId{orders.size()};
  }
  Status Cancel(OrderId) override { return Status::Ok(); }
  Quantity PendingLots(InstrumentId) const override { return Quantity(); }
  const Position& position(InstrumentId) const override { return net_; }
  Account account() const override { return Account{}; }
  const Instrument& instrument(InstrumentId) const override { return instrument_; }
  std::optional<Tick> LastQuote(InstrumentId) const override { return std::nullopt; }
  void SetTimer(Timestamp, uint64_t) override {}
  Money ToAccount(InstrumentId, Money amount) const override { return amount; }
  AccountMode account_mode() const override { return mode; }
  std::vector<HedgedPosition> OpenPositions(InstrumentId) const override { return open; }

  AccountMode mode = AccountMode::kHedging;
  std::vector<HedgedPosition> open;
  std::vector<OrderRequest> orders;

 private:
  Instrument instrument_ = Instrument::Infer("EURUSD");
  Position net_;
};

HedgedPosition Held(uint64_t ticket, Side side, const char* lots) {
  HedgedPosition position;
  position.ticket = ticket;
  position.side = side;
  position.quantity = *Quantity::Parse(lots, 2);
  return position;
}

OrderRequest MarketOrder(Side side, const char* lots) {
  OrderRequest request;
  request.side = side;
  request.quantity = *Quantity::Parse(lots, 2);
  request.stop_loss = *Price::Parse("1.05000", 5);
  return request;
}

TEST(SubmitNettedTest, ReducesByClosingPositionsOldestFirstThenOpensTheRest) {
  HedgingContext context;
  context.open = {Held(3, Side::kBuy, "0.50"), Held(5, Side::kSell, "0.20"),
                  Held(7, Side::kBuy, "1.00")};
  int next = 0;
  const OrderId last = SubmitNetted(context, MarketOrder(Side::kSell, "2.00"),
                                    [&] { return "c-" + std::to_string(++next); });
  ASSERT_EQ(context.orders.size(), 3u);
  EXPECT_EQ(context.orders[0].position_ticket, 3u);  // the oldest long first, in full
  EXPECT_EQ(context.orders[0].quantity.ToString(), "0.50");
  EXPECT_FALSE(context.orders[0].stop_loss.has_value());  // a close carries no protection
  EXPECT_EQ(context.orders[1].position_ticket, 7u);  // the short on the order's side is skipped
  EXPECT_EQ(context.orders[1].quantity.ToString(), "1.00");
  EXPECT_EQ(context.orders[2].position_ticket, 0u);  // the rest opens a short of its own
  EXPECT_EQ(context.orders[2].quantity.ToString(), "0.50");
  EXPECT_TRUE(context.orders[2].stop_loss.has_value());
  EXPECT_EQ(context.orders[2].client_order_id, "c-3");
  EXPECT_EQ(last, OrderId{3});
  // A partial close only.
  context.orders.clear();
  SubmitNetted(context, MarketOrder(Side::kBuy, "0.10"));
  ASSERT_EQ(context.orders.size(), 1u);
  EXPECT_EQ(context.orders[0].position_ticket, 5u);
  EXPECT_EQ(context.orders[0].quantity.ToString(), "0.10");
}

TEST(SubmitNettedTest, SendsOneOrderOnNettingAccountsAndForLimits) {
  HedgingContext context;
  context.open = {Held(3, Side::kBuy, "0.50")};
  OrderRequest limit = MarketOrder(Side::kSell, "1.00");
  limit.type = OrderType::kLimit;
  SubmitNetted(context, limit);
  context.mode = AccountMode::kNetting;
  SubmitNetted(context, MarketOrder(Side::kSell, "1.00"));
  ASSERT_EQ(context.orders.size(), 2u);
  EXPECT_EQ(context.orders[0].position_ticket, 0u);
  EXPECT_EQ(context.orders[1].position_ticket, 0u);
  EXPECT_EQ(context.orders[1].quantity.ToString(), "1.00");
}

}  // namespace
}  // namespace aits::strategy
