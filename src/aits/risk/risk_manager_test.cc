#include "aits/risk/risk_manager.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>
#include <optional>
#include <string>
#include <vector>

// Counts heap allocations so that the no-allocation promise of CheckOrder/OnQuote is tested.
namespace {
std::atomic<int64_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* memory = std::malloc(size == 0 ? 1 : size)) return memory;
  throw std::bad_alloc();
}
// GCC cannot see that these pair with the malloc above.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* memory) noexcept { std::free(memory); }
void operator delete(void* memory, std::size_t) noexcept { std::free(memory); }
#pragma GCC diagnostic pop

namespace aits::risk {
namespace {

// A real portfolio (USD account of 100,000, leverage 100) with EURUSD, GBPUSD and USDCHF, fed
// with zero-spread quotes so that every figure below can be checked by hand: one lot of EURUSD
// at 1.10000 is 110,000 USD of notional and 1,100 USD of margin; 0.00001 on one lot is 1 USD.

constexpr InstrumentId kEurUsd{0};
constexpr InstrumentId kGbpUsd{1};
constexpr InstrumentId kUsdChf{2};
constexpr Timestamp kStart = FromCivil(2024, 3, 4, 10, 0, 0);

Instrument Make(const char* symbol, InstrumentId id) {
  Instrument inst = Instrument::Infer(symbol);
  inst.id = id;
  return inst;
}
Price P(const char* text) { return *Price::Parse(text, 5); }
Quantity Q(const char* text) { return *Quantity::Parse(text, 2); }
Timestamp At(double seconds) {
  return kStart + Duration::Nanos(static_cast<int64_t>(std::llround(seconds * 1e9)));
}

// Every limit out of the way; each test tightens the one it is about.
RiskLimits Loose() {
  RiskLimits limits;
  limits.max_order_lots = 1e6;
  limits.max_position_lots = 1e6;
  limits.max_gross_exposure = 1e12;
  limits.max_net_exposure = 1e12;
  limits.max_currency_exposure = 1e12;
  limits.max_correlated_exposure = 1e12;
  limits.correlation_threshold = 0.7;
  limits.correlation_window = 100;
  limits.max_leverage = 1e6;
  limits.max_margin_use = 1;
  limits.max_orders_per_second = 1000;
  limits.price_collar = 1;
  limits.daily_loss_limit = 1e9;
  limits.max_drawdown = 1;
  limits.reduce_only_drawdown = 1;
  limits.var_limit = 1e6;
  limits.var_window = 250;
  EXPECT_TRUE(limits.Validate().ok()) << limits.Validate().ToString();
  return limits;
}

class RiskTest : public ::testing::Test {
 protected:
  RiskTest() : portfolio_(Currency::Of("USD"), *Money::Parse("100000"), 100.0) {
    for (auto [symbol, id] : {std::pair{"EURUSD", kEurUsd}, std::pair{"GBPUSD", kGbpUsd},
                              std::pair{"USDCHF", kUsdChf}}) {
      EXPECT_TRUE(portfolio_.AddInstrument(Make(symbol, id)).ok());
    }
  }

  void Start(const RiskLimits& limits) {
    ASSERT_TRUE(limits.Validate().ok()) << limits.Validate().ToString();
    risk_ = std::make_unique<RiskManager>(
        limits, portfolio_, [this](const BreakerChange& change) { changes_.push_back(change); });
    for (InstrumentId id : {kEurUsd, kGbpUsd, kUsdChf}) {
      risk_->AddInstrument(portfolio_.instrument(id));
    }
    Quote(kEurUsd, "1.10000", At(0));
    Quote(kGbpUsd, "1.25000", At(0));
    Quote(kUsdChf, "0.90000", At(0));
  }

  // A zero-spread quote at `price`.
  void Quote(InstrumentId id, const char* price, Timestamp ts) {
    Tick tick;
    tick.ts = ts;
    tick.instrument = id;
    tick.bid = P(price);
    tick.ask = P(price);
    last_[id.value] = tick;
    portfolio_.OnTick(tick);
    risk_->OnQuote(tick, ts);
  }

  void FillAt(InstrumentId id, Side side, const char* lots, const char* price, Timestamp ts) {
    Fill fill;
    fill.instrument = id;
    fill.side = side;
    fill.quantity = Q(lots);
    fill.price = P(price);
    fill.ts = ts;
    portfolio_.OnFill(fill);
    risk_->OnFill(fill, ts);
  }

  // A bar whose bid, ask and mid all close at `close`.
  void BarClose(InstrumentId id, const char* close, Timestamp close_time) {
    Bar bar;
    bar.instrument = id;
    bar.period = Duration::Minutes(1);
    bar.open_time = close_time - bar.period;
    bar.bid = {P(close), P(close), P(close), P(close)};
    bar.ask = bar.bid;
    bar.mid = bar.bid;
    portfolio_.OnBar(bar);
    last_[id.value].bid = P(close);
    last_[id.value].ask = P(close);
    risk_->OnBarClose(bar, close_time);
  }

  RiskVerdict Check(InstrumentId id, Side side, const char* lots, Timestamp ts = At(1),
                    std::string client_id = "", OrderType type = OrderType::kMarket,
                    std::optional<Price> price = std::nullopt, bool with_quote = true) {
    OrderRequest request;
    request.instrument = id;
    request.side = side;
    request.type = type;
    request.quantity = Q(lots);
    request.price = price;
    request.client_order_id = std::move(client_id);
    return risk_->CheckOrder(request, with_quote ? &last_[id.value] : nullptr, ts);
  }

