#include "aits/model/events.h"

namespace aits {

std::string_view ToString(BreakerState state) {
  switch (state) {
    case BreakerState::kNormal:
      return "normal";
    case BreakerState::kReduceOnly:
      return "reduce_only";
    case BreakerState::kHalted:
      return "halted";
  }
  return "?";
}

Result<BreakerState> ParseBreakerState(std::string_view text) {
  if (text == "normal") return BreakerState::kNormal;
  if (text == "reduce_only") return BreakerState::kReduceOnly;
  if (text == "halted") return BreakerState::kHalted;
  return InvalidArgument("breaker state '" + std::string(text) +
                         "' is not one of normal, reduce_only, halted");
}

}  // namespace aits
