// Decision engine: turns a signal (strength s in [-1, 1] and its confidence) into an order intent
// with a size, a stop-loss and a take-profit, or into HOLD, and says why (docs/decision.md).
//
// Rule, with the thresholds of DecisionConfig (defaults in brackets):
//   s > buy [0.7]  and confidence >= min_confidence -> BUY  (reverses a short: buys |short| + size)
//   s < sell [-0.7] and confidence >= min_confidence -> SELL (reverses a long)
//   |s| < close [0.3] with an open position            -> CLOSE (the whole position)
//   otherwise                                           -> HOLD
// A BUY while already long (position + pending > 0) or a SELL while already short is a HOLD
// ("already long"): the engine does not pyramid.
// Filters apply to BUY/SELL only; CLOSE is never filtered (cutting risk is always allowed). Each
// filter's outcome is recorded, and the first that fails turns the decision into HOLD:
//   confidence  confidence >= min_confidence
//   spread      ask - bid <= max_spread_points (points of 10^-digits; 0 = no limit)
//   anomaly     anomaly score <= max_anomaly (>= 1 = no limit)
//   session     the time is inside one of the trading-session windows (none = always open)
//   blackout    no calendar event touching the instrument's base or quote currency (or "*") has
//               its window [at - before, at + after] around the time
// Sizing (lots before lot rules):
//   fixed_lots      lots
//   fixed_fraction  equity * risk_fraction / (stop distance * value of one price unit per lot)
//   vol_target      equity * vol_target / (ATR * value of one price unit per lot)
// then times the confidence when scale_by_confidence, capped at max_lots (0 = no cap) and the
// instrument's max_lots, rounded down to the lot step; below the instrument's min_lots the
// decision becomes HOLD ("size below minimum lot"). Stops: stop-loss stop_atr * ATR from the entry
// side of the quote (ask for a buy, bid for a sell), take-profit take_profit_atr * ATR, rounded to
// the tick size away from the entry; 0 disables either. fixed_fraction and vol_target need an ATR
// (and fixed_fraction a stop): without one the decision is HOLD ("no ATR yet"); so does any mode
// whose stop-loss or take-profit is enabled, because an order never goes out without the stops the
// config asks for. fixed_fraction sizes on the distance to the rounded stop-loss (what is really
// risked). A reversal's order is |position + pending| (exact) plus the new size; when the new size
// is below min_lots the reversal becomes a CLOSE ("size below minimum lot; closing").
// Other HOLD reasons: "hold band" (close <= |s| <= buy/sell), "flat" (|s| < close, no position),
// "already long"/"already short", "no valid quote" (bid or ask <= 0, or crossed), "no price value"
// (value_per_price_unit <= 0 for fixed_fraction/vol_target), "invalid signal" (NaN strength),
// "stop out of range" (a stop would be <= 0).
//
// Decide() does not allocate; it is called on every bar close of the kernel thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/fixed_point.h"
#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/model/instrument.h"
#include "aits/model/market.h"
#include "aits/model/order.h"

namespace aits::decision {

enum class Action : uint8_t { kHold, kBuy, kSell, kClose };
std::string_view ToString(Action action);  // "HOLD", "BUY", "SELL", "CLOSE"

// Trading-session windows in UTC, e.g. "mon-fri 07:00-20:00" or
// "mon-thu 00:00-24:00; fri 00:00-21:00". A window may wrap midnight ("sun-thu 22:00-06:00": the
// part after midnight belongs to the next day). Empty = always open.
class SessionHours {
 public:
  // InvalidArgument quoting the bad part: unknown day, time outside 00:00..24:00, empty window.
  static Result<SessionHours> Parse(std::string_view text);
  bool IsOpen(Timestamp t) const;
  bool empty() const { return windows_.empty(); }
  const std::string& text() const { return text_; }

 private:
  struct Window {
    uint8_t days = 0;  // bit d = day the window starts (0 = Monday)
    int start_minute = 0;
    int end_minute = 0;  // exclusive; < start_minute when it wraps midnight
  };
  std::vector<Window> windows_;
  std::string text_;
};

struct BlackoutEvent {
  Timestamp at;
  std::string currency;  // "USD", or "*" for every instrument
  std::string impact;    // "high", "medium", "low" (informational)
  std::string title;     // "Non-Farm Payrolls"
  Duration before;
  Duration after;
  // The file left before/after empty: SetDefaultWindow() may change them.
  bool default_before = false;
  bool default_after = false;
};

// News calendar. CSV with a header line: time,currency,impact,title[,before_minutes,after_minutes]
// time ISO-8601 UTC ("2024-03-08T13:30:00Z" or "2024-03-08 13:30"); missing minutes take the
// defaults given to Load. Errors name the file, line, field and value.
class BlackoutCalendar {
 public:
  static Result<BlackoutCalendar> Load(const std::string& path, Duration default_before,
                                       Duration default_after);
  static Result<BlackoutCalendar> Parse(std::string_view text, std::string_view origin,
                                        Duration default_before, Duration default_after);
  // The event whose window [at - before, at + after] (both ends inclusive) covers t for this
  // instrument (currency equal to its base or quote, or "*"), or nullptr; when several match, the
  // one whose window starts last. O(log n + events starting within the longest window of t).
  const BlackoutEvent* Active(Timestamp t, const Instrument& instrument) const;
  // Re-applies new defaults to the events whose file left before/after empty (so that config keys
  // blackout_before/after_minutes may come before or after "calendar").
  void SetDefaultWindow(Duration before, Duration after);
  size_t size() const { return events_.size(); }
  const std::vector<BlackoutEvent>& events() const { return events_; }
  const std::string& origin() const { return origin_; }

