#include "aits/ml/splits.h"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace aits::ml {
namespace {

std::vector<Timestamp> EveryMinute(size_t n) {
  std::vector<Timestamp> time;
  for (size_t row = 0; row < n; ++row) {
    time.push_back(FromCivil(2012, 2, 1) + Duration::Minutes(static_cast<int64_t>(row)));
  }
  return time;
}

// Irregular times: mostly a minute apart, sometimes a gap of up to three hours.
std::vector<Timestamp> RandomTimes(std::mt19937_64& rng, size_t n) {
  std::vector<Timestamp> time;
  Timestamp t = FromCivil(2012, 2, 1);
  for (size_t row = 0; row < n; ++row) {
    const int64_t step = rng() % 50 == 0 ? 1 + static_cast<int64_t>(rng() % 180) : 1;
    t = t + Duration::Minutes(step);
    time.push_back(t);
  }
  return time;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(TimeSplitTest, WorkedExample) {
  const std::vector<Timestamp> time = EveryMinute(20);
  Result<TrainValTest> split = TimeSplit(time, 0.70, 0.15);
  ASSERT_TRUE(split.ok()) << split.status().ToString();
  EXPECT_EQ(split->train, (RowRange{0, 14}));
  EXPECT_EQ(split->validation, (RowRange{14, 17}));
  EXPECT_EQ(split->test, (RowRange{17, 20}));
  // A 2-minute purge keeps only rows more than 2 minutes before the next segment's first row.
  split = TimeSplit(time, 0.70, 0.15, Duration::Minutes(2));
  ASSERT_TRUE(split.ok());
  EXPECT_EQ(split->train, (RowRange{0, 12}));
  EXPECT_EQ(split->validation, (RowRange{14, 15}));
  EXPECT_EQ(split->test, (RowRange{17, 20}));
}

TEST(TimeSplitTest, PropertiesOverRandomSizes) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> fraction(0.05, 0.6);
  for (int trial = 0; trial < 300; ++trial) {
    const size_t n = 3 + rng() % 2000;
    const std::vector<Timestamp> time = RandomTimes(rng, n);
    const double train = fraction(rng);
    const double validation = std::min(fraction(rng), 0.95 - train);
    const Duration purge = Duration::Minutes(static_cast<int64_t>(rng() % 30));
    const Result<TrainValTest> split = TimeSplit(time, train, validation, purge);
    if (!split.ok()) {
      // Only small inputs or big purges may fail, and then the message says why.
      EXPECT_TRUE(Contains(split.status().message(), "rows")) << split.status().message();
      continue;
    }
    const RowRange segments[] = {split->train, split->validation, split->test};
    EXPECT_EQ(split->train.begin, 0u);
    EXPECT_EQ(split->test.end, n);
    for (int idx = 0; idx < 3; ++idx) {
      EXPECT_FALSE(segments[idx].empty()) << trial;
      EXPECT_LE(segments[idx].begin, segments[idx].end);
      if (idx == 2) break;
      const RowRange& next = segments[idx + 1];
      EXPECT_LE(segments[idx].end, next.begin) << trial;  // no overlap, time order
      // Purge: the last kept row is more than `purge` before the next segment's first.
      EXPECT_GT(time[next.begin] - time[segments[idx].end - 1], purge) << trial;
      // ...and nothing more than that was dropped.
      if (segments[idx].end < next.begin) {
        EXPECT_LE(time[next.begin] - time[segments[idx].end], purge) << trial;
      }
    }
    // Without purge the segments tile the rows at the requested fractions.
    const Result<TrainValTest> plain = TimeSplit(time, train, validation);
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(plain->train.end, plain->validation.begin);
    EXPECT_EQ(plain->validation.end, plain->test.begin);
    EXPECT_NEAR(static_cast<double>(plain->train.size()), train * static_cast<double>(n), 1.0);
  }
}

TEST(TimeSplitTest, Errors) {
  const std::vector<Timestamp> time = EveryMinute(100);
  EXPECT_FALSE(TimeSplit(time, 0.0, 0.15).ok());
  EXPECT_FALSE(TimeSplit(time, 1.0, 0.15).ok());
  EXPECT_FALSE(TimeSplit(time, 0.7, -0.1).ok());
  const Result<TrainValTest> sum = TimeSplit(time, 0.7, 0.3);
  ASSERT_FALSE(sum.ok());
  EXPECT_TRUE(Contains(sum.status().message(), "< 1"));

  // 3 rows at 70/15/15: floor(3 * 0.7) = floor(3 * 0.85) = 2 leaves no validation row; 4 rows
  // give 2/1/1.
  const Result<TrainValTest> small = TimeSplit(EveryMinute(3), 0.70, 0.15);
  ASSERT_FALSE(small.ok());
  EXPECT_TRUE(Contains(small.status().message(), "at least 4 rows")) << small.status().message();
  EXPECT_TRUE(TimeSplit(EveryMinute(4), 0.70, 0.15).ok());
  // 5/50/45 needs 20 rows for its train segment to get one.
  const Result<TrainValTest> thin = TimeSplit(EveryMinute(19), 0.05, 0.50);
  ASSERT_FALSE(thin.ok());
  EXPECT_TRUE(Contains(thin.status().message(), "at least 20 rows")) << thin.status().message();
  EXPECT_TRUE(TimeSplit(EveryMinute(20), 0.05, 0.50).ok());
  EXPECT_FALSE(TimeSplit(EveryMinute(0), 0.70, 0.15).ok());

  const Result<TrainValTest> purged = TimeSplit(time, 0.70, 0.15, Duration::Minutes(20));
  ASSERT_FALSE(purged.ok());  // the 15-row validation segment is entirely within the purge
  EXPECT_TRUE(Contains(purged.status().message(), "validation")) << purged.status().message();

  std::vector<Timestamp> unordered = time;
  std::swap(unordered[40], unordered[41]);
  const Result<TrainValTest> order = TimeSplit(unordered, 0.7, 0.15);
  ASSERT_FALSE(order.ok());
  EXPECT_TRUE(Contains(order.status().message(), "row 41"));
}

void CheckFolds(const std::vector<Timestamp>& time, const WalkForwardConfig& config,
                const std::vector<Fold>& folds) {
  const size_t n = time.size();
  ASSERT_EQ(folds.size(), static_cast<size_t>(config.folds));
  EXPECT_EQ(folds.back().test.end, n);
  for (size_t idx = 0; idx < folds.size(); ++idx) {
    const Fold& fold = folds[idx];
    SCOPED_TRACE("fold " + std::to_string(idx));
    EXPECT_GE(fold.test.size(), config.min_test_rows);
    EXPECT_GE(fold.train.size(), config.min_train_rows);
    EXPECT_EQ(fold.test.size(), folds[0].test.size());
    if (idx > 0) {
      EXPECT_EQ(fold.test.begin, folds[idx - 1].test.end);  // consecutive
    }
    // Every train row is before every test row, by more than the purge.
    EXPECT_LE(fold.train.end, fold.test.begin);
    EXPECT_GT(time[fold.test.begin] - time[fold.train.end - 1], config.purge);
    if (fold.train.end < fold.test.begin) {
      EXPECT_LE(time[fold.test.begin] - time[fold.train.end], config.purge);
    }
    if (config.window == WindowKind::kExpanding) {
      EXPECT_EQ(fold.train.begin, 0u);
    } else {
      EXPECT_EQ(fold.train.size(), folds[0].train.size());
      if (idx > 0) {
        EXPECT_GE(fold.train.begin, folds[idx - 1].train.begin);
      }
    }
  }
  EXPECT_GE(folds[0].test.begin,
            static_cast<size_t>(config.train_fraction * static_cast<double>(n)) - 1);
}

TEST(WalkForwardTest, WorkedExample) {
  const std::vector<Timestamp> time = EveryMinute(103);
  WalkForwardConfig config;
  config.folds = 4;
  config.train_fraction = 0.5;
  config.min_train_rows = 10;
  config.min_test_rows = 5;
  config.window = WindowKind::kRolling;
  config.purge = Duration::Minutes(2);
  const Result<std::vector<Fold>> folds = WalkForward(time, config);
  ASSERT_TRUE(folds.ok()) << folds.status().ToString();
  // 103 - floor(51.5) = 52 rows for 4 folds: 13 each; the leftover row widens the first train
  // window to 51 rows, of which the purge drops the last 2.
  const RowRange expected_test[] = {{51, 64}, {64, 77}, {77, 90}, {90, 103}};
  const RowRange expected_train[] = {{0, 49}, {13, 62}, {26, 75}, {39, 88}};
  for (size_t idx = 0; idx < 4; ++idx) {
    EXPECT_EQ((*folds)[idx].test, expected_test[idx]) << idx;
    EXPECT_EQ((*folds)[idx].train, expected_train[idx]) << idx;
  }
  CheckFolds(time, config, *folds);
}

TEST(WalkForwardTest, PropertiesOverRandomSizes) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> fraction(0.1, 0.8);
  int succeeded = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const size_t n = 10 + rng() % 3000;
    const std::vector<Timestamp> time = RandomTimes(rng, n);
    WalkForwardConfig config;
    config.folds = 1 + static_cast<int>(rng() % 8);
    config.window = rng() % 2 == 0 ? WindowKind::kRolling : WindowKind::kExpanding;
    config.train_fraction = fraction(rng);
    config.purge = Duration::Minutes(static_cast<int64_t>(rng() % 60));
    config.min_train_rows = 1 + rng() % 200;
    config.min_test_rows = 1 + rng() % 50;
    const Result<std::vector<Fold>> folds = WalkForward(time, config);
    if (!folds.ok()) {
      EXPECT_TRUE(Contains(folds.status().message(), "min_test_rows") ||
                  Contains(folds.status().message(), "min_train_rows"))
          << folds.status().message();
      continue;
    }
    ++succeeded;
    SCOPED_TRACE("trial " + std::to_string(trial));
    CheckFolds(time, config, *folds);
  }
  EXPECT_GT(succeeded, 100);  // the properties were checked on many inputs, not vacuously
}

