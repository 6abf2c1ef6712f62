#include "aits/ml/drift.h"

#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <limits>
#include <random>
#include <vector>

namespace aits::ml {
namespace {

std::vector<double> Normal(size_t count, double mean, double sd, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> draw(mean, sd);
  std::vector<double> out(count);
  for (double& value : out) value = draw(rng);
  return out;
}

TEST(DriftTest, AReferenceHasAPercentileOfTheTrainingDataPerBin) {
  auto reference = BuildReference("rsi", Normal(100'000, 0, 1, 1));
  ASSERT_TRUE(reference.ok()) << reference.status().message();
  EXPECT_EQ(reference->edges.size(), 99u);
  EXPECT_EQ(reference->fractions.size(), 100u);
  double sum = 0;
  for (double fraction : reference->fractions) {
    EXPECT_NEAR(fraction, 0.01, 0.0005);
    sum += fraction;
  }
  EXPECT_NEAR(sum, 1.0, 1e-12);
  EXPECT_NEAR(reference->edges[49], 0.0, 0.02);  // the median of N(0, 1)

  // A discrete feature: equal edges merge, every value still lands in a bin.
  std::vector<double> discrete;
  for (int k = 0; k < 1000; ++k) discrete.push_back(k % 3);
  discrete.push_back(std::numeric_limits<double>::quiet_NaN());
  auto three = BuildReference("regime", discrete);
  ASSERT_TRUE(three.ok());
  EXPECT_EQ(three->edges, (std::vector<double>{1, 2}));
  EXPECT_EQ(three->rows, 1000u);

  auto few = BuildReference("sparse", std::vector<double>(99, 1.0));
  ASSERT_FALSE(few.ok());
  EXPECT_EQ(few.status().message(), "feature sparse: 99 finite training values, fewer than 100");
}

TEST(DriftTest, TheTrainingDistributionDoesNotDriftAndAShiftedOneDoes) {
  auto made = DriftMonitor::Create({BuildReference("a", Normal(50'000, 0, 1, 1)).value(),
                                    BuildReference("b", Normal(50'000, 5, 2, 2)).value()},
                                   10'000);
  ASSERT_TRUE(made.ok()) << made.status().message();
  DriftMonitor& monitor = *made;
  const std::vector<double> same_a = Normal(10'000, 0, 1, 3);
  const std::vector<double> shifted_b = Normal(10'000, 7, 2, 4);  // one sd up
  for (size_t k = 0; k < 10'000; ++k) {
    const double bar[] = {same_a[k], shifted_b[k]};
    monitor.Add(bar);
  }
  EXPECT_EQ(monitor.bars(), 10'000u);
  EXPECT_LT(monitor.Psi(0), 0.02);
  EXPECT_LT(monitor.Ks(0), 0.03);
  EXPECT_GT(monitor.KsPValue(0), 0.01);
  // A shift of one standard deviation: PSI about 1, KS about 0.38 (2 Phi(0.5) - 1).
  EXPECT_GT(monitor.Psi(1), kPsiSignificant);
  EXPECT_NEAR(monitor.Ks(1), 0.383, 0.03);
  EXPECT_LT(monitor.KsPValue(1), 1e-6);
  const DriftMonitor::Stats stats = monitor.Statistics(1);
  EXPECT_EQ(stats.psi, monitor.Psi(1));
  EXPECT_EQ(stats.ks, monitor.Ks(1));
  EXPECT_EQ(stats.ks_p_value, monitor.KsPValue(1));
}

// The window rolls: once a full window of the training distribution has followed the shifted
// one, the drift is gone; the counts always equal a recount of the last `window` values.
TEST(DriftTest, TheWindowForgetsTheBarsThatLeaveIt) {
  auto made = DriftMonitor::Create({BuildReference("a", Normal(20'000, 0, 1, 5)).value()}, 1'000);
  ASSERT_TRUE(made.ok());
  DriftMonitor& monitor = *made;
  const std::vector<double> shifted = Normal(1'000, 3, 1, 6);
  for (double value : shifted) monitor.Add(std::span(&value, 1));
  EXPECT_GT(monitor.Psi(0), 1.0);
  const std::vector<double> back = Normal(1'000, 0, 1, 7);
  for (double value : back) monitor.Add(std::span(&value, 1));
  EXPECT_LT(monitor.Psi(0), 0.05);
  EXPECT_EQ(monitor.bars(), 1'000u);

  // Against a brute-force recount, with missing values mixed in, over many roll-overs.
  auto again = DriftMonitor::Create({monitor.reference(0)}, 100);
  ASSERT_TRUE(again.ok());
  std::mt19937_64 rng(8);
  std::normal_distribution<double> draw(0.5, 1.5);
  std::deque<double> last;
  for (int k = 0; k < 1'234; ++k) {
    const double value = k % 17 == 0 ? std::numeric_limits<double>::quiet_NaN() : draw(rng);
    again->Add(std::span(&value, 1));
    last.push_back(value);
    if (last.size() > 100) last.pop_front();
  }
  std::vector<double> finite;
  for (double value : last) {
    if (std::isfinite(value)) finite.push_back(value);
  }
  EXPECT_EQ(again->values(0), finite.size());
  auto fresh = DriftMonitor::Create({monitor.reference(0)}, 100);
  ASSERT_TRUE(fresh.ok());
  for (double value : last) fresh->Add(std::span(&value, 1));
  EXPECT_DOUBLE_EQ(again->Psi(0), fresh->Psi(0));
  EXPECT_DOUBLE_EQ(again->Ks(0), fresh->Ks(0));
}

TEST(DriftTest, AMonitorNeedsFeaturesAndAWindow) {
  EXPECT_FALSE(DriftMonitor::Create({}, 1'000).ok());
  auto reference = BuildReference("a", Normal(1'000, 0, 1, 9)).value();
  auto small = DriftMonitor::Create({reference}, 99);
  ASSERT_FALSE(small.ok());
  EXPECT_EQ(small.status().message(), "drift: a window of 99 bars; at least 100");
  reference.fractions.pop_back();
  EXPECT_FALSE(DriftMonitor::Create({reference}, 1'000).ok());
  // Nothing in the window yet: no drift, p-value 1.
  auto empty = DriftMonitor::Create({BuildReference("a", Normal(1'000, 0, 1, 9)).value()}, 100);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->Psi(0), 0);
  EXPECT_EQ(empty->KsPValue(0), 1.0);
}

}  // namespace
}  // namespace aits::ml
