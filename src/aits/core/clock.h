// Clock: the only source of "now" inside the kernel. The backtest injects a SimulatedClock that
// the event loop moves to each event's time; paper and live modes inject a WallClock. Nothing in
// the kernel reads the system clock directly, which is what makes a backtest run the live code.
#pragma once

#include "aits/core/time.h"

namespace aits {

class Clock {
 public:
  virtual ~Clock() = default;
  // Current time. Never goes backwards for a given clock.
  virtual Timestamp Now() const = 0;
};

// Time is whatever the event loop last set; starts at the epoch.
class SimulatedClock final : public Clock {
 public:
  Timestamp Now() const override { return now_; }
  // Precondition: t >= Now() (the loop never moves time backwards).
  void AdvanceTo(Timestamp t) {
    if (t > now_) now_ = t;
  }

 private:
  Timestamp now_{};
};

// Real UTC time from the system clock (paper and live modes).
class WallClock final : public Clock {
 public:
  Timestamp Now() const override;
};

// One WallClock for the process, for what must outlive the scope it is made in (a circuit
// breaker's clock, a default). It holds no state, so every user may share it.
const WallClock& SystemWallClock();

}  // namespace aits
