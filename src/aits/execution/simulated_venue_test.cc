#include "aits/execution/simulated_venue.h"
#include "aits/execution/order_manager.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace aits::execution {
namespace {

// Scenario tests: each case is a table of steps (quotes, orders, cancels) fed to a venue, and the
// fills, final order states and net position that must come out. Prices are EURUSD (5 digits);
// times are milliseconds after kBase.

constexpr Timestamp kBase = FromCivil(2024, 1, 2, 10, 0, 0);
constexpr InstrumentId kEurUsd{0};

Price P(const char* text, int digits = 5) { return *Price::Parse(text, digits); }
Quantity Q(const char* text) { return *Quantity::Parse(text, 3); }
Timestamp At(int64_t ms) { return kBase + Duration::Millis(ms); }

// Account side for the venue: USD account, leverage 100, a settable free margin, equity and
// used margin.
class FakeAccount final : public AccountOracle {
 public:
  Money free_margin = Money::FromRaw(1'000'000 * kMoneyScale);
  Money equity;
  Money used_margin;
  Money balance;
  Money FreeMargin() const override { return free_margin; }
  Money Balance() const override { return balance; }
  Money Equity() const override { return equity; }
  Money UsedMargin() const override { return used_margin; }
  Money MarginRequired(const Instrument& instrument, Quantity lots, Price price) const override {
    const Money notional = NotionalInAccount(instrument, lots, price);
    return Money::FromRaw(notional.raw() / 100);
  }
  Money NotionalInAccount(const Instrument& instrument, Quantity lots, Price price) const override {
    return Notional(price, lots, instrument.contract_size);
  }
};

Instrument TestEurUsd() {
  Instrument inst = Instrument::Infer("EURUSD");
  inst.id = kEurUsd;
  inst.min_lots = *Quantity::Parse("0.10", 2);
  inst.max_lots = *Quantity::Parse("50", 2);
  return inst;
}

// The venue with the kernel's order table in front of it: orders get their ids there, and the
// venue's reports come back to it as fills and order updates on the bus.
struct Desk {
  Bus bus;
  FakeAccount account;
  OrderManager orders{bus};
  SimulatedVenue venue;
  explicit Desk(const VenueConfig& config = VenueConfig{}) : venue(config, orders, account) {
    orders.Connect(venue);
    venue.AddInstrument(TestEurUsd());
  }
  OrderId Submit(const OrderRequest& request, Timestamp now) { return orders.Submit(request, now); }
};

enum class StepKind { kQuote, kOrder, kCancelLast, kFreeMargin, kBar };

struct Step {
  StepKind kind = StepKind::kQuote;
  int64_t ms = 0;
  const char* bid = nullptr;  // quote; for a bar: bid open
  const char* ask = nullptr;  // quote; for a bar: unused (ask = bid + spread)
  const char* high = nullptr;
  const char* low = nullptr;
  const char* close = nullptr;
  OrderRequest request;
  int64_t free_margin = 0;

