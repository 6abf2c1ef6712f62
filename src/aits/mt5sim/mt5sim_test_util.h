// Test-only helpers of the terminal simulator's tests: a deterministic EURUSD tick walk.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "aits/mt5/messages.h"
#include "aits/mt5/mql.h"

namespace aits::mt5sim::testing {

// Monday 2020-01-06 10:00:00 UTC, server time.
inline constexpr int64_t kMonday10 = 1578304800000;

inline mt5::TickData Quote(int64_t time_msc, double bid, double ask) {
  mt5::TickData tick;
  tick.time_msc = time_msc;
  tick.bid = bid;
  tick.ask = ask;
  tick.flags = mt5::kTickFlagBid | mt5::kTickFlagAsk;
  return tick;
}

// `count` EURUSD ticks from Monday 10:00, one every `step_ms`, the bid wandering by up to two
// points a tick, the spread one pip, prices on the 5-digit grid as a terminal gives them.
inline std::vector<mt5::TickData> Walk(int count, int64_t step_ms) {
  std::vector<mt5::TickData> ticks;
  double bid = 1.10000;
  for (int i = 0; i < count; ++i) {
    bid = std::round((bid + ((i * 7919) % 5 - 2) * 0.00001) * 1e5) / 1e5;
    ticks.push_back(Quote(kMonday10 + i * step_ms, bid, std::round((bid + 0.0001) * 1e5) / 1e5));
  }
  return ticks;
}

}  // namespace aits::mt5sim::testing
