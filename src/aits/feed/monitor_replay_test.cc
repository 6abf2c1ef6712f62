#include "aits/feed/monitor_replay.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <string>

namespace aits::feed {
namespace {

std::string Shared(const std::string& name) {
  return std::string(AITS_SHARED_DATA_DIR) + "/" + name;
}

MonitorFileResult Monitor(const MonitorInput& input, const MonitorConfig& config = {}) {
  auto catalogue = InstrumentCatalogue::BuiltIn();
  EXPECT_TRUE(catalogue.ok());
  auto result = MonitorFile(input, config, *catalogue);
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  return result.ok() ? *result : MonitorFileResult{};
}

// Raised (or one-off) alerts by kind.
std::array<int, 5> Raised(const MonitorFileResult& result) {
  std::array<int, 5> counts{};
  for (const MarketAlert& alert : result.alerts) {
    if (alert.state != AlertState::kCleared) ++counts[static_cast<size_t>(alert.kind)];
  }
  return counts;
}

int HourOf(Timestamp t) { return ToCivil(t).hour; }

TEST(MonitorInputTest, SymbolFileAndAskFile) {
  auto plain = ParseMonitorInput("data/eurusd.csv");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->path, "data/eurusd.csv");
  EXPECT_TRUE(plain->symbol.empty());
  auto full = ParseMonitorInput("GBPUSD=bid.csv,ask.csv");
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->symbol, "GBPUSD");
  EXPECT_EQ(full->path, "bid.csv");
  EXPECT_EQ(full->ask_path, "ask.csv");
  EXPECT_EQ(ParseMonitorInput("dir=x/file.csv")->symbol, "dir");
  EXPECT_EQ(ParseMonitorInput("dir/a=b.csv")->path, "dir/a=b.csv");  // '=' inside a path
  for (const char* bad : {"", "=a.csv", "a.csv,", "a.csv,b.csv,c.csv", ",b.csv"}) {
    auto parsed = ParseMonitorInput(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    if (!parsed.ok()) {
      EXPECT_NE(parsed.status().message().find("--data " + std::string(bad)), std::string::npos)
          << parsed.status().message();
    }
  }
}

TEST(MonitorReplayTest, MissingFileNamesIt) {
  auto catalogue = InstrumentCatalogue::BuiltIn();
  ASSERT_TRUE(catalogue.ok());
  auto result = MonitorFile({"/nonexistent/eurusd.csv", "", ""}, {}, *catalogue);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("/nonexistent/eurusd.csv"), std::string::npos);
}