TEST(WalkForwardTest, Errors) {
  const std::vector<Timestamp> time = EveryMinute(200);
  WalkForwardConfig config;  // 5 folds, half for the first train window, min test 20
  // 100 rows left for 5 folds: 20 each, exactly enough.
  EXPECT_TRUE(WalkForward(time, config).ok());
  const Result<std::vector<Fold>> small = WalkForward(EveryMinute(190), config);
  ASSERT_FALSE(small.ok());
  EXPECT_TRUE(Contains(small.status().message(), "min_test_rows 20")) << small.status().message();
  EXPECT_TRUE(Contains(small.status().message(), "200 rows")) << small.status().message();

  config.min_train_rows = 101;
  const Result<std::vector<Fold>> train = WalkForward(time, config);
  ASSERT_FALSE(train.ok());
  EXPECT_TRUE(Contains(train.status().message(), "min_train_rows 101"));
  EXPECT_TRUE(Contains(train.status().message(), "fold 0"));

  config = WalkForwardConfig();
  config.purge = Duration::Minutes(5);  // the first train window loses 5 of its 100 rows
  EXPECT_FALSE(WalkForward(time, config).ok());
  config.min_train_rows = 95;
  EXPECT_TRUE(WalkForward(time, config).ok());

  config = WalkForwardConfig();
  config.folds = 0;
  EXPECT_FALSE(WalkForward(time, config).ok());
  config = WalkForwardConfig();
  config.train_fraction = 1.0;
  EXPECT_FALSE(WalkForward(time, config).ok());
  EXPECT_FALSE(WalkForward(std::vector<Timestamp>(), WalkForwardConfig()).ok());
}

TEST(WindowKindTest, Parse) {
  EXPECT_EQ(*ParseWindowKind("rolling"), WindowKind::kRolling);
  EXPECT_EQ(*ParseWindowKind("expanding"), WindowKind::kExpanding);
  const Result<WindowKind> bad = ParseWindowKind("sliding");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(Contains(bad.status().message(), "sliding"));
  EXPECT_EQ(ToString(WindowKind::kRolling), "rolling");
}

}  // namespace
}  // namespace aits::ml
