// A synthetic session that trades often, shared by the session module's tests and benchmarks
// (gtest-free, unlike session_test_util.h): a fast SMA signal with a low threshold, fixed lots.
#pragma once

#include <cstdint>

#include "aits/session/session_spec.h"

namespace aits::session {

inline SessionSpec BusySpec(uint64_t ticks) {
  SessionSpec spec;
  spec.feed = "synthetic";
  spec.seed = 7;
  spec.synthetic_start = FromCivil(2024, 1, 8);
  spec.max_ticks = ticks;
  spec.signal = "sma_cross";
  spec.signal_params = "fast=3,slow=8,atr=5,scale=0.2";
  spec.decision = {{"buy_threshold", "0.5"},
                   {"sell_threshold", "-0.5"},
                   {"close_threshold", "0.2"},
                   {"sizing", "fixed_lots"},
                   {"lots", "0.3"},
                   {"scale_by_confidence", "false"},
                   {"atr_period", "5"}};
  spec.commission = "per_lot:7";
  spec.session_id = "test";
  return spec;
}

}  // namespace aits::session
