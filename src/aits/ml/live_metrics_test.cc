#include "aits/ml/live_metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <random>

namespace aits::ml {
namespace {

TEST(LiveModelMetricsTest, FiguresOfAHandfulOfCalls) {
  auto made = LiveModelMetrics::Create(10);
  ASSERT_TRUE(made.ok());
  LiveModelMetrics& m = *made;
  EXPECT_TRUE(std::isnan(m.accuracy()));
  m.Add(Call::kLong, 0.02);    // right, up
  m.Add(Call::kLong, -0.01);   // wrong
  m.Add(Call::kShort, -0.03);  // right
  m.Add(Call::kFlat, 0.05);    // an up move not called long
  m.Add(Call::kShort, 0.01);   // wrong, up
  EXPECT_EQ(m.calls(), 5u);
  EXPECT_EQ(m.directional(), 4u);
  EXPECT_DOUBLE_EQ(m.accuracy(), 0.5);
  EXPECT_DOUBLE_EQ(m.precision(), 0.5);     // 1 of 2 longs went up
  EXPECT_DOUBLE_EQ(m.recall(), 1.0 / 3.0);  // 3 up moves, 1 called long
  EXPECT_DOUBLE_EQ(m.profit_factor(), 0.05 / 0.02);
  // Signed returns 0.02, -0.01, 0.03, -0.01: mean 0.0075, sample sd sqrt(0.000425 / 3 * ...).
  const double mean = 0.0075;
  const double sd = std::sqrt(((0.02 - mean) * (0.02 - mean) + 2 * (-0.01 - mean) * (-0.01 - mean) +
                               (0.03 - mean) * (0.03 - mean)) /
                              3);
  EXPECT_NEAR(m.sharpe(), mean / sd, 1e-12);
  EXPECT_FALSE(m.Add(Call::kLong, std::nan("")));
  EXPECT_EQ(m.calls(), 5u);
}

// The window rolls: the figures are always those of the last `window` calls, as a recount says.
TEST(LiveModelMetricsTest, TheWindowHoldsTheLastCallsOnly) {
  auto made = LiveModelMetrics::Create(50);
  ASSERT_TRUE(made.ok());
  std::mt19937_64 rng(3);
  std::normal_distribution<double> move(0.0, 0.01);
  std::uniform_int_distribution<int> pick(-1, 1);
  std::deque<std::pair<Call, double>> last;
  for (int k = 0; k < 1'234; ++k) {
    const Call call = static_cast<Call>(pick(rng));
    const double realised = move(rng);
    made->Add(call, realised);
    last.emplace_back(call, realised);
    if (last.size() > 50) last.pop_front();
  }
  auto fresh = LiveModelMetrics::Create(50);
  ASSERT_TRUE(fresh.ok());
  for (const auto& [call, realised] : last) fresh->Add(call, realised);
  EXPECT_DOUBLE_EQ(made->accuracy(), fresh->accuracy());
  EXPECT_DOUBLE_EQ(made->precision(), fresh->precision());
  EXPECT_DOUBLE_EQ(made->recall(), fresh->recall());
  EXPECT_NEAR(made->profit_factor(), fresh->profit_factor(), 1e-9);
  EXPECT_NEAR(made->sharpe(), fresh->sharpe(), 1e-9);
  EXPECT_FALSE(LiveModelMetrics::Create(1).ok());
}

// A model that has lost its edge shows it: right 70 % of the time, then a coin.
TEST(LiveModelMetricsTest, DecayShowsInTheWindow) {
  auto made = LiveModelMetrics::Create(500);
  ASSERT_TRUE(made.ok());
  std::mt19937_64 rng(4);
  std::bernoulli_distribution edge(0.7), coin(0.5);
  std::exponential_distribution<double> size(100.0);
  for (int k = 0; k < 500; ++k) {
    made->Add(Call::kLong, (edge(rng) ? 1 : -1) * size(rng));
  }
  EXPECT_NEAR(made->accuracy(), 0.7, 0.05);
  EXPECT_GT(made->profit_factor(), 1.5);
  for (int k = 0; k < 500; ++k) {
    made->Add(Call::kLong, (coin(rng) ? 1 : -1) * size(rng));
  }
  EXPECT_NEAR(made->accuracy(), 0.5, 0.06);
  EXPECT_LT(made->profit_factor(), 1.4);
}

}  // namespace
}  // namespace aits::ml
