#include <array>

#include "aits/trading/decision_engine.h"
#include "aits/trading/text_util.h"

namespace aits::decision {
namespace {

using internal::Lower;
using internal::Trim;

constexpr std::array<std::string_view, 7> kDayNames = {"mon", "tue", "wed", "thu",
                                                       "fri", "sat", "sun"};
constexpr int kMinutesPerDay = 24 * 60;

int DayIndex(std::string_view name) {
  const std::string lower = Lower(Trim(name));
  for (size_t idx = 0; idx < kDayNames.size(); ++idx) {
    // Accept "mon" and "monday" style names.
    if (lower.size() >= 3 && lower.compare(0, 3, kDayNames[idx]) == 0) {
      static constexpr std::array<std::string_view, 7> kFull = {
          "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};
      if (lower.size() == 3 || lower == kFull[idx]) return static_cast<int>(idx);
    }
  }
  return -1;
}

// "HH:MM" in 00:00..24:00 -> minutes, or -1.
int ParseClock(std::string_view text) {
  text = Trim(text);
  if (text.size() != 5 || text[2] != ':') return -1;
  for (size_t idx : {0u, 1u, 3u, 4u}) {
    if (text[idx] < '0' || text[idx] > '9') return -1;
  }
  const int hours = (text[0] - '0') * 10 + (text[1] - '0');
  const int minutes = (text[3] - '0') * 10 + (text[4] - '0');
  if (minutes > 59 || hours > 24 || (hours == 24 && minutes != 0)) return -1;
  return hours * 60 + minutes;
}

Status Bad(std::string_view what, std::string_view part, std::string_view text) {
  return InvalidArgument("sessions: " + std::string(what) + " '" + std::string(part) + "' in '" +
                         std::string(text) + "'");
}

}  // namespace

Result<SessionHours> SessionHours::Parse(std::string_view text) {
  SessionHours hours;
  hours.text_ = std::string(Trim(text));
  if (hours.text_.empty()) return hours;
  std::string_view rest = hours.text_;
  while (true) {
    const size_t semi = rest.find(';');
    const std::string_view part = Trim(rest.substr(0, semi));
    if (part.empty()) return Bad("empty window", part, text);
    // "<days> <HH:MM>-<HH:MM>": the days are everything before the last space.
    const size_t space = part.find_last_of(" \t");
    if (space == std::string_view::npos) return Bad("expected 'days HH:MM-HH:MM', got", part, text);
    const std::string_view days_text = Trim(part.substr(0, space));
    const std::string_view times_text = Trim(part.substr(space + 1));
    Window window;
    // Days: a comma list of single days or ranges ("mon-fri", "sun-thu", "mon,wed,fri-sat").
    std::string_view days_rest = days_text;
    while (true) {
      const size_t comma = days_rest.find(',');
      const std::string_view item = Trim(days_rest.substr(0, comma));
      const size_t dash = item.find('-');
      const int first = DayIndex(item.substr(0, dash));
      if (first < 0) return Bad("unknown day", item.substr(0, dash), text);
      int last = first;
      if (dash != std::string_view::npos) {
        last = DayIndex(item.substr(dash + 1));
        if (last < 0) return Bad("unknown day", item.substr(dash + 1), text);
      }
      // A range may wrap the week: "sun-thu" is Sunday, Monday, ..., Thursday.
      for (int day = first;; day = (day + 1) % 7) {
        window.days = static_cast<uint8_t>(window.days | (1u << day));
        if (day == last) break;
      }
      if (comma == std::string_view::npos) break;
      days_rest = days_rest.substr(comma + 1);
    }
    const size_t dash = times_text.find('-');
    if (dash == std::string_view::npos) return Bad("expected HH:MM-HH:MM, got", times_text, text);
    window.start_minute = ParseClock(times_text.substr(0, dash));
    window.end_minute = ParseClock(times_text.substr(dash + 1));
    if (window.start_minute < 0 || window.start_minute >= kMinutesPerDay) {
      return Bad("bad start time (00:00..23:59)", times_text.substr(0, dash), text);
    }
    if (window.end_minute < 0) {
      return Bad("bad end time (00:00..24:00)", times_text.substr(dash + 1), text);
    }
    if (window.end_minute == window.start_minute) {
      return Bad("empty window (use 00:00-24:00 for a whole day)", part, text);
    }
    hours.windows_.push_back(window);
    if (semi == std::string_view::npos) break;
    rest = rest.substr(semi + 1);
  }
  return hours;
}

bool SessionHours::IsOpen(Timestamp t) const {
  if (windows_.empty()) return true;
  int64_t days = t.ns / kNanosPerDay;
  int64_t rem = t.ns % kNanosPerDay;
  if (rem < 0) {
    rem += kNanosPerDay;
    --days;
  }
  // 1970-01-01 was a Thursday: Monday-based index 3.
  const int day = static_cast<int>(((days % 7) + 7 + 3) % 7);
  const int previous = (day + 6) % 7;
  const int minute = static_cast<int>(rem / (60 * kNanosPerSecond));
  for (const Window& window : windows_) {
    if (window.end_minute > window.start_minute) {
      if ((window.days >> day & 1u) && minute >= window.start_minute &&
          minute < window.end_minute) {
        return true;
      }
    } else {
      // Wraps midnight: the evening part on a start day, the morning part on the day after.
      if ((window.days >> day & 1u) && minute >= window.start_minute) return true;
      if ((window.days >> previous & 1u) && minute < window.end_minute) return true;
    }
  }
  return false;
}

}  // namespace aits::decision
