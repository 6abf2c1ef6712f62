#include "aits/core/redact.h"

#include <gtest/gtest.h>

namespace aits {
namespace {

TEST(RedactTest, WithoutPasswordHidesAUrisPasswordAndPasswordSettings) {
  EXPECT_EQ(WithoutPassword("postgresql://aits:s3cr@t:x@127.0.0.1:5432/aits#paper"),
            "postgresql://aits:***@127.0.0.1:5432/aits#paper");
  EXPECT_EQ(WithoutPassword("postgresql://aits@127.0.0.1:5432/aits?password=pw&sslmode=off"),
            "postgresql://aits@127.0.0.1:5432/aits?password=***&sslmode=off");
  EXPECT_EQ(WithoutPassword("host=db password=pw dbname=aits"), "host=db password=*** dbname=aits");
  EXPECT_EQ(WithoutPassword("password=pw"), "password=***");
}

TEST(RedactTest, ALocationWithoutAPasswordStaysAsItIs) {
  EXPECT_EQ(WithoutPassword("postgresql://aits@127.0.0.1:5432/aits"),
            "postgresql://aits@127.0.0.1:5432/aits");
  EXPECT_EQ(WithoutPassword("postgresql://host:5432/db"), "postgresql://host:5432/db");
  EXPECT_EQ(WithoutPassword("/var/lib/aits/registry"), "/var/lib/aits/registry");
  EXPECT_EQ(WithoutPassword("models/mypassword=x"), "models/mypassword=x");
  EXPECT_EQ(WithoutPassword(""), "");
}

}  // namespace
}  // namespace aits
