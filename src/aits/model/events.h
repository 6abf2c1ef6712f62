// The kernel's events that are not market data: an order's command, its state changes and the
// circuit breaker's moves. Plain values that own their data, each with a stable MessageType, so
// the same struct is published on the kernel's bus, written to the event log and encoded for
// other processes (aits/proto/messages.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/model/message_type.h"
#include "aits/model/order.h"

namespace aits {

// Published for every order a strategy submits, before the risk check and the execution client
// see it: the command that the events of that order answer. Built only when someone subscribes.
struct OrderSubmitted {
  static constexpr MessageType kMessageType = MessageType::kOrderSubmitted;

  OrderRequest request;
  Timestamp ts;
};

// Published whenever an order changes state (accepted, filled, canceled, expired, rejected).
// Fills are published as aits::Fill, before the OrderUpdate of the order they fill.
struct OrderUpdate {
  static constexpr MessageType kMessageType = MessageType::kOrderUpdate;

  Order order;
};

enum class BreakerState : uint8_t { kNormal, kReduceOnly, kHalted };
std::string_view ToString(BreakerState state);
Result<BreakerState> ParseBreakerState(std::string_view text);  // normal|reduce_only|halted

// The circuit breaker moved (aits::risk decides when).
struct BreakerChange {
  static constexpr MessageType kMessageType = MessageType::kBreakerChange;

  Timestamp ts;
  BreakerState from = BreakerState::kNormal;
  BreakerState to = BreakerState::kNormal;
  bool manual = false;
  std::string rule;    // "daily_loss_limit", "max_drawdown", "var_limit", "manual", "new_day", ...
  std::string detail;  // the figures: "drawdown 0.2100 >= limit 0.2000"
};

}  // namespace aits
