// Resolution of a paper session's settings: a flag wins over the settings file, which wins over
// the default; unknown sections and keys are errors naming the file and line.
#include "aits/config/paper_settings.h"

#include <gtest/gtest.h>

#include <string>

#include "aits/config/config_test_util.h"

namespace aits::config {
namespace {

using testing::TestDir;
using testing::WriteFile;

TEST(PaperSettingsTest, DefaultsWhenNothingIsGiven) {
  bool reconcile_given = false;
  auto spec = SpecFromFlags(PaperFlags{}, &reconcile_given);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_FALSE(reconcile_given);
  EXPECT_EQ(spec->feed, "synthetic");
  EXPECT_EQ(spec->symbol, "EURUSD");
  EXPECT_EQ(spec->account_mode, "netting");
  EXPECT_EQ(spec->reconcile, "refuse");
  EXPECT_EQ(spec->bar_seconds, 60);
  EXPECT_EQ(spec->start_price, 1.1);
}

TEST(PaperSettingsTest, FlagWinsOverFileWhichWinsOverDefault) {
  const std::string dir = TestDir();
  const std::string yaml = WriteFile(dir, "paper.yaml",
                                     "account:\n  account_mode: hedging\n"
                                     "reconcile: adopt\n"
                                     "decision:\n  buy_threshold: 0.6\n");
  PaperFlags flags;
  flags.config = yaml;
  bool reconcile_given = false;
  auto from_file = SpecFromFlags(flags, &reconcile_given);
  ASSERT_TRUE(from_file.ok()) << from_file.status().ToString();
  EXPECT_TRUE(reconcile_given);
  EXPECT_EQ(from_file->account_mode, "hedging");  // file over default
  EXPECT_EQ(from_file->reconcile, "adopt");
  ASSERT_EQ(from_file->decision.size(), 1u);
  EXPECT_EQ(from_file->decision[0].second, "0.6");

  flags.account_mode = "netting";  // flag over file
  flags.reconcile = "flatten";
  auto from_flags = SpecFromFlags(flags, &reconcile_given);
  ASSERT_TRUE(from_flags.ok()) << from_flags.status().ToString();
  EXPECT_EQ(from_flags->account_mode, "netting");
  EXPECT_EQ(from_flags->reconcile, "flatten");
}

TEST(PaperSettingsTest, UnknownSectionAndKeyNameFileAndLine) {
  const std::string dir = TestDir();
  const std::string yaml = WriteFile(dir, "paper.yaml", "decision:\n  buy_threshold: 0.6\nrsk:\n");
  PaperFlags flags;
  flags.config = yaml;
  bool reconcile_given = false;
  auto spec = SpecFromFlags(flags, &reconcile_given);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(spec.status().message(), yaml +
                                         ":3: unknown section 'rsk' (known: decision, risk, "
                                         "account, execution, reconcile, and data "
                                         "as a list of feeds)");

  const std::string key = WriteFile(dir, "key.yaml", "account:\n  cash: 5\n");
  flags.config = key;
  auto by_key = SpecFromFlags(flags, &reconcile_given);
  ASSERT_FALSE(by_key.ok());
  EXPECT_EQ(by_key.status().message(), key + ":2: unknown key account.cash (known: account_mode)");
}

TEST(PaperSettingsTest, AnEmptyFileSetsNothing) {
  const std::string yaml = WriteFile(TestDir(), "paper.yaml", "");
  PaperFlags flags;
  flags.config = yaml;
  bool reconcile_given = false;
  auto spec = SpecFromFlags(flags, &reconcile_given);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_FALSE(reconcile_given);
}

TEST(PaperSettingsTest, OneInstrumentFlagsWithSeveralFeedsAreAConflict) {
  PaperFlags flags;
  flags.synthetic = {"EURUSD", "USDJPY"};
  flags.symbol = "GBPUSD";
  bool reconcile_given = false;
  auto spec = SpecFromFlags(flags, &reconcile_given);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(spec.status().message().rfind("--symbol is for a session of one instrument", 0), 0u)
      << spec.status().message();
}

TEST(PaperSettingsTest, OptionsCheckSpeedSyncAndReconcile) {
  PaperFlags flags;
  flags.speed = "60x";
  flags.sync = "normal";
  auto options = ResolvePaperOptions(flags, /*spec_given=*/true);
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->speed, 60);
  EXPECT_EQ(options->store.sync, persistence::Sync::kNormal);
  EXPECT_FALSE(options->reconcile);
  EXPECT_EQ(options->state_dir, "paper-session");

  flags.speed = "fast";
  EXPECT_EQ(ResolvePaperOptions(flags, true).status().message(),
            "--speed 'fast' is not a positive multiple of real time (1, 10, 60x) or max");
  flags.speed = "max";
  flags.sync = "sometimes";
  EXPECT_EQ(ResolvePaperOptions(flags, true).status().message(),
            "--sync 'sometimes' is not full or normal");
  // A resume takes the policy from the flag without resolving a session.
  flags.sync = "full";
  flags.reconcile = "adopt";
  auto resume = ResolvePaperOptions(flags, /*spec_given=*/false);
  ASSERT_TRUE(resume.ok()) << resume.status().ToString();
  ASSERT_TRUE(resume->reconcile);
  EXPECT_EQ(*resume->reconcile, execution::ReconcilePolicy::kAdopt);
  flags.reconcile = "merge";
  EXPECT_EQ(ResolvePaperOptions(flags, false).status().code(), StatusCode::kInvalidArgument);
}

TEST(PaperSettingsTest, CheckpointEveryIsPassedOnAndNeverZero) {
  PaperFlags flags;
  auto defaults = ResolvePaperOptions(flags, /*spec_given=*/true);
  ASSERT_TRUE(defaults.ok()) << defaults.status().ToString();
  EXPECT_EQ(defaults->checkpoint_every, 10'000u);
  flags.checkpoint_every = 20;
  auto often = ResolvePaperOptions(flags, true);
  ASSERT_TRUE(often.ok()) << often.status().ToString();
  EXPECT_EQ(often->checkpoint_every, 20u);
  flags.checkpoint_every = 0;
  EXPECT_EQ(ResolvePaperOptions(flags, true).status().message(),
            "--checkpoint-every 0: an account checkpoint needs at least 1 tick");
}

}  // namespace
}  // namespace aits::config
