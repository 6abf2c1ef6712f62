#include "aits/model/instrument_catalogue.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <sstream>

#include "aits/core/text.h"

namespace aits {

// Defined in the file CMake generates from config/instruments.csv (model/CMakeLists.txt).
extern const char kBuiltInInstrumentCatalogue[];

namespace {

constexpr std::string_view kBuiltInName = "built-in config/instruments.csv";
constexpr int kMinutesPerDay = 24 * 60;
constexpr int kMinutesPerWeek = 7 * kMinutesPerDay;

// ISO 4217 active codes (2024), plus the metals and CNH that MT5 brokers quote. Searched
// linearly: a handful of look-ups at start-up.
constexpr std::string_view kIsoCurrencies[] = {
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHF", "CLP", "CNH", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP",
    "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF",
    "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD",
    "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP",
    "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR",
    "MVR", "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB",
    "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD",
    "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SLL", "SOS", "SRD", "SSP", "STN", "SVC", "SYP",
    "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD",
    "UYU", "UZS", "VES", "VND", "VUV", "WST", "XAF", "XAG", "XAU", "XCD", "XOF", "XPD", "XPF",
    "XPT", "YER", "ZAR", "ZMW", "ZWL"};

constexpr std::array<std::string_view, 7> kDays = {"MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"};

std::string Upper(std::string_view text) {
  std::string out(text);
  for (char& ch : out) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return out;
}

// "Mon" -> 0 .. "Sun" -> 6, -1 if not a day.
int DayIndex(std::string_view text) {
  const std::string upper = Upper(Trim(text));
  for (size_t idx = 0; idx < kDays.size(); ++idx) {
    if (upper == kDays[idx]) return static_cast<int>(idx);
  }
  return -1;
}

// "07:00" -> 420; "24:00" allowed as the end of a day; -1 if malformed.
int MinuteOfDay(std::string_view text) {
  text = Trim(text);
  if (text.size() != 5 || text[2] != ':') return -1;
  for (size_t idx : {0, 1, 3, 4}) {
    if (!std::isdigit(static_cast<unsigned char>(text[idx]))) return -1;
  }
  const int hours = (text[0] - '0') * 10 + (text[1] - '0');
  const int minutes = (text[3] - '0') * 10 + (text[4] - '0');
  if (minutes > 59 || hours > 24 || (hours == 24 && minutes != 0)) return -1;
  return hours * 60 + minutes;
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return parts;
}

struct Columns {
  int symbol = -1, digits = -1, contract_size = -1, base = -1, quote = -1, margin_rate = -1,
      min_lot = -1, max_lot = -1, lot_step = -1, sessions = -1, description = -1,
      margin_hedged = -1, margin_hedged_use_leg = -1;
};

// One row's parser: every error names the file, the line, the field and its value.
class RowReader {
 public:
  RowReader(const std::string& file, size_t line, const std::vector<std::string_view>& fields)
      : file_(file), line_(line), fields_(fields) {}

  std::string_view Field(int column) const {
    return column < 0 ? std::string_view() : Trim(fields_[static_cast<size_t>(column)]);
  }

  Status Error(std::string_view field, std::string_view value, const std::string& why) const {
    return InvalidArgument(file_ + ":" + std::to_string(line_) + ": field '" + std::string(field) +
                           "' value '" + std::string(value.substr(0, 64)) + "': " + why);
  }

  Result<int64_t> Integer(std::string_view name, int column, int64_t low, int64_t high) const {
    const std::string_view text = Field(column);
    const auto value = ParseInt(text);
    if (!value) return Error(name, text, "not a whole number");
    if (*value < low || *value > high) {
      return Error(name, text, "outside " + std::to_string(low) + ".." + std::to_string(high));
    }
    return *value;
  }

