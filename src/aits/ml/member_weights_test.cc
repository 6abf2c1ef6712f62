#include "aits/ml/member_weights.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

namespace aits::ml {
namespace {

// Minute bars of a zig-zag walk: each close one step up or down by a fixed pattern, so that
// which member is right at every bar is known.
struct WeighedBars {
  std::vector<double> close;
  Timestamp At(size_t bar) const {
    return Timestamp{} + Duration::Minutes(static_cast<int64_t>(bar));
  }
};

WeighedBars ZigZagBars(size_t bars) {
  WeighedBars m;
  double price = 1.1;
  for (size_t idx = 0; idx < bars; ++idx) {
    m.close.push_back(price);
    price += (idx * 7 % 5 < 3 ? 0.0001 : -0.0001);
  }
  return m;
}

TEST(MemberWeightsTest, MembersCountByTheirRecentRecordWithinBounds) {
  const WeighedBars m = ZigZagBars(400);
  MemberWeightsConfig config{.window = 100, .min_calls = 50, .min = 0.5, .max = 2.0};
  auto weights = MemberWeights::Create(3, Duration::Minutes(1), config);
  ASSERT_TRUE(weights.ok()) << weights.status().ToString();
  bool moved_before_min_calls = false;
  for (size_t bar = 0; bar + 1 < m.close.size(); ++bar) {
    const bool up = m.close[bar + 1] > m.close[bar];
    // Member 0 always right, member 1 always wrong, member 2 right two bars in three.
    const std::vector<float> p = {up ? 0.8f : 0.2f, up ? 0.3f : 0.7f,
                                  (bar % 3 != 0) == up ? 0.6f : 0.4f};
    weights->OnBar(m.At(bar), m.close[bar], p);
    if (weights->calls(0) < config.min_calls && weights->active()) moved_before_min_calls = true;
  }
  EXPECT_FALSE(moved_before_min_calls);
  ASSERT_TRUE(weights->active());
  EXPECT_NEAR(weights->accuracy(0), 1.0, 1e-12);
  EXPECT_NEAR(weights->accuracy(1), 0.0, 1e-12);
  const double mean = (weights->accuracy(0) + weights->accuracy(1) + weights->accuracy(2)) / 3;
  EXPECT_DOUBLE_EQ(weights->weights()[0], std::min(2.0, 1.0 / mean));
  EXPECT_DOUBLE_EQ(weights->weights()[1], 0.5);  // 0 / mean, held at the lower bound
  EXPECT_NEAR(weights->weights()[2], weights->accuracy(2) / mean, 1e-12);
  EXPECT_GT(weights->weights()[0], weights->weights()[2]);
  EXPECT_GT(weights->weights()[2], weights->weights()[1]);
}

TEST(MemberWeightsTest, AllAlikeUntilEveryMemberHasItsCalls) {
  const WeighedBars m = ZigZagBars(200);
  auto weights = MemberWeights::Create(2, Duration::Minutes(1), {.window = 50, .min_calls = 20});
  ASSERT_TRUE(weights.ok());
  for (size_t bar = 0; bar + 1 < m.close.size(); ++bar) {
    // Member 1 never calls (exactly 0.5): the weights never move.
    weights->OnBar(m.At(bar), m.close[bar], std::vector<float>{0.9f, 0.5f});
  }
  EXPECT_FALSE(weights->active());
  EXPECT_EQ(weights->weights()[0], 1.0);
  EXPECT_EQ(weights->weights()[1], 1.0);
}

TEST(MemberWeightsTest, BadSettingsAreRefusedByName) {
  EXPECT_EQ(MemberWeights::Create(0, Duration::Minutes(1), {}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(MemberWeights::Create(2, Duration::Nanos(0), {}).ok());
  auto window = MemberWeights::Create(2, Duration::Minutes(1), {.window = 1});
  EXPECT_NE(window.status().message().find("window 1"), std::string::npos);
  auto bounds = MemberWeights::Create(2, Duration::Minutes(1), {.min = 1.5, .max = 2});
  EXPECT_NE(bounds.status().message().find("bounds"), std::string::npos);
  EXPECT_FALSE(MemberWeights::Create(2, Duration::Minutes(1), {.min = 0}).ok());
  EXPECT_FALSE(MemberWeights::Create(2, Duration::Minutes(1), {.min_calls = 0}).ok());
}

}  // namespace
}  // namespace aits::ml