  portfolio::Portfolio portfolio_;
  std::unique_ptr<RiskManager> risk_;
  std::vector<BreakerChange> changes_;
  Tick last_[3];
};

// ---------------------------------------------------------------------------------------------
// Limits

TEST(RiskLimitsTest, DefaultsAreValidAndConservative) {
  const RiskLimits limits = RiskLimits::Defaults();
  EXPECT_TRUE(limits.Validate().ok()) << limits.Validate().ToString();
  EXPECT_EQ(limits.max_order_lots, 20);
  EXPECT_EQ(limits.max_position_lots, 30);
  EXPECT_EQ(limits.max_leverage, 30);
  EXPECT_LE(limits.reduce_only_drawdown, limits.max_drawdown);
  EXPECT_EQ(RiskLimits::Keys().size(), 17u);
}

TEST(RiskLimitsTest, SetEveryKeyRoundTrips) {
  RiskLimits limits;
  for (std::string_view key : RiskLimits::Keys()) {
    ASSERT_TRUE(limits.Set(key, "3").ok()) << key;
  }
  EXPECT_EQ(limits.max_order_lots, 3);
  EXPECT_EQ(limits.var_window, 3);
  EXPECT_EQ(limits.correlation_threshold, 3);
  ASSERT_TRUE(limits.Set("price_collar", " 1.5e-2 ").ok());
  EXPECT_DOUBLE_EQ(limits.price_collar, 0.015);
}

TEST(RiskLimitsTest, SetRejectsUnknownKeyAndNonNumbers) {
  RiskLimits limits = RiskLimits::Defaults();
  const Status unknown = limits.Set("max_lots", "1");
  EXPECT_FALSE(unknown.ok());
  EXPECT_NE(unknown.message().find("'max_lots' is unknown"), std::string::npos)
      << unknown.message();
  for (const char* bad : {"abc", "", "1.5x", "nan", "inf", "-inf", "1e999"}) {
    const Status status = limits.Set("max_order_lots", bad);
    EXPECT_FALSE(status.ok()) << bad;
    EXPECT_NE(status.message().find("max_order_lots"), std::string::npos) << status.message();
    EXPECT_NE(status.message().find("not a finite number"), std::string::npos) << status.message();
  }
  EXPECT_EQ(limits.max_order_lots, 20);  // unchanged by the failures
}

TEST(RiskLimitsTest, ValidateNamesTheFirstBadLimit) {
  struct Case {
    const char* key;
    const char* value;  // nullptr: leave missing (NaN)
    const char* message;
  };
  const Case cases[] = {
      {"max_drawdown", nullptr, "risk limit max_drawdown is missing"},
      {"var_window", nullptr, "risk limit var_window is missing"},
      {"max_order_lots", "-1", "risk limit max_order_lots = -1 must be >= 0"},
      {"max_gross_exposure", "-0.5", "risk limit max_gross_exposure = -0.5 must be >= 0"},
      {"correlation_threshold", "1.5", "correlation_threshold = 1.5 must be in [0, 1]"},
      {"correlation_window", "2.5", "correlation_window = 2.5 must be a whole number"},
      {"correlation_window", "1", "correlation_window = 1 must be a whole number"},
      {"max_orders_per_second", "10.5", "max_orders_per_second = 10.5 must be a whole number"},
      {"var_window", "19", "var_window = 19 must be a whole number in [20, 100000]"},
      {"max_margin_use", "1.2", "max_margin_use = 1.2 must be in [0, 1]"},
      {"max_drawdown", "1.5", "max_drawdown = 1.5 must be in (0, 1]"},
      {"reduce_only_drawdown", "0.25", "reduce_only_drawdown = 0.25 must be in (0, max_drawdown"},
      {"daily_loss_limit", "0", "daily_loss_limit = 0 must be > 0"},
  };
  for (const Case& test : cases) {
    RiskLimits limits = RiskLimits::Defaults();
    if (test.value == nullptr) {
      if (std::string_view(test.key) == "max_drawdown") limits.max_drawdown = RiskLimits::kUnset;
      if (std::string_view(test.key) == "var_window") limits.var_window = RiskLimits::kUnset;
    } else {
      ASSERT_TRUE(limits.Set(test.key, test.value).ok()) << test.key;
    }
    const Status status = limits.Validate();
    EXPECT_FALSE(status.ok()) << test.key;
    EXPECT_NE(status.message().find(test.message), std::string::npos)
        << test.key << ": " << status.message();
  }
  // Zero is valid for the rate and exposure limits ("nothing allowed").
  RiskLimits zero = RiskLimits::Defaults();
  ASSERT_TRUE(zero.Set("max_orders_per_second", "0").ok());
  ASSERT_TRUE(zero.Set("max_gross_exposure", "0").ok());
  EXPECT_TRUE(zero.Validate().ok()) << zero.Validate().ToString();
  // A default-constructed RiskLimits names its first field.
  EXPECT_EQ(RiskLimits().Validate().message(), "risk limit max_order_lots is missing");
}

TEST(RiskLimitsTest, BreakerStateNames) {
  for (BreakerState state :
       {BreakerState::kNormal, BreakerState::kReduceOnly, BreakerState::kHalted}) {
    auto parsed = ParseBreakerState(ToString(state));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, state);
  }
  EXPECT_FALSE(ParseBreakerState("stopped").ok());
}

// ---------------------------------------------------------------------------------------------
// Pre-trade rules, one table row per limit: the order just under passes, just over is rejected
// with the rule's reason and the figures in the detail.

struct RuleCase {
  const char* name;
  const char* limit_key;
  const char* limit_value;
  // Existing position (filled at the start quote) before the checks.
  InstrumentId held = kEurUsd;
  const char* held_lots = nullptr;
  InstrumentId order_instrument = kEurUsd;
  Side side = Side::kBuy;
  const char* pass_lots;
  const char* reject_lots;
  RejectReason reason;
  const char* detail;
};

const char* StartPrice(InstrumentId id) {
  return id == kEurUsd ? "1.10000" : (id == kGbpUsd ? "1.25000" : "0.90000");
}

class RuleTest : public RiskTest, public ::testing::WithParamInterface<RuleCase> {};

TEST_P(RuleTest, PassesUnderRejectsOver) {
  const RuleCase& test = GetParam();
  RiskLimits limits = Loose();
  ASSERT_TRUE(limits.Set(test.limit_key, test.limit_value).ok());
  Start(limits);
  if (test.held_lots != nullptr) {
    FillAt(test.held, Side::kBuy, test.held_lots, StartPrice(test.held), At(0.5));
  }
  const RiskVerdict pass = Check(test.order_instrument, test.side, test.pass_lots, At(1));
  EXPECT_TRUE(pass.ok()) << test.name << ": " << ToString(pass.reason) << " " << pass.detail;
  const RiskVerdict reject = Check(test.order_instrument, test.side, test.reject_lots, At(2));
  EXPECT_EQ(reject.reason, test.reason) << test.name << ": " << reject.detail;
  EXPECT_NE(reject.detail.find(test.detail), std::string::npos)
      << test.name << ": " << reject.detail;
  EXPECT_EQ(risk_->snapshot().orders_checked, 2u);
  EXPECT_EQ(risk_->snapshot().orders_rejected, 1u);
  EXPECT_EQ(risk_->snapshot().rejects_by_reason[static_cast<size_t>(test.reason)], 1u);
}

INSTANTIATE_TEST_SUITE_P(
    PreTrade, RuleTest,
    ::testing::Values(
        RuleCase{"order_size", "max_order_lots", "10", kEurUsd, nullptr, kEurUsd, Side::kBuy, "10",
                 "10.01", RejectReason::kRiskOrderSize, "order 10.01 lots > limit 10.00"},
        RuleCase{"position_long", "max_position_lots", "20", kEurUsd, "15", kEurUsd, Side::kBuy,
                 "5", "5.01", RejectReason::kRiskPositionLimit,
                 "EURUSD position 20.01 lots > limit 20.00"},
        RuleCase{"position_flip_short", "max_position_lots", "20", kEurUsd, "15", kEurUsd,
                 Side::kSell, "35", "35.01", RejectReason::kRiskPositionLimit,
                 "EURUSD position -20.01 lots > limit 20.00"},
        // 2 lots at 1.1 = 220,000 USD.
        RuleCase{"gross", "max_gross_exposure", "220000", kEurUsd, nullptr, kEurUsd, Side::kBuy,
                 "2", "2.01", RejectReason::kRiskGrossExposure,
                 "gross exposure 221100.00 > limit 220000.00"},
        // Long 2 EURUSD (220,000) + short GBPUSD lots at 1.25 is net 220,000 - 125,000 * lots.
        RuleCase{"net_short", "max_net_exposure", "220000", kEurUsd, "2", kGbpUsd, Side::kSell,
                 "3.52", "3.53", RejectReason::kRiskNetExposure,
                 "net exposure -221250.00 > limit 220000.00"},
        RuleCase{"net_long", "max_net_exposure", "300000", kEurUsd, "2", kGbpUsd, Side::kBuy,
                 "0.64", "0.65", RejectReason::kRiskNetExposure,
                 "net exposure 301250.00 > limit 300000.00"},
        // Long EURUSD is long EUR: 110,000 per lot (USD, the account currency, is not limited).
        RuleCase{"currency_eur", "max_currency_exposure", "300000", kEurUsd, "2", kEurUsd,
                 Side::kBuy, "0.72", "0.73", RejectReason::kRiskCurrencyExposure,
                 "EUR exposure 300300.00 > limit 300000.00"},
        // Equity 100,000: leverage 2.2 is 220,000 of gross.
        RuleCase{"leverage", "max_leverage", "2.2", kEurUsd, nullptr, kEurUsd, Side::kBuy, "2",
                 "2.01", RejectReason::kRiskLeverage,
                 "leverage 2.2110 (gross 221100.00 / equity 100000.00) > limit 2.2000"},
        // 1 lot of EURUSD needs 1,100 of margin at leverage 100; 1 lot held + the order.
        RuleCase{"margin_use", "max_margin_use", "0.022", kEurUsd, "1", kEurUsd, Side::kBuy, "1",
                 "1.01", RejectReason::kRiskMarginUse,
                 "margin use 0.0221 (margin 2211.00 / equity 100000.00) > limit 0.0220"}),
    [](const ::testing::TestParamInfo<RuleCase>& param_info) {
      return std::string(param_info.param.name);
    });

TEST_F(RiskTest, UsdChfLongOffsetsTheUsdShortOfEurUsd) {
  RiskLimits limits = Loose();
  limits.max_currency_exposure = 250'000;
  Start(limits);
  FillAt(kEurUsd, Side::kBuy, "2", "1.10000", At(0.5));  // USD -220,000
  // Long USDCHF is long USD (+100,000 per lot) and short CHF (-100,000 per lot).
  EXPECT_TRUE(Check(kUsdChf, Side::kBuy, "2.5", At(1)).ok());
  const RiskVerdict reject = Check(kUsdChf, Side::kBuy, "2.51", At(2));
  EXPECT_EQ(reject.reason, RejectReason::kRiskCurrencyExposure);
  EXPECT_NE(reject.detail.find("CHF exposure -251000.00"), std::string::npos) << reject.detail;
  // USD is the account currency and has no limit: short USDCHF takes the USD short to
  // -251,000 and passes (CHF +31,000).
  EXPECT_TRUE(Check(kUsdChf, Side::kSell, "0.31", At(3)).ok());
}

// On a EUR account, long EURUSD and long GBPUSD are both short USD: the USD exposures add up.
TEST(RiskCurrencyTest, UsdShortsOfTwoPairsAddUpOnAEurAccount) {
  portfolio::Portfolio book(Currency::Of("EUR"), *Money::Parse("100000"), 100.0);
  ASSERT_TRUE(book.AddInstrument(Make("EURUSD", kEurUsd)).ok());
  ASSERT_TRUE(book.AddInstrument(Make("GBPUSD", kGbpUsd)).ok());
  RiskLimits limits = Loose();
  limits.max_currency_exposure = 200'000;
  RiskManager risk(limits, book);
  risk.AddInstrument(book.instrument(kEurUsd));
  risk.AddInstrument(book.instrument(kGbpUsd));
  Tick eur{At(0), P("1.10000"), P("1.10000"), 0, 0, kEurUsd};
  Tick gbp{At(0), P("1.25000"), P("1.25000"), 0, 0, kGbpUsd};
  for (const Tick& tick : {eur, gbp}) {
    book.OnTick(tick);
    risk.OnQuote(tick, At(0));
  }
  Fill fill;
  fill.instrument = kEurUsd;
  fill.side = Side::kBuy;
  fill.quantity = Q("1");
  fill.price = P("1.10000");
  fill.ts = At(0.5);
  book.OnFill(fill);
  risk.OnFill(fill, At(0.5));
  // USD: -100,000 EUR from the EURUSD lot, -125,000 USD / 1.1 = -113,636.36 EUR per GBPUSD lot.
  OrderRequest order;
  order.instrument = kGbpUsd;
  order.quantity = Q("0.88");
  EXPECT_TRUE(risk.CheckOrder(order, &gbp, At(1)).ok());
  order.quantity = Q("0.89");
  const RiskVerdict verdict = risk.CheckOrder(order, &gbp, At(2));
  EXPECT_EQ(verdict.reason, RejectReason::kRiskCurrencyExposure);
  EXPECT_NE(verdict.detail.find("USD exposure -201136.36 > limit 200000.00"), std::string::npos)
      << verdict.detail;
  // A short GBPUSD is long USD and offsets the EURUSD lot.
  order.side = Side::kSell;
  order.quantity = Q("1.7");
  EXPECT_TRUE(risk.CheckOrder(order, &gbp, At(3)).ok());
}

TEST_F(RiskTest, ReducingOrdersPassEveryExposureRule) {
  RiskLimits limits = Loose();
  Start(limits);
  FillAt(kEurUsd, Side::kBuy, "3", "1.10000", At(0.5));
  // Now tighten everything below the current book: a fresh manager over the same portfolio.
  limits.max_position_lots = 1;
  limits.max_gross_exposure = 0;
  limits.max_net_exposure = 0;
  limits.max_currency_exposure = 0;
  limits.max_correlated_exposure = 0;
  limits.max_leverage = 0;
  limits.max_margin_use = 0;
  Start(limits);
  EXPECT_TRUE(Check(kEurUsd, Side::kSell, "1", At(1)).ok());
  EXPECT_TRUE(Check(kEurUsd, Side::kSell, "3", At(2)).ok());  // to flat
  // Growing, or flipping through zero, is checked.
  EXPECT_EQ(Check(kEurUsd, Side::kBuy, "0.01", At(3)).reason, RejectReason::kRiskPositionLimit);
  EXPECT_EQ(Check(kGbpUsd, Side::kBuy, "0.01", At(3.5)).reason, RejectReason::kRiskGrossExposure);
  EXPECT_EQ(Check(kEurUsd, Side::kSell, "3.01", At(4)).reason, RejectReason::kRiskGrossExposure);
  // The order-size limit is a fat-finger check and applies to reductions too.
  limits.max_order_lots = 2;
  Start(limits);
  EXPECT_EQ(Check(kEurUsd, Side::kSell, "3", At(5)).reason, RejectReason::kRiskOrderSize);
}

TEST_F(RiskTest, OrderRateWindowSlides) {
  RiskLimits limits = Loose();
  limits.max_orders_per_second = 3;
  Start(limits);
  struct Step {
    double at;
    bool ok;
  };
  // Accepted at 0.0, 0.2, 0.4; 0.6 is the fourth in a second. At 1.0 the 0.0 order has left the
  // window (now - 1 s, now]; the rejected 0.6 never counted.
  const Step steps[] = {{0.0, true},  {0.2, true}, {0.4, true},  {0.6, false}, {1.0, true},
                        {1.1, false}, {1.2, true}, {1.3, false}, {1.41, true}, {5.0, true},
                        {5.0, true},  {5.0, true}, {5.0, false}};
  for (const Step& step : steps) {
    const RiskVerdict verdict = Check(kEurUsd, Side::kBuy, "0.01", At(10 + step.at));
    EXPECT_EQ(verdict.ok(), step.ok) << "at " << step.at << ": " << verdict.detail;
    if (!step.ok) {
      EXPECT_EQ(verdict.reason, RejectReason::kRiskOrderRate);
      EXPECT_NE(verdict.detail.find("3 orders in the last second"), std::string::npos)
          << verdict.detail;
    }
  }
  RiskLimits none = Loose();
  none.max_orders_per_second = 0;
  Start(none);
  EXPECT_EQ(Check(kEurUsd, Side::kBuy, "0.01", At(1)).reason, RejectReason::kRiskOrderRate);
}

TEST_F(RiskTest, PriceCollarForLimitAndStopOrders) {
  RiskLimits limits = Loose();
  limits.price_collar = 0.02;
  Start(limits);
  struct Case {
    OrderType type;
    Side side;
    const char* price;
    bool ok;
  };
  // Mid 1.10000; 2 % is 0.02200.
  const Case cases[] = {
      {OrderType::kLimit, Side::kBuy, "1.12199", true},
      {OrderType::kLimit, Side::kBuy, "1.12201", false},
      {OrderType::kLimit, Side::kSell, "1.07801", true},
      {OrderType::kLimit, Side::kSell, "1.07799", false},
      {OrderType::kStop, Side::kSell, "1.07801", true},
      {OrderType::kStop, Side::kSell, "1.07700", false},
      {OrderType::kStop, Side::kBuy, "1.13000", false},
  };
  double at = 1;
  for (const Case& test : cases) {
    const RiskVerdict verdict =
        Check(kEurUsd, test.side, "0.1", At(at++), "", test.type, P(test.price));
    EXPECT_EQ(verdict.ok(), test.ok) << test.price << ": " << verdict.detail;
    if (!test.ok) {
      EXPECT_EQ(verdict.reason, RejectReason::kRiskPriceCollar);
      EXPECT_NE(verdict.detail.find(std::string("price ") + test.price), std::string::npos)
          << verdict.detail;
      EXPECT_NE(verdict.detail.find("from mid 1.10000 > collar 2.0000%"), std::string::npos)
          << verdict.detail;
    }
  }
  // Market orders and orders without a quote are not collared.
  EXPECT_TRUE(Check(kEurUsd, Side::kBuy, "0.1", At(at++)).ok());
  EXPECT_TRUE(Check(kEurUsd, Side::kBuy, "0.1", At(at++), "", OrderType::kLimit, P("1.50000"),
                    /*with_quote=*/false)
                  .ok());
}

TEST_F(RiskTest, NoQuoteUsesTheOrderPriceOrPasses) {
  RiskLimits limits = Loose();
  limits.max_gross_exposure = 100'000;
  Start(limits);
  // Without a quote, a limit order is valued at its own price: 1 lot at 1.2 = 120,000.
  EXPECT_EQ(
      Check(kEurUsd, Side::kBuy, "1", At(1), "", OrderType::kLimit, P("1.20000"), false).reason,
      RejectReason::kRiskGrossExposure);
  EXPECT_TRUE(
      Check(kEurUsd, Side::kBuy, "0.8", At(2), "", OrderType::kLimit, P("1.20000"), false).ok());
  // A market order with no price at all passes (the venue reports "no market").
  EXPECT_TRUE(
      Check(kEurUsd, Side::kBuy, "5", At(3), "", OrderType::kMarket, std::nullopt, false).ok());
}

TEST_F(RiskTest, BreakerGatesOrdersAndFlattenBypasses) {
  RiskLimits limits = Loose();
  limits.max_order_lots = 1;
  Start(limits);
  FillAt(kEurUsd, Side::kBuy, "2", "1.10000", At(0.5));

  risk_->SetBreaker(BreakerState::kReduceOnly, "operator", At(1));
  const RiskVerdict grow = Check(kEurUsd, Side::kBuy, "0.5", At(2));
  EXPECT_EQ(grow.reason, RejectReason::kRiskReduceOnly);
  EXPECT_NE(grow.detail.find("position 2.00 -> 2.50"), std::string::npos) << grow.detail;
  EXPECT_EQ(Check(kGbpUsd, Side::kSell, "0.5", At(3)).reason, RejectReason::kRiskReduceOnly);
  EXPECT_EQ(Check(kEurUsd, Side::kSell, "2.5", At(4)).reason, RejectReason::kRiskReduceOnly);
  EXPECT_TRUE(Check(kEurUsd, Side::kSell, "0.5", At(5)).ok());

  risk_->SetBreaker(BreakerState::kHalted, "operator", At(6));
  EXPECT_EQ(Check(kEurUsd, Side::kSell, "0.5", At(7)).reason, RejectReason::kRiskHalted);
  // The kernel's flatten order bypasses every rule, even the order-size limit.
  OrderRequest flatten;
  flatten.instrument = kEurUsd;
  flatten.side = Side::kSell;
  flatten.quantity = Q("2");
  flatten.client_order_id = "flat-1";
  EXPECT_TRUE(risk_->CheckOrder(flatten, &last_[0], At(8), /*flatten=*/true).ok());
  risk_->SetBreaker(BreakerState::kNormal, "operator", At(9));
  const RiskSnapshot& snap = risk_->snapshot();
  EXPECT_EQ(snap.orders_checked, 6u);
  EXPECT_EQ(snap.orders_rejected, 4u);
  EXPECT_EQ(snap.rejects_by_reason[static_cast<size_t>(RejectReason::kRiskReduceOnly)], 3u);
  EXPECT_EQ(snap.rejects_by_reason[static_cast<size_t>(RejectReason::kRiskHalted)], 1u);
}

TEST_F(RiskTest, PassingChecksAndQuotesDoNotAllocate) {
  RiskLimits limits = RiskLimits::Defaults();
  limits.max_orders_per_second = 1000;
  Start(limits);
  FillAt(kEurUsd, Side::kBuy, "2", "1.10000", At(0.5));
  FillAt(kUsdChf, Side::kSell, "1", "0.90000", At(0.5));
  std::vector<OrderRequest> requests(200);
  for (size_t idx = 0; idx < requests.size(); ++idx) {
    requests[idx].instrument = idx % 2 == 0 ? kGbpUsd : kEurUsd;
    requests[idx].side = idx % 3 == 0 ? Side::kSell : Side::kBuy;
    requests[idx].type = OrderType::kLimit;
    requests[idx].price = P(idx % 2 == 0 ? "1.25100" : "1.09900");
    requests[idx].quantity = Q("0.01");
    requests[idx].client_order_id = "client-order-" + std::to_string(idx);
  }
  Tick tick = last_[kEurUsd.value];
  const int64_t before = g_allocations.load();
  ASSERT_GT(before, 0);  // the counter sees this binary's allocations
  for (size_t idx = 0; idx < requests.size(); ++idx) {
    const InstrumentId id = requests[idx].instrument;
    ASSERT_TRUE(
        risk_->CheckOrder(requests[idx], &last_[id.value], At(1 + 0.001 * static_cast<double>(idx)))
            .ok());
    tick.ts = At(1 + 0.001 * static_cast<double>(idx));
    portfolio_.OnTick(tick);
    risk_->OnQuote(tick, tick.ts);
  }
  EXPECT_EQ(g_allocations.load() - before, 0);
  // A rejection may allocate its detail.
  requests[0].quantity = Q("21");
  requests[0].client_order_id = "other";
  EXPECT_EQ(risk_->CheckOrder(requests[0], &last_[kGbpUsd.value], At(3)).reason,
            RejectReason::kRiskOrderSize);
}

TEST_F(RiskTest, UnknownInstrumentIsRejected) {
  Start(Loose());
  OrderRequest request;
  request.instrument = InstrumentId{7};
  request.quantity = Q("1");
  EXPECT_EQ(risk_->CheckOrder(request, nullptr, At(1)).reason, RejectReason::kUnknownInstrument);
}

// ---------------------------------------------------------------------------------------------
// Correlated groups

class CorrelationTest : public RiskTest {
 protected:
  // 25 bar closes moving EURUSD and GBPUSD by the same steps and USDCHF by the opposite steps,
  // ending at the start quotes.
  void FeedBars(int count, int first_bar = 0) {
    const int steps[] = {3, -5, 2, 7, -4, -1, 6, -8, 2, 5, -3, 1, -6, 4, 9, -7, 2, -2, 5, -9};
    int offset = 0;
    for (int bar = 0; bar < count; ++bar) {
      offset = bar + 1 == count ? 0 : offset + steps[bar % 20];
      char eur[16], gbp[16], chf[16];
      std::snprintf(eur, sizeof(eur), "%.5f", 1.10000 + offset * 0.0010);
      std::snprintf(gbp, sizeof(gbp), "%.5f", 1.25000 + offset * 0.0010);
      std::snprintf(chf, sizeof(chf), "%.5f", 0.90000 - offset * 0.0010);
      const Timestamp close = At(60.0 * (first_bar + bar + 1));
      BarClose(kEurUsd, eur, close);
      BarClose(kGbpUsd, gbp, close);
      BarClose(kUsdChf, chf, close);
    }
  }
};

TEST_F(CorrelationTest, EstimatesFromBarReturns) {
  Start(Loose());
  FeedBars(20);  // 19 returns: not enough yet
  EXPECT_TRUE(std::isnan(risk_->Correlation(kEurUsd, kGbpUsd)));
  FeedBars(22, 20);
  EXPECT_GT(risk_->Correlation(kEurUsd, kGbpUsd), 0.99);
  EXPECT_LT(risk_->Correlation(kEurUsd, kUsdChf), -0.99);
  EXPECT_DOUBLE_EQ(risk_->Correlation(kEurUsd, kGbpUsd), risk_->Correlation(kGbpUsd, kEurUsd));
}

TEST_F(CorrelationTest, CorrelatedPositionsShareOneLimit) {
  RiskLimits limits = Loose();
  limits.max_position_lots = 5;
  limits.max_correlated_exposure = 300'000;
  Start(limits);
  // Before any bars nothing is grouped: 220,000 + 125,000 is fine.
  FillAt(kEurUsd, Side::kBuy, "2", "1.10000", At(0.5));
  EXPECT_TRUE(Check(kGbpUsd, Side::kBuy, "1", At(1)).ok());

  FeedBars(25);
  for (InstrumentId id : {kEurUsd, kGbpUsd, kUsdChf}) Quote(id, StartPrice(id), At(3600));
  // Long EURUSD + long GBPUSD (rho ~ +1): 220,000 + 125,000 * lots.
  EXPECT_TRUE(Check(kGbpUsd, Side::kBuy, "0.64", At(3601)).ok());
  const RiskVerdict both = Check(kGbpUsd, Side::kBuy, "1", At(3602));
  EXPECT_EQ(both.reason, RejectReason::kRiskCorrelatedExposure) << both.detail;
  EXPECT_NE(both.detail.find("GBPUSD+EURUSD exposure 345000.00 > limit 300000.00"),
            std::string::npos)
      << both.detail;
  // Short GBPUSD offsets the long EURUSD within the group.
  EXPECT_TRUE(Check(kGbpUsd, Side::kSell, "4", At(3603)).ok());
  // USDCHF (rho ~ -1): a short USDCHF is the same bet as a long EURUSD, so they add up...
  EXPECT_TRUE(Check(kUsdChf, Side::kSell, "0.8", At(3604)).ok());
  const RiskVerdict anti = Check(kUsdChf, Side::kSell, "0.81", At(3605));
  EXPECT_EQ(anti.reason, RejectReason::kRiskCorrelatedExposure) << anti.detail;
  EXPECT_NE(anti.detail.find("exposure 301000.00 > limit 300000.00"), std::string::npos)
      << anti.detail;
  // ...and a long USDCHF hedges it.
  EXPECT_TRUE(Check(kUsdChf, Side::kBuy, "5", At(3606)).ok());
}

// ---------------------------------------------------------------------------------------------
// Post-trade: drawdown, daily loss, VaR and the breaker

class BreakerTest : public RiskTest {
 protected:
  // Long 10 lots of EURUSD at 1.10000: every 0.00001 is 10 USD.
  void Open() { FillAt(kEurUsd, Side::kBuy, "10", "1.10000", At(0.5)); }
  void ExpectChange(size_t index, BreakerState from, BreakerState to, const char* rule, bool manual,
                    const char* detail = "") {
    ASSERT_LT(index, changes_.size());
    const BreakerChange& change = changes_[index];
    EXPECT_EQ(change.from, from) << index;
    EXPECT_EQ(change.to, to) << index;
    EXPECT_EQ(change.rule, rule) << index;
    EXPECT_EQ(change.manual, manual) << index;
    EXPECT_NE(change.detail.find(detail), std::string::npos) << index << ": " << change.detail;
  }
};

TEST_F(BreakerTest, DrawdownReduceOnlyReleasesThenMaxDrawdownHalts) {
  RiskLimits limits = Loose();
  limits.reduce_only_drawdown = 0.1;
  limits.max_drawdown = 0.2;
  Start(limits);
  Open();
  Quote(kEurUsd, "1.10500", At(1));  // peak 105,000
  EXPECT_EQ(risk_->snapshot().peak_equity, *Money::Parse("105000"));
  Quote(kEurUsd, "1.09600", At(2));  // 96,000: drawdown 0.0857
  EXPECT_TRUE(changes_.empty());
  EXPECT_NEAR(risk_->snapshot().drawdown, 1 - 96000.0 / 105000.0, 1e-12);
  Quote(kEurUsd, "1.09400", At(3));  // 94,000: drawdown 0.1048
  ASSERT_EQ(changes_.size(), 1u);
  ExpectChange(0, BreakerState::kNormal, BreakerState::kReduceOnly, "reduce_only_drawdown", false,
               "drawdown 0.1048 >= limit 0.1000");
  EXPECT_EQ(changes_[0].ts, At(3));
  Quote(kEurUsd, "1.09300", At(4));  // deeper, same state: no event
  EXPECT_EQ(changes_.size(), 1u);
  Quote(kEurUsd, "1.09500", At(5));  // 95,000: 0.0952 < 0.1
  ASSERT_EQ(changes_.size(), 2u);
  ExpectChange(1, BreakerState::kReduceOnly, BreakerState::kNormal, "reduce_only_drawdown", false,
               "drawdown 0.0952 < limit 0.1000");
  Quote(kEurUsd, "1.08300", At(6));  // 83,000: 0.2095, straight to halted in one event
  ASSERT_EQ(changes_.size(), 3u);
  ExpectChange(2, BreakerState::kNormal, BreakerState::kHalted, "max_drawdown", false,
               "drawdown 0.2095 >= limit 0.2000");
  Quote(kEurUsd, "1.10500", At(7));           // full recovery does not release a max-drawdown halt
  Quote(kEurUsd, "1.10500", At(86'400 * 2));  // nor does a new day
  EXPECT_EQ(changes_.size(), 3u);
  EXPECT_EQ(risk_->breaker(), BreakerState::kHalted);
  risk_->SetBreaker(BreakerState::kNormal, "reviewed", At(86'400 * 2 + 1));
  ASSERT_EQ(changes_.size(), 4u);
  ExpectChange(3, BreakerState::kHalted, BreakerState::kNormal, "manual", true, "reviewed");
}

TEST_F(BreakerTest, ManualResetHoldsUntilTheMeasureRecovers) {
  RiskLimits limits = Loose();
  limits.reduce_only_drawdown = 0.1;
  limits.max_drawdown = 0.2;
  Start(limits);
  Open();
  Quote(kEurUsd, "1.07900", At(1));  // 79,000: drawdown 0.21
  ASSERT_EQ(changes_.size(), 1u);
  risk_->SetBreaker(BreakerState::kNormal, "operator override", At(2));
  Quote(kEurUsd, "1.07800", At(3));  // still beyond both limits: the override holds
  EXPECT_EQ(risk_->breaker(), BreakerState::kNormal);
  EXPECT_EQ(changes_.size(), 2u);
  Quote(kEurUsd, "1.09500", At(4));  // recovers below both limits: rules re-arm
  Quote(kEurUsd, "1.08900", At(5));  // 0.11 again
  ASSERT_EQ(changes_.size(), 3u);
  ExpectChange(2, BreakerState::kNormal, BreakerState::kReduceOnly, "reduce_only_drawdown", false);
}

TEST_F(BreakerTest, DailyLossHaltsAndTheNewDayReleases) {
  RiskLimits limits = Loose();
  limits.daily_loss_limit = 5'000;
  Start(limits);
  Open();
  Quote(kEurUsd, "1.09600", At(60));  // loss 4,000
  EXPECT_DOUBLE_EQ(risk_->snapshot().daily_loss, 4000);
  EXPECT_TRUE(changes_.empty());
  Quote(kEurUsd, "1.09490", At(120));  // loss 5,100
  ASSERT_EQ(changes_.size(), 1u);
  ExpectChange(0, BreakerState::kNormal, BreakerState::kHalted, "daily_loss_limit", false,
               "daily loss 5100.00 >= limit 5000.00");
  Quote(kEurUsd, "1.09400", At(180));
  EXPECT_EQ(changes_.size(), 1u);
  // First update of the next UTC day: the day restarts at the current equity (94,000).
  const Timestamp next_day = FloorToDay(kStart) + Duration::Days(1) + Duration::Minutes(5);
  Quote(kEurUsd, "1.09400", next_day);
  ASSERT_EQ(changes_.size(), 2u);
  ExpectChange(1, BreakerState::kHalted, BreakerState::kNormal, "new_day", false);
  EXPECT_EQ(changes_[1].ts, next_day);
  EXPECT_EQ(risk_->snapshot().day_start_equity, *Money::Parse("94000"));
  EXPECT_DOUBLE_EQ(risk_->snapshot().daily_loss, 0);
  Quote(kEurUsd, "1.09000", next_day + Duration::Minutes(1));  // 4,000 down on the new day
  EXPECT_EQ(risk_->breaker(), BreakerState::kNormal);
  Quote(kEurUsd, "1.08890", next_day + Duration::Minutes(2));  // 5,100 down
  ASSERT_EQ(changes_.size(), 3u);
  ExpectChange(2, BreakerState::kNormal, BreakerState::kHalted, "daily_loss_limit", false);
}

TEST_F(BreakerTest, ManualHaltIsNeverReleasedAutomatically) {
  RiskLimits limits = Loose();
  limits.daily_loss_limit = 5'000;
  limits.reduce_only_drawdown = 0.1;
  limits.max_drawdown = 0.2;
  Start(limits);
  Open();
  risk_->SetBreaker(BreakerState::kHalted, "kill switch", At(1));
  Quote(kEurUsd, "1.09000", At(2));  // loss 10,000: daily loss and reduce-only both hold
  Quote(kEurUsd, "1.11000", FloorToDay(kStart) + Duration::Days(1));
  EXPECT_EQ(changes_.size(), 1u);
  EXPECT_EQ(risk_->breaker(), BreakerState::kHalted);
  // A manual reduce-only is not released by recovery either.
  risk_->SetBreaker(BreakerState::kReduceOnly, "step down", At(86'400 * 2));
  Quote(kEurUsd, "1.11000", At(86'400 * 2 + 1));
  EXPECT_EQ(risk_->breaker(), BreakerState::kReduceOnly);
  EXPECT_EQ(changes_.size(), 2u);
}

TEST_F(BreakerTest, ManualTransitionsInEveryDirection) {
  Start(Loose());
  const BreakerState path[] = {BreakerState::kReduceOnly, BreakerState::kHalted,
                               BreakerState::kReduceOnly, BreakerState::kNormal,
                               BreakerState::kHalted,     BreakerState::kNormal};
  BreakerState from = BreakerState::kNormal;
  for (size_t idx = 0; idx < std::size(path); ++idx) {
    risk_->SetBreaker(path[idx], "step " + std::to_string(idx), At(static_cast<double>(idx)));
    risk_->SetBreaker(path[idx], "again", At(static_cast<double>(idx)));  // unchanged: no event
    ASSERT_EQ(changes_.size(), idx + 1);
    ExpectChange(idx, from, path[idx], "manual", true, ("step " + std::to_string(idx)).c_str());
    EXPECT_EQ(risk_->breaker(), path[idx]);
    from = path[idx];
  }
}

// Equity path of a long lot of EURUSD (1 USD per 0.00001): 100,000 then these steps.
constexpr int kEquitySteps[] = {500,  -800, 300,   -1200, 700,  100, -400, 900,
                                -600, 200,  -1500, 1100,  -300, 400, -700, 800,
                                -200, 600,  -900,  1000,  -100, 300, -500, 250};

TEST_F(BreakerTest, VarMatchesHandComputedFigures) {
  RiskLimits limits = Loose();
  limits.var_window = 20;
  Start(limits);
  FillAt(kEurUsd, Side::kBuy, "1", "1.10000", At(0.5));
  double equity = 100'000;
  std::vector<double> returns;
  int bar = 0;
  auto close_bar = [&](double value) {
    char price[16];
    std::snprintf(price, sizeof(price), "%.5f", 1.10000 + (value - 100'000) / 100'000);
    const Timestamp close = At(60.0 * ++bar);
    BarClose(kEurUsd, price, close);
    BarClose(kGbpUsd, "1.25000", close);  // same close time: no second return
  };
  close_bar(equity);
  for (size_t idx = 0; idx < std::size(kEquitySteps); ++idx) {
    const double next = equity + kEquitySteps[idx];
    returns.push_back(next / equity - 1);
    equity = next;
    close_bar(equity);
    if (returns.size() < 20) {
      EXPECT_EQ(risk_->snapshot().var99_historical, 0) << idx;
      EXPECT_EQ(risk_->snapshot().var99_parametric, 0) << idx;
    }
  }
  // The last 20 returns (the window), worked out independently (Python, type-7 quantile):
  // historical VaR = -(x[h] interpolated at h = 19 * alpha), parametric = z * s - mean.
  const RiskSnapshot& snap = risk_->snapshot();
  EXPECT_NEAR(snap.var95_historical, 0.009310815328869508, 1e-12);
  EXPECT_NEAR(snap.var99_historical, 0.013898271390748828, 1e-12);
  EXPECT_NEAR(snap.var95_parametric, 0.010966471533485615, 1e-12);
  EXPECT_NEAR(snap.var99_parametric, 0.01575963900752143, 1e-12);
  // The same from the definitions.
  std::vector<double> window(returns.end() - 20, returns.end());
  std::sort(window.begin(), window.end());
  const double h99 = 19 * 0.01;
  EXPECT_NEAR(snap.var99_historical, -(window[0] + h99 * (window[1] - window[0])), 1e-12);
  double mean = 0;
  for (double value : window) mean += value;
  mean /= 20;
  double squares = 0;
  for (double value : window) squares += (value - mean) * (value - mean);
  const double sd = std::sqrt(squares / 19);
  EXPECT_NEAR(snap.var95_parametric, 1.6448536269514722 * sd - mean, 1e-12);
  EXPECT_EQ(snap.equity, *Money::Parse("99950"));
}

TEST_F(BreakerTest, VarLimitDrivesReduceOnlyAndReleases) {
  RiskLimits limits = Loose();
  limits.var_window = 20;
  limits.var_limit = 0.02;
  Start(limits);
  Open();  // 10 lots: 0.00200 is 2,000 USD, about 2 % of equity
  int bar = 0;
  auto close_bar = [&](const char* price) { BarClose(kEurUsd, price, At(60.0 * ++bar)); };
  close_bar("1.10000");
  for (int idx = 0; idx < 20; ++idx) close_bar(idx % 2 == 0 ? "1.09800" : "1.10000");
  ASSERT_EQ(changes_.size(), 1u);
  ExpectChange(0, BreakerState::kNormal, BreakerState::kReduceOnly, "var_limit", false, "VaR99");
  EXPECT_GE(std::max(risk_->snapshot().var99_historical, risk_->snapshot().var99_parametric), 0.02);
  EXPECT_EQ(Check(kEurUsd, Side::kBuy, "1", At(60.0 * bar + 1)).reason,
            RejectReason::kRiskReduceOnly);
  // Quiet bars push the swings out of the window.
  int quiet = 0;
  while (risk_->breaker() == BreakerState::kReduceOnly && quiet < 20) {
    close_bar("1.10000");
    ++quiet;
  }
  ASSERT_EQ(changes_.size(), 2u);
  ExpectChange(1, BreakerState::kReduceOnly, BreakerState::kNormal, "var_limit", false,
               "< limit 0.0200");
  EXPECT_LT(std::max(risk_->snapshot().var99_historical, risk_->snapshot().var99_parametric), 0.02);
}

TEST_F(BreakerTest, SnapshotTracksEquityAndExposure) {
  Start(Loose());
  Open();
  Quote(kEurUsd, "1.10100", At(1));
  const RiskSnapshot& snap = risk_->snapshot();
  EXPECT_EQ(snap.equity, *Money::Parse("101000"));
  EXPECT_EQ(snap.unrealized_pnl, *Money::Parse("1000"));
  EXPECT_DOUBLE_EQ(snap.gross_exposure, 1'101'000);
  EXPECT_DOUBLE_EQ(snap.net_exposure, 1'101'000);
  EXPECT_NEAR(snap.leverage, 1'101'000.0 / 101'000.0, 1e-12);
  EXPECT_NEAR(snap.margin_use, 11'010.0 / 101'000.0, 1e-12);
  FillAt(kEurUsd, Side::kSell, "10", "1.10100", At(2));
  EXPECT_EQ(risk_->snapshot().realized_pnl, *Money::Parse("1000"));
  // Exposure figures follow at the next quote (a fill only re-checks the equity limits).
  Quote(kEurUsd, "1.10100", At(3));
  EXPECT_DOUBLE_EQ(risk_->snapshot().gross_exposure, 0);
}

TEST_F(RiskTest, ConfiguredGroupLimitsExposureAndPositions) {
  RiskLimits limits = Loose();
  limits.groups = {
      *CorrelationGroup::Parse("usd_majors:EURUSD,-USDCHF:max_exposure=250000:max_positions=2"),
      *CorrelationGroup::Parse("pound:GBPUSD,EURGBP:max_positions=0")};
  Start(limits);
  FillAt(kEurUsd, Side::kBuy, "1", "1.10000", At(0.5));  // group +110,000
  // Short USDCHF counts as long: 110,000 + 1.4 x 100,000 = 250,000 passes (exactly at the limit)
  EXPECT_TRUE(Check(kUsdChf, Side::kSell, "1.4", At(1)).ok());
  const RiskVerdict over = Check(kUsdChf, Side::kSell, "1.41", At(2));
  EXPECT_EQ(over.reason, RejectReason::kRiskCorrelatedExposure);
  EXPECT_NE(over.detail.find("correlation group usd_majors exposure 251000.00 > limit 250000.00"),
            std::string::npos)
      << over.detail;
  // Long USDCHF hedges; the group then has two positions, its limit.
  EXPECT_TRUE(Check(kUsdChf, Side::kBuy, "3", At(3)).ok());
  // A group of which only GBPUSD is traded still counts its positions (EURGBP is not registered).
  const RiskVerdict pound = Check(kGbpUsd, Side::kBuy, "1", At(4));
  EXPECT_EQ(pound.reason, RejectReason::kRiskCorrelatedExposure);
  EXPECT_NE(pound.detail.find("correlation group pound: 1 open positions > limit 0"),
            std::string::npos)
      << pound.detail;
}

TEST(CorrelationGroupTest, ParsesAndValidates) {
  auto group = CorrelationGroup::Parse("usd_majors:eurusd,GBPUSD,-USDCHF:max_exposure=250000");
  ASSERT_TRUE(group.ok()) << group.status().ToString();
  EXPECT_EQ(group->name, "usd_majors");
  EXPECT_EQ(group->symbols, (std::vector<std::string>{"EURUSD", "GBPUSD", "-USDCHF"}));
  EXPECT_EQ(group->max_exposure, 250000);
  EXPECT_TRUE(std::isnan(group->max_positions));
  for (const char* bad : {"usd_majors", "g:EURUSD,,GBPUSD:max_exposure=1",
                          "g:EURUSD,GBPUSD:max_exposur=1", "g:EURUSD,GBPUSD:max_exposure=x"}) {
    auto parsed = CorrelationGroup::Parse(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_NE(parsed.status().message().find(bad), std::string::npos) << parsed.status().message();
  }
  RiskLimits limits = RiskLimits::Defaults();
  limits.groups.push_back(*group);
  EXPECT_TRUE(limits.Validate().ok());
  limits.groups.push_back(*group);
  EXPECT_NE(limits.Validate().message().find("defined twice"), std::string::npos);
  limits.groups = {*CorrelationGroup::Parse("g:EURUSD:max_positions=1")};
  EXPECT_NE(limits.Validate().message().find("at least two"), std::string::npos);
  limits.groups = {*CorrelationGroup::Parse("g:EURUSD,GBPUSD:max_positions=1.5")};
  EXPECT_NE(limits.Validate().message().find("whole number"), std::string::npos);
  limits.groups = {*CorrelationGroup::Parse("g:EURUSD,GBPUSD:max_exposure=-1")};
  EXPECT_NE(limits.Validate().message().find(">= 0"), std::string::npos);
}

// The margin-use rule on a hedging account charges an order what it adds to the instrument's
// margin: the larger leg by default, or with a hedged margin rate (docs/execution.md, "Hedging
// accounts") the uncovered volume in full and the covered volume at its rate, as the venue does.
TEST(RiskHedgedMarginTest, MarginUseFollowsTheInstrumentsHedgedMargin) {
  for (const bool use_leg : {true, false}) {
    SCOPED_TRACE(use_leg ? "larger leg" : "margin_hedged 0");
    portfolio::Portfolio portfolio(Currency::Of("USD"), *Money::Parse("100000"), 100.0,
                                   AccountMode::kHedging);
    Instrument eurusd = Make("EURUSD", kEurUsd);
    eurusd.margin_hedged_use_leg = use_leg;
    eurusd.margin_hedged = 0;
    ASSERT_TRUE(portfolio.AddInstrument(eurusd).ok());
    RiskLimits limits = Loose();
    limits.max_margin_use = 0.015;  // 1,500 USD of margin on 100,000
    RiskManager risk(limits, portfolio, [](const BreakerChange&) {});
    risk.AddInstrument(portfolio.instrument(kEurUsd));
    Tick tick;
    tick.ts = At(0);
    tick.instrument = kEurUsd;
    tick.bid = tick.ask = P("1.10000");
    portfolio.OnTick(tick);
    risk.OnQuote(tick, At(0));
    uint64_t ticket = 0;
    const auto fill = [&](Side side, const char* lots) {
      Fill f;
      f.instrument = kEurUsd;
      f.side = side;
      f.quantity = Q(lots);
      f.price = P("1.10000");
      f.ts = At(1);
      f.position_ticket = ++ticket;
      portfolio.OnFill(f);
      risk.OnFill(f, At(1));
    };
    const auto check = [&](Side side, const char* lots) {
      OrderRequest request;
      request.instrument = kEurUsd;
      request.side = side;
      request.quantity = Q(lots);
      return risk.CheckOrder(request, &tick, At(2));
    };
    fill(Side::kBuy, "1");   // 1,100 of margin
    fill(Side::kSell, "1");  // locked: 1,100 by the larger leg, 0 at the hedged rate of 0
    EXPECT_NEAR(portfolio.account().margin.AsDouble(), use_leg ? 1'100.0 : 0.0, 1e-6);
    // A lot long against the lock (the net was flat, so it does not reduce): the larger leg
    // grows by 1 lot (2,200 > 1,500); at the hedged rate of 0 it is the only margin (1,100).
    const RiskVerdict one = check(Side::kBuy, "1");
    EXPECT_EQ(one.reason, use_leg ? RejectReason::kRiskMarginUse : RejectReason::kNone)
        << one.detail;
    // 0.3 lots fit both ways (1,430 and 330); 1.5 lots neither (2,750 and 1,650).
    EXPECT_EQ(check(Side::kBuy, "0.3").reason, RejectReason::kNone);
    const RiskVerdict big = check(Side::kBuy, "1.5");
    EXPECT_EQ(big.reason, RejectReason::kRiskMarginUse) << big.detail;
  }
}

}  // namespace
}  // namespace aits::risk