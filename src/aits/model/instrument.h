// Instrument: what is traded and the numbers that turn prices and lots into money.
#pragma once

#include <array>
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

}  // namespace aits
