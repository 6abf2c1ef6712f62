#include "aits/ml/labels.h"

#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace aits::ml {
namespace {

// Rows at the given minutes after midnight with the given closes and no features.
Dataset Series(const std::vector<int>& minutes, const std::vector<double>& closes) {
  Dataset data;
  for (size_t row = 0; row < minutes.size(); ++row) {
    data.time.push_back(FromCivil(2012, 2, 1) + Duration::Minutes(minutes[row]));
    data.close.push_back(closes[row]);
    data.spread.push_back(0.0);
    data.x.AppendRow(std::span<const float>());
  }
  return data;
}

// 0..20 every 5 minutes, a 10-minute gap, a 30-minute gap, then 60..75 every 5 minutes.
const std::vector<int> kMinutes = {0, 5, 10, 15, 20, 30, 60, 65, 70, 75};
const std::vector<double> kCloses = {1.0000, 1.0010, 1.0020, 1.0005, 1.0010,
                                     1.0030, 0.9990, 1.0000, 1.0000, 0.9990};

TEST(LabelsTest, HandmadeSeriesWithGaps) {
  const Dataset data = Series(kMinutes, kCloses);
  LabelConfig config;
  config.horizon = Duration::Minutes(15);  // max_gap 0 → 15: the target may be up to t+30
  const Result<Labels> labels = MakeLabels(data, config);
  ASSERT_TRUE(labels.ok()) << labels.status().ToString();
  // Worked by hand: the first row at or after t+15, if it is no later than t+30.
  //   row 0 (0)  → row 3 (15)   row 1 (5)  → row 4 (20)   row 2 (10) → row 5 (30, late but ok)
  //   row 3 (15) → row 5 (30)   row 4 (20) → row 6 (60) is after 50: undefined
  //   row 5 (30) → row 6 (60, exactly t+30: ok)          row 6 (60) → row 9 (75)
  //   rows 7..9: nothing at or after t+15: undefined
  const std::vector<int64_t> expected_target = {3, 4, 5, 5, -1, 6, 9, -1, -1, -1};
  EXPECT_EQ(labels->target_row, expected_target);
  const float kNaN = std::nanf("");
  // Rows 1 → 4 and 6 → 9 are flat moves: return 0, direction undefined even with no dead zone.
  const std::vector<float> expected_direction = {1, kNaN, 1, 1, kNaN, 0, kNaN, kNaN, kNaN, kNaN};
  ASSERT_EQ(labels->size(), kMinutes.size());
  for (size_t row = 0; row < kMinutes.size(); ++row) {
    if (std::isnan(expected_direction[row])) {
      EXPECT_TRUE(std::isnan(labels->direction[row])) << row;
    } else {
      EXPECT_EQ(labels->direction[row], expected_direction[row]) << row;
    }
    if (expected_target[row] < 0) {
      EXPECT_TRUE(std::isnan(labels->forward_return[row])) << row;
    } else {
      EXPECT_FLOAT_EQ(labels->forward_return[row],
                      static_cast<float>(std::log(kCloses[expected_target[row]] / kCloses[row])))
          << row;
    }
  }
  EXPECT_EQ(labels->forward_return[1], 0.0f);
  EXPECT_EQ(labels->forward_return[6], 0.0f);
  const std::vector<size_t> defined = {0, 2, 3, 5};
  EXPECT_EQ(labels->DefinedRows(), defined);
}

TEST(LabelsTest, DeadZoneAndMaxGap) {
  const Dataset data = Series(kMinutes, kCloses);
  LabelConfig config;
  config.horizon = Duration::Minutes(15);
  config.dead_zone = 0.0008;  // log(1.0005/1) = 0.0005 is inside, log(1.003/1.0005) = 0.0025 not
  config.max_gap = Duration::Minutes(1);  // the target must be within t+16
  const Result<Labels> labels = MakeLabels(data, config);
  ASSERT_TRUE(labels.ok());
  const std::vector<int64_t> expected_target = {3, 4, -1, 5, -1, -1, 9, -1, -1, -1};
  EXPECT_EQ(labels->target_row, expected_target);
  EXPECT_TRUE(std::isnan(labels->direction[0]));  // 0.0005 is inside the dead zone
  EXPECT_FALSE(std::isnan(labels->forward_return[0]));
  EXPECT_TRUE(std::isnan(labels->direction[1]));  // log(1.001/1.001) = 0
  EXPECT_EQ(labels->direction[3], 1.0f);
  EXPECT_TRUE(std::isnan(labels->direction[2]));  // row 5 at 30 is after 10+16
  EXPECT_EQ(EffectiveMaxGap(config), Duration::Minutes(1));
  config.max_gap = Duration::Nanos(0);
  EXPECT_EQ(EffectiveMaxGap(config), Duration::Minutes(15));
}

TEST(LabelsTest, MatchesBruteForceOnRandomSeries) {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 50; ++trial) {
    const size_t n = 1 + rng() % 300;
    std::vector<int> minutes;
    std::vector<double> closes;
    int t = 0;
    for (size_t row = 0; row < n; ++row) {
      t += 1 + static_cast<int>(rng() % 4 == 0 ? rng() % 40 : rng() % 5);
      minutes.push_back(t);
      closes.push_back(1.0 + 0.001 * static_cast<double>(rng() % 7));
    }
    const Dataset data = Series(minutes, closes);
    LabelConfig config;
    config.horizon = Duration::Minutes(1 + static_cast<int64_t>(rng() % 20));
    config.max_gap = Duration::Minutes(static_cast<int64_t>(rng() % 10));
    config.dead_zone = rng() % 2 == 0 ? 0.0 : 0.0015;
    const Result<Labels> labels = MakeLabels(data, config);
    ASSERT_TRUE(labels.ok());
    const Duration gap = config.max_gap.ns == 0 ? config.horizon : config.max_gap;
    for (size_t row = 0; row < n; ++row) {
      int64_t expected = -1;
      for (size_t target = row + 1; target < n; ++target) {
        if (data.time[target] >= data.time[row] + config.horizon) {
          if (data.time[target] <= data.time[row] + config.horizon + gap) {
            expected = static_cast<int64_t>(target);
          }
          break;
        }
      }
      ASSERT_EQ(labels->target_row[row], expected) << trial << " row " << row;
      if (expected >= 0) {
        const double r = std::log(closes[expected] / closes[row]);
        if (std::abs(r) <= config.dead_zone) {
          EXPECT_TRUE(std::isnan(labels->direction[row]));
        } else {
          EXPECT_EQ(labels->direction[row], r > 0 ? 1.0f : 0.0f);
        }
      } else {
        EXPECT_TRUE(std::isnan(labels->direction[row]));
      }
    }
  }
}

