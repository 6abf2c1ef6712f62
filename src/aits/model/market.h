// Market data: quote ticks and bars. Plain values, cheap to copy.
#pragma once

#include <cstdint>

#include "aits/core/fixed_point.h"
#include "aits/core/time.h"
#include "aits/model/instrument.h"
#include "aits/model/message_type.h"

namespace aits {

// One quote: best bid and ask at a moment. Volumes are informational (not part of the ledger).
struct Tick {
  static constexpr MessageType kMessageType = MessageType::kTick;

  Timestamp ts;
  Price bid;
  Price ask;
  float bid_volume = 0;
  float ask_volume = 0;
  InstrumentId instrument;

  Price Mid() const { return Price::FromRaw((bid.raw() + ask.raw()) / 2, bid.precision()); }
  Price Spread() const { return ask - bid; }
};

struct Ohlc {
  Price open;
  Price high;
  Price low;
  Price close;
};

// A bar of `period` covering [open_time, open_time + period). bid, ask and mid OHLC are each
// aggregated from the ticks themselves (mid from tick mids), so mid.high is the highest mid seen,
// not (bid.high + ask.high) / 2.
struct Bar {
  static constexpr MessageType kMessageType = MessageType::kBar;

  InstrumentId instrument;
  Duration period;
  Timestamp open_time;
  Ohlc bid;
  Ohlc ask;
  Ohlc mid;
  uint32_t tick_count = 0;
  double volume = 0;

  Timestamp CloseTime() const { return open_time + period; }
};

}  // namespace aits
