#include "aits/feed/monitor.h"

#include <gtest/gtest.h>

#include "aits/bus/bus.h"
#include "aits/proto/messages.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <random>
#include <vector>

namespace aits::feed {
namespace {

// 2020-01-08, a Wednesday: every FX session is open.
constexpr Timestamp kT0 = FromCivil(2020, 1, 8, 10, 0, 0);

Instrument EurUsd(uint32_t id = 0) {
  Instrument inst = Instrument::Infer("EURUSD");
  inst.id = InstrumentId{id};
  return inst;
}

// A EUR/USD quote from points (1e-5): bid = 1.10000 + bid_points, ask = bid + spread_points.
Tick Quote(Timestamp ts, int64_t bid_points, int64_t spread_points, uint32_t id = 0) {
  Tick tick;
  tick.ts = ts;
  tick.bid = Price::FromRaw(1'100'000'000 + bid_points * 10'000, 5);
  tick.ask = Price::FromRaw(tick.bid.raw() + spread_points * 10'000, 5);
  tick.instrument = InstrumentId{id};
  return tick;
}

Duration Ms(int64_t ms) { return Duration::Millis(ms); }

struct Fixture {
  explicit Fixture(MonitorConfig config = {}, std::vector<TradingWindow> sessions = {}) {
    clock.AdvanceTo(kT0);
    auto created = MarketMonitor::Create(config, clock);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    monitor = std::move(*created);
    EXPECT_TRUE(monitor->AddSymbol(EurUsd(), std::move(sessions)).ok());
  }
  // Moves the clock to the tick, polls, and feeds it: what a replay does.
  std::vector<MarketAlert> Feed(const Tick& tick) {
    clock.AdvanceTo(tick.ts);
    monitor->Poll();
    monitor->OnTick(tick);
    return monitor->TakeAlerts();
  }
  SymbolStats Stats() { return *monitor->Stats(InstrumentId{0}); }

  SimulatedClock clock;
  std::unique_ptr<MarketMonitor> monitor;
};

TEST(MonitorConfigTest, DefaultsValidateAndEachBadFieldIsNamed) {
  EXPECT_TRUE(MonitorConfig{}.Validate().ok());
  auto expect_bad = [](auto change, const std::string& field) {
    MonitorConfig config;
    change(config);
    const Status status = config.Validate();
    ASSERT_FALSE(status.ok()) << field;
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(status.message().find("monitor setting " + field + " = "), std::string::npos)
        << status.message();
  };
  expect_bad([](MonitorConfig& c) { c.rate_window = Ms(1500); }, "rate_window");
  expect_bad([](MonitorConfig& c) { c.spread_baseline_ticks = 5; }, "spread_baseline_ticks");
  expect_bad([](MonitorConfig& c) { c.spread_baseline_min_ticks = 2000; },
             "spread_baseline_min_ticks");
  expect_bad([](MonitorConfig& c) { c.spread_spike_ratio = 1.0; }, "spread_spike_ratio");
  expect_bad([](MonitorConfig& c) { c.spread_clear_ratio = 3.0; }, "spread_clear_ratio");
  expect_bad([](MonitorConfig& c) { c.spread_min_excess_pips = NAN; }, "spread_min_excess_pips");
  expect_bad([](MonitorConfig& c) { c.spread_spike_ticks = 0; }, "spread_spike_ticks");
  expect_bad([](MonitorConfig& c) { c.spread_spike_hold = Ms(-1); }, "spread_spike_hold");
  expect_bad([](MonitorConfig& c) { c.spread_clear_ticks = 0; }, "spread_clear_ticks");
  expect_bad([](MonitorConfig& c) { c.spread_clear_hold = Ms(-5); }, "spread_clear_hold");
  expect_bad([](MonitorConfig& c) { c.gap_atr_multiple = 0; }, "gap_atr_multiple");
  expect_bad([](MonitorConfig& c) { c.gap_min_pips = -1; }, "gap_min_pips");
  expect_bad([](MonitorConfig& c) { c.gap_atr_period = 0; }, "gap_atr_period");
  expect_bad([](MonitorConfig& c) { c.stale_after = Duration{}; }, "stale_after");
  expect_bad([](MonitorConfig& c) { c.frozen_ticks = 1; }, "frozen_ticks");
  expect_bad([](MonitorConfig& c) { c.frozen_after = Duration{}; }, "frozen_after");
  expect_bad([](MonitorConfig& c) { c.frozen_min_ticks = 1; }, "frozen_min_ticks");
  SimulatedClock clock;
  MonitorConfig bad;
  bad.stale_after = Duration{};
  EXPECT_FALSE(MarketMonitor::Create(bad, clock).ok());
}

TEST(SessionOpenSinceTest, FxWeekFromTheCatalogueText) {
  auto windows = ParseTradingSessions("Sun 22:00-Fri 22:00");
  ASSERT_TRUE(windows.ok());
  const Timestamp sunday_open = FromCivil(2020, 1, 5, 22, 0, 0);  // 2020-01-05 was a Sunday
  EXPECT_EQ(SessionOpenSince(*windows, kT0), sunday_open);
  EXPECT_EQ(SessionOpenSince(*windows, sunday_open), sunday_open);
  EXPECT_FALSE(SessionOpenSince(*windows, sunday_open - Duration::Nanos(1)));
  EXPECT_EQ(SessionOpenSince(*windows, FromCivil(2020, 1, 10, 21, 59, 59)), sunday_open);
  EXPECT_FALSE(SessionOpenSince(*windows, FromCivil(2020, 1, 10, 22, 0, 0)));  // Friday close
  EXPECT_FALSE(SessionOpenSince(*windows, FromCivil(2020, 1, 11, 12, 0, 0)));  // Saturday
  auto daily = ParseTradingSessions("Mon-Fri 07:00-21:00");
  ASSERT_TRUE(daily.ok());
  EXPECT_EQ(SessionOpenSince(*daily, FromCivil(2020, 1, 8, 12, 30, 15)),
            FromCivil(2020, 1, 8, 7, 0, 0));
  EXPECT_FALSE(SessionOpenSince(*daily, FromCivil(2020, 1, 8, 21, 0, 0)));
  EXPECT_FALSE(SessionOpenSince(*daily, FromCivil(2020, 1, 8, 6, 59, 59)));
  EXPECT_TRUE(SessionOpenSince({}, FromCivil(2020, 1, 11, 12, 0, 0)));  // none: always open
}

TEST(MarketMonitorTest, CrossedQuoteRaisedAndClearedAtTheTick) {
  Fixture f;
  EXPECT_TRUE(f.Feed(Quote(kT0, 0, 10)).empty());
  auto raised = f.Feed(Quote(kT0 + Ms(100), 5, -3));  // bid 1.10005 > ask 1.10002
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].kind, AlertKind::kCrossedQuote);
  EXPECT_EQ(raised[0].state, AlertState::kRaised);
  EXPECT_EQ(raised[0].severity, AlertSeverity::kCritical);
  EXPECT_EQ(raised[0].start, kT0 + Ms(100));
  EXPECT_EQ(raised[0].symbol, "EURUSD");
  EXPECT_DOUBLE_EQ(raised[0].value, 0.3);
  EXPECT_EQ(raised[0].detail, "bid 1.10005 > ask 1.10002 (crossed by 0.3 pips)");
  EXPECT_TRUE(f.Feed(Quote(kT0 + Ms(200), 6, -1)).empty());  // still crossed: no repeat
  auto cleared = f.Feed(Quote(kT0 + Ms(300), 6, 0));         // locked, not crossed
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].state, AlertState::kCleared);
  EXPECT_EQ(cleared[0].id, raised[0].id);
  EXPECT_EQ(cleared[0].start, kT0 + Ms(100));
  EXPECT_EQ(cleared[0].end, kT0 + Ms(300));
  const SymbolStats stats = f.Stats();
  EXPECT_EQ(stats.ticks, 4u);
  EXPECT_EQ(stats.crossed_ticks, 2u);
  EXPECT_EQ(stats.spread_count, 2u);  // crossed spreads are not spread figures
  EXPECT_EQ(stats.alerts[static_cast<size_t>(AlertKind::kCrossedQuote)], 1u);
}

