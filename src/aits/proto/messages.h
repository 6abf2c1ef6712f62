// Encoding of the kernel's messages for other processes: Protocol Buffers (proto/aits/v1/
// messages.proto), chosen in docs/adr/0004-messages-that-travel.md. Protobuf's generated headers
// stay inside this module's .cc files; callers see only the model's own structs and bytes.
//
// Encode(message) writes an Envelope (stable type id, schema version, sequence, payload) holding
// the message; Decode<T>(bytes) reads it back. Decoding checks the envelope's type and version
// and every enum, precision and name in the payload, and fails with DataLoss naming the message
// and field rather than building a value the kernel would misread.
//
// Thread-safe: no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "aits/core/status.h"
#include "aits/model/events.h"
#include "aits/model/market.h"
#include "aits/model/market_alert.h"
#include "aits/model/order.h"
#include "aits/model/stage_messages.h"
#include "aits/model/venue_messages.h"

namespace aits::proto {

inline constexpr uint32_t kSchemaVersion = 1;

// The envelope of an encoded message, without its payload decoded.
struct EnvelopeHeader {
  MessageType type{};
  uint32_t version = 0;
  uint64_t sequence = 0;
};

std::string Encode(const Tick& message, uint64_t sequence = 0);
std::string Encode(const Bar& message, uint64_t sequence = 0);
std::string Encode(const Fill& message, uint64_t sequence = 0);
std::string Encode(const OrderSubmitted& message, uint64_t sequence = 0);
std::string Encode(const OrderUpdate& message, uint64_t sequence = 0);
std::string Encode(const BreakerChange& message, uint64_t sequence = 0);
std::string Encode(const ExecutionReport& message, uint64_t sequence = 0);
std::string Encode(const AccountReport& message, uint64_t sequence = 0);
std::string Encode(const MarketAlert& message, uint64_t sequence = 0);
std::string Encode(const FeatureRow& message, uint64_t sequence = 0);
std::string Encode(const Prediction& message, uint64_t sequence = 0);
std::string Encode(const AccountAtBar& message, uint64_t sequence = 0);
std::string Encode(const BarDecision& message, uint64_t sequence = 0);
std::string Encode(const VenueCommand& message, uint64_t sequence = 0);
std::string Encode(const VenueReport& message, uint64_t sequence = 0);

// The envelope's header: DataLoss if the bytes are not an envelope.
Result<EnvelopeHeader> PeekHeader(std::string_view bytes);

// The message of type T. DataLoss if the bytes are not an envelope of T::kMessageType at
// kSchemaVersion, or a field is out of range.
template <typename T>
Result<T> Decode(std::string_view bytes);

}  // namespace aits::proto
