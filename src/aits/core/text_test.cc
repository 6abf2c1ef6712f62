#include "aits/core/text.h"

#include <gtest/gtest.h>

namespace aits {
namespace {

TEST(TextTest, StrictNumbers) {
  EXPECT_EQ(ParseFiniteDouble(" +1.5e-2 "), 0.015);
  EXPECT_EQ(ParseFiniteDouble("-3"), -3.0);
  for (const char* bad : {"", " ", "abc", "1.5x", "nan", "inf", "-inf", "1e999", "++1"}) {
    EXPECT_FALSE(ParseFiniteDouble(bad).has_value()) << bad;
  }
  EXPECT_EQ(ParseInt(" 42 "), 42);
  EXPECT_EQ(ParseInt("-7"), -7);
  for (const char* bad : {"", "4.2", "x", "99999999999999999999"}) {
    EXPECT_FALSE(ParseInt(bad).has_value()) << bad;
  }
  EXPECT_EQ(Trim("\t a b \n"), "a b");
}

}  // namespace
}  // namespace aits