TEST(MarketMonitorTest, FrozenQuoteByCountAndByTime) {
  MonitorConfig config;
  config.frozen_ticks = 5;
  config.frozen_after = Duration::Seconds(10);
  config.frozen_min_ticks = 3;
  Fixture f(config);
  // Five equal quotes: raised at the fifth, from the first.
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(f.Feed(Quote(kT0 + Ms(100 * i), 0, 10)).empty()) << i;
  auto raised = f.Feed(Quote(kT0 + Ms(400), 0, 10));
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].kind, AlertKind::kFrozenQuote);
  EXPECT_EQ(raised[0].start, kT0);
  EXPECT_EQ(raised[0].ts, kT0 + Ms(400));
  EXPECT_EQ(raised[0].value, 5);
  EXPECT_EQ(raised[0].threshold, 5);
  EXPECT_TRUE(f.Feed(Quote(kT0 + Ms(500), 0, 10)).empty());
  auto cleared = f.Feed(Quote(kT0 + Ms(600), 0, 11));  // the ask moved
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].state, AlertState::kCleared);
  EXPECT_EQ(cleared[0].end, kT0 + Ms(600));
  // By time: three equal quotes over 10 s (two are not enough, however long).
  const Timestamp t1 = kT0 + Duration::Seconds(1);
  EXPECT_TRUE(f.Feed(Quote(t1, 1, 10)).empty());
  EXPECT_TRUE(f.Feed(Quote(t1 + Duration::Seconds(30), 1, 10)).empty());
  auto by_time = f.Feed(Quote(t1 + Duration::Seconds(31), 1, 10));
  ASSERT_EQ(by_time.size(), 1u);
  EXPECT_EQ(by_time[0].start, t1);
  EXPECT_DOUBLE_EQ(by_time[0].value, 31.0);
  EXPECT_DOUBLE_EQ(by_time[0].threshold, 10.0);
}