 private:
  void SortAndMeasure();

  std::vector<BlackoutEvent> events_;  // sorted by window start
  Duration max_window_;
  std::string origin_;
};

enum class SizingMode : uint8_t { kFixedLots, kFixedFraction, kVolTarget };
std::string_view ToString(SizingMode mode);  // "fixed_lots", "fixed_fraction", "vol_target"

struct DecisionConfig {
  // Thresholds: -1 <= sell <= -close <= 0 <= close <= buy <= 1.
  double buy_threshold = 0.7;
  double sell_threshold = -0.7;
  double close_threshold = 0.3;
  double min_confidence = 0.0;  // [0, 1]
  // Filters.
  double max_spread_points = 0;  // 0 = no limit
  double max_anomaly = 1.0;      // >= 1 = no limit
  SessionHours sessions;
  std::optional<BlackoutCalendar> calendar;
  // Sizing.
  SizingMode sizing = SizingMode::kFixedFraction;
  double lots = 0.1;            // fixed_lots
  double risk_fraction = 0.01;  // fixed_fraction, (0, 1]
  double vol_target = 0.002;    // vol_target, (0, 1]
  bool scale_by_confidence = true;
  double max_lots = 0;  // 0 = the instrument's max_lots
  // Stops, in ATRs; 0 = none.
  double stop_atr = 2.0;
  double take_profit_atr = 3.0;
  int atr_period = 14;  // bars of the strategy's bar period

  // InvalidArgument naming the field and value. Also rejects fixed_fraction with stop_atr 0 (it
  // sizes on the stop distance).
  Status Validate() const;
  // Sets one field by name: the names above, with sizing as its ToString name, sessions as
  // SessionHours text, scale_by_confidence as true/false, and "calendar" as a file path (loaded
  // with blackout_before_minutes / blackout_after_minutes, default 30/30; setting those later
  // re-applies them to the events without their own minutes; an empty path removes the calendar).
  // Checks the field's own range; the cross-field rules (threshold order) are Validate's.
  // InvalidArgument naming an unknown key or a bad value.
  Status Set(std::string_view key, std::string_view value);
  static const std::vector<std::string_view>& Keys();

  Duration blackout_before = Duration::Minutes(30);
  Duration blackout_after = Duration::Minutes(30);
};

struct Signal {
  InstrumentId instrument;
  Timestamp ts;
  double strength = 0;    // [-1, 1]; values outside are clamped
  double confidence = 1;  // [0, 1]
  double anomaly = 0;     // anomaly score; 0 when the source has none
  int regime = -1;        // -1 when the source has none
};

// What the engine needs to know about the market and the account at decision time.
struct MarketState {
  Tick quote;                       // the last quote
  double atr = 0;                   // price units; <= 0 or NaN = not known yet
  Quantity position;                // signed lots held
  Quantity pending;                 // signed lots of unfinished orders
  Money equity;                     // account currency
  double value_per_price_unit = 0;  // account currency per 1.0 price move per lot
};

struct FilterOutcome {
  std::string_view name;  // "confidence", "spread", "anomaly", "session", "blackout"
  bool passed = true;
  double value = 0;  // the measured value (spread points, anomaly score, confidence; 0/1 else)
  double limit = 0;
};

struct Decision {
  Action action = Action::kHold;
  Side side = Side::kBuy;  // of the order, for BUY/SELL/CLOSE
  Quantity lots;           // of the order (includes the closed part of a reversal)
  std::optional<Price> stop_loss;
  std::optional<Price> take_profit;
  std::string_view reason;  // static text: "buy threshold", "filtered: spread", "hold band", ...
  std::array<FilterOutcome, 5> filters{};
  size_t filter_count = 0;  // filters evaluated (0 for HOLD before filtering, CLOSE)
  const BlackoutEvent* blackout = nullptr;  // the active event when the blackout filter failed
  double raw_lots = 0;                      // size before confidence scaling, caps and lot rounding
  double scaled_lots = 0;                   // after confidence scaling and caps, before rounding
};

class DecisionEngine {
 public:
  // Precondition: config.Validate().ok().
  explicit DecisionEngine(DecisionConfig config);
  Decision Decide(const Signal& signal, const Instrument& instrument,
                  const MarketState& market) const;
  const DecisionConfig& config() const { return config_; }

 private:
  DecisionConfig config_;
};

}  // namespace aits::decision
