// InstrumentCatalogue: the instruments AITS knows by symbol, read from a CSV file (the one built
// into the binary from config/instruments.csv, plus any a user gives). Format and rules:
// docs/instruments.md.
//
// A catalogue is a plain value: build it once at start-up, then read it from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "aits/core/status.h"
#include "aits/model/instrument.h"

namespace aits {

// One weekly trading window in UTC, as minutes from Monday 00:00 (0 .. 7 * 1440). A window whose
// end is before its start wraps over the end of the week ("Sun 22:00-Fri 22:00").
struct TradingWindow {
  int start_minute = 0;
  int end_minute = 0;
  friend bool operator==(const TradingWindow&, const TradingWindow&) = default;
};

// "Mon-Fri 07:00-21:00;Sun 22:00-Fri 22:00" -> windows; "" -> none (always open). Errors name the
// part of the text that is wrong.
Result<std::vector<TradingWindow>> ParseTradingSessions(std::string_view text);

struct CatalogueEntry {
  Instrument instrument;  // id 0; the kernel assigns ids
  std::string sessions;   // as written, "" = always open
  std::vector<TradingWindow> windows;
  std::string description;
  std::string defined_at;  // "config/instruments.csv:27": where this row came from
};

// True for an ISO 4217 currency code, including the metals XAU, XAG, XPT, XPD and the offshore
// yuan CNH that MetaTrader brokers quote.
bool IsIsoCurrency(std::string_view code);

// "usd/jpy" -> "USDJPY": upper case without '/' (how catalogue lookups compare symbols).
std::string NormalizeSymbol(std::string_view symbol);

// The price step that a pip is: ten ticks for the fractional-pip quotes of currency pairs (5 or 3
// digits), one tick otherwise.
Price PipSizeFor(int digits, bool currency_pair);

class InstrumentCatalogue {
 public:
  InstrumentCatalogue() = default;

  // The catalogue compiled into the binary from config/instruments.csv. The text is checked by a
  // unit test, so an error here means a broken build; it is still returned, not thrown.
  static Result<InstrumentCatalogue> BuiltIn();
  // The built-in catalogue's CSV text (config/instruments.csv as it was at build time).
  static std::string_view BuiltInText();

  // Parses catalogue CSV `text`; `file_name` is used in errors and in CatalogueEntry::defined_at.
  // InvalidArgument "FILE:LINE: field 'NAME' value 'VALUE': why" on the first bad row (unknown or
  // missing column, bad number, digits outside 0..9, non-positive lots, min_lot > max_lot, an
  // unknown currency, base == quote, bad sessions, a symbol defined twice).
  static Result<InstrumentCatalogue> Parse(std::string_view text, const std::string& file_name);
  // Reads and parses a file; NotFound if it cannot be read.
  static Result<InstrumentCatalogue> LoadFile(const std::string& path);
  // The built-in catalogue with the rows of `user_file` on top (Merge); just the built-in one if
  // `user_file` is empty.
  static Result<InstrumentCatalogue> BuiltInWith(const std::string& user_file);

  // Rows of `overrides` replace the rows of the same symbol and the others are added; the name
  // becomes "this + that".
  void Merge(const InstrumentCatalogue& overrides);

  // The entry for `symbol` (compared by NormalizeSymbol), or nullptr.
  const CatalogueEntry* Find(std::string_view symbol) const;

  const std::vector<CatalogueEntry>& entries() const { return entries_; }
  // Which files this catalogue was read from: "built-in config/instruments.csv + my.csv".
  const std::string& name() const { return name_; }

 private:
  std::vector<CatalogueEntry> entries_;
  std::string name_;
};

}  // namespace aits
