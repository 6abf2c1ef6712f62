#include "aits/ml/metrics.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace aits::ml {
namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

TEST(ClassificationTest, WorkedByHand) {
  // The last row has an undefined label and must be skipped.
  const std::vector<float> y = {1, 0, 1, 1, 0, 0, 1, 0, kNaN};
  const std::vector<float> p = {0.9f, 0.1f, 0.6f, 0.4f, 0.6f, 0.2f, 0.6f, 0.5f, 0.99f};
  const ClassificationMetrics m = Classification(y, p);
  // Called up when p > 0.5: TP 3 (rows 0, 2, 6), FP 1 (row 4), FN 1 (row 3), TN 3.
  EXPECT_EQ(m.n, 8u);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.75);
  EXPECT_DOUBLE_EQ(m.precision, 0.75);
  EXPECT_DOUBLE_EQ(m.recall, 0.75);
  EXPECT_DOUBLE_EQ(m.f1, 0.75);
  EXPECT_DOUBLE_EQ(m.positive_rate, 0.5);
  EXPECT_DOUBLE_EQ(m.predicted_positive_rate, 0.5);
  // AUC over the 16 (up, down) pairs: 0.9 wins 4; each 0.6 wins 3 and ties the down 0.6
  // (3.5 each); 0.4 beats 0.1 and 0.2 (2). (4 + 3.5 + 2 + 3.5) / 16.
  EXPECT_NEAR(m.auc, 13.0 / 16.0, 1e-12);
  // -(2 ln .9 + 2 ln .6 + 2 ln .4 + ln .8 + ln .5) / 8
  EXPECT_NEAR(m.log_loss, 3.981244476 / 8.0, 1e-6);
  // (.01 + .16 + .36 + .16 + .01 + .36 + .04 + .25) / 8
  EXPECT_NEAR(m.brier, 1.35 / 8.0, 1e-6);
}

TEST(ClassificationTest, LogLossClipsAndUndefinedStatsAreNaN) {
  const std::vector<float> y = {1, 1};
  const std::vector<float> p = {0.0f, 0.4f};
  const ClassificationMetrics m = Classification(y, p);
  EXPECT_NEAR(m.log_loss, (-std::log(1e-7) - std::log(0.4)) / 2.0, 1e-6);
  EXPECT_TRUE(std::isnan(m.auc));        // one class
  EXPECT_TRUE(std::isnan(m.precision));  // nothing called up
  EXPECT_TRUE(std::isnan(m.f1));
  EXPECT_DOUBLE_EQ(m.recall, 0.0);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.0);

  const nlohmann::json json = ToJson(m);
  EXPECT_TRUE(json["precision"].is_null());
  EXPECT_TRUE(json["auc"].is_null());
  EXPECT_EQ(json["n"].get<size_t>(), 2u);
  EXPECT_DOUBLE_EQ(json["recall"].get<double>(), 0.0);
  EXPECT_FALSE(json.dump().empty());  // NaN would make dump() produce invalid JSON

  const ClassificationMetrics none = Classification({}, {});
  EXPECT_EQ(none.n, 0u);
  EXPECT_TRUE(std::isnan(none.accuracy));
  EXPECT_TRUE(std::isnan(none.log_loss));
}

TEST(ClassificationTest, ThresholdMoves) {
  const std::vector<float> y = {1, 0, 1, 0};
  const std::vector<float> p = {0.7f, 0.6f, 0.65f, 0.3f};
  EXPECT_DOUBLE_EQ(Classification(y, p, 0.5).accuracy, 0.75);
  EXPECT_DOUBLE_EQ(Classification(y, p, 0.62).accuracy, 1.0);
  EXPECT_DOUBLE_EQ(Classification(y, p, 0.62).auc, Classification(y, p, 0.5).auc);
}

// O(n^2) definition: P(score of an up row > score of a down row), ties count 1/2.
double PairwiseAuc(const std::vector<float>& y, const std::vector<float>& p) {
  double wins = 0, pairs = 0;
  for (size_t a = 0; a < y.size(); ++a) {
    if (std::isnan(y[a]) || y[a] < 0.5f) continue;
    for (size_t b = 0; b < y.size(); ++b) {
      if (std::isnan(y[b]) || y[b] > 0.5f) continue;
      pairs += 1;
      wins += p[a] > p[b] ? 1.0 : (p[a] == p[b] ? 0.5 : 0.0);
    }
  }
  return wins / pairs;
}

