#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <sstream>

#include "aits/trading/decision_engine.h"
#include "aits/trading/text_util.h"

namespace aits::decision {
namespace {

using internal::Lower;
using internal::Trim;

// The longest window a row may ask for; beyond it a typo is more likely than intent.
constexpr int64_t kMaxWindowMinutes = 7 * 24 * 60;

enum Column : int { kTime, kCurrency, kImpact, kTitle, kBefore, kAfter, kColumnCount };
constexpr std::array<std::string_view, kColumnCount> kColumnNames = {
    "time", "currency", "impact", "title", "before_minutes", "after_minutes"};

// Splits one CSV line; fields may be double-quoted with "" for a quote. False on an unterminated
// quote.
bool SplitCsv(std::string_view line, std::vector<std::string>* fields) {
  fields->clear();
  std::string field;
  bool quoted = false;
  bool was_quoted = false;
  for (size_t idx = 0; idx < line.size(); ++idx) {
    const char ch = line[idx];
    if (quoted) {
      if (ch == '"') {
        if (idx + 1 < line.size() && line[idx + 1] == '"') {
          field += '"';
          ++idx;
        } else {
          quoted = false;
        }
      } else {
        field += ch;
      }
    } else if (ch == '"' && Trim(field).empty()) {
      field.clear();
      quoted = true;
      was_quoted = true;
    } else if (ch == ',') {
      fields->push_back(was_quoted ? field : std::string(Trim(field)));
      field.clear();
      was_quoted = false;
    } else {
      field += ch;
    }
  }
  if (quoted) return false;
  fields->push_back(was_quoted ? field : std::string(Trim(field)));
  return true;
}

Status FieldError(std::string_view origin, int line, std::string_view field, std::string_view value,
                  std::string_view why = {}) {
  std::string message = std::string(origin) + ":" + std::to_string(line) + ": field " +
                        std::string(field) + ": bad value '" + std::string(value) + "'";
  if (!why.empty()) message += " (" + std::string(why) + ")";
  return InvalidArgument(std::move(message));
}

Timestamp WindowStart(const BlackoutEvent& event) { return event.at - event.before; }

}  // namespace

Result<BlackoutCalendar> BlackoutCalendar::Load(const std::string& path, Duration default_before,
                                                Duration default_after) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path + ": cannot open calendar file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return IoError(path + ": read error");
  return Parse(text.str(), path, default_before, default_after);
}

Result<BlackoutCalendar> BlackoutCalendar::Parse(std::string_view text, std::string_view origin,
                                                 Duration default_before, Duration default_after) {
  if (default_before.ns < 0 || default_after.ns < 0) {
    return InvalidArgument(std::string(origin) + ": default blackout window must not be negative");
  }
  BlackoutCalendar calendar;
  calendar.origin_ = std::string(origin);
  std::array<int, kColumnCount> index;
  index.fill(-1);
  bool have_header = false;
  std::vector<std::string> fields;
  int line_number = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t newline = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, newline == std::string_view::npos ? newline : newline - pos);
    pos = newline == std::string_view::npos ? text.size() : newline + 1;
    ++line_number;
    line = Trim(line);
    if (line.empty() || line.front() == '#') continue;
    const std::string where = std::string(origin) + ":" + std::to_string(line_number) + ": ";
    if (!SplitCsv(line, &fields)) return InvalidArgument(where + "unterminated quote");
    if (!have_header) {
      for (size_t col = 0; col < fields.size(); ++col) {
        const std::string name = Lower(fields[col]);
        const auto found = std::find(kColumnNames.begin(), kColumnNames.end(), name);
        if (found == kColumnNames.end()) {
          return InvalidArgument(where + "header: unknown column '" + fields[col] +
                                 "' (expected time,currency,impact,title[,before_minutes,"
                                 "after_minutes])");
        }
        index[static_cast<size_t>(found - kColumnNames.begin())] = static_cast<int>(col);
      }
      if (index[kTime] < 0 || index[kCurrency] < 0) {
        return InvalidArgument(where + "header: needs the columns time and currency, got '" +
                               std::string(line) + "'");
      }
      have_header = true;
      continue;
    }
    auto get = [&](Column column) -> std::string_view {
      const int col = index[column];
      return col >= 0 && static_cast<size_t>(col) < fields.size()
                 ? std::string_view(fields[static_cast<size_t>(col)])
                 : std::string_view();
    };
    BlackoutEvent event;
    const auto at = internal::ParseUtcTime(get(kTime));
    if (!at) return FieldError(origin, line_number, "time", get(kTime));
    event.at = *at;
    const std::string_view currency = get(kCurrency);
    bool currency_ok = currency == "*";
    if (!currency_ok && currency.size() == 3) {
      currency_ok = std::all_of(currency.begin(), currency.end(), [](char ch) {
        return std::isalpha(static_cast<unsigned char>(ch));
      });
    }
    if (!currency_ok) {
      return FieldError(origin, line_number, "currency", currency, "three letters or '*'");
    }
    event.currency = currency == "*" ? "*" : Currency::Of(currency).view();
    event.impact = Lower(get(kImpact));
    event.title = std::string(get(kTitle));
    for (const Column column : {kBefore, kAfter}) {
      const std::string_view value = get(column);
      Duration* target = column == kBefore ? &event.before : &event.after;
      if (value.empty()) {
        *target = column == kBefore ? default_before : default_after;
        (column == kBefore ? event.default_before : event.default_after) = true;
        continue;
      }
      const auto minutes = internal::ParseInt(value);
      if (!minutes || *minutes < 0 || *minutes > kMaxWindowMinutes) {
        return FieldError(origin, line_number, kColumnNames[column], value,
                          "whole minutes in 0..10080");
      }
      *target = Duration::Minutes(*minutes);
    }
    calendar.events_.push_back(std::move(event));
  }
  if (!have_header) {
    return InvalidArgument(std::string(origin) +
                           ":1: missing header time,currency,impact,title[,before_minutes,"
                           "after_minutes]");
  }
  calendar.SortAndMeasure();
  return calendar;
}

void BlackoutCalendar::SetDefaultWindow(Duration before, Duration after) {
  for (BlackoutEvent& event : events_) {
    if (event.default_before) event.before = before;
    if (event.default_after) event.after = after;
  }
  SortAndMeasure();
}

void BlackoutCalendar::SortAndMeasure() {
  std::stable_sort(events_.begin(), events_.end(),
                   [](const BlackoutEvent& a, const BlackoutEvent& b) {
                     return WindowStart(a) < WindowStart(b);
                   });
  max_window_ = Duration{};
  for (const BlackoutEvent& event : events_) {
    max_window_ = std::max(max_window_, event.before + event.after);
  }
}

const BlackoutEvent* BlackoutCalendar::Active(Timestamp t, const Instrument& instrument) const {
  // Windows that cover t start in [t - max_window_, t]: find the last start <= t and walk back
  // until the starts are too early to reach t.
  auto it = std::upper_bound(
      events_.begin(), events_.end(), t,
      [](Timestamp time, const BlackoutEvent& event) { return time < WindowStart(event); });
  const Timestamp earliest = t - max_window_;
  const std::string_view base = instrument.base.view();
  const std::string_view quote = instrument.quote.view();
  while (it != events_.begin()) {
    --it;
    if (WindowStart(*it) < earliest) break;
    if (t > it->at + it->after) continue;
    const std::string_view currency = it->currency;
    if (currency == "*" || (!base.empty() && currency == base) ||
        (!quote.empty() && currency == quote)) {
      return &*it;
    }
  }
  return nullptr;
}

}  // namespace aits::decision
