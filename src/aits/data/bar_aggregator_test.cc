#include "aits/data/bar_aggregator.h"

#include <gtest/gtest.h>

#include <limits>
#include <map>
#include <vector>

#include "aits/data/synthetic.h"
#include "aits/data/test_util.h"

namespace aits::data {
namespace {

Tick MakeTick(Timestamp ts, int64_t bid_points, int64_t ask_points, float volume = 1) {
  Tick tick;
  tick.ts = ts;
  tick.bid = Price::FromRaw(bid_points * 10'000, 5);
  tick.ask = Price::FromRaw(ask_points * 10'000, 5);
  tick.bid_volume = volume;
  tick.ask_volume = 2 * volume;
  tick.instrument = InstrumentId{3};
  return tick;
}

std::vector<Bar> Aggregate(Duration period, const std::vector<Tick>& ticks) {
  BarAggregator aggregator(period);
  std::vector<Bar> bars;
  Bar bar;
  for (const Tick& tick : ticks) {
    if (aggregator.Update(tick, &bar)) bars.push_back(bar);
  }
  if (auto last = aggregator.Flush()) bars.push_back(*last);
  EXPECT_FALSE(aggregator.Flush().has_value());
  return bars;
}

TEST(BarAggregatorTest, HourBarsAlignToTheHour) {
  const std::vector<Tick> ticks = {
      MakeTick(FromCivil(2020, 1, 2, 10, 15), 110000, 110010),
      MakeTick(FromCivil(2020, 1, 2, 10, 30), 110050, 110055),
      MakeTick(FromCivil(2020, 1, 2, 10, 45), 109980, 109995),
      MakeTick(FromCivil(2020, 1, 2, 10, 59, 59, 999'999'999), 110020, 110030),
      MakeTick(FromCivil(2020, 1, 2, 11, 0), 110040, 110050),
  };
  BarAggregator aggregator(Duration::Hours(1));
  Bar bar;
  for (size_t idx = 0; idx + 1 < ticks.size(); ++idx) {
    EXPECT_FALSE(aggregator.Update(ticks[idx], &bar));
  }
  ASSERT_TRUE(aggregator.Update(ticks.back(), &bar));
  EXPECT_EQ(bar.open_time, FromCivil(2020, 1, 2, 10));
  EXPECT_EQ(bar.CloseTime(), FromCivil(2020, 1, 2, 11));
  EXPECT_EQ(bar.period, Duration::Hours(1));
  EXPECT_EQ(bar.instrument, InstrumentId{3});
  EXPECT_EQ(bar.tick_count, 4u);
  EXPECT_EQ(bar.volume, 12.0);  // 4 ticks x (1 + 2)
  EXPECT_EQ(bar.bid.open.raw(), 110000 * 10'000);
  EXPECT_EQ(bar.bid.high.raw(), 110050 * 10'000);
  EXPECT_EQ(bar.bid.low.raw(), 109980 * 10'000);
  EXPECT_EQ(bar.bid.close.raw(), 110020 * 10'000);
  EXPECT_EQ(bar.ask.high.raw(), 110055 * 10'000);
  EXPECT_EQ(bar.ask.low.raw(), 109995 * 10'000);
  // Mid OHLC comes from tick mids: the highest mid is the second tick's (110050+110055)/2.
  EXPECT_EQ(bar.mid.open.raw(), 110005 * 10'000);
  EXPECT_EQ(bar.mid.high.raw(), 1'100'525'000);
  EXPECT_EQ(bar.mid.low.raw(), 1'099'875'000);
  auto last = aggregator.Flush();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->open_time, FromCivil(2020, 1, 2, 11));
  EXPECT_EQ(last->tick_count, 1u);
}

TEST(BarAggregatorTest, WeekendGapMakesNoEmptyBars) {
  const std::vector<Tick> ticks = {
      MakeTick(FromCivil(2020, 1, 3, 21, 58, 30), 110000, 110010),  // Friday
      MakeTick(FromCivil(2020, 1, 3, 21, 59, 59), 110010, 110020),
      MakeTick(FromCivil(2020, 1, 5, 22, 0, 1), 110100, 110120),  // Sunday open
      MakeTick(FromCivil(2020, 1, 5, 22, 0, 30), 110090, 110110),
  };
  const auto m1 = Aggregate(Duration::Minutes(1), ticks);
  ASSERT_EQ(m1.size(), 3u);
  EXPECT_EQ(m1[0].open_time, FromCivil(2020, 1, 3, 21, 58));
  EXPECT_EQ(m1[1].open_time, FromCivil(2020, 1, 3, 21, 59));
  EXPECT_EQ(m1[2].open_time, FromCivil(2020, 1, 5, 22, 0));
  EXPECT_EQ(m1[2].tick_count, 2u);
  EXPECT_EQ(m1[2].bid.open.raw(), 110100 * 10'000);  // no carry-over from Friday
  const auto h4 = Aggregate(Duration::Hours(4), ticks);
  ASSERT_EQ(h4.size(), 2u);
  EXPECT_EQ(h4[0].open_time, FromCivil(2020, 1, 3, 20));
  EXPECT_EQ(h4[1].open_time, FromCivil(2020, 1, 5, 20));
  const auto d1 = Aggregate(Duration::Days(1), ticks);
  ASSERT_EQ(d1.size(), 2u);
  EXPECT_EQ(d1[0].open_time, FromCivil(2020, 1, 3));
  EXPECT_EQ(d1[1].open_time, FromCivil(2020, 1, 5));
}

TEST(BarAggregatorTest, OddPeriodsAlignToTheEpoch) {
  const Duration seven = Duration::Minutes(7);
  const Timestamp t = FromCivil(2020, 1, 2, 10, 3, 17);
  const auto bars = Aggregate(seven, {MakeTick(t, 100, 101)});
  ASSERT_EQ(bars.size(), 1u);
  EXPECT_EQ(bars[0].open_time.ns % seven.ns, 0);
  EXPECT_LE(bars[0].open_time, t);
  EXPECT_GT(bars[0].CloseTime(), t);
  // Before 1970 floors too.
  const auto old = Aggregate(Duration::Hours(1), {MakeTick(Timestamp{-1}, 100, 101)});
  EXPECT_EQ(old[0].open_time.ns, -Duration::Hours(1).ns);
}

// Update() decides "same bar" from the bar's bounds instead of dividing (bar_aggregator.cc):
// the last nanosecond of a period stays in the bar, the first of the next opens a new one, a late
// tick folds into the current bar, and times at the ends of the int64 range neither overflow nor
// split a period.
TEST(BarAggregatorTest, PeriodEdgesWithoutDivision) {
  const Duration minute = Duration::Minutes(1);
  const Timestamp open = FromCivil(2020, 1, 2, 10, 3);
  const auto bars =
      Aggregate(minute, {MakeTick(open, 100, 101), MakeTick(open + minute - Duration{1}, 102, 103),
                         MakeTick(open + Duration{5}, 99, 100),  // late: folds
                         MakeTick(open + minute, 104, 105)});
  ASSERT_EQ(bars.size(), 2u);
  EXPECT_EQ(bars[0].open_time, open);
  EXPECT_EQ(bars[0].tick_count, 3u);
  EXPECT_EQ(bars[0].bid.high, Price::FromRaw(102 * 10'000, 5));
  EXPECT_EQ(bars[0].bid.low, Price::FromRaw(99 * 10'000, 5));
  EXPECT_EQ(bars[1].open_time, open + minute);
  EXPECT_EQ(bars[1].tick_count, 1u);
  // Across zero: -1 ns is in the bar before the epoch, 0 opens the next.
  const auto epoch =
      Aggregate(minute, {MakeTick(Timestamp{-minute.ns}, 100, 101),
                         MakeTick(Timestamp{-1}, 100, 101), MakeTick(Timestamp{0}, 100, 101)});
  ASSERT_EQ(epoch.size(), 2u);
  EXPECT_EQ(epoch[0].tick_count, 2u);
  EXPECT_EQ(epoch[1].open_time.ns, 0);
  // The ends of the range: the last period is cut short by INT64_MAX, the first by INT64_MIN.
  const int64_t max = std::numeric_limits<int64_t>::max();
  const int64_t min = std::numeric_limits<int64_t>::min();
  const int64_t last_open = max - max % minute.ns;
  const auto top = Aggregate(
      minute, {MakeTick(Timestamp{last_open - 1}, 100, 101),
               MakeTick(Timestamp{last_open}, 100, 101), MakeTick(Timestamp{max}, 100, 101)});
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[1].open_time.ns, last_open);
  EXPECT_EQ(top[1].tick_count, 2u);
  const auto bottom = Aggregate(
      minute, {MakeTick(Timestamp{min + minute.ns}, 100, 101), MakeTick(Timestamp{max}, 100, 101)});
  ASSERT_EQ(bottom.size(), 2u);
  EXPECT_EQ(bottom[1].open_time.ns, last_open);
}

// Compares with a brute-force grouping over a synthetic day or two for several periods.
TEST(BarAggregatorTest, MatchesBruteForceOnSyntheticTicks) {
  SyntheticOptions options;
  options.seed = 7;
  options.count = 150'000;
  options.start = FromCivil(2020, 1, 3, 12);  // Friday noon: crosses a weekend
  auto source = SyntheticTickSource::Create(options);
  ASSERT_TRUE(source.ok());
  const auto read = testing::ReadAll(**source);
  ASSERT_EQ(read.ticks.size(), 150'000u);
  for (Duration period :
       {Duration::Minutes(1), Duration::Minutes(5), Duration::Minutes(7), Duration::Minutes(15),
        Duration::Hours(1), Duration::Hours(4), Duration::Days(1)}) {
    std::map<int64_t, std::vector<const Tick*>> groups;
    for (const Tick& tick : read.ticks) {
      groups[tick.ts.ns / period.ns * period.ns].push_back(&tick);
    }
    const auto bars = Aggregate(period, read.ticks);
    ASSERT_EQ(bars.size(), groups.size()) << period.ns;
    size_t idx = 0;
    for (const auto& [open, members] : groups) {
      const Bar& bar = bars[idx++];
      ASSERT_EQ(bar.open_time.ns, open);
      ASSERT_EQ(bar.tick_count, members.size());
      ASSERT_EQ(bar.bid.open, members.front()->bid);
      ASSERT_EQ(bar.ask.close, members.back()->ask);
      Price high = members.front()->bid, low = members.front()->ask;
      double volume = 0;
      for (const Tick* tick : members) {
        high = std::max(high, tick->bid);
        low = std::min(low, tick->ask);
        volume += static_cast<double>(tick->bid_volume) + tick->ask_volume;
      }
      ASSERT_EQ(bar.bid.high, high);
      ASSERT_EQ(bar.ask.low, low);
      ASSERT_DOUBLE_EQ(bar.volume, volume);
    }
  }
}

TEST(BarResamplerTest, MergesMinuteBarsIntoAlignedHours) {
  BarResampler resampler(Duration::Hours(1));
  std::vector<Bar> out;
  Bar done;
  // 90 one-minute bars from 00:30: the first hour holds 30 of them, the second 60.
  for (int minute = 30; minute < 120; ++minute) {
    Bar bar;
    bar.period = Duration::Minutes(1);
    bar.open_time = FromCivil(2020, 1, 6) + Duration::Minutes(minute);
    const Price bid = Price::FromRaw((100'000 + minute) * 10'000LL, 5);
    const Price ask = bid + Price::FromRaw(20 * 10'000, 5);
    bar.bid = Ohlc{bid, bid + Price::FromRaw(50'000, 5), bid - Price::FromRaw(50'000, 5), bid};
    bar.ask = Ohlc{ask, ask, ask, ask};
    bar.mid = bar.bid;
    bar.tick_count = 2;
    if (resampler.Update(bar, &done)) out.push_back(done);
  }
  if (auto last = resampler.Flush()) out.push_back(*last);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].open_time, FromCivil(2020, 1, 6, 0));
  EXPECT_EQ(out[0].period, Duration::Hours(1));
  EXPECT_EQ(out[0].tick_count, 60u);
  EXPECT_EQ(out[0].bid.open.raw(), 100'030 * 10'000LL);
  EXPECT_EQ(out[0].bid.close.raw(), 100'059 * 10'000LL);
  EXPECT_EQ(out[0].bid.high.raw(), 100'059 * 10'000LL + 50'000);
  EXPECT_EQ(out[0].bid.low.raw(), 100'030 * 10'000LL - 50'000);
  EXPECT_EQ(out[1].open_time, FromCivil(2020, 1, 6, 1));
  EXPECT_EQ(out[1].tick_count, 120u);
}

}  // namespace
}  // namespace aits::data