TEST(ClassificationTest, AucMatchesPairwiseCountOnRandomData) {
  std::mt19937_64 rng(17);
  for (int trial = 0; trial < 50; ++trial) {
    const size_t n = 2 + rng() % 400;
    std::vector<float> y(n), p(n);
    for (size_t row = 0; row < n; ++row) {
      // Coarse scores so that ties are common; some labels undefined.
      p[row] = static_cast<float>(rng() % 11) / 10.0f;
      const bool up = static_cast<float>(rng() % 100) < 30.0f + 40.0f * p[row];
      y[row] = rng() % 13 == 0 ? kNaN : (up ? 1.0f : 0.0f);
    }
    y[0] = 1.0f;
    y[1] = 0.0f;
    EXPECT_NEAR(Classification(y, p).auc, PairwiseAuc(y, p), 1e-12) << trial;
  }
}

TEST(InformationCoefficientTest, SpearmanWithTiesByHand) {
  // Ranks x: 1 2.5 2.5 4 5; ranks y: 1 2 3.5 3.5 5; deviations from 3 give
  // cov 8.75, var 9.5 and 9.5: rho = 8.75 / 9.5.
  const std::vector<float> x = {1, 2, 2, 3, 4, kNaN};
  const std::vector<float> y = {10, 20, 30, 30, 50, 1};
  EXPECT_NEAR(InformationCoefficient(x, y), 8.75 / 9.5, 1e-12);
  // Any monotone transform of one side leaves it unchanged.
  const std::vector<float> y_cubed = {1000, 8000, 27000, 27000, 125000, kNaN};
  EXPECT_NEAR(InformationCoefficient(x, y_cubed), 8.75 / 9.5, 1e-12);
  const std::vector<float> reversed = {5, 4, 3, 2, 1, 0};
  const std::vector<float> forward = {1, 2, 3, 4, 5, 6};
  EXPECT_NEAR(InformationCoefficient(reversed, forward), -1.0, 1e-12);
}

TEST(InformationCoefficientTest, UndefinedCases) {
  EXPECT_TRUE(
      std::isnan(InformationCoefficient(std::vector<float>{1, 2}, std::vector<float>{1, 2})));
  EXPECT_TRUE(std::isnan(
      InformationCoefficient(std::vector<float>{1, 2, kNaN}, std::vector<float>{1, 2, 3})));
  EXPECT_TRUE(std::isnan(
      InformationCoefficient(std::vector<float>{3, 3, 3, 3}, std::vector<float>{1, 2, 3, 4})));
}

TEST(CalibrationTest, BinsCountsAndRates) {
  const std::vector<float> y = {0, 1, 1, 0, 1, kNaN};
  const std::vector<float> p = {0.05f, 0.15f, 0.95f, 1.0f, 0.96f, 0.5f};
  const std::vector<CalibrationBin> bins = Calibration(y, p, 10);
  ASSERT_EQ(bins.size(), 10u);
  EXPECT_EQ(bins[0].count, 1u);
  EXPECT_DOUBLE_EQ(bins[0].observed_rate, 0.0);
  EXPECT_EQ(bins[1].count, 1u);
  EXPECT_DOUBLE_EQ(bins[1].lower, 0.1);
  EXPECT_EQ(bins[5].count, 0u);  // the NaN-label row is skipped
  EXPECT_TRUE(std::isnan(bins[5].mean_predicted));
  EXPECT_EQ(bins[9].count, 3u);  // p = 1 lands in the last bin
  EXPECT_NEAR(bins[9].mean_predicted, (0.95 + 1.0 + 0.96) / 3.0, 1e-6);
  EXPECT_NEAR(bins[9].observed_rate, 2.0 / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(bins[9].upper, 1.0);
  EXPECT_TRUE(Calibration(y, p, 0).empty());
  const nlohmann::json json = ToJson(bins);
  ASSERT_EQ(json.size(), 10u);
  EXPECT_TRUE(json[5]["observed_rate"].is_null());
  EXPECT_EQ(json[9]["count"].get<size_t>(), 3u);
}

}  // namespace
}  // namespace aits::ml
