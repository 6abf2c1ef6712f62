#include "aits/core/instance_tag.h"

#include <gtest/gtest.h>

#include <set>

namespace aits {
namespace {

TEST(InstanceTagTest, SixteenHexDigitsAndNeverTheSameTwiceInPractice) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string tag = NewInstanceTag();
    ASSERT_EQ(tag.size(), 16u);
    EXPECT_EQ(tag.find_first_not_of("0123456789abcdef"), std::string::npos) << tag;
    seen.insert(tag);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

}  // namespace
}  // namespace aits
