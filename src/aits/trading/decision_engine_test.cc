#include "aits/trading/decision_engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>

// Counts every allocation of this test binary, so a test can prove Decide() makes none. Not under
// AddressSanitizer, which interposes operator new itself (the release build runs the check). GCC
// says so with __SANITIZE_ADDRESS__, clang 14 only through __has_feature.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AITS_UNDER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(AITS_UNDER_ASAN)
#define AITS_COUNT_ALLOCATIONS 0
#else
#define AITS_COUNT_ALLOCATIONS 1
#endif

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

#if AITS_COUNT_ALLOCATIONS
// GCC 12 sees the replaced delete's free() inlined next to `new` and warns about a mismatch that
// is not one (both replacements use malloc/free).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* ptr = std::malloc(size == 0 ? 1 : size)) return ptr;
  throw std::bad_alloc();
}
void operator delete(void* ptr) noexcept { std::free(ptr); }
void operator delete(void* ptr, std::size_t) noexcept { std::free(ptr); }
#endif

namespace aits::decision {
namespace {

// 2024-03-04 was a Monday; 2024-03-08 the Friday of the March NFP release.
constexpr Timestamp kMonday10 = FromCivil(2024, 3, 4, 10, 0);

Price Px(double value, int digits = 5) { return Price::FromDouble(value, digits).value(); }
Quantity Lots(double value) { return Quantity::FromDouble(value, 2).value(); }

Signal Sig(double strength, double confidence = 1.0, double anomaly = 0.0,
           Timestamp ts = kMonday10) {
  Signal signal;
  signal.ts = ts;
  signal.strength = strength;
  signal.confidence = confidence;
  signal.anomaly = anomaly;
  return signal;
}

// EURUSD 1.10000 / 1.10010, ATR 0.0010, flat, equity 100,000 USD. value_per_price_unit on a USD
// account is the contract size: a 1.0 move of one 100,000 EUR lot is 100,000 USD.
MarketState Eurusd(double position = 0) {
  MarketState market;
  market.quote.ts = kMonday10;
  market.quote.bid = Px(1.10000);
  market.quote.ask = Px(1.10010);
  market.atr = 0.0010;
  market.position = Lots(position);
  market.pending = Lots(0);
  market.equity = Money::FromDouble(100'000).value();
  market.value_per_price_unit = 100'000;
  return market;
}

DecisionConfig FixedLots(double lots = 1.0) {
  DecisionConfig config;
  config.sizing = SizingMode::kFixedLots;
  config.lots = lots;
  return config;
}

Decision Decide(const DecisionConfig& config, const Signal& signal, const MarketState& market,
                const Instrument& instrument = Instrument::Infer("EURUSD")) {
  EXPECT_TRUE(config.Validate().ok()) << config.Validate().ToString();
  return DecisionEngine(config).Decide(signal, instrument, market);
}

// ---------------------------------------------------------------------------------------------
// The rule and its thresholds.

TEST(DecisionRuleTest, BuyThresholdIsStrict) {
  const DecisionConfig config = FixedLots();
  Decision at = Decide(config, Sig(0.7), Eurusd());
  EXPECT_EQ(at.action, Action::kHold);
  EXPECT_EQ(at.reason, "hold band");
  EXPECT_EQ(at.filter_count, 0u);
  Decision above = Decide(config, Sig(0.7000001), Eurusd());
  EXPECT_EQ(above.action, Action::kBuy);
  EXPECT_EQ(above.side, Side::kBuy);
  EXPECT_EQ(above.reason, "buy threshold");
  EXPECT_EQ(above.lots, Lots(1));
}

TEST(DecisionRuleTest, SellThresholdIsStrict) {
  const DecisionConfig config = FixedLots();
  EXPECT_EQ(Decide(config, Sig(-0.7), Eurusd()).action, Action::kHold);
  Decision below = Decide(config, Sig(-0.7000001), Eurusd());
  EXPECT_EQ(below.action, Action::kSell);
  EXPECT_EQ(below.side, Side::kSell);
  EXPECT_EQ(below.reason, "sell threshold");
}

TEST(DecisionRuleTest, CloseBandNeedsAPositionAndIsStrict) {
  const DecisionConfig config = FixedLots();
  // |s| = 0.3 exactly is inside the hold band, long or short.
  EXPECT_EQ(Decide(config, Sig(0.3), Eurusd(1)).reason, "hold band");
  EXPECT_EQ(Decide(config, Sig(-0.3), Eurusd(-1)).reason, "hold band");
  // Just inside the close band: close the whole long with a sell...
  Decision close_long = Decide(config, Sig(0.2999), Eurusd(1.5));
  EXPECT_EQ(close_long.action, Action::kClose);
  EXPECT_EQ(close_long.side, Side::kSell);
  EXPECT_EQ(close_long.lots, Lots(1.5));
  EXPECT_EQ(close_long.reason, "close band");
  EXPECT_FALSE(close_long.stop_loss.has_value());
  // ...or the whole short with a buy, whatever the sign of s.
  Decision close_short = Decide(config, Sig(-0.2999), Eurusd(-2));
  EXPECT_EQ(close_short.action, Action::kClose);
  EXPECT_EQ(close_short.side, Side::kBuy);
  EXPECT_EQ(close_short.lots, Lots(2));
  // Flat: nothing to close.
  Decision flat = Decide(config, Sig(0.2999), Eurusd());
  EXPECT_EQ(flat.action, Action::kHold);
  EXPECT_EQ(flat.reason, "flat");
}

TEST(DecisionRuleTest, CloseCountsPendingOrders) {
  // Long 1 with a pending buy of 0.5: closing must sell 1.5 so the account ends flat.
  MarketState market = Eurusd(1);
  market.pending = Lots(0.5);
  Decision decision = Decide(FixedLots(), Sig(0), market);
  EXPECT_EQ(decision.action, Action::kClose);
  EXPECT_EQ(decision.lots, Lots(1.5));
}

TEST(DecisionRuleTest, StrengthIsClampedAndNanIsHold) {
  EXPECT_EQ(Decide(FixedLots(), Sig(5.0), Eurusd()).action, Action::kBuy);
  EXPECT_EQ(Decide(FixedLots(), Sig(-5.0), Eurusd()).action, Action::kSell);
  Decision nan = Decide(FixedLots(), Sig(std::nan("")), Eurusd(1));
  EXPECT_EQ(nan.action, Action::kHold);
  EXPECT_EQ(nan.reason, "invalid signal");
}

TEST(DecisionRuleTest, NoPyramiding) {
  const DecisionConfig config = FixedLots();
  Decision long_buy = Decide(config, Sig(0.9), Eurusd(1));
  EXPECT_EQ(long_buy.action, Action::kHold);
  EXPECT_EQ(long_buy.reason, "already long");
  EXPECT_EQ(long_buy.filter_count, 0u);
  Decision short_sell = Decide(config, Sig(-0.9), Eurusd(-1));
  EXPECT_EQ(short_sell.action, Action::kHold);
  EXPECT_EQ(short_sell.reason, "already short");
  // A pending buy counts as long.
  MarketState pending = Eurusd(0);
  pending.pending = Lots(0.3);
  EXPECT_EQ(Decide(config, Sig(0.9), pending).reason, "already long");
}

TEST(DecisionRuleTest, ReversalAddsTheExactOppositePosition) {
  // Short 2 (fixed lots 1): buy 2 to close + 1 to open = 3.
  Decision buy = Decide(FixedLots(1), Sig(0.9), Eurusd(-2));
  EXPECT_EQ(buy.action, Action::kBuy);
  EXPECT_EQ(buy.lots, Lots(3));
  EXPECT_EQ(buy.reason, "buy threshold (reversing short)");
  // Long 1.5 + pending 0.5 = 2 net: sell 2 + 1.
  MarketState market = Eurusd(1.5);
  market.pending = Lots(0.5);
  Decision sell = Decide(FixedLots(1), Sig(-0.9), market);
  EXPECT_EQ(sell.action, Action::kSell);
  EXPECT_EQ(sell.lots, Lots(3));
  EXPECT_EQ(sell.reason, "sell threshold (reversing long)");
  // Fixed fraction: the new part is 5 lots (see FixedFraction below), the closed part 0.37 exact.
  DecisionConfig fraction;
  Decision sized = Decide(fraction, Sig(0.9), Eurusd(-0.37));
  EXPECT_EQ(sized.lots, Lots(5.37));
  EXPECT_DOUBLE_EQ(sized.raw_lots, 5.0);
}

TEST(DecisionRuleTest, ReversalBelowMinimumLotOnlyCloses) {
  // Equity 50: the new size is 0.0025 lots (see TinyEquity), so the reversal becomes a close.
  MarketState market = Eurusd(-1);
  market.equity = Money::FromDouble(50).value();
  Decision decision = Decide(DecisionConfig(), Sig(0.9), market);
  EXPECT_EQ(decision.action, Action::kClose);
  EXPECT_EQ(decision.side, Side::kBuy);
  EXPECT_EQ(decision.lots, Lots(1));
  EXPECT_EQ(decision.reason, "size below minimum lot; closing");
  EXPECT_FALSE(decision.stop_loss.has_value());
}

// ---------------------------------------------------------------------------------------------
// Filters.

TEST(DecisionFilterTest, ConfidenceAtAndBelowTheMinimum) {
  DecisionConfig config = FixedLots();
  config.min_confidence = 0.6;
  Decision low = Decide(config, Sig(0.9, 0.59), Eurusd());
  EXPECT_EQ(low.action, Action::kHold);
  EXPECT_EQ(low.reason, "filtered: confidence");
  EXPECT_EQ(low.filters[0].name, "confidence");
  EXPECT_FALSE(low.filters[0].passed);
  EXPECT_DOUBLE_EQ(low.filters[0].value, 0.59);
  EXPECT_DOUBLE_EQ(low.filters[0].limit, 0.6);
  Decision at = Decide(config, Sig(0.9, 0.6), Eurusd());
  EXPECT_EQ(at.action, Action::kBuy);
  EXPECT_TRUE(at.filters[0].passed);
  // NaN confidence counts as 0.
  EXPECT_EQ(Decide(config, Sig(0.9, std::nan("")), Eurusd()).reason, "filtered: confidence");
}

TEST(DecisionFilterTest, SpreadInPoints) {
  DecisionConfig config = FixedLots();
  config.max_spread_points = 30;
  MarketState market = Eurusd();
  market.quote.ask = Px(1.10030);  // 30 points of 0.00001
  Decision at = Decide(config, Sig(0.9), market);
  EXPECT_EQ(at.action, Action::kBuy);
  EXPECT_EQ(at.filters[1].name, "spread");
  EXPECT_DOUBLE_EQ(at.filters[1].value, 30);
  market.quote.ask = Px(1.10031);
  Decision wide = Decide(config, Sig(0.9), market);
  EXPECT_EQ(wide.reason, "filtered: spread");
  EXPECT_FALSE(wide.filters[1].passed);
  EXPECT_DOUBLE_EQ(wide.filters[1].value, 31);
  EXPECT_DOUBLE_EQ(wide.filters[1].limit, 30);
  // 0 = no limit.
  config.max_spread_points = 0;
  market.quote.ask = Px(1.20000);
  EXPECT_EQ(Decide(config, Sig(0.9), market).action, Action::kBuy);
}

TEST(DecisionFilterTest, Anomaly) {
  DecisionConfig config = FixedLots();
  config.max_anomaly = 0.8;
  EXPECT_EQ(Decide(config, Sig(0.9, 1, 0.8), Eurusd()).action, Action::kBuy);
  Decision high = Decide(config, Sig(0.9, 1, 0.81), Eurusd());
  EXPECT_EQ(high.reason, "filtered: anomaly");
  EXPECT_FALSE(high.filters[2].passed);
  EXPECT_DOUBLE_EQ(high.filters[2].value, 0.81);
  config.max_anomaly = 1.0;  // no limit
  EXPECT_EQ(Decide(config, Sig(0.9, 1, 7.0), Eurusd()).action, Action::kBuy);
}

TEST(DecisionFilterTest, SessionIncludingWeekend) {
  DecisionConfig config = FixedLots();
  ASSERT_TRUE(config.Set("sessions", "mon-fri 07:00-20:00").ok());
  EXPECT_EQ(Decide(config, Sig(0.9), Eurusd()).action, Action::kBuy);
  Decision saturday = Decide(config, Sig(0.9, 1, 0, FromCivil(2024, 3, 9, 10, 0)), Eurusd());
  EXPECT_EQ(saturday.reason, "filtered: session");
  EXPECT_FALSE(saturday.filters[3].passed);
  Decision evening = Decide(config, Sig(-0.9, 1, 0, FromCivil(2024, 3, 4, 20, 0)), Eurusd());
  EXPECT_EQ(evening.reason, "filtered: session");
}

constexpr char kNfpCalendar[] =
    "time,currency,impact,title\n"
    "2024-03-08T13:30:00Z,USD,high,Non-Farm Payrolls\n";

TEST(DecisionFilterTest, BlackoutAroundNfp) {
  DecisionConfig config = FixedLots();
  config.calendar =
      BlackoutCalendar::Parse(kNfpCalendar, "nfp", Duration::Minutes(30), Duration::Minutes(30))
          .value();
  DecisionEngine engine(config);
  const Instrument eurusd = Instrument::Infer("EURUSD");
  Decision during = engine.Decide(Sig(0.9, 1, 0, FromCivil(2024, 3, 8, 13, 10)), eurusd, Eurusd());
  EXPECT_EQ(during.reason, "filtered: blackout");
  ASSERT_NE(during.blackout, nullptr);
  EXPECT_EQ(during.blackout->title, "Non-Farm Payrolls");
  EXPECT_FALSE(during.filters[4].passed);
  Decision before = engine.Decide(Sig(0.9, 1, 0, FromCivil(2024, 3, 8, 12, 59)), eurusd, Eurusd());
  EXPECT_EQ(before.action, Action::kBuy);
  EXPECT_EQ(before.blackout, nullptr);
  // EURGBP has no USD leg.
  Decision eurgbp = engine.Decide(Sig(0.9, 1, 0, FromCivil(2024, 3, 8, 13, 30)),
                                  Instrument::Infer("EURGBP"), Eurusd());
  EXPECT_EQ(eurgbp.action, Action::kBuy);
}

TEST(DecisionFilterTest, AllOutcomesRecordedFirstFailureNamed) {
  DecisionConfig config = FixedLots();
  config.max_spread_points = 5;
  config.max_anomaly = 0.5;
  ASSERT_TRUE(config.Set("sessions", "mon-fri 07:00-20:00").ok());
  Decision decision = Decide(config, Sig(0.9, 1, 0.9, FromCivil(2024, 3, 9, 10, 0)), Eurusd());
  EXPECT_EQ(decision.action, Action::kHold);
  EXPECT_EQ(decision.reason, "filtered: spread");
  ASSERT_EQ(decision.filter_count, 5u);
  EXPECT_TRUE(decision.filters[0].passed);
  EXPECT_FALSE(decision.filters[1].passed);
  EXPECT_FALSE(decision.filters[2].passed);
  EXPECT_FALSE(decision.filters[3].passed);
  EXPECT_TRUE(decision.filters[4].passed);
  EXPECT_EQ(decision.filters[4].name, "blackout");
}

TEST(DecisionFilterTest, CloseIsNeverFiltered) {
  DecisionConfig config = FixedLots();
  config.max_spread_points = 1;
  config.max_anomaly = 0.1;
  config.min_confidence = 0.9;
  ASSERT_TRUE(config.Set("sessions", "mon-fri 07:00-20:00").ok());
  config.calendar = BlackoutCalendar::Parse("time,currency\n2024-03-09 10:00,*\n", "x",
                                            Duration::Minutes(30), Duration::Minutes(30))
                        .value();
  Decision decision = Decide(config, Sig(0.1, 0.2, 0.9, FromCivil(2024, 3, 9, 10, 0)), Eurusd(1));
  EXPECT_EQ(decision.action, Action::kClose);
  EXPECT_EQ(decision.lots, Lots(1));
  EXPECT_EQ(decision.filter_count, 0u);
}

TEST(DecisionFilterTest, BadQuoteIsHold) {
  MarketState market = Eurusd();
  market.quote.ask = Px(1.09990);  // crossed
  EXPECT_EQ(Decide(FixedLots(), Sig(0.9), market).reason, "no valid quote");
  market.quote.bid = Price();
  EXPECT_EQ(Decide(FixedLots(), Sig(0.9), market).reason, "no valid quote");
}

// ---------------------------------------------------------------------------------------------
// Sizing and stops.

TEST(DecisionSizingTest, FixedLots) {
  DecisionConfig config = FixedLots(0.5);
  config.scale_by_confidence = false;
  Decision decision = Decide(config, Sig(0.9, 0.5), Eurusd());
  EXPECT_EQ(decision.lots, Lots(0.5));
  // Stops still come from the ATR: buy at the ask 1.10010, SL 2 ATR below, TP 3 ATR above.
  EXPECT_EQ(decision.stop_loss->ToString(), "1.09810");
  EXPECT_EQ(decision.take_profit->ToString(), "1.10310");
}

TEST(DecisionSizingTest, FixedFractionWorkedExample) {
  // equity 100,000 * risk 1 % = 1,000 USD at risk; stop 2 * ATR 0.0010 = 0.0020 below the ask
  // 1.10010 -> SL 1.09810; one lot loses 0.0020 * 100,000 = 200 USD there -> 1000 / 200 = 5 lots.
  // TP 3 * 0.0010 above the ask = 1.10310.
  Decision decision = Decide(DecisionConfig(), Sig(0.8), Eurusd());
  EXPECT_EQ(decision.action, Action::kBuy);
  EXPECT_EQ(decision.lots, Lots(5));
  EXPECT_EQ(decision.lots.ToString(), "5.00");
  EXPECT_EQ(decision.stop_loss->ToString(), "1.09810");
  EXPECT_EQ(decision.take_profit->ToString(), "1.10310");
  EXPECT_NEAR(decision.raw_lots, 5.0, 1e-9);
  EXPECT_NEAR(decision.scaled_lots, 5.0, 1e-9);
  // A sell enters at the bid 1.10000: SL 1.10200, TP 1.09700, same 5 lots.
  Decision sell = Decide(DecisionConfig(), Sig(-0.8), Eurusd());
  EXPECT_EQ(sell.lots, Lots(5));
  EXPECT_EQ(sell.stop_loss->ToString(), "1.10200");
  EXPECT_EQ(sell.take_profit->ToString(), "1.09700");
}

TEST(DecisionSizingTest, FixedFractionSizesOnTheRoundedStop) {
  // ATR 0.000123: SL offset 0.000246 -> 1.10010 - 0.000246 = 1.099854, rounded down to 1.09985
  // (distance 0.00025); TP offset 0.000369 -> 1.100469 rounded up to 1.10047.
  // 1000 / (0.00025 * 100,000) = 40 lots.
  MarketState market = Eurusd();
  market.atr = 0.000123;
  Decision decision = Decide(DecisionConfig(), Sig(0.8), market);
  EXPECT_EQ(decision.stop_loss->ToString(), "1.09985");
  EXPECT_EQ(decision.take_profit->ToString(), "1.10047");
  EXPECT_EQ(decision.lots, Lots(40));
}

TEST(DecisionSizingTest, VolTarget) {
  // equity 100,000 * vol_target 0.002 = 200 USD; ATR 0.0010 * 100,000 = 100 USD per lot -> 2 lots.
  DecisionConfig config;
  config.sizing = SizingMode::kVolTarget;
  Decision decision = Decide(config, Sig(0.8), Eurusd());
  EXPECT_EQ(decision.lots, Lots(2));
  EXPECT_NEAR(decision.raw_lots, 2.0, 1e-9);
}

TEST(DecisionSizingTest, ConfidenceScaling) {
  // 5 lots (worked example) * confidence 0.5 = 2.5 lots.
  Decision scaled = Decide(DecisionConfig(), Sig(0.8, 0.5), Eurusd());
  EXPECT_EQ(scaled.lots, Lots(2.5));
  EXPECT_NEAR(scaled.raw_lots, 5.0, 1e-9);
  EXPECT_NEAR(scaled.scaled_lots, 2.5, 1e-9);
  DecisionConfig unscaled;
  unscaled.scale_by_confidence = false;
  EXPECT_EQ(Decide(unscaled, Sig(0.8, 0.5), Eurusd()).lots, Lots(5));
}

TEST(DecisionSizingTest, LotsRoundDownToTheStep) {
  DecisionConfig config = FixedLots(2.347);
  Decision fixed = Decide(config, Sig(0.9), Eurusd());
  EXPECT_EQ(fixed.lots.ToString(), "2.34");
  EXPECT_NEAR(fixed.scaled_lots, 2.347, 1e-12);
  // Fixed fraction: equity 46,940 * 1 % = 469.40 / 200 = 2.347 -> 2.34.
  MarketState market = Eurusd();
  market.equity = Money::FromDouble(46'940).value();
  EXPECT_EQ(Decide(DecisionConfig(), Sig(0.9), market).lots.ToString(), "2.34");
  // 2.349 is still 2.34: down, never to nearest.
  EXPECT_EQ(Decide(FixedLots(2.349), Sig(0.9), Eurusd()).lots.ToString(), "2.34");
}

TEST(DecisionSizingTest, MaxLotCaps) {
  DecisionConfig config;
  config.max_lots = 3;
  Decision capped = Decide(config, Sig(0.9), Eurusd());
  EXPECT_EQ(capped.lots, Lots(3));
  EXPECT_NEAR(capped.raw_lots, 5.0, 1e-9);
  EXPECT_NEAR(capped.scaled_lots, 3.0, 1e-9);
  // The instrument's cap (100) applies when the config has none: vol target with ATR 0.00001 asks
  // for 200 / (0.00001 * 100,000) = 200 lots.
  DecisionConfig vol;
  vol.sizing = SizingMode::kVolTarget;
  vol.stop_atr = 0;
  vol.take_profit_atr = 0;
  MarketState market = Eurusd();
  market.atr = 0.00001;
  EXPECT_EQ(Decide(vol, Sig(0.9), market).lots, Lots(100));
  // And the smaller of both wins.
  Instrument small = Instrument::Infer("EURUSD");
  small.max_lots = Lots(2);
  EXPECT_EQ(Decide(config, Sig(0.9), Eurusd(), small).lots, Lots(2));
}

TEST(DecisionSizingTest, TinyEquityIsBelowMinimumLot) {
  // 50 * 1 % = 0.50 USD / 200 USD per lot = 0.0025 lots -> 0.00 < 0.01.
  MarketState market = Eurusd();
  market.equity = Money::FromDouble(50).value();
  Decision decision = Decide(DecisionConfig(), Sig(0.9), market);
  EXPECT_EQ(decision.action, Action::kHold);
  EXPECT_EQ(decision.reason, "size below minimum lot");
  EXPECT_NEAR(decision.raw_lots, 0.0025, 1e-12);
  // Negative equity sizes to nothing rather than to a negative order.
  market.equity = Money::FromDouble(-1000).value();
  EXPECT_EQ(Decide(DecisionConfig(), Sig(0.9), market).reason, "size below minimum lot");
}

TEST(DecisionSizingTest, MissingAtrIsHold) {
  for (double atr : {0.0, -1.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    MarketState market = Eurusd();
    market.atr = atr;
    Decision decision = Decide(DecisionConfig(), Sig(0.9), market);
    EXPECT_EQ(decision.action, Action::kHold) << atr;
    EXPECT_EQ(decision.reason, "no ATR yet") << atr;
  }
  // Fixed lots with stops still needs the ATR; without stops it does not.
  MarketState market = Eurusd();
  market.atr = std::nan("");
  EXPECT_EQ(Decide(FixedLots(), Sig(0.9), market).reason, "no ATR yet");
  DecisionConfig no_stops = FixedLots();
  no_stops.stop_atr = 0;
  no_stops.take_profit_atr = 0;
  Decision decision = Decide(no_stops, Sig(0.9), market);
  EXPECT_EQ(decision.action, Action::kBuy);
  EXPECT_FALSE(decision.stop_loss.has_value());
  EXPECT_FALSE(decision.take_profit.has_value());
}

TEST(DecisionSizingTest, NoPriceValueIsHold) {
  MarketState market = Eurusd();
  market.value_per_price_unit = 0;
  EXPECT_EQ(Decide(DecisionConfig(), Sig(0.9), market).reason, "no price value");
  // Fixed lots does not need it.
  EXPECT_EQ(Decide(FixedLots(), Sig(0.9), market).action, Action::kBuy);
}

TEST(DecisionSizingTest, UsdJpyStopsRoundToThreeDigits) {
  // USDJPY 150.000 / 150.012, ATR 0.1234. Buy at 150.012: SL 150.012 - 0.2468 = 149.7652 -> down
  // to 149.765; TP 150.012 + 0.3702 = 150.3822 -> up to 150.383. Sell at 150.000: SL 150.2468 ->
  // up to 150.247; TP 149.6298 -> down to 149.629.
  // Size: one lot moves 100,000 JPY per 1.0 = 100,000 / 150 = 666.67 USD; distance 0.247 ->
  // 1000 / (0.247 * 666.67) = 6.0729 -> 6.07 lots.
  const Instrument usdjpy = Instrument::Infer("USDJPY");
  MarketState market = Eurusd();
  market.quote.bid = Px(150.000, 3);
  market.quote.ask = Px(150.012, 3);
  market.atr = 0.1234;
  market.value_per_price_unit = 100'000.0 / 150.0;
  Decision buy = Decide(DecisionConfig(), Sig(0.9), market, usdjpy);
  EXPECT_EQ(buy.stop_loss->ToString(), "149.765");
  EXPECT_EQ(buy.take_profit->ToString(), "150.383");
  EXPECT_EQ(buy.lots.ToString(), "6.07");
  Decision sell = Decide(DecisionConfig(), Sig(-0.9), market, usdjpy);
  EXPECT_EQ(sell.stop_loss->ToString(), "150.247");
  EXPECT_EQ(sell.take_profit->ToString(), "149.629");
}

TEST(DecisionSizingTest, StopBeyondZeroIsHold) {
  MarketState market = Eurusd();
  market.atr = 0.6;  // 2 ATR = 1.2 below an ask of 1.1
  EXPECT_EQ(Decide(FixedLots(), Sig(0.9), market).reason, "stop out of range");
}

TEST(DecisionEngineTest, DecideDoesNotAllocate) {
  if (!AITS_COUNT_ALLOCATIONS) GTEST_SKIP() << "allocation counting is off under ASan";
  // Every path: filters with sessions and a calendar, sizing, stops, reversal, close, hold.
  DecisionConfig config;
  config.max_spread_points = 30;
  config.max_anomaly = 0.8;
  ASSERT_TRUE(config.Set("sessions", "mon-thu 00:00-24:00; fri 00:00-21:00").ok());
  config.calendar =
      BlackoutCalendar::Parse(kNfpCalendar, "nfp", Duration::Minutes(30), Duration::Minutes(30))
          .value();
  const DecisionEngine engine(config);
  const Instrument eurusd = Instrument::Infer("EURUSD");
  const Signal signals[] = {Sig(0.9),
                            Sig(-0.9),
                            Sig(0.1),
                            Sig(0.5),
                            Sig(0.9, 1, 0, FromCivil(2024, 3, 8, 13, 30)),
                            Sig(0.9, 1, 0.95),
                            Sig(0.9, 1, 0, FromCivil(2024, 3, 9, 10, 0))};
  const MarketState markets[] = {Eurusd(0), Eurusd(1), Eurusd(-2)};
  const long before = g_allocations.load();
  int buys = 0;
  for (const Signal& signal : signals) {
    for (const MarketState& market : markets) {
      buys += engine.Decide(signal, eurusd, market).action == Action::kBuy;
    }
  }
  EXPECT_EQ(g_allocations.load() - before, 0);
  EXPECT_EQ(buys, 2);  // Sig(0.9) flat and reversing the short
}

// ---------------------------------------------------------------------------------------------
// Sessions.

TEST(SessionHoursTest, EmptyIsAlwaysOpen) {
  auto hours = SessionHours::Parse("  ");
  ASSERT_TRUE(hours.ok());
  EXPECT_TRUE(hours->empty());
  EXPECT_TRUE(hours->IsOpen(FromCivil(2024, 3, 9, 3, 0)));
}

TEST(SessionHoursTest, IsOpenTable) {
  struct Row {
    const char* text;
    Timestamp t;
    bool open;
  };
  // 2024-03-03 Sun, 04 Mon, 07 Thu, 08 Fri, 09 Sat, 10 Sun.
  const Row rows[] = {
      {"mon-fri 07:00-20:00", FromCivil(2024, 3, 4, 6, 59, 59), false},
      {"mon-fri 07:00-20:00", FromCivil(2024, 3, 4, 7, 0), true},
      {"mon-fri 07:00-20:00", FromCivil(2024, 3, 4, 19, 59, 59), true},
      {"mon-fri 07:00-20:00", FromCivil(2024, 3, 4, 20, 0), false},
      {"mon-fri 07:00-20:00", FromCivil(2024, 3, 8, 12, 0), true},
      {"mon-fri 07:00-20:00", FromCivil(2024, 3, 9, 12, 0), false},
      {"mon-fri 07:00-20:00", FromCivil(2024, 3, 10, 12, 0), false},
      // Wrapping midnight: the morning belongs to the day before.
      {"sun-thu 22:00-06:00", FromCivil(2024, 3, 3, 21, 59), false},
      {"sun-thu 22:00-06:00", FromCivil(2024, 3, 3, 22, 0), true},
      {"sun-thu 22:00-06:00", FromCivil(2024, 3, 4, 0, 0), true},
      {"sun-thu 22:00-06:00", FromCivil(2024, 3, 4, 5, 59), true},
      {"sun-thu 22:00-06:00", FromCivil(2024, 3, 4, 6, 0), false},
      {"sun-thu 22:00-06:00", FromCivil(2024, 3, 7, 23, 0), true},
      {"sun-thu 22:00-06:00", FromCivil(2024, 3, 8, 5, 0), true},    // Thursday's night
      {"sun-thu 22:00-06:00", FromCivil(2024, 3, 8, 23, 0), false},  // Friday starts none
      {"sun-thu 22:00-06:00", FromCivil(2024, 3, 9, 1, 0), false},
      {"sun-thu 22:00-06:00", FromCivil(2024, 3, 3, 1, 0), false},  // Saturday starts none
      // Several windows, 24:00 as an end.
      {"mon-thu 00:00-24:00; fri 00:00-21:00", FromCivil(2024, 3, 7, 23, 59, 59), true},
      {"mon-thu 00:00-24:00; fri 00:00-21:00", FromCivil(2024, 3, 8, 20, 59), true},
      {"mon-thu 00:00-24:00; fri 00:00-21:00", FromCivil(2024, 3, 8, 21, 0), false},
      {"mon-thu 00:00-24:00; fri 00:00-21:00", FromCivil(2024, 3, 9, 10, 0), false},
      {"mon-thu 00:00-24:00; fri 00:00-21:00", FromCivil(2024, 3, 10, 23, 0), false},
      {"fri 00:00-21:00", FromCivil(2024, 3, 8, 0, 0), true},
      {"fri 00:00-21:00", FromCivil(2024, 3, 7, 12, 0), false},
      {"Monday-Friday 08:00-09:00", FromCivil(2024, 3, 8, 8, 30), true},
      {"sat,sun 10:00-12:00", FromCivil(2024, 3, 9, 11, 0), true},
      {"sat,sun 10:00-12:00", FromCivil(2024, 3, 10, 11, 0), true},
      {"sat,sun 10:00-12:00", FromCivil(2024, 3, 4, 11, 0), false},
      // A range that wraps the week: fri-mon is Fri, Sat, Sun, Mon.
      {"fri-mon 10:00-12:00", FromCivil(2024, 3, 10, 11, 0), true},
      {"fri-mon 10:00-12:00", FromCivil(2024, 3, 5, 11, 0), false},
  };
  for (const Row& row : rows) {
    auto hours = SessionHours::Parse(row.text);
    ASSERT_TRUE(hours.ok()) << row.text << ": " << hours.status().ToString();
    EXPECT_EQ(hours->IsOpen(row.t), row.open) << row.text << " at " << FormatIso8601(row.t);
  }
}

TEST(SessionHoursTest, ParseErrorsQuoteTheBadPart) {
  const std::map<std::string, std::string> cases = {
      {"mnday-fri 07:00-20:00", "unknown day 'mnday'"},
      {"mon-frx 07:00-20:00", "unknown day 'frx'"},
      {"mon-fri 07:00-25:00", "bad end time (00:00..24:00) '25:00'"},
      {"mon-fri 07:00-20:60", "bad end time (00:00..24:00) '20:60'"},
      {"mon-fri 24:00-01:00", "bad start time (00:00..23:59) '24:00'"},
      {"mon-fri 7:00-20:00", "bad start time (00:00..23:59) '7:00'"},
      {"mon-fri 07:00-07:00", "empty window"},
      {"mon-fri 07:00-20:00;", "empty window"},
      {"mon-fri", "expected 'days HH:MM-HH:MM', got 'mon-fri'"},
      {"mon-fri 0700", "expected HH:MM-HH:MM, got '0700'"},
  };
  for (const auto& [text, message] : cases) {
    auto hours = SessionHours::Parse(text);
    ASSERT_FALSE(hours.ok()) << text;
    EXPECT_EQ(hours.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(hours.status().message().find(message), std::string::npos)
        << text << " -> " << hours.status().message();
  }
}

// ---------------------------------------------------------------------------------------------
// Calendar.

BlackoutCalendar Calendar(std::string_view text) {
  auto calendar =
      BlackoutCalendar::Parse(text, "cal.csv", Duration::Minutes(30), Duration::Minutes(30));
  EXPECT_TRUE(calendar.ok()) << calendar.status().ToString();
  return std::move(calendar).value();
}

TEST(BlackoutCalendarTest, ParsesSortsAndSkipsComments) {
  const BlackoutCalendar calendar = Calendar(
      "# economic calendar\r\n"
      "time,currency,impact,title,before_minutes,after_minutes\r\n"
      "\r\n"
      "2024-03-08T13:30:00Z,USD,High,Non-Farm Payrolls,,\r\n"
      "2024-03-07 13:15,eur,high,\"ECB Rate Decision, Press\",60,90\r\n"
      "# a comment between rows\n"
      "2024-03-08 13:00,*,low,Bank holiday,10\n");
  ASSERT_EQ(calendar.size(), 3u);
  const auto& events = calendar.events();
  EXPECT_EQ(events[0].title, "ECB Rate Decision, Press");
  EXPECT_EQ(events[0].currency, "EUR");
  EXPECT_EQ(events[0].before, Duration::Minutes(60));
  EXPECT_EQ(events[0].after, Duration::Minutes(90));
  // NFP starts 13:00 (13:30 - 30 min), the holiday 12:50: the holiday sorts first.
  EXPECT_EQ(events[1].title, "Bank holiday");
  EXPECT_EQ(events[1].after, Duration::Minutes(30));  // missing column -> default
  EXPECT_EQ(events[2].title, "Non-Farm Payrolls");
  EXPECT_EQ(events[2].impact, "high");
  EXPECT_EQ(events[2].at, FromCivil(2024, 3, 8, 13, 30));
  EXPECT_TRUE(events[2].default_before);
}

TEST(BlackoutCalendarTest, ErrorsNameFileLineFieldValue) {
  const std::map<std::string, std::string> cases = {
      {"time,currency,impact,title\n2024-03-08 25:30,USD,high,NFP\n",
       "cal.csv:2: field time: bad value '2024-03-08 25:30'"},
      {"# header next\ntime,currency,impact,title\n\n2024-02-30 10:00,USD,high,x\n",
       "cal.csv:4: field time: bad value '2024-02-30 10:00'"},
      {"time,currency,impact,title\n2024-03-08 13:30,US,high,NFP\n",
       "cal.csv:2: field currency: bad value 'US'"},
      {"time,currency,impact,title,before_minutes\n2024-03-08 13:30,USD,high,NFP,-5\n",
       "cal.csv:2: field before_minutes: bad value '-5'"},
      {"time,currency,impact,title,before_minutes,after_minutes\n"
       "2024-03-08 13:30,USD,high,NFP,5,lots\n",
       "cal.csv:2: field after_minutes: bad value 'lots'"},
      {"time,currency,country\n", "cal.csv:1: header: unknown column 'country'"},
      {"impact,title\n", "cal.csv:1: header: needs the columns time and currency"},
      {"# nothing\n", "cal.csv:1: missing header"},
      {"time,currency,impact,title\n2024-03-08 13:30,USD,high,\"NFP\n",
       "cal.csv:2: unterminated quote"},
  };
  for (const auto& [text, message] : cases) {
    auto calendar =
        BlackoutCalendar::Parse(text, "cal.csv", Duration::Minutes(30), Duration::Minutes(30));
    ASSERT_FALSE(calendar.ok()) << text;
    EXPECT_NE(calendar.status().message().find(message), std::string::npos)
        << calendar.status().message();
  }
}

TEST(BlackoutCalendarTest, LoadNamesThePath) {
  const std::string path = ::testing::TempDir() + "/decision_calendar_test.csv";
  {
    std::ofstream out(path);
    out << "time,currency,impact,title\n2024-03-08 13:30,USD,high,NFP\n2024-03-08 xx,USD,high,x\n";
  }
  auto bad = BlackoutCalendar::Load(path, Duration::Minutes(30), Duration::Minutes(30));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(path + ":3: field time: bad value '2024-03-08 xx'"),
            std::string::npos)
      << bad.status().message();
  auto missing = BlackoutCalendar::Load(path + ".missing", Duration{}, Duration{});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find(path + ".missing"), std::string::npos);
}

TEST(BlackoutCalendarTest, ActiveWindowEdgesAreInclusive) {
  const BlackoutCalendar calendar = Calendar(kNfpCalendar);
  const Instrument eurusd = Instrument::Infer("EURUSD");
  const Timestamp start = FromCivil(2024, 3, 8, 13, 0);
  const Timestamp end = FromCivil(2024, 3, 8, 14, 0);
  EXPECT_EQ(calendar.Active(start - Duration::Nanos(1), eurusd), nullptr);
  ASSERT_NE(calendar.Active(start, eurusd), nullptr);
  EXPECT_EQ(calendar.Active(start, eurusd)->title, "Non-Farm Payrolls");
  EXPECT_NE(calendar.Active(end, eurusd), nullptr);
  EXPECT_EQ(calendar.Active(end + Duration::Nanos(1), eurusd), nullptr);
}

TEST(BlackoutCalendarTest, MatchesBaseQuoteOrStar) {
  const BlackoutCalendar calendar = Calendar(
      "time,currency,impact,title\n"
      "2024-03-08 13:30,USD,high,NFP\n"
      "2024-03-07 13:15,EUR,high,ECB\n"
      "2024-03-06 00:00,*,high,Everything\n");
  const Timestamp nfp = FromCivil(2024, 3, 8, 13, 30);
  const Timestamp ecb = FromCivil(2024, 3, 7, 13, 15);
  const Timestamp all = FromCivil(2024, 3, 6, 0, 0);
  EXPECT_NE(calendar.Active(nfp, Instrument::Infer("EURUSD")), nullptr);  // quote
  EXPECT_NE(calendar.Active(nfp, Instrument::Infer("USDJPY")), nullptr);  // base
  EXPECT_EQ(calendar.Active(nfp, Instrument::Infer("EURGBP")), nullptr);
  EXPECT_NE(calendar.Active(ecb, Instrument::Infer("EURGBP")), nullptr);
  EXPECT_EQ(calendar.Active(ecb, Instrument::Infer("GBPJPY")), nullptr);
  ASSERT_NE(calendar.Active(all, Instrument::Infer("GBPJPY")), nullptr);
  EXPECT_EQ(calendar.Active(all, Instrument::Infer("GBPJPY"))->title, "Everything");
}

TEST(BlackoutCalendarTest, LongWindowFoundBehindShortOnes) {
  // A 10-hour window starting at 04:00 and many short ones after it: at 13:50 only the long one
  // covers, and the search must walk back past the short ones to find it.
  std::string text = "time,currency,impact,title,before_minutes,after_minutes\n";
  text += "2024-03-08 09:00,USD,high,Long,300,300\n";
  for (int minute = 0; minute < 50; ++minute) {
    char row[96];
    std::snprintf(row, sizeof(row), "2024-03-08 12:%02d,USD,low,Short,0,0\n", minute);
    text += row;
  }
  const BlackoutCalendar calendar = Calendar(text);
  const Instrument eurusd = Instrument::Infer("EURUSD");
  ASSERT_NE(calendar.Active(FromCivil(2024, 3, 8, 13, 50), eurusd), nullptr);
  EXPECT_EQ(calendar.Active(FromCivil(2024, 3, 8, 13, 50), eurusd)->title, "Long");
  EXPECT_EQ(calendar.Active(FromCivil(2024, 3, 8, 12, 10), eurusd)->title, "Short");
  EXPECT_EQ(calendar.Active(FromCivil(2024, 3, 8, 14, 1), eurusd), nullptr);
}

TEST(BlackoutCalendarTest, DefaultWindowCanChangeAfterLoading) {
  BlackoutCalendar calendar = Calendar(
      "time,currency,impact,title,before_minutes,after_minutes\n"
      "2024-03-08 13:30,USD,high,NFP,,\n"
      "2024-03-08 18:00,USD,high,FOMC,5,5\n");
  calendar.SetDefaultWindow(Duration::Minutes(120), Duration::Minutes(0));
  const Instrument eurusd = Instrument::Infer("EURUSD");
  EXPECT_NE(calendar.Active(FromCivil(2024, 3, 8, 11, 30), eurusd), nullptr);
  EXPECT_EQ(calendar.Active(FromCivil(2024, 3, 8, 13, 31), eurusd), nullptr);
  EXPECT_EQ(calendar.Active(FromCivil(2024, 3, 8, 17, 50), eurusd), nullptr);  // explicit 5 min
}

// ---------------------------------------------------------------------------------------------
// Config.

TEST(DecisionConfigTest, DefaultsValidateAndNamesRoundTrip) {
  EXPECT_TRUE(DecisionConfig().Validate().ok());
  EXPECT_EQ(ToString(Action::kClose), "CLOSE");
  EXPECT_EQ(ToString(Action::kHold), "HOLD");
  EXPECT_EQ(ToString(SizingMode::kVolTarget), "vol_target");
}

TEST(DecisionConfigTest, EveryKeyCanBeSet) {
  const std::string calendar_path = ::testing::TempDir() + "/decision_config_calendar.csv";
  {
    std::ofstream out(calendar_path);
    out << kNfpCalendar;
  }
  const std::map<std::string_view, std::string> values = {
      {"buy_threshold", "0.8"},
      {"sell_threshold", "-0.8"},
      {"close_threshold", "0.2"},
      {"min_confidence", "0.5"},
      {"max_spread_points", "25"},
      {"max_anomaly", "0.9"},
      {"sessions", "mon-fri 07:00-20:00"},
      {"calendar", calendar_path},
      {"blackout_before_minutes", "15"},
      {"blackout_after_minutes", "45"},
      {"sizing", "vol_target"},
      {"lots", "0.3"},
      {"risk_fraction", "0.02"},
      {"vol_target", "0.004"},
      {"scale_by_confidence", "false"},
      {"max_lots", "7"},
      {"stop_atr", "1.5"},
      {"take_profit_atr", "2.5"},
      {"atr_period", "20"},
  };
  ASSERT_EQ(DecisionConfig::Keys().size(), values.size());
  DecisionConfig config;
  for (std::string_view key : DecisionConfig::Keys()) {
    ASSERT_TRUE(values.count(key)) << key;
    Status status = config.Set(key, values.at(key));
    EXPECT_TRUE(status.ok()) << key << ": " << status.ToString();
  }
  EXPECT_TRUE(config.Validate().ok()) << config.Validate().ToString();
  EXPECT_DOUBLE_EQ(config.buy_threshold, 0.8);
  EXPECT_DOUBLE_EQ(config.sell_threshold, -0.8);
  EXPECT_DOUBLE_EQ(config.close_threshold, 0.2);
  EXPECT_DOUBLE_EQ(config.min_confidence, 0.5);
  EXPECT_DOUBLE_EQ(config.max_spread_points, 25);
  EXPECT_DOUBLE_EQ(config.max_anomaly, 0.9);
  EXPECT_EQ(config.sessions.text(), "mon-fri 07:00-20:00");
  ASSERT_TRUE(config.calendar.has_value());
  EXPECT_EQ(config.calendar->size(), 1u);
  // The calendar was loaded before the minutes were set: they still apply to it.
  EXPECT_EQ(config.calendar->events()[0].before, Duration::Minutes(15));
  EXPECT_EQ(config.calendar->events()[0].after, Duration::Minutes(45));
  EXPECT_EQ(config.sizing, SizingMode::kVolTarget);
  EXPECT_DOUBLE_EQ(config.lots, 0.3);
  EXPECT_DOUBLE_EQ(config.risk_fraction, 0.02);
  EXPECT_DOUBLE_EQ(config.vol_target, 0.004);
  EXPECT_FALSE(config.scale_by_confidence);
  EXPECT_DOUBLE_EQ(config.max_lots, 7);
  EXPECT_DOUBLE_EQ(config.stop_atr, 1.5);
  EXPECT_DOUBLE_EQ(config.take_profit_atr, 2.5);
  EXPECT_EQ(config.atr_period, 20);
  EXPECT_TRUE(config.Set("calendar", "").ok());
  EXPECT_FALSE(config.calendar.has_value());
}

TEST(DecisionConfigTest, SetErrorsNameKeyAndValueAndKeepTheField) {
  const std::map<std::pair<std::string, std::string>, std::string> cases = {
      {{"buy_treshold", "0.7"}, "unknown key 'buy_treshold'"},
      {{"buy_threshold", "abc"}, "buy_threshold: bad value 'abc'"},
      {{"buy_threshold", "0.7x"}, "buy_threshold: bad value '0.7x'"},
      {{"buy_threshold", "nan"}, "buy_threshold: bad value 'nan'"},
      {{"buy_threshold", "inf"}, "buy_threshold: bad value 'inf'"},
      {{"buy_threshold", "1.5"}, "buy_threshold 1.5 is outside [0, 1]"},
      {{"sell_threshold", "0.5"}, "sell_threshold 0.5 is outside [-1, 0]"},
      {{"min_confidence", "-0.1"}, "min_confidence -0.1 is outside [0, 1]"},
      {{"max_spread_points", "-1"}, "max_spread_points -1 is outside [0, inf)"},
      {{"lots", "0"}, "lots 0 is outside (0, inf)"},
      {{"risk_fraction", "0"}, "risk_fraction 0 is outside (0, 1]"},
      {{"vol_target", "2"}, "vol_target 2 is outside (0, 1]"},
      {{"stop_atr", "-2"}, "stop_atr -2 is outside [0, inf)"},
      {{"atr_period", "0"}, "atr_period: bad value '0'"},
      {{"atr_period", "14.5"}, "atr_period: bad value '14.5'"},
      {{"blackout_before_minutes", "-1"}, "blackout_before_minutes: bad value '-1'"},
      {{"sizing", "martingale"}, "sizing: bad value 'martingale'"},
      {{"scale_by_confidence", "maybe"}, "scale_by_confidence: bad value 'maybe'"},
      {{"sessions", "mon-fri 07:00-99:00"}, "decision config: sessions: bad end time"},
      {{"calendar", "/nonexistent/cal.csv"}, "/nonexistent/cal.csv: cannot open"},
  };
  for (const auto& [key_value, message] : cases) {
    DecisionConfig config;
    Status status = config.Set(key_value.first, key_value.second);
    ASSERT_FALSE(status.ok()) << key_value.first << "=" << key_value.second;
    EXPECT_NE(status.message().find(message), std::string::npos) << status.message();
    // A failed Set leaves the config as it was.
    EXPECT_DOUBLE_EQ(config.buy_threshold, 0.7);
    EXPECT_DOUBLE_EQ(config.sell_threshold, -0.7);
    EXPECT_DOUBLE_EQ(config.lots, 0.1);
    EXPECT_EQ(config.atr_period, 14);
    EXPECT_TRUE(config.Validate().ok());
  }
}

TEST(DecisionConfigTest, ValidateChecksOrderingAndRanges) {
  struct Case {
    void (*mutate)(DecisionConfig&);
    const char* message;
  };
  const Case cases[] = {
      {[](DecisionConfig& c) { c.close_threshold = 0.8; }, "close_threshold 0.8 is above buy"},
      {[](DecisionConfig& c) { c.sell_threshold = -0.2; },
       "sell_threshold -0.2 is above -close_threshold -0.3"},
      {[](DecisionConfig& c) { c.buy_threshold = 1.2; }, "buy_threshold 1.2 is outside [0, 1]"},
      {[](DecisionConfig& c) { c.min_confidence = std::nan(""); },
       "min_confidence nan is not a finite number"},
      {[](DecisionConfig& c) { c.max_lots = -1; }, "max_lots -1 is outside [0, inf)"},
      {[](DecisionConfig& c) { c.atr_period = 0; }, "atr_period 0 is outside 1..100000"},
      {[](DecisionConfig& c) { c.lots = std::numeric_limits<double>::infinity(); },
       "lots inf is not a finite number"},
      {[](DecisionConfig& c) { c.stop_atr = 0; }, "sizing fixed_fraction needs stop_atr > 0"},
      {[](DecisionConfig& c) { c.blackout_after = Duration::Minutes(-5); },
       "blackout_after_minutes -5 is outside 0..10080"},
  };
  for (const Case& test : cases) {
    DecisionConfig config;
    test.mutate(config);
    Status status = config.Validate();
    ASSERT_FALSE(status.ok()) << test.message;
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(status.message().find(test.message), std::string::npos) << status.message();
  }
  // Boundaries that are allowed: all thresholds equal, zero stops with fixed lots.
  DecisionConfig edge = FixedLots();
  edge.buy_threshold = 0.3;
  edge.close_threshold = 0.3;
  edge.sell_threshold = -0.3;
  edge.stop_atr = 0;
  edge.take_profit_atr = 0;
  EXPECT_TRUE(edge.Validate().ok()) << edge.Validate().ToString();
}

}  // namespace
}  // namespace aits::decision
