#include "aits/data/synthetic.h"

#include <cmath>

#include <gtest/gtest.h>

#include "aits/data/test_util.h"

namespace aits::data {
namespace {

std::vector<Tick> Generate(const SyntheticOptions& options) {
  auto source = SyntheticTickSource::Create(options);
  EXPECT_TRUE(source.ok());
  auto read = testing::ReadAll(**source);
  EXPECT_TRUE(read.status.ok());
  EXPECT_EQ((*source)->Progress(), 1.0);
  EXPECT_EQ(read.stats.accepted, options.count);
  return read.ticks;
}

TEST(SyntheticTest, DeterministicForASeed) {
  SyntheticOptions options;
  options.seed = 1234;
  options.count = 50'000;
  const auto a = Generate(options);
  const auto b = Generate(options);
  ASSERT_EQ(a.size(), 50'000u);
  ASSERT_EQ(b.size(), a.size());
  for (size_t idx = 0; idx < a.size(); ++idx) {
    ASSERT_EQ(a[idx].ts, b[idx].ts);
    ASSERT_EQ(a[idx].bid, b[idx].bid);
    ASSERT_EQ(a[idx].ask, b[idx].ask);
    ASSERT_EQ(a[idx].bid_volume, b[idx].bid_volume);
  }
  options.seed = 1235;
  const auto c = Generate(options);
  size_t same = 0;
  for (size_t idx = 0; idx < a.size(); ++idx) same += a[idx].bid == c[idx].bid;
  EXPECT_LT(same, a.size() / 2);
}

// The mean absolute log step over ticks [from, to).
double MeanStep(const std::vector<Tick>& ticks, size_t from, size_t to) {
  double sum = 0;
  for (size_t idx = from + 1; idx < to; ++idx) {
    sum += std::fabs(std::log(ticks[idx].Mid().AsDouble() / ticks[idx - 1].Mid().AsDouble()));
  }
  return sum / static_cast<double>(to - from - 1);
}

TEST(SyntheticTest, ASwitchChangesTheMarketFromItsTickOnly) {
  SyntheticOptions options;
  options.seed = 7;
  options.count = 200'000;
  const auto plain = Generate(options);
  options.switch_at = 100'000;
  options.switch_volatility = 4.0;
  const auto switched = Generate(options);
  ASSERT_EQ(switched.size(), plain.size());
  for (size_t idx = 0; idx < options.switch_at; ++idx) {
    ASSERT_EQ(switched[idx].bid, plain[idx].bid) << idx;
    ASSERT_EQ(switched[idx].ts, plain[idx].ts) << idx;
  }
  // The same draws (regimes, gaps, steps) on both sides, so after the switch its steps are four
  // times the plain history's, up to the price grid and the weak pull back.
  EXPECT_NEAR(MeanStep(switched, 100'000, 200'000) / MeanStep(plain, 100'000, 200'000), 4.0, 0.3);
  for (size_t idx = options.switch_at; idx < switched.size(); idx += 1000) {
    ASSERT_EQ(switched[idx].ts, plain[idx].ts) << idx;
  }

  // Steady: one regime, so the step size hardly moves from one stretch to the next.
  options.switch_at = 0;
  options.regime_switching = false;
  const auto steady = Generate(options);
  EXPECT_NEAR(MeanStep(steady, 0, 50'000) / MeanStep(steady, 150'000, 200'000), 1.0, 0.1);

  options.switch_at = 100'000;
  options.switch_volatility = 0;
  auto bad = SyntheticTickSource::Create(options);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("switch_volatility 0"), std::string::npos)
      << bad.status().ToString();
}

TEST(SyntheticTest, RealisticAndValid) {
  SyntheticOptions options;
  options.seed = 99;
  options.count = 500'000;                    // about a week and a half: crosses weekends
  options.start = FromCivil(2020, 1, 2, 12);  // Thursday: runs into the weekend
  options.instrument = InstrumentId{5};
  const auto ticks = Generate(options);
  ASSERT_EQ(ticks.front().ts, options.start);
  EXPECT_NEAR(ticks.front().Mid().AsDouble(), 1.1, 0.0002);  // starts at start_price
  int weekends = 0;
  int64_t min_spread = INT64_MAX, max_spread = 0;
  for (size_t idx = 0; idx < ticks.size(); ++idx) {
    const Tick& tick = ticks[idx];
    ASSERT_EQ(tick.instrument, InstrumentId{5});
    ASSERT_GT(tick.bid.raw(), 0);
    ASSERT_GT(tick.ask, tick.bid);
    ASSERT_EQ(tick.bid.raw() % 10'000, 0);  // on the 5-digit grid
    ASSERT_EQ(tick.bid.precision(), 5);
    const CivilTime civil = ToCivil(tick.ts);
    const bool weekend = civil.weekday == 6 || (civil.weekday == 5 && civil.hour >= 22) ||
                         (civil.weekday == 0 && civil.hour < 22);
    ASSERT_FALSE(weekend) << FormatIso8601(tick.ts);
    min_spread = std::min(min_spread, tick.Spread().raw());
    max_spread = std::max(max_spread, tick.Spread().raw());
    if (idx > 0) {
      const Duration gap = tick.ts - ticks[idx - 1].ts;
      if (gap > Duration::Hours(1)) {
        ++weekends;
        ASSERT_EQ(ToCivil(tick.ts).weekday, 0);
      } else {
        ASSERT_GE(gap, Duration::Millis(50));
        ASSERT_LE(gap, Duration::Seconds(2));
      }
    }
    ASSERT_GT(tick.Mid().AsDouble(), 0.8);
    ASSERT_LT(tick.Mid().AsDouble(), 1.4);
  }
  EXPECT_GE(weekends, 1);
  EXPECT_GE(min_spread, 5 * 10'000);   // 0.5 pip
  EXPECT_LE(max_spread, 20 * 10'000);  // 2 pips
  EXPECT_LT(min_spread, max_spread);
}

TEST(SyntheticTest, WeekendStartMovesToSundayOpen) {
  SyntheticOptions options;
  options.count = 10;
  options.start = FromCivil(2020, 1, 4, 12);  // Saturday
  EXPECT_EQ(Generate(options).front().ts, FromCivil(2020, 1, 5, 22));
  options.start = FromCivil(2020, 1, 3, 22);  // Friday 22:00 sharp is already closed
  EXPECT_EQ(Generate(options).front().ts, FromCivil(2020, 1, 5, 22));
  options.start = FromCivil(2020, 1, 3, 21, 59, 59);
  EXPECT_EQ(Generate(options).front().ts, options.start);
}

TEST(SyntheticTest, JpyDigitsAndBadOptions) {
  SyntheticOptions options;
  options.digits = 3;
  options.start_price = 108.5;
  options.count = 10'000;
  const auto ticks = Generate(options);
  EXPECT_NEAR(ticks.front().Mid().AsDouble(), 108.5, 0.01);
  for (const Tick& tick : ticks) {
    ASSERT_EQ(tick.bid.raw() % 1'000'000, 0);
    ASSERT_GE(tick.Spread().raw(), 5 * 1'000'000);
  }
  options.digits = 10;
  EXPECT_FALSE(SyntheticTickSource::Create(options).ok());
  options.digits = 5;
  options.start_price = -1;
  EXPECT_FALSE(SyntheticTickSource::Create(options).ok());
  options.start_price = 1.1;
  options.volatility = 0;
  EXPECT_FALSE(SyntheticTickSource::Create(options).ok());
}

}  // namespace
}  // namespace aits::data
