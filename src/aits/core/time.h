// Time: int64 nanoseconds since the Unix epoch, UTC. Strong types so that a timestamp is never
// mistaken for a duration or a price.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace aits {

struct Duration {
  int64_t ns = 0;

  static constexpr Duration Nanos(int64_t n) { return {n}; }
  static constexpr Duration Micros(int64_t n) { return {n * 1'000}; }
  static constexpr Duration Millis(int64_t n) { return {n * 1'000'000}; }
  static constexpr Duration Seconds(int64_t n) { return {n * 1'000'000'000}; }
  static constexpr Duration Minutes(int64_t n) { return {n * 60'000'000'000}; }
  static constexpr Duration Hours(int64_t n) { return {n * 3'600'000'000'000}; }
  static constexpr Duration Days(int64_t n) { return {n * 86'400'000'000'000}; }

  double SecondsF() const { return static_cast<double>(ns) / 1e9; }
  friend constexpr auto operator<=>(Duration, Duration) = default;
  friend constexpr Duration operator+(Duration a, Duration b) { return {a.ns + b.ns}; }
  friend constexpr Duration operator-(Duration a, Duration b) { return {a.ns - b.ns}; }
};

struct Timestamp {
  int64_t ns = 0;

  static constexpr Timestamp FromNanos(int64_t n) { return {n}; }
  friend constexpr auto operator<=>(Timestamp, Timestamp) = default;
  friend constexpr Timestamp operator+(Timestamp t, Duration d) { return {t.ns + d.ns}; }
  friend constexpr Timestamp operator-(Timestamp t, Duration d) { return {t.ns - d.ns}; }
  friend constexpr Duration operator-(Timestamp a, Timestamp b) { return {a.ns - b.ns}; }
};

inline constexpr int64_t kNanosPerSecond = 1'000'000'000;
inline constexpr int64_t kNanosPerDay = 86'400 * kNanosPerSecond;

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
constexpr int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) {
  year -= month <= 2;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(year - era * 400);
  const unsigned doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct CivilTime {
  int year = 1970;
  int month = 1;
  int day = 1;
  int hour = 0;
  int minute = 0;
  int second = 0;
  int64_t nanos = 0;
  int weekday = 4;  // 0 = Sunday; 1970-01-01 was a Thursday
};

CivilTime ToCivil(Timestamp t);

// Builds a timestamp from civil UTC fields. No range checks beyond what the caller did.
constexpr Timestamp FromCivil(int year, int month, int day, int hour = 0, int minute = 0,
                              int second = 0, int64_t nanos = 0) {
  return Timestamp{
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * kNanosPerDay +
      (static_cast<int64_t>(hour) * 3600 + minute * 60 + second) * kNanosPerSecond + nanos};
}

// "2012-02-01T00:00:00.123456789Z" with as many fractional digits as are non-zero in groups of
// three (none, ms, us or ns).
std::string FormatIso8601(Timestamp t);
// The project's one parser of written UTC times (settings, calendars, flags, feature files):
// "2024-03-08", "2024-03-08T13:30", "2024-03-08 13:30:00", "2024-03-08T13:30:00.250Z", with an
// optional "Z" or "+00:00"/"+0000" and surrounding blanks. Range-checked (month, day of month with
// leap years, hour, minute, second); nullopt for anything else. Data files have their own fast
// parsers (data/internal/text_parse.h).
std::optional<Timestamp> ParseUtcTime(std::string_view text);
// "2012-02-01 00:00:00" (seconds resolution, for tables and CSV).
std::string FormatDateTime(Timestamp t);

// Start of the UTC day that holds t.
constexpr Timestamp FloorToDay(Timestamp t) {
  int64_t days = t.ns / kNanosPerDay;
  if (t.ns < 0 && t.ns % kNanosPerDay != 0) --days;
  return Timestamp{days * kNanosPerDay};
}

}  // namespace aits
