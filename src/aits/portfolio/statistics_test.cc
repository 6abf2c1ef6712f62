#include "aits/portfolio/statistics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace aits::portfolio {
namespace {

constexpr Timestamp kDay0 = FromCivil(2024, 1, 1);
Money Usd(double units) { return *Money::FromDouble(units); }

TradeRecord Trade(double net) {
  TradeRecord trade;
  trade.net_pnl = Usd(net);
  trade.gross_pnl = Usd(net);
  return trade;
}

// Start 100 at 00:00 of day 0; 110 at noon (end of day 0); 99 on day 1; 105 on day 2.
// Span 2.5 days. Daily returns +10%, -10%, +6/99.
EquityCurve HandCurve() {
  EquityCurve curve;
  curve.Record(kDay0, Usd(100));
  curve.Record(kDay0 + Duration::Hours(12), Usd(110));
  curve.Record(kDay0 + Duration::Hours(36), Usd(99));
  curve.Record(kDay0 + Duration::Hours(60), Usd(105));
  return curve;
}

TEST(StatisticsTest, HandComputedFigures) {
  const EquityCurve curve = HandCurve();
  const std::vector<TradeRecord> trades = {Trade(30), Trade(-10), Trade(20), Trade(-5)};
  const PerformanceStats stats = ComputeStatistics(curve, trades, Duration::Hours(30), Usd(4.5));

  const double r1 = 0.10, r2 = -0.10, r3 = 6.0 / 99.0;
  const double mean = (r1 + r2 + r3) / 3;
  const double stdev = std::sqrt(
      ((r1 - mean) * (r1 - mean) + (r2 - mean) * (r2 - mean) + (r3 - mean) * (r3 - mean)) / 2);
  const double downside = std::sqrt(r2 * r2 / 3);
  const double cagr = std::pow(1.05, 365.25 / 2.5) - 1;

  EXPECT_DOUBLE_EQ(stats.initial_equity, 100);
  EXPECT_DOUBLE_EQ(stats.final_equity, 105);
  EXPECT_DOUBLE_EQ(stats.net_profit, 5);
  EXPECT_DOUBLE_EQ(stats.total_commission, 4.5);
  EXPECT_NEAR(stats.total_return, 0.05, 1e-12);
  EXPECT_DOUBLE_EQ(stats.span_days, 2.5);
  EXPECT_NEAR(stats.cagr, cagr, 1e-9 * cagr);
  EXPECT_NEAR(stats.volatility, stdev * std::sqrt(252.0), 1e-12);
  EXPECT_NEAR(stats.volatility, 1.68183, 1e-5);
  EXPECT_NEAR(stats.sharpe, mean / stdev * std::sqrt(252.0), 1e-12);
  EXPECT_NEAR(stats.sharpe, 3.02701, 1e-5);
  EXPECT_NEAR(stats.sortino, mean / downside * std::sqrt(252.0), 1e-12);
  EXPECT_NEAR(stats.sortino, 5.55464, 1e-5);
  EXPECT_DOUBLE_EQ(stats.max_drawdown, 0.1);
  EXPECT_DOUBLE_EQ(stats.max_drawdown_amount, 11);
  EXPECT_DOUBLE_EQ(stats.max_drawdown_duration_days, 2.0);  // never recovered: until the end
  EXPECT_NEAR(stats.calmar, cagr / 0.1, 1e-9 * cagr);
  EXPECT_EQ(stats.trades, 4);
  EXPECT_EQ(stats.winning_trades, 2);
  EXPECT_EQ(stats.losing_trades, 2);
  EXPECT_DOUBLE_EQ(stats.win_rate, 0.5);
  EXPECT_DOUBLE_EQ(stats.avg_win, 25);
  EXPECT_DOUBLE_EQ(stats.avg_loss, -7.5);
  EXPECT_DOUBLE_EQ(stats.profit_factor, 50.0 / 15.0);
  EXPECT_DOUBLE_EQ(stats.expectancy, 8.75);
  EXPECT_DOUBLE_EQ(stats.time_in_market, 0.5);  // 30 h of 60 h
}

TEST(StatisticsTest, NaNWhereNotComputable) {
  // No trades: every trade figure is NaN, never zero.
  const PerformanceStats no_trades = ComputeStatistics(HandCurve(), {}, Duration{}, Money());
  EXPECT_EQ(no_trades.trades, 0);
  EXPECT_TRUE(std::isnan(no_trades.win_rate));
  EXPECT_TRUE(std::isnan(no_trades.avg_win));
  EXPECT_TRUE(std::isnan(no_trades.avg_loss));
  EXPECT_TRUE(std::isnan(no_trades.profit_factor));
  EXPECT_TRUE(std::isnan(no_trades.expectancy));
  EXPECT_FALSE(std::isnan(no_trades.sharpe));

  // Winners only: no gross loss to divide by.
  const PerformanceStats winners = ComputeStatistics(HandCurve(), {Trade(5)}, Duration{}, Money());
  EXPECT_TRUE(std::isnan(winners.profit_factor));
  EXPECT_TRUE(std::isnan(winners.avg_loss));
  EXPECT_DOUBLE_EQ(winners.win_rate, 1.0);

  // One daily return: no deviation; flat equity: no drawdown for Calmar.
  EquityCurve short_curve;
  short_curve.Record(kDay0, Usd(100));
  short_curve.Record(kDay0 + Duration::Hours(5), Usd(100));
  const PerformanceStats flat = ComputeStatistics(short_curve, {}, Duration{}, Money());
  EXPECT_TRUE(std::isnan(flat.sharpe));
  EXPECT_TRUE(std::isnan(flat.sortino));
  EXPECT_TRUE(std::isnan(flat.volatility));
  EXPECT_TRUE(std::isnan(flat.calmar));
  EXPECT_DOUBLE_EQ(flat.total_return, 0);
  EXPECT_DOUBLE_EQ(flat.time_in_market, 0);

  // Rising every day: no downside deviation.
  EquityCurve rising;
  for (int day = 0; day < 4; ++day) rising.Record(kDay0 + Duration::Days(day), Usd(100 + day));
  EXPECT_TRUE(std::isnan(ComputeStatistics(rising, {}, Duration{}, Money()).sortino));

  // Empty curve.
  const PerformanceStats empty = ComputeStatistics(EquityCurve(), {}, Duration{}, Money());
  EXPECT_TRUE(std::isnan(empty.total_return));
  EXPECT_TRUE(std::isnan(empty.cagr));
  EXPECT_TRUE(std::isnan(empty.max_drawdown));
  EXPECT_TRUE(std::isnan(empty.time_in_market));
}

}  // namespace
}  // namespace aits::portfolio
