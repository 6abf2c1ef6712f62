// Stable message type ids: the numbers by which a message is known on the kernel's bus, in the
// event log and, once messages travel between processes, on the wire. Unlike a per-process
// counter they are the same in every process and every build.
//
// Numbers are never reused or renumbered; a retired message keeps its number reserved.
#pragma once

#include <cstdint>

namespace aits {

enum class MessageType : uint16_t {
  kTick = 1,
  kBar = 2,
  kFill = 3,
  kOrderUpdate = 4,      // execution::OrderUpdate
  kOrderSubmitted = 5,   // kernel::OrderSubmitted
  kBreakerChange = 6,    // risk::BreakerChange
  kExecutionReport = 7,  // a venue's report on one order (aits/model/events.h)
  kAccountReport = 8,    // a venue's view of the account (aits/model/events.h)
  kMarketAlert = 9,      // the market monitor's alerts (aits/model/market_alert.h)
  kFeatureRow = 10,      // a bar's model inputs, features role -> prediction (stage_messages.h)
  kPrediction = 11,      // a bar's signal, prediction role -> decision (stage_messages.h)
  kAccountAtBar = 12,    // the account at a bar close, owner -> decision role (stage_messages.h)
  kBarDecision = 13,     // a bar's decision, decision role -> owner (stage_messages.h)
  kVenueCommand = 14,    // an order, cancel, SL/TP or request, owner -> gateway (venue_messages.h)
  kVenueReport = 15,     // a venue's report or answer, gateway -> owner (venue_messages.h)
  // Ids from kFirstTestMessage on are for tests' own message types.
  kFirstTestMessage = 1000,
};

}  // namespace aits
