// Hand-written parsers for the hot path of the text readers: field splitting, timestamps and
// decimal numbers straight into fixed-point raw int64. No allocation, no locale, no sscanf.
// Internal to aits/data; nothing outside the module includes this.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "aits/core/fixed_point.h"
#include "aits/core/time.h"

namespace aits::data::internal {

enum class ParseCode : uint8_t { kOk, kMalformed, kNonFinite };

inline bool IsDigit(char ch) { return static_cast<unsigned>(ch - '0') < 10u; }

// Parses exactly `count` digits at p; false if any is not a digit.
inline bool ParseDigits(const char* p, int count, int* out) {
  int value = 0;
  for (int idx = 0; idx < count; ++idx) {
    if (!IsDigit(p[idx])) return false;
    value = value * 10 + (p[idx] - '0');
  }
  *out = value;
  return true;
}

inline int DaysInMonth(int year, int month) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2) {
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return leap ? 29 : 28;
  }
  return kDays[month - 1];
}

inline bool ValidDate(int year, int month, int day) {
  return year >= 1900 && year <= 2200 && month >= 1 && month <= 12 && day >= 1 &&
         day <= DaysInMonth(year, month);
}

inline int64_t DateNanos(int year, int month, int day) {
  return DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) *
         kNanosPerDay;
}

// Fractional seconds: up to 9 digits are kept, more are ignored. Returns chars consumed.
inline size_t ParseFraction(std::string_view text, size_t pos, int64_t* nanos) {
  static constexpr int64_t kScale[10] = {1'000'000'000, 100'000'000, 10'000'000, 1'000'000, 100'000,
                                         10'000,        1'000,       100,        10,        1};
  int64_t value = 0;
  int used = 0;
  size_t start = pos;
  while (pos < text.size() && IsDigit(text[pos])) {
    if (used < 9) {
      value = value * 10 + (text[pos] - '0');
      ++used;
    }
    ++pos;
  }
  *nanos = value * kScale[used];
  return pos - start;
}

// "hh:mm", "hh:mm:ss", "hh:mm:ss.fff..." -> nanoseconds into the day. Returns chars consumed or
// 0 when malformed.
inline size_t ParseClock(std::string_view text, size_t pos, int64_t* out) {
  int hour = 0, minute = 0, second = 0;
  if (pos + 5 > text.size() || !ParseDigits(text.data() + pos, 2, &hour) || text[pos + 2] != ':' ||
      !ParseDigits(text.data() + pos + 3, 2, &minute)) {
    return 0;
  }
  size_t end = pos + 5;
  int64_t nanos = 0;
  if (end < text.size() && text[end] == ':') {
    if (end + 3 > text.size() || !ParseDigits(text.data() + end + 1, 2, &second)) return 0;
    end += 3;
    if (end < text.size() && (text[end] == '.' || text[end] == ',')) {
      const size_t used = ParseFraction(text, end + 1, &nanos);
      if (used == 0) return 0;
      end += 1 + used;
    }
  }
  if (hour > 23 || minute > 59 || second > 59) return 0;
  *out = (static_cast<int64_t>(hour) * 3600 + minute * 60 + second) * kNanosPerSecond + nanos;
  return end - pos;
}

// A time-of-day field on its own (the MT5 <TIME> column).
inline bool ParseTimeOfDay(std::string_view text, int64_t* out) {
  const size_t used = ParseClock(text, 0, out);
  return used != 0 && used == text.size();
}