  // A positive number of lots as a raw 1e-9 count.
  Result<int64_t> Lots(std::string_view name, int column) const {
    const std::string_view text = Field(column);
    auto raw = fixed_internal::ParseScaled(text, kFixedDigits);
    if (!raw.ok()) return Error(name, text, "not a number");
    if (*raw <= 0) return Error(name, text, "must be positive");
    return *raw;
  }

  Result<Currency> Code(std::string_view name, int column, bool required) const {
    const std::string_view text = Field(column);
    if (text.empty()) {
      if (required) return Error(name, text, "a currency is required (ISO 4217, e.g. USD)");
      return Currency{};
    }
    const std::string upper = Upper(text);
    if (upper.size() != 3 || !IsIsoCurrency(upper)) {
      return Error(name, text, "not an ISO 4217 currency code");
    }
    return Currency::Of(upper);
  }

 private:
  const std::string& file_;
  size_t line_;
  const std::vector<std::string_view>& fields_;
};

// Decimals needed to write raw (1e-9 units) exactly: 0.01 -> 2.
int DecimalsOfRaw(int64_t raw) {
  int decimals = kFixedDigits;
  while (decimals > 0 && raw % 10 == 0) {
    raw /= 10;
    --decimals;
  }
  return decimals;
}

Result<CatalogueEntry> ParseRow(const RowReader& row, const Columns& columns,
                                const std::string& where) {
  CatalogueEntry entry;
  Instrument& inst = entry.instrument;
  const std::string_view symbol = row.Field(columns.symbol);
  if (symbol.empty() || symbol.size() > 31) {
    return row.Error("symbol", symbol, "must be 1..31 characters");
  }
  for (char ch : symbol) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '_' && ch != '-' &&
        ch != '#') {
      return row.Error("symbol", symbol, "only letters, digits and . _ - # are allowed");
    }
  }
  inst.symbol = NormalizeSymbol(symbol);
  AITS_ASSIGN_OR_RETURN(int64_t digits, row.Integer("digits", columns.digits, 0, kFixedDigits));
  inst.digits = static_cast<int>(digits);
  AITS_ASSIGN_OR_RETURN(inst.contract_size,
                        row.Integer("contract_size", columns.contract_size, 1, 1'000'000'000));
  AITS_ASSIGN_OR_RETURN(inst.base, row.Code("base", columns.base, /*required=*/false));
  AITS_ASSIGN_OR_RETURN(inst.quote, row.Code("quote", columns.quote, /*required=*/true));
  if (inst.base == inst.quote) {
    return row.Error("base", row.Field(columns.base), "equals the quote currency");
  }
  if (columns.margin_rate >= 0 && !row.Field(columns.margin_rate).empty()) {
    const std::string_view text = row.Field(columns.margin_rate);
    const auto rate = ParseFiniteDouble(text);
    if (!rate) return row.Error("margin_rate", text, "not a number");
    if (!(*rate > 0) || *rate > 100) return row.Error("margin_rate", text, "outside (0, 100]");
    inst.margin_rate = *rate;
  }
  // Hedged margin (MT5's SYMBOL_MARGIN_HEDGED and _USE_LEG): the larger leg unless margin_hedged
  // is given; a value the rule would not use is an error rather than silently ignored.
  const std::string_view hedged_text = row.Field(columns.margin_hedged);
  const std::string_view use_leg_text = row.Field(columns.margin_hedged_use_leg);
  if (!hedged_text.empty()) {
    const auto hedged = ParseFiniteDouble(hedged_text);
    if (!hedged) return row.Error("margin_hedged", hedged_text, "not a number");
    if (*hedged < 0 || *hedged > static_cast<double>(inst.contract_size)) {
      return row.Error("margin_hedged", hedged_text,
                       "outside 0..contract_size (" + std::to_string(inst.contract_size) +
                           "): contract units per lot of the hedged volume");
    }
    inst.margin_hedged = *hedged;
    inst.margin_hedged_use_leg = false;
  }
  if (!use_leg_text.empty()) {
    const std::string upper = Upper(use_leg_text);
    if (upper != "TRUE" && upper != "FALSE") {
      return row.Error("margin_hedged_use_leg", use_leg_text, "not true or false");
    }
    if (upper == "TRUE" && !hedged_text.empty()) {
      return row.Error("margin_hedged_use_leg", use_leg_text,
                       "the larger leg leaves margin_hedged " + std::string(hedged_text) +
                           " unused: leave one of them empty");
    }
    if (upper == "FALSE" && hedged_text.empty()) {
      return row.Error("margin_hedged_use_leg", use_leg_text,
                       "without the larger leg, margin_hedged (contract units per lot of the "
                       "hedged volume) is required");
    }
  }
  AITS_ASSIGN_OR_RETURN(int64_t step, row.Lots("lot_step", columns.lot_step));
  AITS_ASSIGN_OR_RETURN(int64_t min_lot, row.Lots("min_lot", columns.min_lot));
  AITS_ASSIGN_OR_RETURN(int64_t max_lot, row.Lots("max_lot", columns.max_lot));
  const int lot_precision = DecimalsOfRaw(step);
  if (DecimalsOfRaw(min_lot) > lot_precision || min_lot % step != 0) {
    return row.Error("min_lot", row.Field(columns.min_lot),
                     "not a multiple of lot_step " + std::string(row.Field(columns.lot_step)));
  }
  if (max_lot < min_lot) {
    return row.Error("max_lot", row.Field(columns.max_lot),
                     "below min_lot " + std::string(row.Field(columns.min_lot)));
  }
  inst.lot_step = Quantity::FromRaw(step, lot_precision);
  inst.min_lots = Quantity::FromRaw(min_lot, lot_precision);
  if (DecimalsOfRaw(max_lot) > lot_precision || max_lot % step != 0) {
    return row.Error("max_lot", row.Field(columns.max_lot),
                     "not a multiple of lot_step " + std::string(row.Field(columns.lot_step)));
  }
  inst.max_lots = Quantity::FromRaw(max_lot, lot_precision);
  inst.tick_size = Price::FromRaw(Pow10(kFixedDigits - inst.digits), inst.digits);
  inst.pip_size = PipSizeFor(inst.digits, !inst.base.empty());
  entry.sessions = std::string(row.Field(columns.sessions));
  auto windows = ParseTradingSessions(entry.sessions);
  if (!windows.ok()) return row.Error("sessions", entry.sessions, windows.status().message());
  entry.windows = std::move(*windows);
  entry.description = std::string(row.Field(columns.description));
  entry.defined_at = where;
  const Status valid = inst.Validate();
  if (!valid.ok()) return row.Error("symbol", symbol, valid.message());
  return entry;
}

}  // namespace

Result<std::vector<TradingWindow>> ParseTradingSessions(std::string_view text) {
  std::vector<TradingWindow> windows;
  if (Trim(text).empty()) return windows;
  const auto bad = [](std::string_view part, const std::string& why) {
    return InvalidArgument("'" + std::string(Trim(part)) + "' " + why +
                           " (expected e.g. 'Mon-Fri 07:00-21:00' or 'Sun 22:00-Fri 22:00')");
  };
  for (std::string_view part : Split(text, ';')) {
    part = Trim(part);
    // "Sun 22:00-Fri 22:00": a span across the week.
    const size_t dash = part.find('-');
    const size_t space = part.find(' ');
    if (space == std::string_view::npos || dash == std::string_view::npos) {
      return bad(part, "is not a day and a time range");
    }
    if (dash > space) {
      const int start_day = DayIndex(part.substr(0, space));
      const std::string_view rest = Trim(part.substr(space + 1));
      const size_t rest_dash = rest.find('-');
      const std::string_view from = rest.substr(0, rest_dash);
      const std::string_view to = rest_dash == std::string_view::npos
                                      ? std::string_view()
                                      : Trim(rest.substr(rest_dash + 1));
      const size_t to_space = to.find(' ');
      if (start_day < 0) return bad(part, "does not start with a day (Mon..Sun)");
      const int start = MinuteOfDay(from);
      if (start < 0 || start == kMinutesPerDay) return bad(part, "has a bad start time");
      if (to_space == std::string_view::npos) {
        // "Mon 07:00-21:00": one day.
        const int end = MinuteOfDay(to);
        if (end < 0 || end <= start) return bad(part, "has a bad end time");
        windows.push_back({start_day * kMinutesPerDay + start, start_day * kMinutesPerDay + end});
        continue;
      }
      const int end_day = DayIndex(to.substr(0, to_space));
      const int end = MinuteOfDay(to.substr(to_space + 1));
      if (end_day < 0) return bad(part, "has no end day (Mon..Sun)");
      if (end < 0) return bad(part, "has a bad end time");
      const TradingWindow window{start_day * kMinutesPerDay + start,
                                 (end_day * kMinutesPerDay + end) % kMinutesPerWeek};
      if (window.start_minute == window.end_minute) return bad(part, "is empty");
      windows.push_back(window);
      continue;
    }
    // "Mon-Fri 07:00-21:00": the same hours on each day from the first to the last.
    const int first = DayIndex(part.substr(0, dash));
    const int last = DayIndex(part.substr(dash + 1, space - dash - 1));
    if (first < 0 || last < 0) return bad(part, "does not start with days (Mon-Fri)");
    const std::string_view hours = Trim(part.substr(space + 1));
    const size_t hours_dash = hours.find('-');
    if (hours_dash == std::string_view::npos) return bad(part, "has no time range");
    const int start = MinuteOfDay(hours.substr(0, hours_dash));
    const int end = MinuteOfDay(hours.substr(hours_dash + 1));
    if (start < 0 || end < 0 || end <= start) return bad(part, "has a bad time range");
    for (int day = first;; day = (day + 1) % 7) {
      windows.push_back({day * kMinutesPerDay + start, day * kMinutesPerDay + end});
      if (day == last) break;
    }
  }
  return windows;
}

bool IsIsoCurrency(std::string_view code) {
  return std::find(std::begin(kIsoCurrencies), std::end(kIsoCurrencies), code) !=
         std::end(kIsoCurrencies);
}

std::string NormalizeSymbol(std::string_view symbol) {
  std::string out;
  for (char ch : Trim(symbol)) {
    if (ch != '/') out += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  return out;
}

Price PipSizeFor(int digits, bool currency_pair) {
  const bool fractional_pip = currency_pair && (digits == 3 || digits == 5);
  return Price::FromRaw(Pow10(kFixedDigits - digits + (fractional_pip ? 1 : 0)), digits);
}

std::string_view InstrumentCatalogue::BuiltInText() { return kBuiltInInstrumentCatalogue; }

Result<InstrumentCatalogue> InstrumentCatalogue::BuiltIn() {
  return Parse(BuiltInText(), std::string(kBuiltInName));
}

Result<InstrumentCatalogue> InstrumentCatalogue::BuiltInWith(const std::string& user_file) {
  AITS_ASSIGN_OR_RETURN(InstrumentCatalogue catalogue, BuiltIn());
  if (user_file.empty()) return catalogue;
  AITS_ASSIGN_OR_RETURN(InstrumentCatalogue mine, LoadFile(user_file));
  catalogue.Merge(mine);
  return catalogue;
}

Result<InstrumentCatalogue> InstrumentCatalogue::LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read instrument catalogue '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  return Parse(text.str(), path);
}

Result<InstrumentCatalogue> InstrumentCatalogue::Parse(std::string_view text,
                                                       const std::string& file_name) {
  InstrumentCatalogue catalogue;
  catalogue.name_ = file_name;
  Columns columns;
  size_t column_count = 0;
  bool have_header = false;
  size_t line_number = 0;
  for (std::string_view line : Split(text, '\n')) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::string_view trimmed = Trim(line);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    const std::vector<std::string_view> fields = Split(line, ',');
    const std::string where = file_name + ":" + std::to_string(line_number);
    if (!have_header) {
      have_header = true;
      column_count = fields.size();
      for (size_t idx = 0; idx < fields.size(); ++idx) {
        const std::string name(Trim(fields[idx]));
        const int column = static_cast<int>(idx);
        int* slot = name == "symbol"                  ? &columns.symbol
                    : name == "digits"                ? &columns.digits
                    : name == "contract_size"         ? &columns.contract_size
                    : name == "base"                  ? &columns.base
                    : name == "quote"                 ? &columns.quote
                    : name == "margin_rate"           ? &columns.margin_rate
                    : name == "min_lot"               ? &columns.min_lot
                    : name == "max_lot"               ? &columns.max_lot
                    : name == "lot_step"              ? &columns.lot_step
                    : name == "sessions"              ? &columns.sessions
                    : name == "description"           ? &columns.description
                    : name == "margin_hedged"         ? &columns.margin_hedged
                    : name == "margin_hedged_use_leg" ? &columns.margin_hedged_use_leg
                                                      : nullptr;
        if (slot == nullptr) {
          return InvalidArgument(where + ": unknown column '" + name +
                                 "' (known: symbol, digits, contract_size, base, quote, "
                                 "margin_rate, min_lot, max_lot, lot_step, sessions, description, "
                                 "margin_hedged, margin_hedged_use_leg)");
        }
        if (*slot >= 0) return InvalidArgument(where + ": column '" + name + "' appears twice");
        *slot = column;
      }
      for (const auto& [name, column] : {std::pair{"symbol", columns.symbol},
                                         {"digits", columns.digits},
                                         {"contract_size", columns.contract_size},
                                         {"quote", columns.quote},
                                         {"min_lot", columns.min_lot},
                                         {"max_lot", columns.max_lot},
                                         {"lot_step", columns.lot_step}}) {
        if (column < 0) {
          return InvalidArgument(where + ": the header has no column '" + name +
                                 "' (required: symbol, digits, contract_size, quote, min_lot, "
                                 "max_lot, lot_step)");
        }
      }
      continue;
    }
    if (fields.size() != column_count) {
      return InvalidArgument(where + ": " + std::to_string(fields.size()) +
                             " fields, the header has " + std::to_string(column_count) +
                             " (a description must not contain commas)");
    }
    const RowReader row(file_name, line_number, fields);
    AITS_ASSIGN_OR_RETURN(CatalogueEntry entry, ParseRow(row, columns, where));
    if (const CatalogueEntry* earlier = catalogue.Find(entry.instrument.symbol)) {
      return row.Error("symbol", row.Field(columns.symbol),
                       "defined twice (first at " + earlier->defined_at + ")");
    }
    catalogue.entries_.push_back(std::move(entry));
  }
  if (!have_header) {
    return InvalidArgument(file_name + ": no header line (symbol,digits,contract_size,...)");
  }
  return catalogue;
}

void InstrumentCatalogue::Merge(const InstrumentCatalogue& overrides) {
  for (const CatalogueEntry& entry : overrides.entries_) {
    auto same = std::find_if(entries_.begin(), entries_.end(), [&](const CatalogueEntry& mine) {
      return mine.instrument.symbol == entry.instrument.symbol;
    });
    if (same != entries_.end()) {
      *same = entry;
    } else {
      entries_.push_back(entry);
    }
  }
  name_ = name_.empty() ? overrides.name_ : name_ + " + " + overrides.name_;
}

const CatalogueEntry* InstrumentCatalogue::Find(std::string_view symbol) const {
  const std::string key = NormalizeSymbol(symbol);
  for (const CatalogueEntry& entry : entries_) {
    if (entry.instrument.symbol == key) return &entry;
  }
  return nullptr;
}

}  // namespace aits
