#include "aits/core/status.h"

#include <gtest/gtest.h>

namespace aits {
namespace {

Result<int> Half(int value) {
  if (value % 2 != 0) return InvalidArgument("odd value " + std::to_string(value));
  return value / 2;
}

Result<int> Quarter(int value) {
  AITS_ASSIGN_OR_RETURN(int half, Half(value));
  AITS_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

Status CheckPositive(int value) {
  if (value <= 0) return OutOfRange("not positive");
  return Status::Ok();
}

Status Both(int a, int b) {
  AITS_RETURN_IF_ERROR(CheckPositive(a));
  AITS_RETURN_IF_ERROR(CheckPositive(b));
  return Status::Ok();
}

TEST(StatusTest, OkAndErrorCarryCodeAndMessage) {
  EXPECT_TRUE(Status::Ok().ok());
  Status error = NotFound("file 'x.csv'");
  EXPECT_FALSE(error.ok());
  EXPECT_EQ(error.code(), StatusCode::kNotFound);
  EXPECT_EQ(error.ToString(), "NOT_FOUND: file 'x.csv'");
  EXPECT_EQ(error.WithContext("reading").message(), "reading: file 'x.csv'");
}

TEST(StatusTest, MacrosPropagateTheFirstError) {
  EXPECT_EQ(*Quarter(12), 3);
  Result<int> odd = Quarter(6);
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.status().message(), "odd value 3");
  EXPECT_TRUE(Both(1, 2).ok());
  EXPECT_EQ(Both(1, -2).code(), StatusCode::kOutOfRange);
}

TEST(ResultDeathTest, ReadingTheValueOfAnErrorAborts) {
  Result<int> error = NotFound("x.csv");
  EXPECT_DEATH({ [[maybe_unused]] int value = *error; }, "value of an error Result: NOT_FOUND");
}

}  // namespace
}  // namespace aits
