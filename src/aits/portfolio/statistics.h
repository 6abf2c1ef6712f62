// Performance statistics of a finished run. Definitions (docs/metrics.md):
//   total_return   final / initial equity - 1
//   cagr           (final / initial)^(365.25 days / span) - 1; span = first to last sample
//   volatility     stdev of daily returns (sample, n-1) * sqrt(252); weekend samples count
//                  towards Monday (TradingDay in equity_curve.h)
//   sharpe         mean(daily) / stdev(daily) * sqrt(252), risk-free rate 0
//   sortino        mean(daily) / downside deviation * sqrt(252); downside deviation =
//                  sqrt(sum(min(r,0)^2) / n)
//   max_drawdown   largest peak-to-trough fall as a fraction of the peak; duration is the longest
//                  time from a peak until equity regains it (or the end)
//   calmar         cagr / max_drawdown
//   win_rate       winning trades (net P&L > 0) / trades
//   avg_win/loss   mean net P&L of winners / of losers (loss as a negative number)
//   profit_factor  gross profit / |gross loss| of net trade P&L
//   expectancy     mean net P&L per trade
//   time_in_market fraction of the run's span with an open position
// A figure that cannot be computed (no trades, fewer than two daily returns, zero deviation) is
// NaN, written as null in JSON: never a made-up number.
#pragma once

#include <vector>

#include "aits/portfolio/equity_curve.h"
#include "aits/portfolio/portfolio.h"

namespace aits::portfolio {

struct PerformanceStats {
  double initial_equity = 0;
  double final_equity = 0;
  double net_profit = 0;
  double total_commission = 0;
  double total_return = 0;
  double cagr = 0;
  double volatility = 0;
  double sharpe = 0;
  double sortino = 0;
  double max_drawdown = 0;
  double max_drawdown_amount = 0;
  double max_drawdown_duration_days = 0;
  double calmar = 0;
  int64_t trades = 0;
  int64_t winning_trades = 0;
  int64_t losing_trades = 0;
  double win_rate = 0;
  double avg_win = 0;
  double avg_loss = 0;
  double profit_factor = 0;
  double expectancy = 0;
  double time_in_market = 0;
  double span_days = 0;
  int64_t daily_returns = 0;  // how many daily returns volatility, Sharpe and Sortino rest on
};

PerformanceStats ComputeStatistics(const EquityCurve& curve, const std::vector<TradeRecord>& trades,
                                   Duration time_in_market, Money total_commission);

}  // namespace aits::portfolio