// 200 calm ticks 100 ms apart with a 1.0-pip spread: a baseline median of 1.0 pip.
Timestamp Calm(Fixture& f, Timestamp from, int count = 200, int64_t spread = 10) {
  for (int i = 0; i < count; ++i) {
    auto alerts = f.Feed(Quote(from + Ms(100 * i), i % 2, spread));
    EXPECT_TRUE(alerts.empty()) << Describe(alerts[0]);
  }
  return from + Ms(100 * count);
}

TEST(MarketMonitorTest, SpreadSpikeNeedsThreeTicksOverOneSecondAndClearsWithHysteresis) {
  Fixture f;
  Timestamp t = Calm(f, kT0);
  EXPECT_DOUBLE_EQ(f.Stats().spread_median_rolling, 1.0);
  // One wide tick, then calm: no alert (one tick does not flap).
  EXPECT_TRUE(f.Feed(Quote(t, 0, 40)).empty());
  t = Calm(f, t + Ms(100), 5);
  // Three wide ticks within 0.6 s: held too short; the fourth, 1.0 s after the first, raises.
  const Timestamp first = t;
  EXPECT_TRUE(f.Feed(Quote(first, 0, 40)).empty());
  EXPECT_TRUE(f.Feed(Quote(first + Ms(300), 0, 45)).empty());
  EXPECT_TRUE(f.Feed(Quote(first + Ms(600), 0, 40)).empty());
  auto raised = f.Feed(Quote(first + Ms(1000), 0, 41));
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].kind, AlertKind::kSpreadSpike);
  EXPECT_EQ(raised[0].state, AlertState::kRaised);
  EXPECT_EQ(raised[0].start, first);
  EXPECT_EQ(raised[0].ts, first + Ms(1000));
  EXPECT_DOUBLE_EQ(raised[0].value, 4.1);
  EXPECT_DOUBLE_EQ(raised[0].threshold, 3.0);
  EXPECT_EQ(raised[0].detail, "spread 4.1 pips > 3.0 x median 1.0 pips");
  // 2.5 pips is below the raise level but above the clear level (2 x median): still raised.
  EXPECT_TRUE(f.Feed(Quote(first + Ms(1100), 0, 25)).empty());
  // The baseline did not learn the spike.
  EXPECT_DOUBLE_EQ(f.Stats().spread_median_rolling, 1.0);
  EXPECT_TRUE(f.Stats().active[static_cast<size_t>(AlertKind::kSpreadSpike)]);
  // Calm again (2.0 pips <= 2 x median) ...
  EXPECT_TRUE(f.Feed(Quote(first + Ms(1200), 0, 20)).empty());
  // ... not for long: 3.0 pips restarts the count ...
  EXPECT_TRUE(f.Feed(Quote(first + Ms(1300), 0, 30)).empty());
  // ... which needs three calm ticks over 10 s from the first of them.
  EXPECT_TRUE(f.Feed(Quote(first + Ms(1400), 0, 20)).empty());
  EXPECT_TRUE(f.Feed(Quote(first + Ms(2000), 0, 15)).empty());
  EXPECT_TRUE(f.Feed(Quote(first + Ms(11300), 0, 10)).empty());  // 9.9 s: not yet
  auto cleared = f.Feed(Quote(first + Ms(11400), 0, 10));
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].state, AlertState::kCleared);
  EXPECT_EQ(cleared[0].id, raised[0].id);
  EXPECT_EQ(cleared[0].start, first);
  EXPECT_EQ(cleared[0].end, first + Ms(1400));
  EXPECT_EQ(cleared[0].ts, first + Ms(11400));
  EXPECT_EQ(cleared[0].detail, "spread 1.0 pips, median 1.0 pips");
  // Three times a tiny median is no spike without the excess: median 0.2 pips, spread 1.1.
  Fixture tight;
  Timestamp u = Calm(tight, kT0, 200, 2);
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(tight.Feed(Quote(u + Ms(100 * i), 0, 11)).empty());
  u = u + Ms(2000);
  for (int i = 0; i < 10; ++i) {
    auto alerts = tight.Feed(Quote(u + Ms(200 * i), 0, 12));  // 1.2 >= 0.2 + 1.0
    if (i == 5) {                                             // the sixth: 1.0 s after the first
      ASSERT_EQ(alerts.size(), 1u);
      EXPECT_EQ(alerts[0].start, u);
    } else {
      EXPECT_TRUE(alerts.empty()) << i;
    }
  }
}

