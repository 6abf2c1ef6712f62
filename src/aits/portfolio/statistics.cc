#include "aits/portfolio/statistics.h"

#include <cmath>
#include <limits>

namespace aits::portfolio {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kTradingDaysPerYear = 252.0;
constexpr double kDaysPerYear = 365.25;
constexpr double kNanosPerDayF = 86'400e9;

}  // namespace

PerformanceStats ComputeStatistics(const EquityCurve& curve, const std::vector<TradeRecord>& trades,
                                   Duration time_in_market, Money total_commission) {
  PerformanceStats stats;
  stats.total_commission = total_commission.AsDouble();

  const bool has_curve = curve.SampleCount() > 0;
  const double initial = has_curve ? curve.FirstEquity().AsDouble() : kNaN;
  const double final_equity = has_curve ? curve.LastEquity().AsDouble() : kNaN;
  stats.initial_equity = initial;
  stats.final_equity = final_equity;
  stats.net_profit = final_equity - initial;
  const bool ratio_ok = has_curve && initial > 0;
  stats.total_return = ratio_ok ? final_equity / initial - 1 : kNaN;

  const double span_ns = has_curve ? static_cast<double>((curve.Last() - curve.First()).ns) : 0;
  stats.span_days = has_curve ? span_ns / kNanosPerDayF : kNaN;
  stats.cagr = ratio_ok && span_ns > 0 && final_equity / initial > 0
                   ? std::pow(final_equity / initial, kDaysPerYear / stats.span_days) - 1
                   : kNaN;

  // Daily returns from the end-of-day equity (the first entry is the starting equity).
  const std::vector<double>& daily = curve.daily_equity();
  std::vector<double> returns;
  returns.reserve(daily.size());
  for (size_t idx = 1; idx < daily.size(); ++idx) {
    if (daily[idx - 1] > 0) returns.push_back(daily[idx] / daily[idx - 1] - 1);
  }
  stats.daily_returns = static_cast<int64_t>(returns.size());
  stats.volatility = stats.sharpe = stats.sortino = kNaN;
  if (returns.size() >= 2) {
    const double count = static_cast<double>(returns.size());
    double sum = 0;
    for (double value : returns) sum += value;
    const double mean = sum / count;
    double squares = 0;
    double downside = 0;
    for (double value : returns) {
      squares += (value - mean) * (value - mean);
      if (value < 0) downside += value * value;
    }
    const double stdev = std::sqrt(squares / (count - 1));
    const double downside_dev = std::sqrt(downside / count);
    const double annual = std::sqrt(kTradingDaysPerYear);
    stats.volatility = stdev * annual;
    if (stdev > 0) stats.sharpe = mean / stdev * annual;
    if (downside_dev > 0) stats.sortino = mean / downside_dev * annual;
  }

  stats.max_drawdown = has_curve ? curve.MaxDrawdown() : kNaN;
  stats.max_drawdown_amount = has_curve ? curve.MaxDrawdownAmount().AsDouble() : kNaN;
  stats.max_drawdown_duration_days =
      has_curve ? static_cast<double>(curve.MaxDrawdownDuration().ns) / kNanosPerDayF : kNaN;
  stats.calmar = stats.max_drawdown > 0 ? stats.cagr / stats.max_drawdown : kNaN;

  stats.trades = static_cast<int64_t>(trades.size());
  double gross_profit = 0;
  double gross_loss = 0;
  double net_total = 0;
  for (const TradeRecord& trade : trades) {
    const double net = trade.net_pnl.AsDouble();
    net_total += net;
    if (net > 0) {
      ++stats.winning_trades;
      gross_profit += net;
    } else if (net < 0) {
      ++stats.losing_trades;
      gross_loss += net;
    }
  }
  const double trade_count = static_cast<double>(stats.trades);
  stats.win_rate =
      stats.trades > 0 ? static_cast<double>(stats.winning_trades) / trade_count : kNaN;
  stats.avg_win =
      stats.winning_trades > 0 ? gross_profit / static_cast<double>(stats.winning_trades) : kNaN;
  stats.avg_loss =
      stats.losing_trades > 0 ? gross_loss / static_cast<double>(stats.losing_trades) : kNaN;
  stats.profit_factor = stats.trades > 0 && gross_loss < 0 ? gross_profit / -gross_loss : kNaN;
  stats.expectancy = stats.trades > 0 ? net_total / trade_count : kNaN;

  stats.time_in_market = kNaN;
  if (span_ns > 0) {
    const double fraction = static_cast<double>(time_in_market.ns) / span_ns;
    stats.time_in_market = fraction > 1 ? 1 : fraction;
  }
  return stats;
}

}  // namespace aits::portfolio
