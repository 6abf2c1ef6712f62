// A model's record on live data (issue 13, item 5; docs/ml.md, "Live metrics"): each decision's
// call — long, short or flat, from the model's score — and, once its horizon has passed, the
// return the market gave. Over a rolling window of the last N realised calls:
//   accuracy       calls whose direction the market followed, of the long and short calls
//   precision      long calls that went up, of the long calls (the model's "up" label)
//   recall         up moves called long, of the up moves
//   profit factor  gains over losses of the calls' signed returns (the call times the return)
//   Sharpe         mean over standard deviation of those signed returns, per call (not
//                  annualised: calls are not evenly spaced in time)
// Flat calls count in no figure but recall's denominator (an up move not called long is missed).
//
// Add and the figures are O(1): the window's counts and sums move as calls come and go.
// Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "aits/core/status.h"

namespace aits::ml {

enum class Call : int8_t { kShort = -1, kFlat = 0, kLong = 1 };

class LiveModelMetrics {
 public:
  // InvalidArgument for a window below 2.
  static Result<LiveModelMetrics> Create(size_t window);

  // One realised call: what the model called and the return over its horizon (a fraction; NaN
  // or infinite: refused, false returned and nothing counted).
  bool Add(Call call, double realised_return);

  size_t calls() const { return filled_; }  // realised calls in the window, flat ones included
  size_t directional() const { return longs_ + shorts_; }

  // NaN when the figure has no denominator yet (no directional call, no up move, no loss).
  double accuracy() const;
  double precision() const;
  double recall() const;
  double profit_factor() const;  // +Inf with gains and no loss
  double sharpe() const;

 private:
  LiveModelMetrics() = default;
  struct Entry {
    Call call = Call::kFlat;
    double realised = 0;
  };
  void Count(const Entry& entry, int sign);

  std::vector<Entry> ring_;
  size_t next_ = 0;
  size_t filled_ = 0;
  int64_t longs_ = 0;
  int64_t shorts_ = 0;
  int64_t right_ = 0;    // directional calls the market followed
  int64_t long_up_ = 0;  // long calls that went up
  int64_t ups_ = 0;      // up moves, whatever the call
  double gains_ = 0;     // sum of positive signed returns
  double losses_ = 0;    // minus the sum of negative ones
  double sum_ = 0;       // signed returns of directional calls
  double sum_squares_ = 0;
};

}  // namespace aits::ml