  Step Limit(const char* price) const { return With(OrderType::kLimit, price); }
  Step Stop(const char* price) const { return With(OrderType::kStop, price); }
  Step Sl(const char* price) const {
    Step copy = *this;
    copy.request.stop_loss = P(price);
    return copy;
  }
  Step Tp(const char* price) const {
    Step copy = *this;
    copy.request.take_profit = P(price);
    return copy;
  }
  Step Tif(TimeInForce tif) const {
    Step copy = *this;
    copy.request.tif = tif;
    return copy;
  }
  Step Id(const char* client_id) const {
    Step copy = *this;
    copy.request.client_order_id = client_id;
    return copy;
  }
  Step On(InstrumentId instrument) const {
    Step copy = *this;
    copy.request.instrument = instrument;
    return copy;
  }
  Step With(OrderType type, const char* price) const {
    Step copy = *this;
    copy.request.type = type;
    copy.request.price = P(price);
    return copy;
  }
};

Step Quote(int64_t ms, const char* bid, const char* ask) {
  Step step;
  step.ms = ms;
  step.bid = bid;
  step.ask = ask;
  return step;
}
Step Order(int64_t ms, Side side, const char* lots) {
  Step step;
  step.kind = StepKind::kOrder;
  step.ms = ms;
  step.request.instrument = kEurUsd;
  step.request.side = side;
  step.request.quantity = Q(lots);
  return step;
}
Step Buy(int64_t ms, const char* lots = "1.00") { return Order(ms, Side::kBuy, lots); }
Step Sell(int64_t ms, const char* lots = "1.00") { return Order(ms, Side::kSell, lots); }
Step CancelLast(int64_t ms) {
  Step step;
  step.kind = StepKind::kCancelLast;
  step.ms = ms;
  return step;
}
Step FreeMargin(int64_t usd) {
  Step step;
  step.kind = StepKind::kFreeMargin;
  step.free_margin = usd;
  return step;
}
// An M1 bar opening at `ms` with bid OHLC; the ask is the bid + 10 points.
Step BarAt(int64_t ms, const char* open, const char* high, const char* low, const char* close) {
  Step step;
  step.kind = StepKind::kBar;
  step.ms = ms;
  step.bid = open;
  step.high = high;
  step.low = low;
  step.close = close;
  return step;
}

struct ExpectFill {
  int64_t ms;
  Side side;
  const char* lots;
  const char* price;
  const char* reason;
  const char* commission = nullptr;  // checked when set, "0.00" format
};

struct Case {
  const char* name;
  std::vector<Step> steps;
  std::vector<ExpectFill> fills;
  // Final state of each submitted order, in submission order: "filled", "accepted",
  // "rejected:insufficient_margin"...
  std::vector<std::string> states;
  const char* net_lots = "0.00";
  int64_t latency_ms = 0;
  int64_t slippage = 0;
  const char* commission = "none";
  FillMode mode = FillMode::kTouch;
};

Price Plus10Points(Price price) { return Price::FromRaw(price.raw() + 10 * 10'000, 5); }
Ohlc AskOf(const Ohlc& bid) {
  return {Plus10Points(bid.open), Plus10Points(bid.high), Plus10Points(bid.low),
          Plus10Points(bid.close)};
}

std::string StateOf(const aits::Order& order) {
  std::string state(ToString(order.status));
  if (order.reject_reason != RejectReason::kNone) {
    state += ":" + std::string(ToString(order.reject_reason));
  }
  return state;
}

void RunCase(const Case& test) {
  SCOPED_TRACE(test.name);
  VenueConfig config;
  config.latency = Duration::Millis(test.latency_ms);
  config.slippage_points = test.slippage;
  config.commission = *ParseCommission(test.commission);
  config.fill_mode = test.mode;
  ASSERT_TRUE(config.Validate().ok());
  Desk desk(config);
  SimulatedVenue& venue = desk.venue;
  FakeAccount& account = desk.account;
  Bus& bus = desk.bus;
  std::vector<Fill> fills;
  bus.Subscribe<Fill>([&](const Fill& fill) { fills.push_back(fill); });

  std::vector<OrderId> ids;
  for (const Step& step : test.steps) {
    switch (step.kind) {
      case StepKind::kQuote:
        venue.OnTick(Tick{At(step.ms), P(step.bid), P(step.ask), 0, 0, kEurUsd});
        break;
      case StepKind::kOrder:
        ids.push_back(desk.Submit(step.request, At(step.ms)));
        break;
      case StepKind::kCancelLast:
        ASSERT_TRUE(desk.orders.Cancel(ids.back(), At(step.ms)).ok());
        break;
      case StepKind::kFreeMargin:
        account.free_margin = Money::FromRaw(step.free_margin * kMoneyScale);
        break;
      case StepKind::kBar: {
        Bar bar;
        bar.instrument = kEurUsd;
        bar.period = Duration::Minutes(1);
        bar.open_time = At(step.ms);
        bar.bid = {P(step.bid), P(step.high), P(step.low), P(step.close)};
        bar.ask = AskOf(bar.bid);
        venue.OnBar(bar);
        break;
      }
    }
  }

  ASSERT_EQ(fills.size(), test.fills.size());
  for (size_t idx = 0; idx < fills.size(); ++idx) {
    SCOPED_TRACE("fill " + std::to_string(idx));
    const ExpectFill& want = test.fills[idx];
    EXPECT_EQ(fills[idx].ts, At(want.ms));
    EXPECT_EQ(fills[idx].side, want.side);
    EXPECT_EQ(fills[idx].quantity, Q(want.lots));
    EXPECT_EQ(fills[idx].price.ToString(), want.price);
    EXPECT_EQ(ToString(fills[idx].reason), want.reason);
    if (want.commission != nullptr) {
      EXPECT_EQ(fills[idx].commission.ToString(), want.commission);
    }
  }
  ASSERT_EQ(ids.size(), test.states.size());
  for (size_t idx = 0; idx < ids.size(); ++idx) {
    const aits::Order* order = desk.orders.Find(ids[idx]);
    ASSERT_NE(order, nullptr);
    EXPECT_EQ(StateOf(*order), test.states[idx]) << "order " << idx;
  }
  EXPECT_EQ(venue.NetLots(kEurUsd).ToString(), test.net_lots);
}

constexpr Side kB = Side::kBuy;
constexpr Side kS = Side::kSell;

// ---------------------------------------------------------------------------------------------
// Tick mode

const std::vector<Case>& TickCases() {
  static const std::vector<Case> cases = {
      {"market buy fills at the ask",
       {Quote(0, "1.10000", "1.10010"), Buy(0)},
       {{0, kB, "1.00", "1.10010", "market"}},
       {"filled"},
       "1.00"},
      {"market sell fills at the bid",
       {Quote(0, "1.10000", "1.10010"), Sell(0, "0.50")},
       {{0, kS, "0.50", "1.10000", "market"}},
       {"filled"},
       "-0.50"},
      {"buy limit fills at the touch once the ask reaches it",
       {Quote(0, "1.10000", "1.10010"), Buy(0).Limit("1.09950"), Quote(1, "1.09960", "1.09970"),
        Quote(2, "1.09930", "1.09940")},
       {{2, kB, "1.00", "1.09940", "limit"}},
       {"filled"},
       "1.00"},
      {"buy limit rests while the ask stays above",
       {Quote(0, "1.10000", "1.10010"), Buy(0).Limit("1.09950"), Quote(1, "1.09950", "1.09960")},
       {},
       {"accepted"}},
      {"sell limit fills when the bid reaches it",
       {Quote(0, "1.10000", "1.10010"), Sell(0).Limit("1.10100"), Quote(1, "1.10100", "1.10110")},
       {{1, kS, "1.00", "1.10100", "limit"}},
       {"filled"},
       "-1.00"},
      {"buy stop fills when the ask rises to it",
       {Quote(0, "1.10000", "1.10010"), Buy(0).Stop("1.10100"), Quote(1, "1.10080", "1.10090"),
        Quote(2, "1.10095", "1.10105")},
       {{2, kB, "1.00", "1.10105", "stop"}},
       {"filled"},
       "1.00"},
      {"sell stop rests while the bid stays above",
       {Quote(0, "1.10000", "1.10010"), Sell(0).Stop("1.09900"), Quote(1, "1.09910", "1.09920")},
       {},
       {"accepted"}},
      {"stop fills with adverse slippage",
       {Quote(0, "1.10000", "1.10010"), Sell(0).Stop("1.09900"), Quote(1, "1.09900", "1.09910")},
       {{1, kS, "1.00", "1.09898", "stop"}},
       {"filled"},
       "-1.00",
       0,
       2},
      {"market orders slip against the trader",
       {Quote(0, "1.10000", "1.10010"), Buy(0), Sell(0, "2.00")},
       {{0, kB, "1.00", "1.10013", "market"}, {0, kS, "2.00", "1.09997", "market"}},
       {"filled", "filled"},
       "-1.00",
       0,
       3},
      {"limit orders never slip",
       {Quote(0, "1.10000", "1.10010"), Buy(0).Limit("1.09950"), Quote(1, "1.09900", "1.09910")},
       {{1, kB, "1.00", "1.09910", "limit"}},
       {"filled"},
       "1.00",
       0,
       3},
      {"long stop-loss closes at the bid",
       {Quote(0, "1.10000", "1.10010"), Buy(0).Sl("1.09900").Tp("1.10200"),
        Quote(1, "1.09950", "1.09960"), Quote(2, "1.09900", "1.09910"),
        Quote(3, "1.09800", "1.09810")},
       {{0, kB, "1.00", "1.10010", "market"}, {2, kS, "1.00", "1.09900", "stop_loss"}},
       {"filled"}},
      {"long take-profit closes at the bid",
       {Quote(0, "1.10000", "1.10010"), Buy(0).Sl("1.09900").Tp("1.10200"),
        Quote(1, "1.10190", "1.10200"), Quote(2, "1.10200", "1.10210")},
       {{0, kB, "1.00", "1.10010", "market"}, {2, kS, "1.00", "1.10200", "take_profit"}},
       {"filled"}},
      {"short stop-loss closes at the ask",
       {Quote(0, "1.10000", "1.10010"), Sell(0).Sl("1.10100").Tp("1.09800"),
        Quote(1, "1.10095", "1.10105")},
       {{0, kS, "1.00", "1.10000", "market"}, {1, kB, "1.00", "1.10105", "stop_loss"}},
       {"filled"}},
      {"short take-profit closes at the ask",
       {Quote(0, "1.10000", "1.10010"), Sell(0).Sl("1.10100").Tp("1.09800"),
        Quote(1, "1.09795", "1.09805"), Quote(2, "1.09790", "1.09800")},
       {{0, kS, "1.00", "1.10000", "market"}, {2, kB, "1.00", "1.09800", "take_profit"}},
       {"filled"}},
      {"a gap through the stop-loss fills at the worse touch, slipped",
       {Quote(0, "1.10000", "1.10010"), Buy(0).Sl("1.09900"), Quote(1, "1.09500", "1.09510")},
       {{0, kB, "1.00", "1.10012", "market"}, {1, kS, "1.00", "1.09498", "stop_loss"}},
       {"filled"},
       "0.00",
       0,
       2},
      {"protection of an added order replaces the old one",
       {Quote(0, "1.10000", "1.10010"), Buy(0).Sl("1.09900"), Buy(1).Sl("1.09500"),
        Quote(2, "1.09800", "1.09810"), Quote(3, "1.09500", "1.09510")},
       {{0, kB, "1.00", "1.10010", "market"},
        {1, kB, "1.00", "1.10010", "market"},
        {3, kS, "2.00", "1.09500", "stop_loss"}},
       {"filled", "filled"}},
      {"a fill that flattens the position clears its protection",
       {Quote(0, "1.10000", "1.10010"), Buy(0).Sl("1.09900"), Sell(1), Buy(2),
        Quote(3, "1.09800", "1.09810")},
       {{0, kB, "1.00", "1.10010", "market"},
        {1, kS, "1.00", "1.10000", "market"},
        {2, kB, "1.00", "1.10010", "market"}},
       {"filled", "filled", "filled"},
       "1.00"},
      {"netting: selling 2 against a long 1 leaves a short 1 with the new protection",
       {Quote(0, "1.10000", "1.10010"), Buy(0).Sl("1.09900"), Sell(1, "2.00").Sl("1.10300"),
        Quote(2, "1.09800", "1.09810"), Quote(3, "1.10300", "1.10310")},
       {{0, kB, "1.00", "1.10010", "market"},
        {1, kS, "2.00", "1.10000", "market"},
        {3, kB, "1.00", "1.10310", "stop_loss"}},
       {"filled", "filled"}},
      {"latency: fills on the first quote at or after arrival",
       {Quote(0, "1.10000", "1.10010"), Buy(0), Quote(50, "1.10020", "1.10030"),
        Quote(99, "1.10030", "1.10040"), Quote(100, "1.10040", "1.10050"),
        Quote(150, "1.10060", "1.10070")},
       {{100, kB, "1.00", "1.10050", "market"}},
       {"filled"},
       "1.00",
       100},
      {"latency: waits for a quote after arrival",
       {Buy(0), Quote(250, "1.10040", "1.10050")},
       {{250, kB, "1.00", "1.10050", "market"}},
       {"filled"},
       "1.00",
       100},
      {"margin: an order needing more than the free margin is rejected",
       {FreeMargin(1'000), Quote(0, "1.10000", "1.10010"), Buy(0), Buy(1, "0.50")},
       {{1, kB, "0.50", "1.10010", "market"}},
       {"rejected:insufficient_margin", "filled"},
       "0.50"},
      {"margin: closing and reducing never need margin",
       {Quote(0, "1.10000", "1.10010"), Buy(0, "2.00"), FreeMargin(0), Sell(1), Sell(2), Sell(3)},
       {{0, kB, "2.00", "1.10010", "market"},
        {1, kS, "1.00", "1.10000", "market"},
        {2, kS, "1.00", "1.10000", "market"}},
       {"filled", "filled", "filled", "rejected:insufficient_margin"}},
      {"margin: a flip needs margin for the new side only",
       {Quote(0, "1.10000", "1.10010"), Buy(0), FreeMargin(600), Sell(1, "1.50"), Sell(2, "2.00")},
       {{0, kB, "1.00", "1.10010", "market"}, {1, kS, "1.50", "1.10000", "market"}},
       {"filled", "filled", "rejected:insufficient_margin"},
       "-0.50"},
      {"quantity: not positive, below min, above max, off the step",
       {Quote(0, "1.10000", "1.10010"), Buy(0, "0"), Buy(0, "-1"), Buy(0, "0.05"), Buy(0, "60.00"),
        Buy(0, "0.105"), Buy(0, "0.10")},
       {{0, kB, "0.10", "1.10010", "market"}},
       {"rejected:invalid_quantity", "rejected:invalid_quantity", "rejected:invalid_quantity",
        "rejected:invalid_quantity", "rejected:invalid_quantity", "filled"},
       "0.10"},
      {"prices: SL/TP on the wrong side and stops without a price",
       {Quote(0, "1.10000", "1.10010"), Buy(0).Sl("1.10050"), Sell(0).Tp("1.10050"),
        Buy(0).Limit("1.09950").Sl("1.09960"), Sell(0).Stop("1.09900").Sl("1.09800"),
        Buy(0).Tp("1.10000"), Buy(0).Sl("1.09990").Tp("1.10020")},
       {{0, kB, "1.00", "1.10010", "market"}},
       {"rejected:invalid_price", "rejected:invalid_price", "rejected:invalid_price",
        "rejected:invalid_price", "rejected:invalid_price", "filled"},
       "1.00"},
      {"no quote yet", {Buy(0), Quote(1, "1.10000", "1.10010")}, {}, {"rejected:no_market"}},
      {"unknown instrument",
       {Quote(0, "1.10000", "1.10010"), Buy(0).On(InstrumentId{7})},
       {},
       {"rejected:unknown_instrument"}},
      {"IOC/FOK: market fills fully, unmarketable limits expire, marketable ones fill",
       {Quote(0, "1.10000", "1.10010"), Buy(0).Tif(TimeInForce::kFok),
        Sell(0).Tif(TimeInForce::kIoc), Buy(0).Limit("1.09950").Tif(TimeInForce::kIoc),
        Buy(0).Limit("1.09950").Tif(TimeInForce::kFok),
        Buy(0).Limit("1.10020").Tif(TimeInForce::kIoc), Quote(1, "1.09900", "1.09910")},
       {{0, kB, "1.00", "1.10010", "market"},
        {0, kS, "1.00", "1.10000", "market"},
        {0, kB, "1.00", "1.10010", "limit"}},
       {"filled", "filled", "expired", "expired", "filled"},
       "1.00"},
      {"IOC with latency is judged on arrival",
       {Quote(0, "1.10000", "1.10010"), Buy(0).Limit("1.09950").Tif(TimeInForce::kIoc),
        Quote(5, "1.09930", "1.09940")},
       {{5, kB, "1.00", "1.09940", "limit"}},
       {"filled"},
       "1.00",
       5},
      {"DAY orders expire at the end of their UTC day",
       {Quote(0, "1.10000", "1.10010"), Buy(0).Limit("1.09950").Tif(TimeInForce::kDay),
        Buy(0).Limit("1.09950"), Quote(13 * 3'600'000 + 59 * 60'000, "1.09960", "1.09970"),
        Quote(14 * 3'600'000 + 1, "1.09900", "1.09910")},
       {{14 * 3'600'000 + 1, kB, "1.00", "1.09910", "limit"}},
       {"expired", "filled"},
       "1.00"},
      {"a canceled order never fills",
       {Quote(0, "1.10000", "1.10010"), Buy(0).Limit("1.09950"), CancelLast(1),
        Quote(2, "1.09900", "1.09910")},
       {},
       {"canceled"}},
      {"an order canceled in transit never arrives",
       {Quote(0, "1.10000", "1.10010"), Buy(0), CancelLast(10), Quote(100, "1.10000", "1.10010")},
       {},
       {"canceled"},
       "0.00",
       100},
      {"commission per lot",
       {Quote(0, "1.10000", "1.10010"), Buy(0, "2.00"), Sell(1, "0.50")},
       {{0, kB, "2.00", "1.10010", "market", "14.00"},
        {1, kS, "0.50", "1.10000", "market", "3.50"}},
       {"filled", "filled"},
       "1.50",
       0,
       0,
       "per_lot:7"},
      {"commission per million of notional",
       // 1 lot at 1.10010 = 110,010 USD -> 35 * 0.11001 = 3.85035
       {Quote(0, "1.10000", "1.10010"), Buy(0)},
       {{0, kB, "1.00", "1.10010", "market", "3.85"}},
       {"filled"},
       "1.00",
       0,
       0,
       "per_million:35"},
      {"commission in percent of notional",
       // 1 lot at 1.10000 = 110,000 USD -> 0.01% = 11.00
       {Quote(0, "1.10000", "1.10010"), Sell(0)},
       {{0, kS, "1.00", "1.10000", "market", "11.00"}},
       {"filled"},
       "-1.00",
       0,
       0,
       "percent:0.01"},
  };
  return cases;
}

TEST(SimulatedVenueTest, TickModeScenarios) {
  for (const Case& test : TickCases()) RunCase(test);
}

// ---------------------------------------------------------------------------------------------
// Bar mode: decisions at a bar's close (60,000 ms after its open); ask = bid + 10 points.

TEST(SimulatedVenueTest, BarModeScenarios) {
  const std::vector<Case> cases = {
      {"market orders fill at the next bar's open",
       {BarAt(0, "1.10000", "1.10100", "1.09900", "1.10050"), Buy(60'000), Sell(60'000, "0.50"),
        BarAt(60'000, "1.10060", "1.10080", "1.10000", "1.10070")},
       {{60'000, kB, "1.00", "1.10070", "market"}, {60'000, kS, "0.50", "1.10060", "market"}},
       {"filled", "filled"},
       "0.50",
       0,
       0,
       "none",
       FillMode::kNextBarOpen},
      {"the bar a decision was made on is never used for its fill",
       {Buy(60'000), BarAt(0, "1.10000", "1.10100", "1.09900", "1.10050")},
       {},
       {"pending_new"},
       "0.00",
       0,
       0,
       "none",
       FillMode::kNextBarOpen},
      {"stop-loss inside a bar fills at the SL, slipped",
       {BarAt(0, "1.10000", "1.10100", "1.09900", "1.10050"), Buy(60'000).Sl("1.09950"),
        BarAt(60'000, "1.10060", "1.10080", "1.09900", "1.09990")},
       {{60'000, kB, "1.00", "1.10071", "market"}, {120'000, kS, "1.00", "1.09949", "stop_loss"}},
       {"filled"},
       "0.00",
       0,
       1,
       "none",
       FillMode::kNextBarOpen},
      {"take-profit inside a bar fills at the TP",
       {BarAt(0, "1.10000", "1.10100", "1.09900", "1.10050"), Buy(60'000).Tp("1.10200"),
        BarAt(60'000, "1.10060", "1.10080", "1.10000", "1.10070"),
        BarAt(120'000, "1.10070", "1.10250", "1.10050", "1.10100")},
       {{60'000, kB, "1.00", "1.10070", "market"}, {180'000, kS, "1.00", "1.10200", "take_profit"}},
       {"filled"},
       "0.00",
       0,
       0,
       "none",
       FillMode::kNextBarOpen},
      {"a bar that opens through the SL fills at the open",
       {BarAt(0, "1.10000", "1.10100", "1.09900", "1.10050"), Sell(60'000).Sl("1.10200"),
        BarAt(60'000, "1.10050", "1.10080", "1.10000", "1.10070"),
        BarAt(120'000, "1.10300", "1.10350", "1.10250", "1.10300")},
       {{60'000, kS, "1.00", "1.10050", "market"}, {120'000, kB, "1.00", "1.10310", "stop_loss"}},
       {"filled"},
       "0.00",
       0,
       0,
       "none",
       FillMode::kNextBarOpen},
      {"SL and TP both inside one bar: the SL is assumed first",
       {BarAt(0, "1.10000", "1.10100", "1.09900", "1.10050"),
        Buy(60'000).Sl("1.09900").Tp("1.10200"),
        BarAt(60'000, "1.10050", "1.10080", "1.10000", "1.10070"),
        BarAt(120'000, "1.10050", "1.10300", "1.09800", "1.10000")},
       {{60'000, kB, "1.00", "1.10060", "market"}, {180'000, kS, "1.00", "1.09900", "stop_loss"}},
       {"filled"},
       "0.00",
       0,
       0,
       "none",
       FillMode::kNextBarOpen},
      {"limits fill at the limit inside a bar, at the open when it gaps through",
       {BarAt(0, "1.10000", "1.10100", "1.09900", "1.10050"), Buy(60'000).Limit("1.09900"),
        Sell(60'000).Limit("1.10100"), BarAt(60'000, "1.10000", "1.10050", "1.09850", "1.10000"),
        BarAt(120'000, "1.10200", "1.10250", "1.10150", "1.10200")},
       {{120'000, kB, "1.00", "1.09900", "limit"}, {120'000, kS, "1.00", "1.10200", "limit"}},
       {"filled", "filled"},
       "0.00",
       0,
       0,
       "none",
       FillMode::kNextBarOpen},
      {"a sell stop inside a bar fills at the stop, slipped",
       {BarAt(0, "1.10000", "1.10100", "1.09900", "1.10050"), Sell(60'000).Stop("1.09950"),
        BarAt(60'000, "1.10000", "1.10050", "1.09900", "1.09950")},
       {{120'000, kS, "1.00", "1.09948", "stop"}},
       {"filled"},
       "-1.00",
       0,
       2,
       "none",
       FillMode::kNextBarOpen},
  };
  for (const Case& test : cases) RunCase(test);
}

// ---------------------------------------------------------------------------------------------
// Messages, lifecycle and bookkeeping

struct Recorder {
  std::vector<std::string> events;
  explicit Recorder(Bus& bus) {
    bus.Subscribe<Fill>([this](const Fill& fill) {
      events.push_back("fill " + std::to_string(fill.order_id.value) + " " +
                       std::string(ToString(fill.reason)));
    });
    bus.Subscribe<OrderUpdate>([this](const OrderUpdate& update) {
      events.push_back("update " + std::to_string(update.order.id.value) + " " +
                       std::string(ToString(update.order.status)));
    });
  }
};

TEST(SimulatedVenueTest, PublishesFillsBeforeTheOrderUpdateAndEveryStateChange) {
  Desk desk;
  Recorder recorder(desk.bus);
  desk.venue.OnTick(Tick{At(0), P("1.10000"), P("1.10010"), 0, 0, kEurUsd});
  desk.Submit(Buy(0).Sl("1.09900").request, At(0));
  desk.Submit(Buy(0).Limit("1.09000").request, At(0));
  desk.Submit(Buy(0, "0").request, At(0));
  EXPECT_EQ(desk.venue.OpenOrderCount(), 1u);
  desk.venue.OnTick(Tick{At(1), P("1.09800"), P("1.09810"), 0, 0, kEurUsd});
  ASSERT_TRUE(desk.orders.Cancel(OrderId{2}, At(2)).ok());
  EXPECT_EQ(desk.venue.OpenOrderCount(), 0u);
  const std::vector<std::string> want = {
      "fill 1 market",    "update 1 filled", "update 2 accepted", "update 3 rejected",
      "fill 4 stop_loss", "update 4 filled", "update 2 canceled"};
  EXPECT_EQ(recorder.events, want);
  const aits::Order* sl = desk.orders.Find(OrderId{4});
  ASSERT_NE(sl, nullptr);
  EXPECT_EQ(sl->request.tag, "sl");
  EXPECT_EQ(sl->request.client_order_id, "sl-4");
  EXPECT_EQ(sl->request.side, Side::kSell);
  EXPECT_EQ(sl->request.tif, TimeInForce::kIoc);
  // Tickets are the venue's own; the SL closed the position opened by order 1's ticket.
  EXPECT_EQ(desk.orders.Find(OrderId{1})->venue_order_id, 1u);
  EXPECT_EQ(sl->venue_order_id, 4u);
  EXPECT_EQ(sl->position_ticket, 1u);
  EXPECT_EQ(desk.orders.Find(OrderId{1})->position_ticket, 1u);
}

TEST(SimulatedVenueTest, ReportsCarryTicketsAndPositionTickets) {
  Desk desk;
  std::vector<ExecutionReport> reports;
  desk.bus.Subscribe<ExecutionReport>(
      [&](const ExecutionReport& report) { reports.push_back(report); });
  desk.venue.OnTick(Tick{At(0), P("1.10000"), P("1.10010"), 0, 0, kEurUsd});
  desk.Submit(Buy(0).request, At(0));           // ticket 1 opens position 1
  desk.Submit(Sell(0, "2.00").request, At(0));  // ticket 2 flips it: position 2
  ASSERT_TRUE(desk.venue.SetProtection(kEurUsd, P("1.10500"), std::nullopt).ok());
  ASSERT_EQ(reports.size(), 3u);
  EXPECT_EQ(reports[0].kind, ExecKind::kFilled);
  EXPECT_EQ(reports[0].order_id, OrderId{1});
  EXPECT_EQ(reports[0].venue_order_id, 1u);
  EXPECT_EQ(reports[0].position_ticket, 1u);
  EXPECT_EQ(reports[1].position_ticket, 2u);
  EXPECT_EQ(desk.venue.PositionTicket(kEurUsd), 2u);
  EXPECT_EQ(reports[2].kind, ExecKind::kModified);
  EXPECT_EQ(reports[2].position_ticket, 2u);
  EXPECT_EQ(reports[2].stop_loss, P("1.10500"));
  EXPECT_EQ(desk.orders.unknown_reports(), 0u);  // a position's modification names no order
}

TEST(SimulatedVenueTest, CancelOfAFinishedOrFailedOrderFails) {
  Desk desk;
  desk.venue.OnTick(Tick{At(0), P("1.10000"), P("1.10010"), 0, 0, kEurUsd});
  const OrderId id = desk.Submit(Buy(0).request, At(0));
  Status status = desk.orders.Cancel(id, At(1));
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("filled"), std::string::npos);
  EXPECT_EQ(desk.orders.Cancel(OrderId{99}, At(1)).code(), StatusCode::kNotFound);
  // The venue itself knows live orders only.
  EXPECT_EQ(desk.venue.Cancel(id, 1, At(1)).code(), StatusCode::kNotFound);
}

TEST(SimulatedVenueTest, SetProtectionValidatesAndTriggers) {
  Desk desk;
  SimulatedVenue& venue = desk.venue;
  std::vector<Fill> fills;
  desk.bus.Subscribe<Fill>([&](const Fill& fill) { fills.push_back(fill); });
  venue.OnTick(Tick{At(0), P("1.10000"), P("1.10010"), 0, 0, kEurUsd});
  EXPECT_EQ(venue.SetProtection(kEurUsd, P("1.09000"), std::nullopt).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(venue.SetProtection(InstrumentId{5}, std::nullopt, std::nullopt).code(),
            StatusCode::kInvalidArgument);
  desk.Submit(Sell(0).request, At(0));
  EXPECT_EQ(venue.SetProtection(kEurUsd, P("1.09000"), std::nullopt).code(),
            StatusCode::kInvalidArgument);  // SL of a short below the market
  ASSERT_TRUE(venue.SetProtection(kEurUsd, std::nullopt, P("1.09500")).ok());
  venue.OnTick(Tick{At(1), P("1.09490"), P("1.09500"), 0, 0, kEurUsd});
  ASSERT_EQ(fills.size(), 2u);
  EXPECT_EQ(fills[1].reason, FillReason::kTakeProfit);
  EXPECT_EQ(fills[1].price.ToString(), "1.09500");
  EXPECT_TRUE(venue.NetLots(kEurUsd).IsZero());
}

TEST(SimulatedVenueTest, TheVenueKeepsOnlyLiveOrdersAndTheTableIsBounded) {
  Desk desk;
  desk.venue.OnTick(Tick{At(0), P("1.10000"), P("1.10010"), 0, 0, kEurUsd});
  const OrderId resting = desk.Submit(Buy(0).Limit("1.09000").request, At(0));
  for (int idx = 0; idx < 20; ++idx) {
    desk.Submit(Buy(0).Id(("c" + std::to_string(idx)).c_str()).request, At(0));
  }
  EXPECT_EQ(desk.venue.OpenOrderCount(), 1u);  // the filled ones left the venue at once
  desk.orders.Trim(4);
  // The oldest order is live: it holds the window open, and the filled ones behind it stay.
  ASSERT_NE(desk.orders.Find(OrderId{2}), nullptr);
  ASSERT_NE(desk.orders.Find(resting), nullptr);
  EXPECT_EQ(desk.orders.base(), 1u);
  EXPECT_EQ(desk.orders.Find(resting)->status, OrderStatus::kAccepted);
  desk.venue.OnTick(Tick{At(1), P("1.08990"), P("1.09000"), 0, 0, kEurUsd});
  EXPECT_EQ(desk.venue.NetLots(kEurUsd).ToString(), "21.00");
  EXPECT_EQ(desk.venue.OpenOrderCount(), 0u);
  desk.orders.Trim(4);
  EXPECT_EQ(desk.orders.Find(OrderId{2}), nullptr);  // old finished orders were dropped
  ASSERT_NE(desk.orders.Find(OrderId{21}), nullptr);
  EXPECT_EQ(desk.orders.base(), 18u);
  EXPECT_EQ(desk.orders.orders().size(), 4u);
  EXPECT_EQ(desk.orders.count(), 21u);
}

TEST(SimulatedVenueTest, ReentrantSubmitFromAFillHandler) {
  // A strategy that reacts to its stop-loss by reversing, from inside the fill handler.
  Desk desk;
  desk.bus.Subscribe<Fill>([&](const Fill& fill) {
    if (fill.reason == FillReason::kStopLoss) desk.Submit(Sell(0).request, fill.ts);
  });
  desk.venue.OnTick(Tick{At(0), P("1.10000"), P("1.10010"), 0, 0, kEurUsd});
  desk.Submit(Buy(0).Sl("1.09900").request, At(0));
  desk.venue.OnTick(Tick{At(1), P("1.09890"), P("1.09900"), 0, 0, kEurUsd});
  EXPECT_EQ(desk.venue.NetLots(kEurUsd).ToString(), "-1.00");
}

TEST(SimulatedVenueTest, StopOutCancelsThenClosesOnceAndReportsTheAccount) {
  VenueConfig config;
  config.stop_out_level = 50;
  Desk desk(config);
  Recorder recorder(desk.bus);
  std::vector<AccountReport> accounts;
  desk.bus.Subscribe<AccountReport>(
      [&](const AccountReport& report) { accounts.push_back(report); });
  desk.venue.OnTick(Tick{At(0), P("1.10000"), P("1.10010"), 0, 0, kEurUsd});
  desk.Submit(Buy(0).request, At(0));                   // order 1, filled
  desk.Submit(Buy(0).Limit("1.05000").request, At(0));  // order 2, resting
  desk.account.used_margin = Money::FromRaw(1'100 * kMoneyScale);
  desk.account.equity = Money::FromRaw(600 * kMoneyScale);  // 54.5 %: holds
  desk.venue.OnTick(Tick{At(1), P("1.09000"), P("1.09010"), 0, 0, kEurUsd});
  EXPECT_TRUE(accounts.empty());
  desk.account.equity = Money::FromRaw(500 * kMoneyScale);  // 45.5 %: stopped out
  desk.venue.OnTick(Tick{At(2), P("1.08900"), P("1.08910"), 0, 0, kEurUsd});
  ASSERT_EQ(accounts.size(), 1u);
  EXPECT_EQ(accounts[0].reason, AccountReportReason::kStopOut);
  EXPECT_NEAR(accounts[0].margin_level, 45.45, 0.01);
  EXPECT_EQ(desk.orders.stop_outs(), 1u);
  const std::vector<std::string> want = {"fill 1 market",     "update 1 filled",
                                         "update 2 accepted", "update 2 canceled",
                                         "fill 3 market",     "update 3 filled"};
  EXPECT_EQ(recorder.events, want);
  const aits::Order* close = desk.orders.Find(OrderId{3});
  ASSERT_NE(close, nullptr);
  EXPECT_EQ(close->request.tag, "stop_out");
  EXPECT_EQ(close->avg_fill_price.ToString(), "1.08900");
  EXPECT_TRUE(desk.venue.NetLots(kEurUsd).IsZero());
  // Still "stopping out" until the account reports no margin in use: no second stop-out.
  desk.venue.OnTick(Tick{At(3), P("1.08800"), P("1.08810"), 0, 0, kEurUsd});
  EXPECT_EQ(accounts.size(), 1u);
  VenueConfig bad;
  bad.stop_out_level = -1;
  EXPECT_FALSE(bad.Validate().ok());
}

// The stop-out check skips its floating-point test above an equity bound it derives from the used
// margin: the stop-out must still come at exactly the first equity that fails the test, one raw
// unit below the lowest that holds, and the bound must follow a change of the used margin.
TEST(SimulatedVenueTest, StopOutComesAtExactlyTheLevel) {
  struct Level {
    int64_t margin_raw;
    double level;
  };
  for (const Level c : {Level{1'100'000'000, 50}, Level{333'333'333, 33.3}, Level{7, 100},
                        Level{123'456'789'012, 0.1}, Level{2'000'000'000'001, 1000}}) {
    const Money margin = Money::FromRaw(c.margin_raw);
    auto holds = [&](int64_t equity_raw) {
      return Money::FromRaw(equity_raw).AsDouble() * 100.0 >= margin.AsDouble() * c.level;
    };
    int64_t lowest = static_cast<int64_t>(static_cast<double>(c.margin_raw) * c.level / 100) - 16;
    while (!holds(lowest)) ++lowest;
    ASSERT_FALSE(holds(lowest - 1));
    // First seen at half the margin, whose bound lies far below: the bound must move.
    for (const bool margin_moves : {false, true}) {
      VenueConfig config;
      config.stop_out_level = c.level;
      Desk desk(config);
      std::vector<AccountReport> accounts;
      desk.bus.Subscribe<AccountReport>(
          [&](const AccountReport& report) { accounts.push_back(report); });
      desk.account.used_margin = margin_moves ? Money::FromRaw(c.margin_raw / 2) : margin;
      desk.account.equity = Money::FromRaw(lowest);
      desk.venue.OnTick(Tick{At(0), P("1.10000"), P("1.10010"), 0, 0, kEurUsd});
      desk.account.used_margin = margin;
      desk.venue.OnTick(Tick{At(1), P("1.10000"), P("1.10010"), 0, 0, kEurUsd});
      EXPECT_TRUE(accounts.empty()) << c.margin_raw << " at " << c.level;
      desk.account.equity = Money::FromRaw(lowest - 1);
      desk.venue.OnTick(Tick{At(2), P("1.10000"), P("1.10010"), 0, 0, kEurUsd});
      ASSERT_EQ(accounts.size(), 1u) << c.margin_raw << " at " << c.level;
      EXPECT_EQ(accounts[0].equity.raw(), lowest - 1);
    }
  }
}

// The snapshot is what a broker would answer: the net position with its ticket and volume-weighted
// open price, and the working orders with their client ids, tickets and fills.
TEST(SimulatedVenueSnapshotTest, ShowsPositionsAndWorkingOrders) {
  VenueConfig config;
  config.latency = Duration::Millis(10);
  Desk desk(config);
  desk.venue.OnTick(Tick{At(0), P("1.10000"), P("1.10010"), 0, 0, kEurUsd});
  OrderRequest buy;
  buy.instrument = kEurUsd;
  buy.quantity = Q("1");
  buy.client_order_id = "c-1";
  desk.Submit(buy, At(0));
  // Travelling: the snapshot shows it with its client id (the MT5 comment's role).
  auto travelling = desk.venue.Snapshot();
  ASSERT_TRUE(travelling.ok());
  ASSERT_EQ(travelling->orders.size(), 1u);
  EXPECT_EQ(travelling->orders[0].client_order_id, "c-1");
  EXPECT_EQ(travelling->orders[0].ticket, 1u);
  desk.venue.OnTick(Tick{At(20), P("1.10000"), P("1.10010"), 0, 0, kEurUsd});
  buy.client_order_id = "c-2";
  desk.Submit(buy, At(20));
  desk.venue.OnTick(Tick{At(40), P("1.10100"), P("1.10110"), 0, 0, kEurUsd});
  OrderRequest limit;
  limit.instrument = kEurUsd;
  limit.side = Side::kSell;
  limit.type = OrderType::kLimit;
  limit.price = P("1.20000");
  limit.quantity = Q("0.5");
  limit.client_order_id = "c-3";
  desk.Submit(limit, At(40));
  desk.venue.OnTick(Tick{At(60), P("1.10100"), P("1.10110"), 0, 0, kEurUsd});
  auto snapshot = desk.venue.Snapshot();
  ASSERT_TRUE(snapshot.ok());
  ASSERT_EQ(snapshot->positions.size(), 1u);
  EXPECT_EQ(snapshot->positions[0].ticket, 1u);
  EXPECT_EQ(snapshot->positions[0].quantity.ToString(), "2.00");       // at the lot precision
  EXPECT_EQ(snapshot->positions[0].open_price.ToString(), "1.10060");  // (1.10010 + 1.10110) / 2
  ASSERT_EQ(snapshot->orders.size(), 1u);
  const WorkingOrder& working = snapshot->orders[0];
  EXPECT_EQ(working.client_order_id, "c-3");
  EXPECT_EQ(working.ticket, 3u);
  EXPECT_EQ(working.side, Side::kSell);
  EXPECT_EQ(working.type, OrderType::kLimit);
  EXPECT_EQ(working.price->ToString(), "1.20000");
  EXPECT_EQ(working.quantity.ToString(), "0.500");
  EXPECT_TRUE(working.filled.IsZero());
}

TEST(SimulatedVenueSeedTest, ReplacesTheAccountAndWorksTheSeededOrders) {
  Desk desk;
  desk.venue.OnTick(Tick{At(0), P("1.10000"), P("1.10010"), 0, 0, kEurUsd});
  OrderRequest limit;
  limit.instrument = kEurUsd;
  limit.type = OrderType::kLimit;
  limit.price = P("1.05000");
  limit.quantity = Q("1");
  desk.Submit(limit, At(0));  // ticket 1, dropped by the seed
  AccountState account;
  account.positions.push_back(HeldPosition{
      .ticket = 40, .instrument = kEurUsd, .quantity = Q("-0.3"), .open_price = P("1.11000")});
  account.orders.push_back(WorkingOrder{.client_order_id = "by-hand",
                                        .ticket = 41,
                                        .instrument = kEurUsd,
                                        .side = Side::kBuy,
                                        .quantity = Q("1"),
                                        .filled = Q("0.4"),
                                        .type = OrderType::kLimit,
                                        .price = P("1.09000")});
  ASSERT_TRUE(desk.venue.Seed(account, At(1)).ok());
  EXPECT_EQ(desk.venue.NetLots(kEurUsd).ToString(), "-0.30");
  EXPECT_EQ(desk.venue.PositionTicket(kEurUsd), 40u);
  auto snapshot = desk.venue.Snapshot();
  ASSERT_TRUE(snapshot.ok());
  ASSERT_EQ(snapshot->orders.size(), 1u);
  EXPECT_EQ(snapshot->orders[0].ticket, 41u);
  // At the instrument's lot precision, whatever the seed was written with.
  EXPECT_EQ(snapshot->orders[0].filled.ToString(), "0.40");
  EXPECT_EQ(snapshot->orders[0].quantity.ToString(), "1.00");
  // The seeded order fills what it has left, reported by ticket alone (the kernel's id is not the
  // venue's to know): the table counts it as unknown until a reconciliation adopts it.
  desk.venue.OnTick(Tick{At(2), P("1.08990"), P("1.09000"), 0, 0, kEurUsd});
  EXPECT_EQ(desk.orders.unknown_reports(), 1u);
  EXPECT_EQ(desk.venue.NetLots(kEurUsd).ToString(), "0.30");
  EXPECT_EQ(desk.venue.PositionTicket(kEurUsd), 41u);  // the flip opened a position
  // New tickets follow the highest seeded one.
  limit.price = P("1.05000");
  desk.Submit(limit, At(3));
  auto after = desk.venue.Snapshot();
  ASSERT_EQ(after->orders.size(), 1u);
  EXPECT_EQ(after->orders[0].ticket, 42u);
}

// The balance: the account's until a seed sets one; then the seeded balance moved by what the
// account booked at the venue's fills since (the broker's ledger), not by anything else.
TEST(SimulatedVenueSeedTest, CarriesTheBalance) {
  VenueConfig config;
  config.commission.kind = CommissionKind::kPerLot;
  config.commission.rate = 7;
  Desk desk(config);
  desk.account.balance = Money::FromRaw(100'000 * kMoneyScale);
  auto before = desk.venue.Snapshot();
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(before->balance.has_value());
  EXPECT_EQ(before->balance->ToString(), "100000.00");

  AccountState seeded;
  seeded.balance = Money::FromRaw(90'000 * kMoneyScale);
  ASSERT_TRUE(desk.venue.Seed(seeded, At(0)).ok());
  EXPECT_EQ(desk.venue.Snapshot()->balance->ToString(), "90000.00");
  // The account's own balance moving outside a fill (a reconciliation adopting) is not the
  // venue's business.
  desk.account.balance = Money::FromRaw(95'000 * kMoneyScale);
  EXPECT_EQ(desk.venue.Snapshot()->balance->ToString(), "90000.00");
  // A fill: the account books its commission while it hears of it, and so does the ledger.
  struct Booker {
    FakeAccount* account;
    void operator()(const Fill& fill) const { account->balance -= fill.commission; }
  };
  desk.bus.Subscribe<Fill>(Booker{&desk.account});
  desk.venue.OnTick(Tick{At(1), P("1.10000"), P("1.10010"), 0, 0, kEurUsd});
  OrderRequest buy;
  buy.instrument = kEurUsd;
  buy.quantity = Q("1");
  desk.Submit(buy, At(1));
  EXPECT_EQ(desk.account.balance.ToString(), "94993.00");
  EXPECT_EQ(desk.venue.Snapshot()->balance->ToString(), "89993.00");
  // A seed without a balance leaves the ledger as it is.
  ASSERT_TRUE(desk.venue.Seed(AccountState{}, At(2)).ok());
  EXPECT_EQ(desk.venue.Snapshot()->balance->ToString(), "89993.00");
}

TEST(SimulatedVenueSeedTest, RefusesABadAccountAndKeepsItsOwn) {
  Desk desk;
  desk.venue.OnTick(Tick{At(0), P("1.10000"), P("1.10010"), 0, 0, kEurUsd});
  OrderRequest buy;
  buy.instrument = kEurUsd;
  buy.quantity = Q("1");
  desk.Submit(buy, At(0));
  const HeldPosition held{
      .ticket = 5, .instrument = kEurUsd, .quantity = Q("1"), .open_price = P("1.10000")};
  AccountState twice;
  twice.positions = {held, held};
  const Status status = desk.venue.Seed(twice, At(1));
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("one position per instrument"), std::string::npos);
  AccountState market;
  market.orders.push_back(WorkingOrder{.client_order_id = "m",
                                       .ticket = 9,
                                       .instrument = kEurUsd,
                                       .quantity = Q("1"),
                                       .type = OrderType::kMarket});
  EXPECT_NE(desk.venue.Seed(market, At(1)).message().find("order 'm'"), std::string::npos);
  AccountState unknown;
  unknown.positions.push_back(HeldPosition{
      .ticket = 1, .instrument = InstrumentId{7}, .quantity = Q("1"), .open_price = P("1.1")});
  EXPECT_FALSE(desk.venue.Seed(unknown, At(1)).ok());
  AccountState overfilled;
  overfilled.orders.push_back(WorkingOrder{.client_order_id = "o",
                                           .ticket = 9,
                                           .instrument = kEurUsd,
                                           .quantity = Q("1"),
                                           .filled = Q("1"),
                                           .price = P("1.09000")});
  EXPECT_NE(desk.venue.Seed(overfilled, At(1)).message().find("filled 1.000"), std::string::npos);
  // Nothing changed.
  EXPECT_EQ(desk.venue.NetLots(kEurUsd).ToString(), "1.00");
  EXPECT_EQ(desk.venue.PositionTicket(kEurUsd), 1u);
}

// ---- hedging accounts (docs/execution.md, "Hedging accounts") ----

VenueConfig Hedging() {
  VenueConfig config;
  config.account_mode = AccountMode::kHedging;
  return config;
}

OrderRequest Closing(OrderRequest request, uint64_t position_ticket) {
  request.position_ticket = position_ticket;
  return request;
}

TEST(SimulatedVenueHedgingTest, EachOpeningFillIsAPositionClosedOnlyByItsTicket) {
  Desk desk(Hedging());
  std::vector<Fill> fills;
  desk.bus.Subscribe<Fill>([&](const Fill& fill) { fills.push_back(fill); });
  desk.venue.OnTick(Tick{At(0), P("1.10000"), P("1.10010"), 0, 0, kEurUsd});
  desk.Submit(Buy(0).request, At(0));           // ticket 1: a long
  desk.Submit(Sell(0, "0.50").request, At(0));  // ticket 2: a short beside it, not a reduction
  EXPECT_EQ(desk.venue.PositionCount(kEurUsd), 2u);
  EXPECT_EQ(desk.venue.PositionLots(kEurUsd, 1).ToString(), "1.00");
  EXPECT_EQ(desk.venue.PositionLots(kEurUsd, 2).ToString(), "-0.50");
  EXPECT_EQ(desk.venue.NetLots(kEurUsd).ToString(), "0.50");
  EXPECT_EQ(desk.venue.PositionTicket(kEurUsd), 0u);  // no single position on a hedging account
  // A partial close of the long by its ticket leaves the rest of it and the short.
  const OrderId close = desk.Submit(Closing(Sell(0, "0.40").request, 1), At(0));
  EXPECT_EQ(desk.venue.PositionLots(kEurUsd, 1).ToString(), "0.60");
  EXPECT_EQ(desk.venue.PositionLots(kEurUsd, 2).ToString(), "-0.50");
  EXPECT_EQ(desk.venue.PositionCount(kEurUsd), 2u);
  ASSERT_EQ(fills.size(), 3u);
  EXPECT_EQ(fills[0].position_ticket, 1u);
  EXPECT_EQ(fills[1].position_ticket, 2u);
  EXPECT_EQ(fills[2].position_ticket, 1u);
  EXPECT_EQ(desk.orders.Find(close)->position_ticket, 1u);
  // The short, in full.
  desk.Submit(Closing(Buy(0, "0.50").request, 2), At(0));
  EXPECT_EQ(desk.venue.PositionCount(kEurUsd), 1u);
  EXPECT_EQ(desk.venue.NetLots(kEurUsd).ToString(), "0.60");
}

TEST(SimulatedVenueHedgingTest, AnOrderThatCannotCloseItsPositionIsRejected) {
  Desk desk(Hedging());
  desk.venue.OnTick(Tick{At(0), P("1.10000"), P("1.10010"), 0, 0, kEurUsd});
  desk.Submit(Buy(0).request, At(0));  // position 1, 1 lot long
  const OrderId unknown = desk.Submit(Closing(Sell(0).request, 77), At(0));
  const OrderId same_side = desk.Submit(Closing(Buy(0).request, 1), At(0));
  const OrderId too_large = desk.Submit(Closing(Sell(0, "1.10").request, 1), At(0));
  const OrderId limit = desk.Submit(Closing(Sell(0).Limit("1.20000").request, 1), At(0));
  for (OrderId id : {unknown, same_side, too_large, limit}) {
    const aits::Order* order = desk.orders.Find(id);
    ASSERT_NE(order, nullptr);
    EXPECT_EQ(order->status, OrderStatus::kRejected) << id.value;
    EXPECT_EQ(order->reject_reason, RejectReason::kInvalidPosition) << id.value;
  }
  EXPECT_EQ(desk.venue.PositionLots(kEurUsd, 1).ToString(), "1.00");
  EXPECT_EQ(desk.venue.PositionCount(kEurUsd), 1u);
  // With latency the check is made on arrival: a position closed meanwhile is gone by then.
  VenueConfig slow = Hedging();
  slow.latency = Duration::Millis(10);
  Desk late(slow);
  late.venue.OnTick(Tick{At(0), P("1.10000"), P("1.10010"), 0, 0, kEurUsd});
  late.Submit(Buy(0).request, At(0));
  late.venue.OnTick(Tick{At(10), P("1.10000"), P("1.10010"), 0, 0, kEurUsd});
  const OrderId first = late.Submit(Closing(Sell(10).request, 1), At(10));
  const OrderId second = late.Submit(Closing(Sell(10).request, 1), At(10));
  late.venue.OnTick(Tick{At(20), P("1.10000"), P("1.10010"), 0, 0, kEurUsd});
  EXPECT_EQ(late.orders.Find(first)->status, OrderStatus::kFilled);
  EXPECT_EQ(late.orders.Find(second)->reject_reason, RejectReason::kInvalidPosition);
}

TEST(SimulatedVenueHedgingTest, MarginIsThatOfTheLargerLeg) {
  Desk desk(Hedging());
  desk.venue.OnTick(Tick{At(0), P("1.10000"), P("1.10010"), 0, 0, kEurUsd});
  desk.Submit(Buy(0).request, At(0));
  desk.account.free_margin = Money();  // nothing left for more exposure
  // A short up to the long's size adds nothing to the larger leg: no margin needed.
  const OrderId hedge = desk.Submit(Sell(0).request, At(0));
  EXPECT_EQ(desk.orders.Find(hedge)->status, OrderStatus::kFilled);
  // Beyond it the short becomes the larger leg: 0.1 lot more needs margin.
  const OrderId more = desk.Submit(Sell(0, "0.10").request, At(0));
  EXPECT_EQ(desk.orders.Find(more)->reject_reason, RejectReason::kInsufficientMargin);
  desk.account.free_margin = Money::FromRaw(110 * kMoneyScale);  // 0.1 lot at 1.1 / 100 = 110
  const OrderId fits = desk.Submit(Sell(0, "0.10").request, At(0));
  EXPECT_EQ(desk.orders.Find(fits)->status, OrderStatus::kFilled);
  EXPECT_EQ(desk.venue.NetLots(kEurUsd).ToString(), "-0.10");
}

TEST(SimulatedVenueHedgingTest, ProtectionBelongsToOnePositionAndIsSetByTicket) {
  Desk desk(Hedging());
  std::vector<Fill> fills;
  std::vector<ExecutionReport> modified;
  desk.bus.Subscribe<Fill>([&](const Fill& fill) { fills.push_back(fill); });
  desk.bus.Subscribe<ExecutionReport>([&](const ExecutionReport& report) {
    if (report.kind == ExecKind::kModified) modified.push_back(report);
  });
  SimulatedVenue& venue = desk.venue;
  venue.OnTick(Tick{At(0), P("1.10000"), P("1.10010"), 0, 0, kEurUsd});
  desk.Submit(Buy(0).Sl("1.09800").request, At(0));  // position 1
  desk.Submit(Buy(0).request, At(0));                // position 2, unprotected
  EXPECT_EQ(venue.SetProtection(kEurUsd, P("1.09000"), std::nullopt).code(),
            StatusCode::kFailedPrecondition);  // which position? a hedging account names it
  EXPECT_EQ(venue.SetPositionProtection(kEurUsd, 9, P("1.09000"), std::nullopt).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(venue.SetPositionProtection(kEurUsd, 2, P("1.10500"), std::nullopt).code(),
            StatusCode::kInvalidArgument);  // a long's SL above the bid
  ASSERT_TRUE(venue.SetPositionProtection(kEurUsd, 2, std::nullopt, P("1.10300")).ok());
  ASSERT_EQ(modified.size(), 1u);
  EXPECT_EQ(modified[0].position_ticket, 2u);
  EXPECT_EQ(modified[0].take_profit, P("1.10300"));
  venue.OnTick(Tick{At(1), P("1.09800"), P("1.09810"), 0, 0, kEurUsd});  // position 1's SL
  ASSERT_EQ(fills.size(), 3u);
  EXPECT_EQ(fills[2].reason, FillReason::kStopLoss);
  EXPECT_EQ(fills[2].position_ticket, 1u);
  EXPECT_EQ(venue.PositionCount(kEurUsd), 1u);
  EXPECT_EQ(venue.PositionLots(kEurUsd, 2).ToString(), "1.00");
  const aits::Order* sl = desk.orders.Find(fills[2].order_id);
  ASSERT_NE(sl, nullptr);
  EXPECT_EQ(sl->request.position_ticket, 1u);  // the venue's close names its position
  venue.OnTick(Tick{At(2), P("1.10300"), P("1.10310"), 0, 0, kEurUsd});  // position 2's TP
  ASSERT_EQ(fills.size(), 4u);
  EXPECT_EQ(fills[3].reason, FillReason::kTakeProfit);
  EXPECT_EQ(fills[3].position_ticket, 2u);
  EXPECT_EQ(venue.PositionCount(kEurUsd), 0u);
}

TEST(SimulatedVenueHedgingTest, NettingAccountTakesItsPositionTicket) {
  Desk desk;
  desk.venue.OnTick(Tick{At(0), P("1.10000"), P("1.10010"), 0, 0, kEurUsd});
  desk.Submit(Buy(0).request, At(0));  // position 1
  const OrderId wrong = desk.Submit(Closing(Sell(0, "0.50").request, 5), At(0));
  EXPECT_EQ(desk.orders.Find(wrong)->reject_reason, RejectReason::kInvalidPosition);
  const OrderId right = desk.Submit(Closing(Sell(0, "0.50").request, 1), At(0));
  EXPECT_EQ(desk.orders.Find(right)->status, OrderStatus::kFilled);
  EXPECT_EQ(desk.venue.NetLots(kEurUsd).ToString(), "0.50");
  EXPECT_EQ(desk.venue.SetPositionProtection(kEurUsd, 5, std::nullopt, std::nullopt).code(),
            StatusCode::kNotFound);
  EXPECT_TRUE(desk.venue.SetPositionProtection(kEurUsd, 1, P("1.09000"), std::nullopt).ok());
}

// A hedging broker lists every position with its ticket and open price; a seed makes them
// positions of their own that close by ticket, and the net stays their sum.
TEST(SimulatedVenueHedgingTest, SnapshotListsEveryPositionAndSeedRebuildsThem) {
  Desk desk(Hedging());
  desk.venue.OnTick(Tick{At(0), P("1.10000"), P("1.10010"), 0, 0, kEurUsd});
  desk.Submit(Buy(0).request, At(0));  // position 1 at 1.10010
  desk.venue.OnTick(Tick{At(1), P("1.10100"), P("1.10110"), 0, 0, kEurUsd});
  desk.Submit(Sell(1, "0.50").request, At(1));               // position 2 at 1.10100
  desk.Submit(Buy(1, "0.20").Sl("1.09000").request, At(1));  // position 3, protected
  auto snapshot = desk.venue.Snapshot();
  ASSERT_TRUE(snapshot.ok());
  ASSERT_EQ(snapshot->positions.size(), 3u);
  EXPECT_EQ(snapshot->positions[0].ticket, 1u);
  EXPECT_EQ(snapshot->positions[0].quantity.ToString(), "1.00");
  EXPECT_EQ(snapshot->positions[0].open_price.ToString(), "1.10010");
  EXPECT_EQ(snapshot->positions[1].ticket, 2u);
  EXPECT_EQ(snapshot->positions[1].quantity.ToString(), "-0.50");
  EXPECT_EQ(snapshot->positions[1].open_price.ToString(), "1.10100");
  EXPECT_EQ(snapshot->positions[2].ticket, 3u);
  // A partial close keeps the position's open price.
  desk.Submit(Closing(Sell(1, "0.40").request, 1), At(1));
  snapshot = desk.venue.Snapshot();
  ASSERT_EQ(snapshot->positions.size(), 3u);
  EXPECT_EQ(snapshot->positions[0].quantity.ToString(), "0.60");
  EXPECT_EQ(snapshot->positions[0].open_price.ToString(), "1.10010");

  // Two positions in one instrument are a hedging account's normal state.
  AccountState account;
  account.positions.push_back(HeldPosition{
      .ticket = 30, .instrument = kEurUsd, .quantity = Q("1"), .open_price = P("1.10000")});
  account.positions.push_back(HeldPosition{
      .ticket = 31, .instrument = kEurUsd, .quantity = Q("-0.3"), .open_price = P("1.11000")});
  ASSERT_TRUE(desk.venue.Seed(account, At(2)).ok());
  EXPECT_EQ(desk.venue.PositionCount(kEurUsd), 2u);
  EXPECT_EQ(desk.venue.NetLots(kEurUsd).ToString(), "0.70");
  EXPECT_EQ(desk.venue.PositionLots(kEurUsd, 31).ToString(), "-0.30");
  auto seeded = desk.venue.Snapshot();
  ASSERT_TRUE(seeded.ok());
  ASSERT_EQ(seeded->positions.size(), 2u);
  EXPECT_EQ(seeded->positions[1].ticket, 31u);
  EXPECT_EQ(seeded->positions[1].open_price.ToString(), "1.11000");
  // The seeded positions carry no protection (the old protected one is gone), close by ticket,
  // and new positions take tickets after the highest seeded one.
  EXPECT_EQ(desk.venue.SetPositionProtection(kEurUsd, 3, P("1.09000"), std::nullopt).code(),
            StatusCode::kNotFound);
  desk.venue.OnTick(Tick{At(3), P("1.08000"), P("1.08010"), 0, 0, kEurUsd});  // no SL fires
  EXPECT_EQ(desk.venue.PositionCount(kEurUsd), 2u);
  const OrderId close = desk.Submit(Closing(Buy(3, "0.30").request, 31), At(3));
  EXPECT_EQ(desk.orders.Find(close)->status, OrderStatus::kFilled);
  EXPECT_EQ(desk.venue.PositionCount(kEurUsd), 1u);
  EXPECT_EQ(desk.venue.NetLots(kEurUsd).ToString(), "1.00");
  desk.Submit(Sell(3, "0.10").request, At(3));
  EXPECT_EQ(desk.venue.PositionLots(kEurUsd, 33).ToString(), "-0.10");  // 32 was the close
}

TEST(CommissionTest, ParsesAndValidates) {
  auto per_lot = ParseCommission("per_lot:7");
  ASSERT_TRUE(per_lot.ok());
  EXPECT_EQ(per_lot->kind, CommissionKind::kPerLot);
  EXPECT_EQ(per_lot->Compute(*Quantity::Parse("0.5", 2), Money()).ToString(), "3.50");
  EXPECT_EQ(ParseCommission("none")->kind, CommissionKind::kNone);
  EXPECT_FALSE(ParseCommission("per_lot").ok());
  EXPECT_FALSE(ParseCommission("per_lot:abc").ok());
  EXPECT_FALSE(ParseCommission("per_lot:-1").ok());
  EXPECT_FALSE(ParseCommission("per_lot:nan").ok());
  Status status = ParseCommission("flat:3").status();
  EXPECT_NE(status.message().find("flat"), std::string::npos);
  VenueConfig config;
  config.slippage_points = -1;
  EXPECT_FALSE(config.Validate().ok());
}

}  // namespace
}  // namespace aits::execution
