// What the market monitor (aits/feed/monitor.h) says about a symbol's quotes: a plain value that
// owns its data, with a stable MessageType, so the same struct goes on the kernel's bus, into a
// log and over the wire (aits/proto/messages.h). The rules that raise and clear each kind are in
// docs/feed.md, "Market monitor".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/model/instrument.h"
#include "aits/model/message_type.h"

namespace aits {

enum class AlertKind : uint8_t {
  kSpreadSpike,   // the spread is a multiple of its rolling median
  kPriceGap,      // the mid jumped by a multiple of the one-minute ATR between two ticks
  kStaleFeed,     // no tick for longer than the limit while the symbol's session is open
  kCrossedQuote,  // bid > ask
  kFrozenQuote,   // the same bid and ask for many ticks or a long time while ticks arrive
};
std::string_view ToString(AlertKind kind);  // "spread_spike", "price_gap", ...
Result<AlertKind> ParseAlertKind(std::string_view text);

enum class AlertSeverity : uint8_t {
  kInfo,
  kWarning,   // trading goes on, with care (wide spread, a gap, a frozen quote)
  kCritical,  // the quotes cannot be trusted or are missing (crossed, stale)
};
std::string_view ToString(AlertSeverity severity);  // "info", "warning", "critical"
Result<AlertSeverity> ParseAlertSeverity(std::string_view text);

enum class AlertState : uint8_t {
  kRaised,   // the condition holds from `start` on; a kCleared alert of the same id follows
  kCleared,  // the condition of alert `id` ended at `end`
  kOneOff,   // an event without duration (a price gap): start == end, nothing follows
};
std::string_view ToString(AlertState state);  // "raised", "cleared", "one_off"
Result<AlertState> ParseAlertState(std::string_view text);

struct MarketAlert {
  static constexpr MessageType kMessageType = MessageType::kMarketAlert;

  uint64_t id = 0;  // per monitor, from 1; a kCleared alert repeats the id of its kRaised one
  AlertKind kind = AlertKind::kSpreadSpike;
  AlertSeverity severity = AlertSeverity::kWarning;
  AlertState state = AlertState::kRaised;
  InstrumentId instrument;
  std::string symbol;
  Timestamp start;   // when the condition began (the first offending tick, or the computed moment)
  Timestamp end;     // kCleared and kOneOff: when it ended; kRaised: zero
  Timestamp ts;      // the time the monitor saw it (a tick's time or its clock's)
  double value = 0;  // the figure measured: spread or gap in pips, silence in seconds, ticks
  double threshold = 0;  // the limit it crossed, in the same unit
  std::string detail;    // the figures in words: "spread 4.1 pips > 3.0 x median 1.2 pips"
};

// "2020-01-01T22:00:01Z raised warning spread_spike EURUSD #3: spread 4.1 pips > ..." for logs
// and the command line.
std::string Describe(const MarketAlert& alert);

}  // namespace aits