TEST(LabelsTest, Errors) {
  const Dataset data = Series(kMinutes, kCloses);
  LabelConfig config;
  config.horizon = Duration::Nanos(0);
  EXPECT_FALSE(MakeLabels(data, config).ok());
  config.horizon = Duration::Minutes(-5);
  EXPECT_FALSE(MakeLabels(data, config).ok());
  config = LabelConfig();
  config.dead_zone = -0.001;
  const Result<Labels> negative = MakeLabels(data, config);
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(negative.status().message().find("dead_zone"), std::string::npos);
  config = LabelConfig();
  config.max_gap = Duration::Minutes(-1);
  EXPECT_FALSE(MakeLabels(data, config).ok());

  Dataset bad = data;
  bad.close[4] = 0.0;
  const Result<Labels> bad_close = MakeLabels(bad, LabelConfig());
  ASSERT_FALSE(bad_close.ok());
  EXPECT_NE(bad_close.status().message().find("row 4"), std::string::npos);
  bad = data;
  bad.time[7] = bad.time[6];
  EXPECT_FALSE(MakeLabels(bad, LabelConfig()).ok());

  const Result<Labels> empty = MakeLabels(Dataset(), LabelConfig());
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->size(), 0u);
}

}  // namespace
}  // namespace aits::ml