// All-digit timestamps: YYYYMMDD, YYYYMMDDhhmm, YYYYMMDDhhmmss when they form a valid date (and
// rejected when they start with a year 1900..2199 but are not a valid date), otherwise epoch
// seconds / ms / us / ns chosen by magnitude (seconds may carry a fraction).
inline bool ParseNumericTimestamp(std::string_view text, int64_t* out) {
  size_t pos = 0;
  uint64_t value = 0;
  while (pos < text.size() && IsDigit(text[pos])) {
    if (pos >= 19) return false;
    value = value * 10 + static_cast<uint64_t>(text[pos] - '0');
    ++pos;
  }
  const size_t digits = pos;
  if (digits == 0) return false;
  if (pos == text.size() && (digits == 8 || digits == 12 || digits == 14)) {
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    ParseDigits(text.data(), 4, &year);
    ParseDigits(text.data() + 4, 2, &month);
    ParseDigits(text.data() + 6, 2, &day);
    if (digits >= 12) {
      ParseDigits(text.data() + 8, 2, &hour);
      ParseDigits(text.data() + 10, 2, &minute);
    }
    if (digits == 14) ParseDigits(text.data() + 12, 2, &second);
    if (ValidDate(year, month, day) && hour <= 23 && minute <= 59 && second <= 59) {
      *out = DateNanos(year, month, day) +
             (static_cast<int64_t>(hour) * 3600 + minute * 60 + second) * kNanosPerSecond;
      return true;
    }
    // Shaped like a date of 1900..2199 but not a real one (20230230): a bad date, not an epoch
    // number (as epochs these would be 1970s instants that no market file holds).
    if (year >= 1900 && year <= 2199) return false;
  }
  if (value > static_cast<uint64_t>(INT64_MAX)) return false;
  const int64_t number = static_cast<int64_t>(value);
  if (number < 100'000'000'000LL) {  // seconds (until year 5138)
    int64_t nanos = 0;
    if (pos < text.size() && text[pos] == '.') {
      pos += 1 + ParseFraction(text, pos + 1, &nanos);
    }
    if (pos != text.size() || number > INT64_MAX / kNanosPerSecond - 1) return false;
    *out = number * kNanosPerSecond + nanos;
    return true;
  }
  if (pos != text.size()) return false;
  // Past 2262 the nanoseconds no longer fit in int64: such values are malformed.
  if (number < 100'000'000'000'000LL) {
    if (number > INT64_MAX / 1'000'000) return false;
    *out = number * 1'000'000;
  } else if (number < 100'000'000'000'000'000LL) {
    if (number > INT64_MAX / 1'000) return false;
    *out = number * 1'000;
  } else {
    *out = number;
  }
  return true;
}

// Every timestamp form the readers accept (see source.h and docs/data-formats.md):
//   "YYYY-MM-DD[( |T)hh:mm[:ss[.f]]][Z|+hh:mm|-hh:mm|+hhmm|+hh]" (also '.' or '/' in the date),
//   "YYYYMMDD hhmmss[fff]" (HistData), and all-digit forms (ParseNumericTimestamp).
// The result is UTC: an offset is subtracted.
inline bool ParseTimestamp(std::string_view text, int64_t* out) {
  const size_t size = text.size();
  if (size >= 10 && (text[4] == '-' || text[4] == '.' || text[4] == '/') && text[7] == text[4]) {
    int year = 0, month = 0, day = 0;
    if (!ParseDigits(text.data(), 4, &year) || !ParseDigits(text.data() + 5, 2, &month) ||
        !ParseDigits(text.data() + 8, 2, &day) || !ValidDate(year, month, day)) {
      return false;
    }
    int64_t ns = DateNanos(year, month, day);
    if (size == 10) {
      *out = ns;
      return true;
    }
    if (text[10] != ' ' && text[10] != 'T') return false;
    int64_t clock = 0;
    const size_t used = ParseClock(text, 11, &clock);
    if (used == 0) return false;
    ns += clock;
    size_t pos = 11 + used;
    if (pos < size) {
      const char zone = text[pos];
      if (zone == 'Z' || zone == 'z') {
        ++pos;
      } else if (zone == '+' || zone == '-') {
        int off_hour = 0, off_min = 0;
        if (pos + 3 > size || !ParseDigits(text.data() + pos + 1, 2, &off_hour)) return false;
        pos += 3;
        if (pos < size && text[pos] == ':') ++pos;
        if (pos < size) {
          if (pos + 2 > size || !ParseDigits(text.data() + pos, 2, &off_min)) return false;
          pos += 2;
        }
        if (off_hour > 23 || off_min > 59) return false;
        const int64_t offset =
            (static_cast<int64_t>(off_hour) * 3600 + off_min * 60) * kNanosPerSecond;
        ns += zone == '+' ? -offset : offset;
      }
      if (pos != size) return false;
    }
    *out = ns;
    return true;
  }
  if (size >= 15 && text[8] == ' ') {
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!ParseDigits(text.data(), 4, &year) || !ParseDigits(text.data() + 4, 2, &month) ||
        !ParseDigits(text.data() + 6, 2, &day) || !ValidDate(year, month, day) ||
        !ParseDigits(text.data() + 9, 2, &hour) || !ParseDigits(text.data() + 11, 2, &minute) ||
        !ParseDigits(text.data() + 13, 2, &second) || hour > 23 || minute > 59 || second > 59) {
      return false;
    }
    int64_t nanos = 0;
    if (ParseFraction(text, 15, &nanos) != size - 15) return false;
    *out = DateNanos(year, month, day) +
           (static_cast<int64_t>(hour) * 3600 + minute * 60 + second) * kNanosPerSecond + nanos;
    return true;
  }
  return ParseNumericTimestamp(text, out);
}