TEST(MarketMonitorTest, NoSpikeBeforeTheBaselineHasItsMinimum) {
  Fixture f;
  // 90 calm spreads: the first ten wide ones are not judged, they fill the baseline to its
  // minimum of 100 (its median stays 1 pip); from the eleventh on they are, and the sixth of
  // those (1.0 s after the eleventh) raises.
  const Timestamp t = Calm(f, kT0, 90);
  for (int i = 0; i < 16; ++i) {
    auto alerts = f.Feed(Quote(t + Ms(200 * i), 0, 50));
    if (i < 15) {
      EXPECT_TRUE(alerts.empty()) << i;
    } else {
      ASSERT_EQ(alerts.size(), 1u);
      EXPECT_EQ(alerts[0].start, t + Ms(200 * 10));
    }
  }
}

TEST(MarketMonitorTest, PriceGapAgainstTheOneMinuteAtr) {
  Fixture f;
  // 20 minutes of ticks every 10 s, the mid alternating over 2 pips: every one-minute bar has a
  // true range of 2 pips, so ATR(14) = 2 pips and the gap level is 6 x 2 = 12 pips.
  Timestamp t = kT0;
  for (int i = 0; i < 120; ++i) {
    auto alerts = f.Feed(Quote(t, i % 2 == 0 ? 0 : 20, 10));
    EXPECT_TRUE(alerts.empty()) << Describe(alerts[0]);
    t = t + Duration::Seconds(10);
  }
  EXPECT_NEAR(f.Stats().atr, 2.0, 1e-6);
  // The last mid was +20 points; a jump to -90 is 11 pips: no gap.
  EXPECT_TRUE(f.Feed(Quote(t, -90, 10)).empty());
  // From -90 to +40 after a 47 s pause: 13 pips, a gap, raised as a one-off at that tick.
  const Timestamp gap_at = t + Duration::Seconds(47);
  auto gap = f.Feed(Quote(gap_at, 40, 10));
  ASSERT_EQ(gap.size(), 1u);
  EXPECT_EQ(gap[0].kind, AlertKind::kPriceGap);
  EXPECT_EQ(gap[0].state, AlertState::kOneOff);
  EXPECT_EQ(gap[0].start, gap_at);
  EXPECT_EQ(gap[0].end, gap_at);
  EXPECT_NEAR(gap[0].value, 13.0, 1e-9);
  EXPECT_NEAR(gap[0].threshold, 12.0, 1e-6);
  EXPECT_EQ(gap[0].detail, "mid moved 13.0 pips > 6.0 x ATR 2.00 pips (M1) after 47.0 s");
  EXPECT_EQ(f.Stats().active[static_cast<size_t>(AlertKind::kPriceGap)], false);
}

