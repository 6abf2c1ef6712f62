#include "aits/ml/live_metrics.h"

#include <cmath>
#include <limits>

namespace aits::ml {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

Result<LiveModelMetrics> LiveModelMetrics::Create(size_t window) {
  if (window < 2) {
    return InvalidArgument("live metrics: a window of " + std::to_string(window) +
                           " calls; at least 2");
  }
  LiveModelMetrics metrics;
  metrics.ring_.resize(window);
  return metrics;
}

void LiveModelMetrics::Count(const Entry& entry, int sign) {
  const bool up = entry.realised > 0;
  ups_ += up ? sign : 0;
  if (entry.call == Call::kFlat) return;
  const double signed_return = static_cast<double>(entry.call) * entry.realised;
  (entry.call == Call::kLong ? longs_ : shorts_) += sign;
  right_ += signed_return > 0 ? sign : 0;
  long_up_ += entry.call == Call::kLong && up ? sign : 0;
  if (signed_return > 0) gains_ += sign * signed_return;
  if (signed_return < 0) losses_ -= sign * signed_return;
  sum_ += sign * signed_return;
  sum_squares_ += sign * signed_return * signed_return;
}

bool LiveModelMetrics::Add(Call call, double realised_return) {
  if (!std::isfinite(realised_return)) return false;
  if (filled_ == ring_.size()) {
    Count(ring_[next_], -1);
  } else {
    ++filled_;
  }
  ring_[next_] = Entry{call, realised_return};
  Count(ring_[next_], +1);
  next_ = next_ + 1 == ring_.size() ? 0 : next_ + 1;
  if (filled_ == ring_.size() && next_ == 0) {
    // Once per lap: the running sums recomputed, so that rounding never accumulates.
    gains_ = losses_ = sum_ = sum_squares_ = 0;
    for (const Entry& entry : ring_) {
      if (entry.call == Call::kFlat) continue;
      const double signed_return = static_cast<double>(entry.call) * entry.realised;
      if (signed_return > 0) gains_ += signed_return;
      if (signed_return < 0) losses_ -= signed_return;
      sum_ += signed_return;
      sum_squares_ += signed_return * signed_return;
    }
  }
  return true;
}

double LiveModelMetrics::accuracy() const {
  const int64_t n = longs_ + shorts_;
  return n == 0 ? kNaN : static_cast<double>(right_) / static_cast<double>(n);
}

double LiveModelMetrics::precision() const {
  return longs_ == 0 ? kNaN : static_cast<double>(long_up_) / static_cast<double>(longs_);
}

double LiveModelMetrics::recall() const {
  return ups_ == 0 ? kNaN : static_cast<double>(long_up_) / static_cast<double>(ups_);
}

double LiveModelMetrics::profit_factor() const {
  if (losses_ <= 0) return gains_ > 0 ? std::numeric_limits<double>::infinity() : kNaN;
  return gains_ / losses_;
}

double LiveModelMetrics::sharpe() const {
  const int64_t n = longs_ + shorts_;
  if (n < 2) return kNaN;
  const double count = static_cast<double>(n);
  const double mean = sum_ / count;
  const double variance = std::max(0.0, (sum_squares_ - count * mean * mean) / (count - 1));
  return variance == 0 ? kNaN : mean / std::sqrt(variance);
}

}  // namespace aits::ml