// A holiday evening of EUR/USD ticks (HistData, 2020-01-01 17:00-23:00 in the file's clock):
// no alert with the defaults. The file opens inside the rollover's wide spreads (4-7 pips for its
// first minutes), before the baseline has its 100 ticks: a monitor started there cannot call them
// a spike, and does not. The spread figures equal a recomputation of the file (points of 1e-5:
// p50 3, p90 12, p99 32, max 72).
TEST(MonitorReplayTest, CalmEurUsdEveningRaisesNothing) {
  const MonitorFileResult result = Monitor({Shared("eurusd-ticks-2020-01-01.csv"), "", ""});
  EXPECT_EQ(result.instrument.symbol, "EURUSD");
  EXPECT_EQ(result.stats.ticks, 9500u);
  EXPECT_TRUE(result.alerts.empty()) << Describe(result.alerts.front());
  EXPECT_DOUBLE_EQ(result.stats.spread_p50, 0.3);
  EXPECT_DOUBLE_EQ(result.stats.spread_p90, 1.2);
  EXPECT_DOUBLE_EQ(result.stats.spread_p99, 3.2);
  EXPECT_DOUBLE_EQ(result.stats.spread_max, 7.2);
  EXPECT_EQ(result.stats.longest_silence, Duration::Millis(85'693));  // under the 120 s limit
  EXPECT_FALSE(std::isnan(result.stats.atr));
}

// TrueFX USD/JPY, 2013-01-01 from 22:00: the first tick is followed by 155.6 s of silence at the
// rollover of a holiday, a stale feed from 22:02:00.295 (raised by the one-second timer at
// 22:02:01) that the next tick clears.
TEST(MonitorReplayTest, UsdJpyRolloverSilenceIsAStaleFeed) {
  const MonitorFileResult result = Monitor({Shared("usdjpy-ticks.csv"), "", ""});
  ASSERT_EQ(result.alerts.size(), 2u);
  const MarketAlert& raised = result.alerts[0];
  EXPECT_EQ(raised.kind, AlertKind::kStaleFeed);
  EXPECT_EQ(raised.start, FromCivil(2013, 1, 1, 22, 2, 0, 295'000'000));
  EXPECT_EQ(raised.ts, FromCivil(2013, 1, 1, 22, 2, 1));
  const MarketAlert& cleared = result.alerts[1];
  EXPECT_EQ(cleared.state, AlertState::kCleared);
  EXPECT_EQ(cleared.id, raised.id);
  EXPECT_EQ(cleared.end, FromCivil(2013, 1, 1, 22, 2, 35, 907'000'000));
}

// A month of GBP/USD one-minute bars (FXCM, February 2012), one quote per bar close. Reviewed by
// hand (docs/feed.md): every spread spike is the daily rollover (20:00-24:00 UTC), one a weekday
// with few exceptions; the price gaps are one-minute jumps of 5-47 pips (one a minute after the
// Bank of England's minutes of 22 Feb); the stale feeds are FXCM's own two-to-three-minute
// silences, mostly before the rollover. The counts pin the defaults.
TEST(MonitorReplayTest, GbpUsdMonthAlertsAreTheRolloverAndTheNews) {
  const MonitorFileResult result =
      Monitor({Shared("gbpusd-m1-bid-2012.csv"), Shared("gbpusd-m1-ask-2012.csv"), ""});
  EXPECT_EQ(result.instrument.symbol, "GBPUSD");
  EXPECT_EQ(result.stats.bars, 30'117u);
  const auto raised = Raised(result);
  EXPECT_EQ(raised[static_cast<size_t>(AlertKind::kSpreadSpike)], 30);
  EXPECT_EQ(raised[static_cast<size_t>(AlertKind::kPriceGap)], 10);
  EXPECT_EQ(raised[static_cast<size_t>(AlertKind::kStaleFeed)], 11);
  EXPECT_EQ(raised[static_cast<size_t>(AlertKind::kCrossedQuote)], 0);  // the reader lifts them
  EXPECT_EQ(raised[static_cast<size_t>(AlertKind::kFrozenQuote)], 0);
  for (const MarketAlert& alert : result.alerts) {
    if (alert.kind == AlertKind::kSpreadSpike && alert.state == AlertState::kRaised) {
      EXPECT_GE(HourOf(alert.start), 20) << Describe(alert);
    }
  }
  // A calm Wednesday: nothing until the rollover, whose spike is raised at 22:01 (three bars
  // from 21:59) and cleared at 22:25.
  const Timestamp day = FromCivil(2012, 2, 15);
  std::vector<const MarketAlert*> that_day;
  for (const MarketAlert& alert : result.alerts) {
    if (alert.ts >= day && alert.ts < day + Duration::Days(1)) that_day.push_back(&alert);
  }
  ASSERT_EQ(that_day.size(), 2u);
  EXPECT_EQ(that_day[0]->kind, AlertKind::kSpreadSpike);
  EXPECT_EQ(that_day[0]->start, FromCivil(2012, 2, 15, 21, 59));
  EXPECT_EQ(that_day[0]->ts, FromCivil(2012, 2, 15, 22, 1));
  EXPECT_EQ(that_day[1]->state, AlertState::kCleared);
  EXPECT_EQ(that_day[1]->ts, FromCivil(2012, 2, 15, 22, 25));
  // A spike raised into the Friday close ends with the session, not after the weekend.
  bool closed = false;
  for (const MarketAlert& alert : result.alerts) {
    if (alert.state == AlertState::kCleared && alert.detail == "session closed") {
      closed = true;
      EXPECT_EQ(ToCivil(alert.end).weekday, 5) << Describe(alert);  // Friday
    }
  }
  EXPECT_TRUE(closed);
}

// USD/JPY one-minute bars, February 2013: the spread spikes are the rollover too.
TEST(MonitorReplayTest, UsdJpyMonthSpreadSpikesAreTheRollover) {
  const MonitorFileResult result =
      Monitor({Shared("usdjpy-m1-bid-2013.csv"), Shared("usdjpy-m1-ask-2013.csv"), ""});
  const auto raised = Raised(result);
  EXPECT_EQ(raised[static_cast<size_t>(AlertKind::kSpreadSpike)], 27);
  for (const MarketAlert& alert : result.alerts) {
    if (alert.kind == AlertKind::kSpreadSpike && alert.state == AlertState::kRaised) {
      EXPECT_GE(HourOf(alert.start), 20) << Describe(alert);
    }
  }
}

}  // namespace
}  // namespace aits::feed