TEST(MarketMonitorTest, BarsGivenReplaceTheBarsBuiltFromTicks) {
  Fixture f;
  for (int i = 0; i < 15; ++i) {
    Bar bar;
    bar.instrument = InstrumentId{0};
    bar.period = Duration::Minutes(1);
    bar.open_time = kT0 + Duration::Minutes(i);
    bar.mid = {Price::FromRaw(1'100'000'000, 5), Price::FromRaw(1'100'500'000, 5),
               Price::FromRaw(1'100'000'000, 5), Price::FromRaw(1'100'000'000, 5)};
    f.monitor->OnBar(bar);
  }
  EXPECT_NEAR(f.Stats().atr, 5.0, 1e-6);
  EXPECT_EQ(f.Stats().bars, 15u);
  Bar old;
  old.instrument = InstrumentId{0};
  old.open_time = kT0;  // not after the last one
  f.monitor->OnBar(old);
  EXPECT_EQ(f.Stats().rejected_ticks, 1u);
  EXPECT_EQ(f.Stats().bars, 15u);
}

TEST(MarketMonitorTest, StaleFeedWhileOpenRaisedAtTheLimitAndClearedByTheNextTick) {
  Fixture f;
  EXPECT_TRUE(f.Feed(Quote(kT0, 0, 10)).empty());
  f.clock.AdvanceTo(kT0 + Duration::Seconds(120));
  f.monitor->Poll();
  EXPECT_TRUE(f.monitor->TakeAlerts().empty());  // exactly the limit: not yet
  f.clock.AdvanceTo(kT0 + Duration::Seconds(121));
  f.monitor->Poll();
  auto raised = f.monitor->TakeAlerts();
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].kind, AlertKind::kStaleFeed);
  EXPECT_EQ(raised[0].severity, AlertSeverity::kCritical);
  EXPECT_EQ(raised[0].start, kT0 + Duration::Seconds(120));
  EXPECT_EQ(raised[0].ts, kT0 + Duration::Seconds(121));
  EXPECT_DOUBLE_EQ(raised[0].value, 121.0);
  EXPECT_EQ(raised[0].detail,
            "no tick for 121.0 s (limit 120 s) since the last tick at 2020-01-08T10:00:00Z "
            "while the session is open");
  EXPECT_EQ(f.Stats().last_tick_age, Duration::Seconds(121));
  f.monitor->Poll();
  EXPECT_TRUE(f.monitor->TakeAlerts().empty());  // raised once
  auto cleared = f.Feed(Quote(kT0 + Duration::Seconds(200), 0, 10));
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].state, AlertState::kCleared);
  EXPECT_EQ(cleared[0].end, kT0 + Duration::Seconds(200));
  EXPECT_EQ(f.Stats().longest_silence, Duration::Seconds(200));
}

TEST(MarketMonitorTest, StaleFeedFollowsTheSession) {
  auto windows = ParseTradingSessions("Sun 22:00-Fri 22:00");
  ASSERT_TRUE(windows.ok());
  Fixture f({}, *windows);
  // Watching began on Wednesday (kT0): the first tick, on Friday, ends a stale feed that the
  // replay's poll before it raised.
  const Timestamp friday = FromCivil(2020, 1, 10, 21, 50, 0);
  auto first = f.Feed(Quote(friday, 0, 10));
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].state, AlertState::kRaised);
  EXPECT_EQ(first[0].start, kT0 + Duration::Seconds(120));
  EXPECT_EQ(first[1].state, AlertState::kCleared);
  EXPECT_EQ(first[1].end, friday);
  f.clock.AdvanceTo(friday + Duration::Minutes(3));
  f.monitor->Poll();
  ASSERT_EQ(f.monitor->TakeAlerts().size(), 1u);  // stale before the close
  const Timestamp closed = FromCivil(2020, 1, 10, 22, 0, 5);
  f.clock.AdvanceTo(closed);
  f.monitor->Poll();
  auto cleared = f.monitor->TakeAlerts();
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].state, AlertState::kCleared);
  EXPECT_EQ(cleared[0].end, closed);
  EXPECT_EQ(cleared[0].detail, "session closed");
  // The weekend is closed: no alert however long the silence.
  f.clock.AdvanceTo(FromCivil(2020, 1, 12, 21, 59, 0));
  f.monitor->Poll();
  EXPECT_TRUE(f.monitor->TakeAlerts().empty());
  EXPECT_FALSE(f.Stats().session_open);
  // Sunday 22:00 opens; the silence counts from the opening.
  const Timestamp open = FromCivil(2020, 1, 12, 22, 0, 0);
  f.clock.AdvanceTo(open + Duration::Seconds(120));
  f.monitor->Poll();
  EXPECT_TRUE(f.monitor->TakeAlerts().empty());
  f.clock.AdvanceTo(open + Duration::Seconds(125));
  f.monitor->Poll();
  auto raised = f.monitor->TakeAlerts();
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].start, open + Duration::Seconds(120));
  EXPECT_NE(raised[0].detail.find("since the session opened at 2020-01-12T22:00:00Z"),
            std::string::npos)
      << raised[0].detail;
}

