// Instrument: what is traded and the numbers that turn prices and lots into money.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "aits/core/fixed_point.h"
#include "aits/core/status.h"

namespace aits {

// Dense index of an instrument inside one kernel (0, 1, 2...). Not stable across runs.
struct InstrumentId {
  uint32_t value = 0;
  friend constexpr auto operator<=>(InstrumentId, InstrumentId) = default;
};

// ISO 4217-style three-letter code ("USD"); empty means unknown.
struct Currency {
  std::array<char, 4> code{};

  static Currency Of(std::string_view text);  // takes the first three characters, upper-cased
  std::string_view view() const { return std::string_view(code.data(), Length()); }
  bool empty() const { return code[0] == '\0'; }
  size_t Length() const {
    return code[0] == '\0' ? 0 : (code[1] == '\0' ? 1 : (code[2] == '\0' ? 2 : 3));
  }
  friend bool operator==(const Currency&, const Currency&) = default;
};

struct Instrument {
  InstrumentId id;
  std::string symbol;               // "EURUSD"
  int digits = 5;                   // price precision
  Price tick_size;                  // smallest price increment (10^-digits unless set)
  Price pip_size;                   // 10 ticks for 5- and 3-digit FX quotes
  int64_t contract_size = 100'000;  // units of base currency in one lot
  Quantity lot_step;                // 0.01
  Quantity min_lots;                // 0.01
  Quantity max_lots;                // 100
  Currency base;                    // EUR
  Currency quote;                   // USD: prices and P&L are in this currency
  double margin_rate = 1.0;         // multiplier on the leverage-derived margin, as in MetaTrader
  // Hedging accounts: how the symbol's long and short volumes are charged margin together
  // (MT5's SYMBOL_MARGIN_HEDGED_USE_LEG and SYMBOL_MARGIN_HEDGED; docs/execution.md, "Hedging
  // accounts"). With the larger leg (the default) the margin is that of the larger of the two
  // volumes. Otherwise it is that of the uncovered volume (larger - smaller) at the full rate plus
  // that of the covered volume, counted on both sides (2 x smaller), at margin_hedged /
  // contract_size of the full rate: margin_hedged is in contract units per lot, 0..contract_size
  // (half the contract size charges a 1:1 lock as one lot; 0 charges it nothing).
  bool margin_hedged_use_leg = true;
  double margin_hedged = 0;

  // Defaults from the symbol: six letters -> FX pair (base, quote, 5 digits or 3 with JPY, lots of
  // 100,000); anything else -> a CFD-like instrument with 2 digits, contract size 1, whole units.
  static Instrument Infer(std::string_view symbol);

  // Checks every field (positive sizes, min <= max, digits 0..9, known quote currency).
  Status Validate() const;

  // Lot precision derived from lot_step (0.01 -> 2).
  int LotPrecision() const;
  // Rounds lots down to a multiple of lot_step.
  Quantity RoundLots(Quantity lots) const;
};

// Margin of `longs_raw` and `shorts_raw` lots (raw units at `lot_precision`) of `instrument` held
// together on a hedging account, by the rule above. `margin_of(lots)` is the full margin of
// holding `lots` (Portfolio::MarginRequired at the current price). The venue, the portfolio and
// the risk manager all charge hedged margin through this one rule.
template <typename MarginOf>
Money HedgedMargin(const Instrument& instrument, int64_t longs_raw, int64_t shorts_raw,
                   int lot_precision, const MarginOf& margin_of) {
  const int64_t larger = std::max(longs_raw, shorts_raw);
  if (instrument.margin_hedged_use_leg) {
    return larger == 0 ? Money() : margin_of(Quantity::FromRaw(larger, lot_precision));
  }
  const int64_t covered = std::min(longs_raw, shorts_raw);
  Money margin;
  if (larger > covered) margin += margin_of(Quantity::FromRaw(larger - covered, lot_precision));
  if (covered > 0 && instrument.margin_hedged > 0) {
    const Money full = margin_of(Quantity::FromRaw(2 * covered, lot_precision));
    margin +=
        Money::FromRaw(std::llround(static_cast<double>(full.raw()) * instrument.margin_hedged /
                                    static_cast<double>(instrument.contract_size)));
  }
  return margin;
}

}  // namespace aits
