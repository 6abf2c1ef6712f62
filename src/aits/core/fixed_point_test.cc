#include "aits/core/fixed_point.h"

#include <gtest/gtest.h>

#include <type_traits>

namespace aits {
namespace {

TEST(FixedPointTest, ParsesExactlyWithoutDouble) {
  auto price = Price::Parse("1.12172", 5);
  ASSERT_TRUE(price.ok());
  EXPECT_EQ(price->raw(), 1'121'720'000);
  EXPECT_EQ(price->precision(), 5);
  EXPECT_EQ(price->ToString(), "1.12172");
  EXPECT_EQ(Price::Parse("91.717", 3)->raw(), 91'717'000'000);
  EXPECT_EQ(Price::Parse("-0.5", 1)->raw(), -500'000'000);
  EXPECT_EQ(Price::Parse("7", 0)->ToString(), "7");
}

TEST(FixedPointTest, RoundsToPrecisionHalfAwayFromZero) {
  EXPECT_EQ(Price::Parse("1.123455", 5)->ToString(), "1.12346");
  EXPECT_EQ(Price::Parse("1.123454", 5)->ToString(), "1.12345");
  EXPECT_EQ(Price::Parse("-1.123455", 5)->ToString(), "-1.12346");
  EXPECT_EQ(Price::Parse("0.0000000015", 9)->raw(), 2);  // the 10th decimal rounds
  EXPECT_EQ(Price::FromDouble(1.2345678, 5)->ToString(), "1.23457");
}

TEST(FixedPointTest, RejectsNonFiniteAndMalformedInput) {
  for (const char* text :
       {"nan", "NaN", "inf", "-inf", "Infinity", "", "1.2.3", "abc", "1,5", "--1", "."}) {
    EXPECT_FALSE(Price::Parse(text, 5).ok()) << text;
  }
  EXPECT_NE(Price::Parse("nan", 5).status().message().find("non-finite"), std::string::npos);
  EXPECT_FALSE(Price::FromDouble(std::numeric_limits<double>::quiet_NaN(), 5).ok());
  EXPECT_FALSE(Price::FromDouble(1e300, 5).ok());
  EXPECT_FALSE(Price::Parse("99999999999999999999", 5).ok());
  EXPECT_FALSE(Price::Parse("1", 10).ok());
}

TEST(FixedPointTest, ScientificNotationFallsBack) {
  EXPECT_EQ(Price::Parse("1.5e-3", 5)->ToString(), "0.00150");
}

TEST(FixedPointTest, PriceAndQuantityAreDistinctTypes) {
  static_assert(!std::is_convertible_v<Price, Quantity>);
  static_assert(!std::is_convertible_v<Quantity, Price>);
  Price a = Price::FromRaw(100, 9);
  Price b = Price::FromRaw(50, 9);
  EXPECT_EQ((a - b).raw(), 50);
  EXPECT_TRUE(b < a);
}

TEST(FixedPointTest, NotionalAndConversionUse128BitArithmetic) {
  // 1.5 lots of 100,000 EUR at 1.12345 = 168,517.50 USD.
  Money notional = Notional(*Price::Parse("1.12345", 5), *Quantity::Parse("1.5", 2), 100'000);
  EXPECT_EQ(notional.ToString(), "168517.50");
  // 100 lots x 100,000 at 150.000 JPY = 1.5e9 JPY; no overflow.
  Money jpy = Notional(*Price::Parse("150", 3), *Quantity::Parse("100", 2), 100'000);
  EXPECT_EQ(jpy.ToString(0), "1500000000");
  // 15,000 JPY at USD/JPY 150 is 100 USD.
  EXPECT_EQ(ConvertMoney(*Money::Parse("15000"), *Price::Parse("150", 3), true).ToString(),
            "100.00");
  EXPECT_EQ(ConvertMoney(*Money::Parse("100"), *Price::Parse("1.25", 5), false).ToString(),
            "125.00");
}

TEST(FixedPointTest, MoneyFormatsNegativeAmounts) {
  EXPECT_EQ(Money::Parse("-12.345")->ToString(), "-12.35");
  EXPECT_EQ(Money::Parse("-0.001")->ToString(), "0.00");
}

}  // namespace
}  // namespace aits

namespace aits {
namespace {

TEST(FixedPointTest, CompoundAssignmentKeepsTheWiderPrecision) {
  Quantity q = *Quantity::Parse("0.5", 2);
  q += *Quantity::Parse("0.125", 3);
  EXPECT_EQ(q.raw(), Quantity::Parse("0.625", 3)->raw());
  EXPECT_EQ(q.ToString(), "0.625");
  q -= *Quantity::Parse("1", 0);
  EXPECT_EQ(q.ToString(), "-0.375");
  Price p = *Price::Parse("1.10000", 5);
  p += *Price::Parse("0.00010", 5);
  EXPECT_EQ(p.ToString(), "1.10010");
}

}  // namespace
}  // namespace aits