TEST(MarketMonitorTest, StaleBeforeTheFirstTickCountsFromRegistration) {
  Fixture f;
  f.clock.AdvanceTo(kT0 + Duration::Seconds(130));
  f.monitor->Poll();
  auto raised = f.monitor->TakeAlerts();
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].start, kT0 + Duration::Seconds(120));
  EXPECT_NE(raised[0].detail.find("since watching began"), std::string::npos);
}

TEST(MarketMonitorTest, BadInputIsCountedNotUsed) {
  Fixture f;
  f.monitor->OnTick(Quote(kT0, 0, 10, /*id=*/7));
  EXPECT_EQ(f.monitor->unknown_ticks(), 1u);
  f.Feed(Quote(kT0 + Ms(10), 0, 10));
  f.monitor->OnTick(Quote(kT0, 0, 10));  // earlier than the previous tick
  EXPECT_EQ(f.Stats().rejected_ticks, 1u);
  EXPECT_EQ(f.Stats().ticks, 1u);
  EXPECT_FALSE(f.monitor->Stats(InstrumentId{7}).ok());
  EXPECT_FALSE(f.monitor->AddSymbol(EurUsd(0)).ok());               // watched already
  EXPECT_FALSE(f.monitor->AddSymbol(EurUsd(4'000'000'000u)).ok());  // no 4-billion-entry table
  Instrument no_pip = EurUsd(1);
  no_pip.pip_size = Price{};
  EXPECT_FALSE(f.monitor->AddSymbol(no_pip).ok());
}

TEST(MarketMonitorTest, SinkReceivesAlertsInsteadOfTheQueue) {
  Fixture f;
  std::vector<MarketAlert> seen;
  f.monitor->SetSink([&seen](const MarketAlert& alert) { seen.push_back(alert); });
  f.monitor->OnTick(Quote(kT0, 5, -1));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].kind, AlertKind::kCrossedQuote);
  EXPECT_TRUE(f.monitor->TakeAlerts().empty());
}

// How a node attaches the monitor: its sink publishes on the kernel's bus, and a subscriber there
// (a recorder, a gateway) may encode the alert for another process.
TEST(MarketMonitorTest, AlertsGoOnTheBusAndTravel) {
  Fixture f;
  Bus bus;
  std::vector<std::string> wire;
  bus.Subscribe<MarketAlert>(
      [&wire](const MarketAlert& alert) { wire.push_back(proto::Encode(alert)); });
  f.monitor->SetSink([&bus](const MarketAlert& alert) { bus.Publish(alert); });
  f.monitor->OnTick(Quote(kT0, 5, -1));
  f.monitor->OnTick(Quote(kT0 + Ms(1), 5, 1));
  ASSERT_EQ(wire.size(), 2u);
  auto raised = proto::Decode<MarketAlert>(wire[0]);
  ASSERT_TRUE(raised.ok()) << raised.status().ToString();
  EXPECT_EQ(raised->kind, AlertKind::kCrossedQuote);
  EXPECT_EQ(raised->state, AlertState::kRaised);
  auto cleared = proto::Decode<MarketAlert>(wire[1]);
  ASSERT_TRUE(cleared.ok());
  EXPECT_EQ(cleared->state, AlertState::kCleared);
  EXPECT_EQ(cleared->id, raised->id);
  EXPECT_EQ(cleared->end, kT0 + Ms(1));
}

// The statistics against a plain recomputation over the same spreads: sort for the percentiles,
// nth_element over the last N for the rolling median, a count for ticks/s.
TEST(MarketMonitorTest, StatisticsEqualAStraightforwardRecomputation) {
  MonitorConfig config;
  config.spread_spike_ratio = 1e9;  // no spike: every spread enters the baseline
  config.spread_clear_ratio = 1;
  config.spread_baseline_ticks = 101;
  config.rate_window = Duration::Seconds(10);
  config.frozen_ticks = 1'000'000;
  config.gap_atr_multiple = 1e9;
  Fixture f(config);
  std::mt19937_64 random(7);
  std::vector<int64_t> spreads;
  std::deque<int64_t> window;
  std::vector<Timestamp> times;
  Timestamp t = kT0;
  for (int i = 0; i < 5000; ++i) {
    // Mostly tight with a long tail, as real spreads are.
    const int64_t spread = random() % 10 == 0 ? static_cast<int64_t>(random() % 300)
                                              : 5 + static_cast<int64_t>(random() % 15);
    t = t + Ms(static_cast<int64_t>(random() % 900));
    f.Feed(Quote(t, static_cast<int64_t>(random() % 50), spread));
    spreads.push_back(spread);
    times.push_back(t);
    window.push_back(spread);
    if (window.size() > 101) window.pop_front();
    std::vector<int64_t> sorted(window.begin(), window.end());
    const size_t rank = (sorted.size() + 1) / 2 - 1;
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<ptrdiff_t>(rank), sorted.end());
    ASSERT_DOUBLE_EQ(f.Stats().spread_median_rolling, static_cast<double>(sorted[rank]) / 10)
        << "tick " << i;
  }
  std::vector<int64_t> sorted = spreads;
  std::sort(sorted.begin(), sorted.end());
  auto nearest_rank = [&](double p) {
    const auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
    return static_cast<double>(sorted[rank - 1]) / 10;
  };
  double sum = 0;
  for (int64_t s : spreads) sum += static_cast<double>(s);
  const SymbolStats stats = f.Stats();
  EXPECT_EQ(stats.spread_count, 5000u);
  EXPECT_NEAR(stats.spread_mean, sum / 5000 / 10, 1e-9);
  EXPECT_DOUBLE_EQ(stats.spread_min, static_cast<double>(sorted.front()) / 10);
  EXPECT_DOUBLE_EQ(stats.spread_max, static_cast<double>(sorted.back()) / 10);
  EXPECT_DOUBLE_EQ(stats.spread_p50, nearest_rank(0.50));
  EXPECT_DOUBLE_EQ(stats.spread_p90, nearest_rank(0.90));
  EXPECT_DOUBLE_EQ(stats.spread_p99, nearest_rank(0.99));
  // Ticks/s: the ticks of the clock's second and the nine before it, over 10 s.
  const int64_t now_second = t.ns / kNanosPerSecond;
  int in_window = 0;
  for (Timestamp at : times) {
    if (at.ns / kNanosPerSecond > now_second - 10) ++in_window;
  }
  EXPECT_GT(in_window, 0);
  EXPECT_DOUBLE_EQ(stats.ticks_per_second, in_window / 10.0);
  // Later, with no ticks, the window empties.
  f.clock.AdvanceTo(t + Duration::Seconds(11));
  EXPECT_DOUBLE_EQ(f.Stats().ticks_per_second, 0.0);
}

TEST(MarketMonitorTest, SymbolsAreIndependent) {
  Fixture f;
  Instrument jpy = Instrument::Infer("USDJPY");
  jpy.id = InstrumentId{3};
  ASSERT_TRUE(f.monitor->AddSymbol(jpy).ok());
  Tick crossed = Quote(kT0, 5, -1, 3);
  crossed.bid = Price::FromRaw(110'005'000'000, 3);
  crossed.ask = Price::FromRaw(110'000'000'000, 3);
  auto alerts = f.Feed(crossed);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].symbol, "USDJPY");
  EXPECT_EQ(alerts[0].instrument, InstrumentId{3});
  EXPECT_DOUBLE_EQ(alerts[0].value, 0.5);  // 0.005 yen = 0.5 pips of 0.01
  EXPECT_EQ(f.Stats().ticks, 0u);
  const auto all = f.monitor->AllStats();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].symbol, "EURUSD");
  EXPECT_EQ(all[1].symbol, "USDJPY");
  EXPECT_EQ(all[1].crossed_ticks, 1u);
}

}  // namespace
}  // namespace aits::feed
