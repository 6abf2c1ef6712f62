#include "aits/ml/feature_dataset.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "aits/data/test_util.h"

namespace aits::ml {
namespace {

using data::testing::SharedData;
using data::testing::TempDir;

constexpr Duration kM1 = Duration::Minutes(1);

FeatureBuildOptions GbpOptions() {
  FeatureBuildOptions options;
  options.read.ask_path = SharedData("gbpusd-m1-ask-2012.csv");
  return options;
}

bool SameFloats(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(FeatureDatasetTest, GbpUsdBidAskBarsWithTheDefaultTimeframes) {
  FeatureBuildStats stats;
  std::vector<double> fractions;
  FeatureBuildOptions options = GbpOptions();
  options.progress = [&fractions](double fraction) { fractions.push_back(fraction); };
  auto data = BuildFeatureDataset(SharedData("gbpusd-m1-bid-2012.csv"), options, &stats);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_TRUE(data->Validate().ok()) << data->Validate().ToString();
  EXPECT_EQ(stats.format, data::DataFormat::kCsvBars);
  EXPECT_EQ(stats.data_period, kM1);
  EXPECT_EQ(stats.read.accepted, 30117u);
  EXPECT_EQ(stats.rows + stats.warmup_rows_skipped, 30117u);
  EXPECT_EQ(stats.rows, data->rows());
  // H1 needs 34 closed hours: the data starts on 2012-02-01 00:00 (with some missing minutes).
  EXPECT_GE(data->time.front(), FromCivil(2012, 2, 1) + Duration::Hours(34));
  EXPECT_LT(data->time.front(), FromCivil(2012, 2, 1) + Duration::Hours(40));
  EXPECT_GT(stats.warmup_rows_skipped, 1900u);
  EXPECT_EQ(data->feature_set_version, "1");
  ASSERT_EQ(data->feature_names.size(), 68u);
  EXPECT_EQ(data->feature_names[0], "price_change_M1");
  EXPECT_EQ(data->x.cols(), 68u);
  features::FeatureEngineConfig config;
  EXPECT_EQ(data->feature_set_hash, features::FeatureEngine::Create(config)->Hash());
  // Rows are at one-minute bar closes; close and spread are the bar's mid close and ask - bid.
  for (size_t row = 0; row < data->rows(); ++row) {
    ASSERT_EQ(data->time[row].ns % kM1.ns, 0);
    ASSERT_GT(data->close[row], 1.4);
    ASSERT_LT(data->close[row], 1.7);
    ASSERT_GE(data->spread[row], 0.0);
    ASSERT_LT(data->spread[row], 0.01);
  }
  ASSERT_FALSE(fractions.empty());
  EXPECT_EQ(fractions.back(), 1.0);
  EXPECT_TRUE(std::is_sorted(fractions.begin(), fractions.end()));
}

TEST(FeatureDatasetTest, CsvRoundTripIsExact) {
  FeatureBuildStats stats;
  auto data = BuildFeatureDataset(SharedData("gbpusd-m1-bid-2012.csv"), GbpOptions(), &stats);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  TempDir dir;
  const std::string path = dir.Path("features.csv");
  ASSERT_TRUE(WriteFeatureCsv(*data, path).ok());
  auto back = ReadFeatureCsv(path);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->feature_set_version, data->feature_set_version);
  EXPECT_EQ(back->feature_set_hash, data->feature_set_hash);
  EXPECT_EQ(back->feature_names, data->feature_names);
  ASSERT_EQ(back->rows(), data->rows());
  for (size_t row = 0; row < data->rows(); ++row) {
    ASSERT_EQ(back->time[row], data->time[row]) << row;
    ASSERT_EQ(back->close[row], data->close[row]) << row;
    ASSERT_EQ(back->spread[row], data->spread[row]) << row;
    ASSERT_TRUE(SameFloats(back->x.Row(row), data->x.Row(row))) << row;
  }
}

TEST(FeatureDatasetTest, SinglePriceSeriesNeedsTimeframesFromItsPeriod) {
  FeatureBuildOptions options;
  options.read.spread_points = 20;
  options.read.price_precision = 4;
  FeatureBuildStats stats;
  const std::string path = SharedData("usdchf-30min-1996-2001.csv");
  auto too_fine = BuildFeatureDataset(path, options, &stats);
  ASSERT_FALSE(too_fine.ok());
  EXPECT_EQ(too_fine.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(too_fine.status().message(),
            "timeframe M1 is shorter than the data's bar period (30m) of " + path +
                "; use --timeframes M30,H1,H4,D1");

  options.engine.timeframes = {Duration::Minutes(45), Duration::Hours(90)};
  auto not_multiple = BuildFeatureDataset(path, options, &stats);
  ASSERT_FALSE(not_multiple.ok());
  EXPECT_NE(not_multiple.status().message().find("M45 is not a multiple"), std::string::npos)
      << not_multiple.status().message();

  auto timeframes = features::ParseTimeframes("M30,H1,H4,D1");
  ASSERT_TRUE(timeframes.ok());
  options.engine.timeframes = *timeframes;
  auto data = BuildFeatureDataset(path, options, &stats);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_TRUE(data->Validate().ok());
  EXPECT_EQ(stats.format, data::DataFormat::kPrice);
  EXPECT_EQ(stats.data_period, Duration::Minutes(30));
  EXPECT_EQ(data->feature_names.back(), "macd_D1");
  EXPECT_GT(data->rows(), 55'000u);
  // Every row is a 30-minute bar close; the spread is the configured 20 points of 4 digits.
  for (size_t row = 0; row < data->rows(); ++row) {
    ASSERT_EQ(data->time[row].ns % Duration::Minutes(30).ns, 0);
    ASSERT_NEAR(data->spread[row], 20e-4, 1e-12);
  }
  // D1 needs 34 days of warm-up.
  EXPECT_GE(data->time.front() - FromCivil(1996, 4, 1), Duration::Days(34));
}

// Features of M5 and above do not depend on whether M5 bars were built by the engine from M1
// bars or combined from M1 bars before the engine saw them (base M5).
TEST(FeatureDatasetTest, CombiningBarsToTheBaseTimeframeMatchesTheEngine) {
  FeatureBuildOptions fine = GbpOptions();
  fine.skip_warmup = false;
  FeatureBuildOptions coarse = fine;
  coarse.engine.timeframes = {Duration::Minutes(5), Duration::Minutes(15), Duration::Hours(1)};
  FeatureBuildStats fine_stats, coarse_stats;
  const std::string path = SharedData("gbpusd-m1-bid-2012.csv");
  auto a = BuildFeatureDataset(path, fine, &fine_stats);
  auto b = BuildFeatureDataset(path, coarse, &coarse_stats);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(coarse_stats.warmup_rows_skipped, 0u);
  // One coarse row per five-minute period holding any minute bar, but the last one if its
  // closing minute is missing.
  std::set<int64_t> periods;
  for (Timestamp time : a->time) periods.insert((time.ns - kM1.ns) / Duration::Minutes(5).ns);
  const bool last_complete = a->time.back().ns % Duration::Minutes(5).ns == 0;
  EXPECT_EQ(b->rows(), periods.size() - (last_complete ? 0 : 1));
  std::map<int64_t, size_t> fine_row;
  for (size_t row = 0; row < a->rows(); ++row) fine_row[a->time[row].ns] = row;
  size_t compared = 0;
  for (size_t row = 0; row < b->rows(); ++row) {
    ASSERT_EQ(b->time[row].ns % Duration::Minutes(5).ns, 0);
    auto it = fine_row.find(b->time[row].ns);
    if (it == fine_row.end()) continue;  // the minute bar closing the five minutes is missing
    // Columns 17.. of the fine set are M5, M15, H1: the whole coarse row.
    const std::span<const float> fine_values = a->x.Row(it->second).subspan(17);
    ASSERT_TRUE(SameFloats(fine_values, b->x.Row(row))) << FormatIso8601(b->time[row]);
    ASSERT_EQ(a->close[it->second], b->close[row]);
    ++compared;
  }
  EXPECT_GT(compared, 5000u);
}

TEST(FeatureDatasetTest, TicksGiveOneRowPerCompletedBaseBar) {
  FeatureBuildOptions options;
  options.engine.timeframes = {Duration::Seconds(30), kM1, Duration::Minutes(5)};
  FeatureBuildStats stats;
  const std::string path = SharedData("eurusd-ticks-2020-01-01.csv");
  auto data = BuildFeatureDataset(path, options, &stats);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(stats.format, data::DataFormat::kHistDataTicks);
  EXPECT_EQ(stats.data_period, Duration{});
  EXPECT_EQ(stats.read.rows, 9500u);
  EXPECT_GT(data->rows(), 100u);
  EXPECT_TRUE(data->Validate().ok());
  // The same ticks through the engine directly: the rows it reports once Ready().
  auto ticks = data::testing::ReadAllTicks(path, options.read);
  ASSERT_TRUE(ticks.status.ok());
  auto engine = features::FeatureEngine::Create(options.engine);
  ASSERT_TRUE(engine.ok());
  std::vector<Timestamp> times;
  size_t bars = 0;
  for (const Tick& tick : ticks.ticks) {
    if (!engine->OnTick(tick)) continue;
    ++bars;
    if (engine->Ready()) times.push_back(engine->RowTime());
  }
  EXPECT_EQ(data->time, times);
  EXPECT_EQ(stats.rows + stats.warmup_rows_skipped, bars);
}

TEST(FeatureDatasetTest, TooLittleDataForTheWarmUpIsAnError) {
  // Six hours of ticks cannot warm up 34 hourly bars.
  auto data = BuildFeatureDataset(SharedData("eurusd-ticks-2020-01-01.csv"), {}, nullptr);
  ASSERT_FALSE(data.ok());
  EXPECT_NE(data.status().message().find("warm-up"), std::string::npos) << data.status().message();
  EXPECT_NE(data.status().message().find("H1"), std::string::npos);
}

TEST(FeatureDatasetTest, BadInput) {
  FeatureBuildStats stats;
  auto missing = BuildFeatureDataset("/nonexistent/feed.csv", {}, &stats);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("/nonexistent/feed.csv"), std::string::npos)
      << missing.status().message();

  FeatureBuildOptions options;
  options.engine.timeframes = {Duration::Minutes(5), kM1};
  auto bad_config = BuildFeatureDataset(SharedData("gbpusd-m1-bid-2012.csv"), options, &stats);
  ASSERT_FALSE(bad_config.ok());
  EXPECT_NE(bad_config.status().message().find("M1"), std::string::npos);

  FeatureBuildOptions with_ask;
  with_ask.read.ask_path = SharedData("gbpusd-m1-ask-2012.csv");
  auto ticks_with_ask =
      BuildFeatureDataset(SharedData("eurusd-ticks-2020-01-01.csv"), with_ask, &stats);
  ASSERT_FALSE(ticks_with_ask.ok());
  EXPECT_NE(ticks_with_ask.status().message().find("joins bar files only"), std::string::npos);

  TempDir dir;
  const std::string garbage = dir.Write("garbage.csv", "hello\nworld\n");
  auto unknown = BuildFeatureDataset(garbage, {}, &stats);
  EXPECT_FALSE(unknown.ok());
}

TEST(FeatureDatasetTest, FormatPeriod) {
  EXPECT_EQ(FormatPeriod(Duration::Minutes(30)), "30m");
  EXPECT_EQ(FormatPeriod(Duration::Hours(2)), "2h");
  EXPECT_EQ(FormatPeriod(Duration::Days(1)), "1d");
  EXPECT_EQ(FormatPeriod(Duration::Seconds(15)), "15s");
}

}  // namespace
}  // namespace aits::ml
