// Builds bars of any period from ticks: bid, ask and mid OHLC, tick count and volume.
//
// Bars are aligned to multiples of the period since the Unix epoch (UTC), so M5 bars open at
// :00, :05, ... and H1 bars on the hour whatever the first tick's time. A bar is emitted when the
// first tick of a later period arrives (that is the moment its close becomes known); periods
// without ticks (gaps, weekends, session breaks) produce no bar, as in MetaTrader. Flush() emits
// the last, incomplete bar at the end of the data.
#pragma once

#include <optional>

#include "aits/core/time.h"
#include "aits/model/market.h"

namespace aits::data {

class BarAggregator {
 public:
  // Precondition: period > 0.
  explicit BarAggregator(Duration period);

  // Adds a tick (ticks must not go backwards). Returns true and writes the finished bar to
  // *completed when this tick opens a new period and a previous bar existed.
  bool Update(const Tick& tick, Bar* completed);

  // The bar in progress, if any; clears it.
  std::optional<Bar> Flush();

  Duration period() const { return period_; }

 private:
  Duration period_;
  Bar current_{};
  bool has_bar_ = false;
};

// Builds longer bars from shorter ones (M1 -> H1): bid, ask and mid OHLC, tick counts and volume,
// aligned to multiples of the period since the epoch like BarAggregator. The input period must
// divide the output period (the caller checks). A bar is emitted when the first input bar of a
// later period arrives.
class BarResampler {
 public:
  // Precondition: period > 0.
  explicit BarResampler(Duration period);

  bool Update(const Bar& bar, Bar* completed);
  std::optional<Bar> Flush();
  Duration period() const { return period_; }

 private:
  Duration period_;
  Bar current_{};
  bool has_bar_ = false;
};

}  // namespace aits::data
