// W3C Trace Context's `traceparent` (https://www.w3.org/TR/trace-context/, version 00): the ids
// that tie the spans of one trace together across processes. Every bus message of the trading
// path carries one (bus::OutgoingMessage::traceparent, the NATS header "traceparent").
//
//   00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
//   version trace id (16 bytes)          span id (8 bytes) flags (bit 0: sampled)
//
// Plain values, no allocation but FormatTraceparent's string. Thread-compatible.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "aits/core/status.h"

namespace aits::trace {

// The trace id and span id of one span, and its flags, as `traceparent` carries them.
struct SpanContext {
  std::array<uint8_t, 16> trace_id{};
  std::array<uint8_t, 8> span_id{};
  uint8_t flags = 0;

  static constexpr uint8_t kSampled = 0x01;

  bool sampled() const { return (flags & kSampled) != 0; }
  bool operator==(const SpanContext&) const = default;
  // Neither id all zeros (the W3C's invalid value).
  bool valid() const;
};

// The length of a version 00 traceparent.
inline constexpr size_t kTraceparentSize = 55;

// Parses a traceparent. InvalidArgument naming what is wrong for: another length, a version
// other than 00 (or ff, which the W3C forbids), a separator out of place, characters that are
// not lower-case hex, an all-zero trace id or span id. Only version 00 is read: a later
// version's extra fields would be for a reader that knows them.
Result<SpanContext> ParseTraceparent(std::string_view text);

// "00-<trace id>-<span id>-<flags>", lower-case hex: kTraceparentSize characters.
std::string FormatTraceparent(const SpanContext& context);
// The same into `out` (kTraceparentSize bytes), for a caller that keeps its own buffer.
void FormatTraceparent(const SpanContext& context, char* out);

// Lower-case hex of the ids, as OTLP's JSON encoding writes them.
std::string HexTraceId(const std::array<uint8_t, 16>& id);
std::string HexSpanId(const std::array<uint8_t, 8>& id);

}  // namespace aits::trace
