// Resolution of ml.yaml: a flag wins over the file, which wins over the default; a key nobody
// reads is an error naming the file, the key and its line.
#include "aits/config/ml_settings.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "aits/config/config_test_util.h"

namespace aits::config {
namespace {

using testing::TestDir;
using testing::WriteFile;

TEST(MlSettingsTest, FlagWinsOverFileWhichWinsOverDefault) {
  const std::string dir = TestDir();
  const std::string data = WriteFile(dir, "eurusd-ticks.csv", "timestamp,bid,ask\n");
  const std::string yaml = WriteFile(dir, "ml.yaml",
                                     "data:\n  path: " + data +
                                         "\n"
                                         "walk_forward:\n  folds: 3\n"
                                         "seed: 7\n");
  MlFlags flags;
  flags.config_path = yaml;
  flags.seed = 11;  // flag over file
  auto resolved = ResolveMlConfig(flags);
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  EXPECT_EQ(resolved->seed, 11u);                                      // flag
  EXPECT_EQ(resolved->walk_forward.folds, 3);                          // file
  EXPECT_EQ(resolved->train_fraction, ml::MlConfig{}.train_fraction);  // default
  EXPECT_EQ(resolved->symbol, "EURUSD");                               // from the file name
  EXPECT_EQ(resolved->name, "eurusd_" + features::TimeframeName(resolved->timeframes.front()));
}

TEST(MlSettingsTest, UnknownKeyNamesFileKeyAndLine) {
  const std::string dir = TestDir();
  const std::string yaml = WriteFile(dir, "ml.yaml",
                                     "data:\n  path: x.csv\n"
                                     "xgboost:\n  rounds: 10\n  depth: 3\n");
  MlFlags flags;
  flags.config_path = yaml;
  auto resolved = ResolveMlConfig(flags);
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(resolved.status().message(), yaml + ": unknown setting 'xgboost.depth' (line 5)");
}

TEST(MlSettingsTest, NoDataIsAnError) {
  auto resolved = ResolveMlConfig(MlFlags{});
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.status().message(),
            "no data file: give --data FILE or 'data: {path: FILE}' in the config");
}

}  // namespace
}  // namespace aits::config
