#include "aits/portfolio/equity_curve.h"

namespace aits::portfolio {

EquityCurve::EquityCurve(size_t max_points) : max_points_(max_points < 4 ? 4 : max_points) {
  points_.reserve(max_points_ + 1);
}

void EquityCurve::Record(Timestamp ts, Money equity) {
  const size_t index = samples_++;
  const Timestamp day = TradingDay(ts);
  const double equity_value = equity.AsDouble();
  if (index == 0) {
    first_ = ts;
    first_equity_ = equity;
    peak_ = equity;
    peak_time_ = ts;
    current_day_ = day;
    // The first entry is the starting equity; the second is the (running) close of its day.
    daily_equity_.push_back(equity_value);
    daily_equity_.push_back(equity_value);
  } else if (day != current_day_) {
    current_day_ = day;
    daily_equity_.push_back(equity_value);
  } else {
    daily_equity_.back() = equity_value;
  }
  last_ = ts;
  last_equity_ = equity;

  double drawdown = 0;
  if (equity >= peak_) {
    // A new high, or the recovery of the old one: that ends a drawdown episode.
    if (ts - peak_time_ > max_dd_duration_ && index > 0 && last_below_peak_) {
      max_dd_duration_ = ts - peak_time_;
    }
    peak_ = equity;
    peak_time_ = ts;
    last_below_peak_ = false;
  } else {
    last_below_peak_ = true;
    const Money amount = peak_ - equity;
    if (amount > max_drawdown_amount_) max_drawdown_amount_ = amount;
    if (peak_.raw() > 0) {
      drawdown = static_cast<double>(amount.raw()) / static_cast<double>(peak_.raw());
      if (drawdown > max_drawdown_) max_drawdown_ = drawdown;
    }
    // An episode that never recovers lasts until the end.
    if (ts - peak_time_ > max_dd_duration_) max_dd_duration_ = ts - peak_time_;
  }

  if (has_tail_) {
    points_.pop_back();
    has_tail_ = false;
  }
  const EquityPoint point{ts, equity, drawdown};
  if (index % stride_ == 0) {
    if (points_.size() >= max_points_) {
      // Keep samples 0, 2*stride, 4*stride...: every other point.
      size_t keep = 0;
      for (size_t idx = 0; idx < points_.size(); idx += 2) points_[keep++] = points_[idx];
      points_.resize(keep);
      stride_ *= 2;
    }
    points_.push_back(point);
    has_tail_ = index % stride_ != 0;
  } else {
    points_.push_back(point);
    has_tail_ = true;
  }
}

}  // namespace aits::portfolio
