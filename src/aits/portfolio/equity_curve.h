// Equity curve with bounded memory: exact running statistics (peak, maximum drawdown depth and
// duration, end-of-day equity for daily returns) over every sample, and at most `max_points`
// points kept for charts and equity.csv (when full, every other point is dropped and the stride
// doubles; the latest sample is always the last point), so memory does not grow with the length
// of the history.
#pragma once

#include <cstddef>
#include <vector>

#include "aits/core/fixed_point.h"
#include "aits/core/time.h"

namespace aits::portfolio {

struct EquityPoint {
  Timestamp ts;
  Money equity;
  double drawdown = 0;  // fraction below the running peak, >= 0
};

// The trading day of `ts`: its UTC calendar day, with Saturday and Sunday folded into the
// following Monday. FX opens on Sunday evening (UTC) and some feeds print on Saturday; folding
// keeps a week at five daily returns, which is what the sqrt(252) annualisation assumes.
constexpr Timestamp TradingDay(Timestamp ts) {
  const Timestamp day = FloorToDay(ts);
  int64_t days = day.ns / kNanosPerDay;
  const int64_t weekday = ((days % 7) + 11) % 7;  // 0 = Sunday; day 0 was a Thursday
  if (weekday == 6) days += 2;                    // Saturday -> Monday
  if (weekday == 0) days += 1;                    // Sunday -> Monday
  return Timestamp{days * kNanosPerDay};
}

class EquityCurve {
 public:
  explicit EquityCurve(size_t max_points = 20'000);

  // Samples must come in non-decreasing time.
  void Record(Timestamp ts, Money equity);

  const std::vector<EquityPoint>& points() const { return points_; }
  // Equity at the last sample of each trading day (TradingDay), in order; the first entry is
  // the first sample.
  const std::vector<double>& daily_equity() const { return daily_equity_; }

  Money Peak() const { return peak_; }
  double MaxDrawdown() const { return max_drawdown_; }  // fraction, >= 0
  Money MaxDrawdownAmount() const { return max_drawdown_amount_; }
  Duration MaxDrawdownDuration() const { return max_dd_duration_; }  // longest peak-to-recovery
  Timestamp First() const { return first_; }
  Timestamp Last() const { return last_; }
  Money FirstEquity() const { return first_equity_; }
  Money LastEquity() const { return last_equity_; }
  size_t SampleCount() const { return samples_; }

 private:
  size_t max_points_;
  size_t stride_ = 1;
  bool has_tail_ = false;  // points_.back() is the latest sample, kept off the stride
  size_t samples_ = 0;
  std::vector<EquityPoint> points_;
  std::vector<double> daily_equity_;
  Timestamp current_day_{};
  Money peak_;
  Timestamp peak_time_{};
  bool last_below_peak_ = false;
  double max_drawdown_ = 0;
  Money max_drawdown_amount_;
  Duration max_dd_duration_{};
  Timestamp first_{};
  Timestamp last_{};
  Money first_equity_;
  Money last_equity_;
};

}  // namespace aits::portfolio
