#include "aits/core/time.h"

#include <cstdio>

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

}  // namespace aits
