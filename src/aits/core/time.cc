#include "aits/core/time.h"

#include <cstdio>

#include "aits/core/text.h"

namespace aits {

CivilTime ToCivil(Timestamp t) {
  int64_t days = t.ns / kNanosPerDay;
  int64_t rem = t.ns % kNanosPerDay;
  if (rem < 0) {
    rem += kNanosPerDay;
    --days;
  }
  // Inverse of DaysFromCivil (Hinnant's civil_from_days).
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  CivilTime civil;
  civil.year = static_cast<int>(y + (m <= 2));
  civil.month = static_cast<int>(m);
  civil.day = static_cast<int>(d);
  const int64_t secs = rem / kNanosPerSecond;
  civil.nanos = rem % kNanosPerSecond;
  civil.hour = static_cast<int>(secs / 3600);
  civil.minute = static_cast<int>(secs / 60 % 60);
  civil.second = static_cast<int>(secs % 60);
  civil.weekday = static_cast<int>(((days % 7) + 11) % 7);  // day 0 was a Thursday (4)
  return civil;
}

std::string FormatIso8601(Timestamp t) {
  const CivilTime c = ToCivil(t);
  char buf[48];
  int len = std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d", c.year, c.month, c.day,
                          c.hour, c.minute, c.second);
  if (c.nanos != 0) {
    if (c.nanos % 1'000'000 == 0) {
      len += std::snprintf(buf + len, sizeof(buf) - static_cast<size_t>(len), ".%03lld",
                           static_cast<long long>(c.nanos / 1'000'000));
    } else if (c.nanos % 1'000 == 0) {
      len += std::snprintf(buf + len, sizeof(buf) - static_cast<size_t>(len), ".%06lld",
                           static_cast<long long>(c.nanos / 1'000));
    } else {
      len += std::snprintf(buf + len, sizeof(buf) - static_cast<size_t>(len), ".%09lld",
                           static_cast<long long>(c.nanos));
    }
  }
  std::snprintf(buf + len, sizeof(buf) - static_cast<size_t>(len), "Z");
  return buf;
}

std::string FormatDateTime(Timestamp t) {
  const CivilTime c = ToCivil(t);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d", c.year, c.month, c.day, c.hour,
                c.minute, c.second);
  return buf;
}

namespace {

// Reads exactly `width` digits at `pos`.
bool Digits(std::string_view text, size_t pos, size_t width, int* out) {
  if (pos + width > text.size()) return false;
  int value = 0;
  for (size_t idx = pos; idx < pos + width; ++idx) {
    const char ch = text[idx];
    if (ch < '0' || ch > '9') return false;
    value = value * 10 + (ch - '0');
  }
  *out = value;
  return true;
}

bool IsLeap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int DaysInMonth(int year, int month) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeap(year) ? 29 : kDays[month - 1];
}

}  // namespace

std::optional<Timestamp> ParseUtcTime(std::string_view text) {
  text = Trim(text);
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  int64_t nanos = 0;
  if (!Digits(text, 0, 4, &year) || text.size() < 10 || text[4] != '-' ||
      !Digits(text, 5, 2, &month) || text[7] != '-' || !Digits(text, 8, 2, &day)) {
    return std::nullopt;
  }
  size_t pos = 10;
  if (pos < text.size()) {
    if (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ') return std::nullopt;
    ++pos;
    if (!Digits(text, pos, 2, &hour) || pos + 2 >= text.size() || text[pos + 2] != ':' ||
        !Digits(text, pos + 3, 2, &minute)) {
      return std::nullopt;
    }
    pos += 5;
    if (pos < text.size() && text[pos] == ':') {
      if (!Digits(text, pos + 1, 2, &second)) return std::nullopt;
      pos += 3;
      if (pos < text.size() && text[pos] == '.') {
        ++pos;
        int64_t scale = 100'000'000;
        size_t count = 0;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
          if (count < 9) nanos += (text[pos] - '0') * scale;
          scale /= 10;
          ++count;
          ++pos;
        }
        if (count == 0) return std::nullopt;
      }
    }
    const std::string_view zone = text.substr(pos);
    if (!zone.empty() && zone != "Z" && zone != "z" && zone != "+00:00" && zone != "+0000") {
      return std::nullopt;
    }
  }
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) || hour > 23 ||
      minute > 59 || second > 59) {
    return std::nullopt;
  }
  // Nanoseconds since 1970 in 64 bits span 1677-09-21 .. 2262-04-11: whole years inside it only,
  // so that FromCivil cannot overflow.
  if (year < 1678 || year > 2261) return std::nullopt;
  return FromCivil(year, month, day, hour, minute, second, nanos);
}

}  // namespace aits
