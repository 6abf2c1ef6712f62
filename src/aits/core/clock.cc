#include "aits/core/clock.h"

#include <chrono>

namespace aits {

Timestamp WallClock::Now() const {
  const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return Timestamp{std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch).count()};
}

const WallClock& SystemWallClock() {
  static const WallClock clock;
  return clock;
}

}  // namespace aits
