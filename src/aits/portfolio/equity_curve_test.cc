#include "aits/portfolio/equity_curve.h"

#include <gtest/gtest.h>

#include <vector>

namespace aits::portfolio {
namespace {

constexpr Timestamp kDay0 = FromCivil(2024, 1, 1);
Timestamp Day(int day, int hour = 12) {
  return kDay0 + Duration::Days(day) + Duration::Hours(hour);
}
Money Usd(int64_t units) { return Money::FromRaw(units * kMoneyScale); }

TEST(EquityCurveTest, DrawdownDepthAmountAndDurationOnAHandMadeCurve) {
  // 100, 110 (peak), 99 (trough: -10%), 105, 121 (recovered after 3 days), 115 (-5%, 1 day).
  EquityCurve curve;
  const std::vector<int64_t> equity = {100, 110, 99, 105, 121, 115};
  for (size_t day = 0; day < equity.size(); ++day) {
    curve.Record(Day(static_cast<int>(day)), Usd(equity[day]));
  }
  EXPECT_DOUBLE_EQ(curve.MaxDrawdown(), 11.0 / 110.0);
  EXPECT_EQ(curve.MaxDrawdownAmount().ToString(), "11.00");
  EXPECT_EQ(curve.MaxDrawdownDuration(), Duration::Days(3));
  EXPECT_EQ(curve.Peak().ToString(), "121.00");
  EXPECT_EQ(curve.SampleCount(), 6u);
  EXPECT_EQ(curve.FirstEquity().ToString(), "100.00");
  EXPECT_EQ(curve.LastEquity().ToString(), "115.00");
  ASSERT_EQ(curve.points().size(), 6u);
  EXPECT_DOUBLE_EQ(curve.points()[2].drawdown, 0.1);
  EXPECT_DOUBLE_EQ(curve.points()[5].drawdown, 6.0 / 121.0);
}

TEST(EquityCurveTest, AnUnrecoveredDrawdownLastsUntilTheEnd) {
  EquityCurve curve;
  curve.Record(Day(0), Usd(100));
  curve.Record(Day(1), Usd(90));
  curve.Record(Day(4), Usd(95));
  EXPECT_EQ(curve.MaxDrawdownDuration(), Duration::Days(4));
  EXPECT_DOUBLE_EQ(curve.MaxDrawdown(), 0.1);
}

TEST(EquityCurveTest, DailyEquityIsTheLastSampleOfEachDay) {
  EquityCurve curve;
  curve.Record(Day(0, 0), Usd(100));
  curve.Record(Day(0, 12), Usd(104));
  curve.Record(Day(0, 23), Usd(103));
  curve.Record(Day(1, 5), Usd(101));
  curve.Record(Day(3, 1), Usd(107));
  curve.Record(Day(3, 2), Usd(108));
  const std::vector<double> want = {100, 103, 101, 108};
  EXPECT_EQ(curve.daily_equity(), want);
}

TEST(EquityCurveTest, WeekendSamplesBelongToMonday) {
  EquityCurve curve;
  curve.Record(Day(4, 21), Usd(100));  // Friday
  curve.Record(Day(4, 23), Usd(101));  // Friday late: still Friday
  curve.Record(Day(5, 10), Usd(102));  // Saturday: Monday's
  curve.Record(Day(6, 22), Usd(103));  // Sunday evening FX open: Monday's
  curve.Record(Day(7, 9), Usd(104));   // Monday
  curve.Record(Day(8, 9), Usd(105));   // Tuesday
  const std::vector<double> want = {100, 101, 104, 105};
  EXPECT_EQ(curve.daily_equity(), want);
  EXPECT_EQ(TradingDay(Day(5)), TradingDay(Day(7)));
  EXPECT_EQ(TradingDay(Day(6)), kDay0 + Duration::Days(7));
}

TEST(EquityCurveTest, DecimationBoundsPointsButKeepsExactStatistics) {
  EquityCurve curve(8);
  for (int idx = 0; idx < 1000; ++idx) {
    // A single dip at an odd sample that decimation is sure to drop from the points.
    const int64_t equity = idx == 501 ? 50 : 100 + idx;
    curve.Record(kDay0 + Duration::Minutes(idx), Usd(equity));
  }
  EXPECT_LE(curve.points().size(), 9u);
  EXPECT_GE(curve.points().size(), 4u);
  EXPECT_EQ(curve.points().front().ts, kDay0);
  EXPECT_EQ(curve.points().back().ts, kDay0 + Duration::Minutes(999));
  EXPECT_EQ(curve.points().back().equity.ToString(), "1099.00");
  for (size_t idx = 1; idx < curve.points().size(); ++idx) {
    EXPECT_LT(curve.points()[idx - 1].ts, curve.points()[idx].ts);
  }
  EXPECT_DOUBLE_EQ(curve.MaxDrawdown(), (600.0 - 50.0) / 600.0);
  EXPECT_EQ(curve.MaxDrawdownDuration(), Duration::Minutes(2));
  EXPECT_EQ(curve.SampleCount(), 1000u);
}

}  // namespace
}  // namespace aits::portfolio
