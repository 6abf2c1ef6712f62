#include "aits/core/time.h"

#include <gtest/gtest.h>

#include "aits/core/clock.h"

namespace aits {
namespace {

TEST(TimeTest, CivilRoundTrip) {
  const Timestamp t = FromCivil(2012, 2, 29, 23, 59, 58, 123'000'000);
  const CivilTime c = ToCivil(t);
  EXPECT_EQ(c.year, 2012);
  EXPECT_EQ(c.month, 2);
  EXPECT_EQ(c.day, 29);
  EXPECT_EQ(c.hour, 23);
  EXPECT_EQ(c.minute, 59);
  EXPECT_EQ(c.second, 58);
  EXPECT_EQ(c.nanos, 123'000'000);
  EXPECT_EQ(c.weekday, 3);  // a Wednesday
  EXPECT_EQ(FormatIso8601(t), "2012-02-29T23:59:58.123Z");
  EXPECT_EQ(FormatDateTime(t), "2012-02-29 23:59:58");
}

TEST(TimeTest, KnownEpochValues) {
  EXPECT_EQ(FromCivil(1970, 1, 1).ns, 0);
  EXPECT_EQ(FromCivil(2020, 1, 1).ns, 1'577'836'800LL * kNanosPerSecond);
  EXPECT_EQ(FormatIso8601(Timestamp{-1}), "1969-12-31T23:59:59.999999999Z");
  EXPECT_EQ(FloorToDay(Timestamp{-1}).ns, -kNanosPerDay);
  EXPECT_EQ(FloorToDay(FromCivil(2020, 1, 1, 17, 0, 0)), FromCivil(2020, 1, 1));
}

TEST(ClockTest, SimulatedClockNeverGoesBackwards) {
  SimulatedClock clock;
  clock.AdvanceTo(Timestamp{100});
  clock.AdvanceTo(Timestamp{50});
  EXPECT_EQ(clock.Now().ns, 100);
  WallClock wall;
  EXPECT_GT(wall.Now().ns, FromCivil(2020, 1, 1).ns);
}

}  // namespace
}  // namespace aits

namespace aits {
namespace {

TEST(ParseUtcTimeTest, AcceptsTheWrittenForms) {
  const Timestamp minute = FromCivil(2024, 3, 8, 13, 30);
  EXPECT_EQ(ParseUtcTime("2024-03-08"), FromCivil(2024, 3, 8));
  EXPECT_EQ(ParseUtcTime("2024-03-08T13:30"), minute);
  EXPECT_EQ(ParseUtcTime("2024-03-08 13:30:00"), minute);
  EXPECT_EQ(ParseUtcTime(" 2024-03-08t13:30:00Z "), minute);
  EXPECT_EQ(ParseUtcTime("2024-03-08T13:30:00+00:00"), minute);
  EXPECT_EQ(ParseUtcTime("2024-03-08T13:30:00.250"), minute + Duration::Millis(250));
  EXPECT_EQ(ParseUtcTime("2024-02-29"), FromCivil(2024, 2, 29));
  EXPECT_EQ(ParseUtcTime("1678-01-01"), FromCivil(1678, 1, 1));
  EXPECT_EQ(ParseUtcTime("2261-12-31T23:59:59"), FromCivil(2261, 12, 31, 23, 59, 59));
  // What FormatIso8601 writes reads back.
  const Timestamp odd = FromCivil(2012, 2, 24, 14, 0, 5) + Duration::Nanos(123'456'789);
  EXPECT_EQ(ParseUtcTime(FormatIso8601(odd)), odd);
}

TEST(ParseUtcTimeTest, RefusesImpossibleOrForeignTimes) {
  for (const char* text :
       {"", "2024-3-8", "2023-02-29", "2024-02-30", "2024-13-01", "2024-03-08T24:00",
        "2024-03-08T13:60", "2024-03-08T13:30:61", "2024-03-08T13:30:00+01:00",
        "2024-03-08T13:30:00.", "2024/03/08", "2024-03-08X13:30", "yesterday",
        // Outside what 64-bit nanoseconds since 1970 hold (UBSan: no overflow on the way).
        "0212-02-24", "1677-12-31", "2262-01-01", "9999-12-31"}) {
    EXPECT_FALSE(ParseUtcTime(text).has_value()) << text;
  }
}

}  // namespace
}  // namespace aits