// A date on its own: "YYYY.MM.DD", "YYYY-MM-DD", "YYYY/MM/DD" or "YYYYMMDD".
inline bool ParseDate(std::string_view text, int64_t* out) {
  int year = 0, month = 0, day = 0;
  if (text.size() == 10 && (text[4] == '-' || text[4] == '.' || text[4] == '/') &&
      text[7] == text[4]) {
    if (!ParseDigits(text.data(), 4, &year) || !ParseDigits(text.data() + 5, 2, &month) ||
        !ParseDigits(text.data() + 8, 2, &day)) {
      return false;
    }
  } else if (text.size() == 8) {
    if (!ParseDigits(text.data(), 4, &year) || !ParseDigits(text.data() + 4, 2, &month) ||
        !ParseDigits(text.data() + 6, 2, &day)) {
      return false;
    }
  } else {
    return false;
  }
  if (!ValidDate(year, month, day)) return false;
  *out = DateNanos(year, month, day);
  return true;
}

using fixed_internal::LooksNonFinite;

// Decimal text -> count of 1e-9 units, then rounded (half away from zero) to `precision`
// decimals. At most 9 integer digits: prices stay below 1e9, so that bid + ask and every other
// sum of two prices fits in int64 downstream. Scientific notation takes the slow path; NaN/inf
// report kNonFinite.
inline ParseCode ParsePriceRaw(std::string_view text, int precision, int64_t* out) {
  static constexpr int64_t kScale[10] = {1'000'000'000, 100'000'000, 10'000'000, 1'000'000, 100'000,
                                         10'000,        1'000,       100,        10,        1};
  const char* p = text.data();
  const char* end = p + text.size();
  bool negative = false;
  if (p != end && (*p == '-' || *p == '+')) {
    negative = *p == '-';
    ++p;
  }
  int64_t integer = 0;
  const char* int_start = p;
  while (p != end && IsDigit(*p)) {
    integer = integer * 10 + (*p - '0');
    ++p;
    if (p - int_start > 9) return ParseCode::kMalformed;
  }
  const bool has_int = p != int_start;
  int64_t fraction = 0;
  int frac_digits = 0;
  bool round_up = false;
  bool has_frac = false;
  if (p != end && *p == '.') {
    ++p;
    while (p != end && IsDigit(*p)) {
      if (frac_digits < 9) {
        fraction = fraction * 10 + (*p - '0');
        ++frac_digits;
      } else if (frac_digits == 9) {
        round_up = *p >= '5';
        ++frac_digits;
      }
      has_frac = true;
      ++p;
    }
  }
  if (p != end || (!has_int && !has_frac)) {
    if (LooksNonFinite(text)) return ParseCode::kNonFinite;
    for (char ch : text) {
      if (ch == 'e' || ch == 'E') {
        auto slow = fixed_internal::ParseScaled(text, kFixedDigits);
        if (!slow.ok()) return ParseCode::kMalformed;
        *out = fixed_internal::RoundToPrecision(*slow, precision);
        return ParseCode::kOk;
      }
    }
    return ParseCode::kMalformed;
  }
  const int kept = frac_digits < 9 ? frac_digits : 9;
  int64_t raw = integer * kFixedScale + fraction * kScale[kept] + (round_up ? 1 : 0);
  if (frac_digits > precision) raw = fixed_internal::RoundToPrecision(raw, precision);
  *out = negative ? -raw : raw;
  return ParseCode::kOk;
}

