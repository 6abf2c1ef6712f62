// Resolution of a backtest's settings: a given value (flag) wins over the settings file, which
// wins over the default; conflicting settings and unknown keys are errors naming where they are.
#include "aits/config/backtest_settings.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "aits/config/config_test_util.h"

namespace aits::config {
namespace {

using testing::TestDir;
using testing::WriteFile;

// Three EURUSD ticks as a csv-ticks file.
std::string EurusdTicks(const std::string& dir) {
  return WriteFile(dir, "eurusd-ticks.csv",
                   "timestamp,bid,ask\n2020-01-06 00:00:00,1.10000,1.10010\n"
                   "2020-01-06 00:01:00,1.10100,1.10110\n2020-01-06 00:02:00,1.10200,1.10210\n");
}

// The error of resolving a run of the EURUSD ticks with the settings file `yaml_text` (written
// to dir/run.yaml, its path in *yaml_path): resolution must fail with InvalidArgument.
std::string ErrorWithFile(const std::string& dir, const std::string& yaml_text,
                          std::string* yaml_path) {
  *yaml_path = WriteFile(dir, "run.yaml", yaml_text);
  BacktestFlags flags;
  flags.config_path = *yaml_path;
  flags.data_items = {EurusdTicks(dir)};
  auto resolved = ResolveBacktest(flags);
  if (resolved.ok()) return "resolved without an error";
  EXPECT_EQ(resolved.status().code(), StatusCode::kInvalidArgument);
  return resolved.status().message();
}

TEST(BacktestSettingsTest, DefaultsWhenNothingIsGiven) {
  const std::string dir = TestDir();
  BacktestFlags flags;
  flags.data_items = {EurusdTicks(dir)};
  auto resolved = ResolveBacktest(flags);
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  const backtest::BacktestConfig& config = resolved->config;
  EXPECT_EQ(config.strategy, "sma_cross");
  EXPECT_EQ(config.instrument.symbol, "EURUSD");
  EXPECT_EQ(config.kernel.leverage, 100);
  EXPECT_EQ(config.kernel.initial_balance.ToString(), Money::FromDouble(100'000)->ToString());
  EXPECT_EQ(config.kernel.venue.slippage_points, 0);
  EXPECT_EQ(config.kernel.bar_period.ns, Duration::Minutes(1).ns);
  EXPECT_FALSE(config.resample_bars);
  EXPECT_EQ(config.fill_mode, "auto");
  EXPECT_TRUE(resolved->out_dir.empty());
}

TEST(BacktestSettingsTest, FlagWinsOverFileWhichWinsOverDefault) {
  const std::string dir = TestDir();
  EurusdTicks(dir);
  // The file's data path is relative to the file, not to the working directory.
  const std::string yaml = WriteFile(dir, "run.yaml",
                                     "data: eurusd-ticks.csv\n"
                                     "bar: H1\n"
                                     "account:\n"
                                     "  leverage: 50\n"
                                     "  cash: 2500\n"
                                     "costs:\n"
                                     "  slippage_points: 3\n"
                                     "strategy:\n"
                                     "  name: sma_cross\n"
                                     "  params:\n"
                                     "    fast: 5\n"
                                     "    slow: 40\n");
  BacktestFlags flags;
  flags.config_path = yaml;
  flags.leverage = 200;        // flag over file
  flags.params = {"slow=60"};  // flag over file, key by key
  flags.bar = "M5";            // flag over file
  auto resolved = ResolveBacktest(flags);
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  const backtest::BacktestConfig& config = resolved->config;
  EXPECT_EQ(config.data_path, (std::filesystem::path(dir) / "eurusd-ticks.csv").string());
  EXPECT_EQ(config.kernel.leverage, 200);                           // flag
  EXPECT_EQ(config.kernel.bar_period.ns, Duration::Minutes(5).ns);  // flag
  EXPECT_EQ(config.kernel.venue.slippage_points, 3);                // file
  EXPECT_EQ(config.kernel.initial_balance.ToString(), Money::FromDouble(2500)->ToString());
  EXPECT_EQ(config.kernel.venue.stop_out_level, kernel::KernelConfig{}.venue.stop_out_level);
  EXPECT_EQ(config.params.values().at("fast"), "5");   // file
  EXPECT_EQ(config.params.values().at("slow"), "60");  // flag

  // Without the flags, the file's values.
  BacktestFlags file_only;
  file_only.config_path = yaml;
  auto from_file = ResolveBacktest(file_only);
  ASSERT_TRUE(from_file.ok()) << from_file.status().ToString();
  EXPECT_EQ(from_file->config.kernel.leverage, 50);
  EXPECT_EQ(from_file->config.kernel.bar_period.ns, Duration::Hours(1).ns);
  EXPECT_EQ(from_file->config.params.values().at("slow"), "40");
}

TEST(BacktestSettingsTest, DataOnTheCommandLineReplacesTheFiles) {
  const std::string dir = TestDir();
  const std::string ticks = EurusdTicks(dir);
  const std::string yaml = WriteFile(dir, "run.yaml", "data: missing.csv\n");
  BacktestFlags flags;
  flags.config_path = yaml;
  flags.data_items = {ticks};
  auto resolved = ResolveBacktest(flags);
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  EXPECT_EQ(resolved->config.data_path, ticks);
}

TEST(BacktestSettingsTest, StrategyAndSignalTogetherAreAConflict) {
  const std::string dir = TestDir();
  BacktestFlags flags;
  flags.data_items = {EurusdTicks(dir)};
  flags.strategy = "rsi_reversion";
  flags.signal = "sma_cross";
  auto resolved = ResolveBacktest(flags);
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(resolved.status().message(),
            "--strategy rsi_reversion and --signal sma_cross both say what trades: give one "
            "(--signal trades through the decision engine and the risk manager)");
}

TEST(BacktestSettingsTest, TwoCatalogueFilesAreAConflict) {
  const std::string dir = TestDir();
  const std::string yaml = WriteFile(dir, "run.yaml", "instruments: mine.csv\n");
  BacktestFlags flags;
  flags.config_path = yaml;
  flags.data_items = {EurusdTicks(dir)};
  flags.instruments = dir + "/theirs.csv";
  auto resolved = ResolveBacktest(flags);
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(resolved.status().message().find("name different catalogue files"), std::string::npos)
      << resolved.status().message();
  EXPECT_NE(resolved.status().message().find(yaml), std::string::npos);
}

TEST(BacktestSettingsTest, DecisionSettingsWithoutADecisionStackAreRefused) {
  std::string yaml;
  const std::string error = ErrorWithFile(TestDir(), "decision:\n  buy_threshold: 0.6\n", &yaml);
  EXPECT_EQ(error.rfind("decision: settings are for the decision stack", 0), 0u) << error;
}

TEST(BacktestSettingsTest, UnknownKeyNamesFileKeyAndLine) {
  std::string yaml;
  const std::string error = ErrorWithFile(TestDir(),
                                          "bar: M1\n"
                                          "account:\n"
                                          "  cash: 1000\n"
                                          "  levrage: 5\n",
                                          &yaml);
  EXPECT_EQ(error, yaml + ": unknown setting 'account.levrage' (line 4)");
}

TEST(BacktestSettingsTest, WrongTypeNamesFileKeyAndValue) {
  std::string yaml;
  const std::string error = ErrorWithFile(TestDir(), "account:\n  leverage: lots\n", &yaml);
  EXPECT_EQ(error, yaml + ": setting 'account.leverage' value 'lots' has the wrong type");
}

TEST(BacktestSettingsTest, YamlFeedErrorsNameFileAndLine) {
  const std::string dir = TestDir();
  EurusdTicks(dir);
  const std::string yaml = WriteFile(dir, "run.yaml",
                                     "data:\n"
                                     "  - {symbol: EURUSD, files: eurusd-ticks.csv}\n"
                                     "  - {symbol: GBPUSD, files: gbpusd.csv, role: hedge}\n");
  BacktestFlags flags;
  flags.config_path = yaml;
  auto resolved = ResolveBacktest(flags);
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(resolved.status().message(),
            yaml + ":3 (GBPUSD): role 'hedge' is not trade or convert");
}

TEST(BacktestSettingsTest, FeedItemsFromFlags) {
  std::optional<std::string> single;
  std::vector<FeedFlag> feeds;
  ASSERT_TRUE(ParseFeedItems({"gbpusd=bid.csv,ask.csv", "USDJPY=jpy.csv"}, {"EURUSD=eur.csv"},
                             &single, &feeds)
                  .ok());
  EXPECT_FALSE(single);
  ASSERT_EQ(feeds.size(), 3u);
  EXPECT_EQ(feeds[0].symbol, "GBPUSD");
  EXPECT_EQ(feeds[0].files, (std::vector<std::string>{"bid.csv", "ask.csv"}));
  EXPECT_EQ(feeds[0].where, "--data gbpusd=bid.csv,ask.csv");
  EXPECT_EQ(feeds[2].role, "convert");

  feeds.clear();
  const Status three = ParseFeedItems({"GBPUSD=a.csv,b.csv,c.csv"}, {}, &single, &feeds);
  EXPECT_EQ(three.message(),
            "--data GBPUSD=a.csv,b.csv,c.csv: 3 files; give one data file, or a bid and an ask "
            "bar file");
  const Status convert_only = ParseFeedItems({}, {"GBPUSD=a.csv"}, &single, &feeds);
  EXPECT_EQ(convert_only.code(), StatusCode::kInvalidArgument);
}

TEST(BacktestSettingsTest, BarPeriodsAndTimes) {
  EXPECT_EQ(ParseBarPeriod("M15")->ns, Duration::Minutes(15).ns);
  EXPECT_EQ(ParseBarPeriod("90s")->ns, Duration::Seconds(90).ns);
  EXPECT_EQ(ParseBarPeriod("M0").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseBarPeriod("400d").status().message(), "bar period '400d' is longer than 366 days");
  EXPECT_EQ(ParseDateTime("--from", "2012-02-24T13:30")->ns,
            (FromCivil(2012, 2, 24).ns + Duration::Minutes(13 * 60 + 30).ns));
  EXPECT_EQ(ParseDateTime("--from", "0212-02-24").status().message(),
            "--from '0212-02-24' is not a UTC date or time (YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS])");
}

}  // namespace
}  // namespace aits::config
