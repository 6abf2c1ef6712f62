#include "aits/trace/traceparent.h"

#include <gtest/gtest.h>

#include <string>

namespace aits::trace {
namespace {

constexpr std::string_view kExample = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceparentTest, TheW3CExampleRoundTrips) {
  Result<SpanContext> context = ParseTraceparent(kExample);
  ASSERT_TRUE(context.ok()) << context.status().ToString();
  EXPECT_TRUE(context->valid());
  EXPECT_TRUE(context->sampled());
  EXPECT_EQ(HexTraceId(context->trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(HexSpanId(context->span_id), "00f067aa0ba902b7");
  EXPECT_EQ(context->trace_id[0], 0x4b);
  EXPECT_EQ(context->span_id[7], 0xb7);
  EXPECT_EQ(FormatTraceparent(*context), kExample);
}

TEST(TraceparentTest, FlagsOtherThanSampledAreKeptAndUnsampledIsRead) {
  Result<SpanContext> context =
      ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(context.ok());
  EXPECT_FALSE(context->sampled());
  context = ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03");
  ASSERT_TRUE(context.ok());
  EXPECT_TRUE(context->sampled());
  EXPECT_EQ(FormatTraceparent(*context).substr(53), "03");
}

struct Malformed {
  std::string text;
  std::string reason;  // a part of the message that says why
};

TEST(TraceparentTest, MalformedOnesAreRefusedNamingWhy) {
  const Malformed cases[] = {
      {"", "0 characters, not 55"},
      {"garbage", "7 characters, not 55"},
      {std::string(kExample) + "-00", "58 characters"},  // a later version's extra field
      {std::string(kExample.substr(0, 54)), "54 characters"},
      {"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version 01, only 00"},
      {"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version ff"},
      {"0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version is not hex"},
      {"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "'-' missing"},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01", "'-' missing"},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01", "'-' missing"},
      {"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "trace id is not 32 lower-case"},
      {"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", "trace id is not"},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba9 2b7-01", "span id is not 16"},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0z", "flags are not hex"},
      {"00-00000000000000000000000000000000-00f067aa0ba902b7-01", "trace id is all zeros"},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "span id is all zeros"},
  };
  for (const Malformed& bad : cases) {
    Result<SpanContext> context = ParseTraceparent(bad.text);
    ASSERT_FALSE(context.ok()) << bad.text;
    EXPECT_EQ(context.status().code(), StatusCode::kInvalidArgument) << bad.text;
    EXPECT_NE(context.status().message().find(bad.reason), std::string::npos)
        << bad.text << " -> " << context.status().message();
  }
}

TEST(TraceparentTest, AHugeValueIsNotCopiedIntoTheMessage) {
  const std::string huge(100'000, 'a');
  Result<SpanContext> context = ParseTraceparent(huge);
  ASSERT_FALSE(context.ok());
  EXPECT_LT(context.status().message().size(), 200u);
  EXPECT_NE(context.status().message().find("(too long)"), std::string::npos);
}

TEST(TraceparentTest, ADefaultContextIsInvalid) {
  EXPECT_FALSE(SpanContext{}.valid());
  EXPECT_EQ(FormatTraceparent(SpanContext{}),
            "00-00000000000000000000000000000000-0000000000000000-00");
}

}  // namespace
}  // namespace aits::trace