// Decimal text -> double (volumes). Exactness is not needed: volumes are informational.
inline ParseCode ParseVolume(std::string_view text, double* out) {
  static constexpr double kInvPow10[20] = {1e0,   1e-1,  1e-2,  1e-3,  1e-4,  1e-5,  1e-6,
                                           1e-7,  1e-8,  1e-9,  1e-10, 1e-11, 1e-12, 1e-13,
                                           1e-14, 1e-15, 1e-16, 1e-17, 1e-18, 1e-19};
  if (text.empty()) {
    *out = 0;
    return ParseCode::kOk;
  }
  const char* p = text.data();
  const char* end = p + text.size();
  bool negative = false;
  if (*p == '-' || *p == '+') {
    negative = *p == '-';
    ++p;
  }
  uint64_t mantissa = 0;
  int sig = 0;
  int frac_digits = 0;
  int dropped_int = 0;
  bool any = false;
  while (p != end && IsDigit(*p)) {
    if (sig < 19) {
      mantissa = mantissa * 10 + static_cast<uint64_t>(*p - '0');
      if (mantissa != 0) ++sig;
    } else {
      ++dropped_int;
    }
    any = true;
    ++p;
  }
  if (p != end && *p == '.') {
    ++p;
    while (p != end && IsDigit(*p)) {
      if (sig < 19 && frac_digits < 19) {
        mantissa = mantissa * 10 + static_cast<uint64_t>(*p - '0');
        if (mantissa != 0) ++sig;
        ++frac_digits;
      }
      any = true;
      ++p;
    }
  }
  if (p != end || !any) {
    if (LooksNonFinite(text)) return ParseCode::kNonFinite;
    char buf[64];
    if (text.size() >= sizeof(buf)) return ParseCode::kMalformed;
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    char* parse_end = nullptr;
    const double value = std::strtod(buf, &parse_end);
    if (parse_end != buf + text.size()) return ParseCode::kMalformed;
    if (value != value || value > 1e300 || value < -1e300) return ParseCode::kNonFinite;
    *out = value;
    return ParseCode::kOk;
  }
  double value = static_cast<double>(mantissa) * kInvPow10[frac_digits];
  for (int idx = 0; idx < dropped_int; ++idx) value *= 10;
  *out = negative ? -value : value;
  return ParseCode::kOk;
}

// Splits `line` on `delim` into at most `max_fields` views and returns the true field count.
// A field wrapped in double quotes loses them (a delimiter inside quotes is kept); spaces around
// a field are trimmed.
inline size_t SplitFields(std::string_view line, char delim, std::string_view* fields,
                          size_t max_fields) {
  const char* p = line.data();
  const char* end = p + line.size();
  size_t count = 0;
  while (true) {
    while (p != end && *p == ' ') ++p;
    const char* start = p;
    const char* stop;
    if (p != end && *p == '"') {
      ++start;
      const void* close = std::memchr(start, '"', static_cast<size_t>(end - start));
      stop = close ? static_cast<const char*>(close) : end;
      p = stop == end ? end : stop + 1;
      while (p != end && *p != delim) ++p;
    } else {
      while (p != end && *p != delim) ++p;
      stop = p;
      while (stop != start && stop[-1] == ' ') --stop;
    }
    if (count < max_fields)
      fields[count] = std::string_view(start, static_cast<size_t>(stop - start));
    ++count;
    if (p == end) break;
    ++p;  // the delimiter
  }
  return count;
}

}  // namespace aits::data::internal
