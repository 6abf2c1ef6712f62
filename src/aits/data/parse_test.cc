#include <gtest/gtest.h>

#include <string_view>

#include "aits/core/time.h"
#include "aits/data/internal/text_parse.h"

namespace aits::data::internal {
namespace {

int64_t Ts(std::string_view text) {
  int64_t out = -1;
  EXPECT_TRUE(ParseTimestamp(text, &out)) << text;
  return out;
}

bool Fails(std::string_view text) {
  int64_t out = 0;
  return !ParseTimestamp(text, &out);
}

TEST(ParseTimestampTest, IsoFormsAndOffsets) {
  const int64_t base = FromCivil(2013, 1, 1, 22, 0, 0, 295'000'000).ns;
  EXPECT_EQ(Ts("2013-01-01 22:00:00.295000+00:00"), base);
  EXPECT_EQ(Ts("2013-01-02 00:00:00.295+02:00"), base);
  EXPECT_EQ(Ts("2013-01-01 17:00:00.295-05:00"), base);
  EXPECT_EQ(Ts("2013-01-02T00:00:00.295+0200"), base);
  EXPECT_EQ(Ts("2012-02-01T00:00:00Z"), FromCivil(2012, 2, 1).ns);
  EXPECT_EQ(Ts("2012-02-01 00:00:00"), FromCivil(2012, 2, 1).ns);
  EXPECT_EQ(Ts("2012-02-01 13:45"), FromCivil(2012, 2, 1, 13, 45).ns);
  EXPECT_EQ(Ts("2020.01.02 00:00:00.123"), FromCivil(2020, 1, 2, 0, 0, 0, 123'000'000).ns);
  EXPECT_EQ(Ts("1995-01-03"), FromCivil(1995, 1, 3).ns);
  EXPECT_EQ(Ts("2020-01-01T00:00:00.123456789Z"), FromCivil(2020, 1, 1).ns + 123'456'789);
}

TEST(ParseTimestampTest, CompactAndEpochForms) {
  EXPECT_EQ(Ts("20200101 170000065"), FromCivil(2020, 1, 1, 17, 0, 0, 65'000'000).ns);
  EXPECT_EQ(Ts("20200101 170010"), FromCivil(2020, 1, 1, 17, 0, 10).ns);
  EXPECT_EQ(Ts("199706011928"), FromCivil(1997, 6, 1, 19, 28).ns);
  EXPECT_EQ(Ts("20200102"), FromCivil(2020, 1, 2).ns);
  EXPECT_EQ(Ts("20200102030405"), FromCivil(2020, 1, 2, 3, 4, 5).ns);
  const int64_t t = FromCivil(2020, 1, 2, 3, 4, 5).ns;
  EXPECT_EQ(Ts("1577934245"), t);
  EXPECT_EQ(Ts("1577934245.5"), t + 500'000'000);
  EXPECT_EQ(Ts("1577934245123"), t + 123'000'000);
  EXPECT_EQ(Ts("1577934245123456"), t + 123'456'000);
  EXPECT_EQ(Ts("1577934245123456789"), t + 123'456'789);
}

TEST(ParseTimestampTest, RejectsGarbage) {
  EXPECT_TRUE(Fails(""));
  EXPECT_TRUE(Fails("abc"));
  EXPECT_TRUE(Fails("2020-13-01"));
  EXPECT_TRUE(Fails("2021-02-29 00:00:00"));
  EXPECT_TRUE(Fails("2020-01-01 24:00:00"));
  EXPECT_TRUE(Fails("2020-01-01 10:61:00"));
  EXPECT_TRUE(Fails("2020-01-01 10:00:00 junk"));
  EXPECT_TRUE(Fails("2020-01-01X10:00:00"));
  EXPECT_TRUE(Fails("12345678901234567890"));
  EXPECT_TRUE(Fails("1577934245x"));
  EXPECT_TRUE(Fails("20200101857493"));  // epoch ms beyond 2262 overflows int64 ns
  int64_t out = 0;
  EXPECT_TRUE(ParseTimeOfDay("23:59:59.999", &out));
  EXPECT_EQ(out, 86'399'999'000'000);
  EXPECT_FALSE(ParseTimeOfDay("23:59:59x", &out));
  EXPECT_TRUE(ParseDate("2020.01.02", &out));
  EXPECT_EQ(out, FromCivil(2020, 1, 2).ns);
  EXPECT_FALSE(ParseDate("2020.02.30", &out));
}

TEST(ParsePriceTest, FixedPointAndRounding) {
  int64_t raw = 0;
  ASSERT_EQ(ParsePriceRaw("1.12120", 5, &raw), ParseCode::kOk);
  EXPECT_EQ(raw, 1'121'200'000);
  ASSERT_EQ(ParsePriceRaw("86.655", 3, &raw), ParseCode::kOk);
  EXPECT_EQ(raw, 86'655'000'000);
  ASSERT_EQ(ParsePriceRaw("2.179012", 5, &raw), ParseCode::kOk);  // rounds half away from zero
  EXPECT_EQ(raw, 2'179'010'000);
  ASSERT_EQ(ParsePriceRaw("2.179015", 5, &raw), ParseCode::kOk);
  EXPECT_EQ(raw, 2'179'020'000);
  ASSERT_EQ(ParsePriceRaw("-1.5", 5, &raw), ParseCode::kOk);
  EXPECT_EQ(raw, -1'500'000'000);
  ASSERT_EQ(ParsePriceRaw("25", 3, &raw), ParseCode::kOk);
  EXPECT_EQ(raw, 25'000'000'000);
  ASSERT_EQ(ParsePriceRaw(".5", 3, &raw), ParseCode::kOk);
  EXPECT_EQ(raw, 500'000'000);
  ASSERT_EQ(ParsePriceRaw("1.2e-1", 5, &raw), ParseCode::kOk);
  EXPECT_EQ(raw, 120'000'000);
  EXPECT_EQ(ParsePriceRaw("nan", 5, &raw), ParseCode::kNonFinite);
  EXPECT_EQ(ParsePriceRaw("-Inf", 5, &raw), ParseCode::kNonFinite);
  EXPECT_EQ(ParsePriceRaw("", 5, &raw), ParseCode::kMalformed);
  EXPECT_EQ(ParsePriceRaw("1.2.3", 5, &raw), ParseCode::kMalformed);
  EXPECT_EQ(ParsePriceRaw("abc", 5, &raw), ParseCode::kMalformed);
  EXPECT_EQ(ParsePriceRaw("-", 5, &raw), ParseCode::kMalformed);
  ASSERT_EQ(ParsePriceRaw("999999999.5", 5, &raw), ParseCode::kOk);
  EXPECT_EQ(raw, 999'999'999'500'000'000);
  EXPECT_EQ(ParsePriceRaw("1000000000", 5, &raw), ParseCode::kMalformed);  // prices < 1e9
}

TEST(ParseVolumeTest, Values) {
  double value = -1;
  ASSERT_EQ(ParseVolume("36301200", &value), ParseCode::kOk);
  EXPECT_EQ(value, 36301200.0);
  ASSERT_EQ(ParseVolume("1.5", &value), ParseCode::kOk);
  EXPECT_DOUBLE_EQ(value, 1.5);
  ASSERT_EQ(ParseVolume("-2", &value), ParseCode::kOk);
  EXPECT_EQ(value, -2.0);
  ASSERT_EQ(ParseVolume("", &value), ParseCode::kOk);
  EXPECT_EQ(value, 0.0);
  ASSERT_EQ(ParseVolume("1e3", &value), ParseCode::kOk);
  EXPECT_EQ(value, 1000.0);
  EXPECT_EQ(ParseVolume("NaN", &value), ParseCode::kNonFinite);
  EXPECT_EQ(ParseVolume("x1", &value), ParseCode::kMalformed);
}

TEST(SplitFieldsTest, QuotesSpacesAndCounts) {
  std::string_view fields[8];
  ASSERT_EQ(SplitFields(R"("1996-04-01 00:00:00",1.193)", ',', fields, 8), 2u);
  EXPECT_EQ(fields[0], "1996-04-01 00:00:00");
  EXPECT_EQ(fields[1], "1.193");
  ASSERT_EQ(SplitFields(R"("a,b", c ,)", ',', fields, 8), 3u);
  EXPECT_EQ(fields[0], "a,b");
  EXPECT_EQ(fields[1], "c");
  EXPECT_EQ(fields[2], "");
  ASSERT_EQ(SplitFields("2020.01.02\t00:00:00.123\t\t1.1", '\t', fields, 8), 4u);
  EXPECT_EQ(fields[2], "");
  EXPECT_EQ(SplitFields("a,b,c,d,e,f,g,h,i,j", ',', fields, 8), 10u);  // counts beyond the array
}

}  // namespace
}  // namespace aits::data::internal
