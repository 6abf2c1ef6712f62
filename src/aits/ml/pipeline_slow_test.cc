// Whole training and evaluation runs (label "slow"): reproducibility, the registry and its
// gate, and the walk-forward evaluation with its backtests and report.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "aits/data/test_util.h"
#include "aits/ml/pipeline.h"
#include "aits/ml/pipeline_test_util.h"

namespace aits::ml {
namespace {

using data::testing::SharedData;
using data::testing::TempDir;

MlConfig SmallConfig(const TempDir& dir) {
  testing::CopyHead(SharedData("gbpusd-m1-bid-2012.csv"), dir.path() + "/bid.csv", 9000);
  testing::CopyHead(SharedData("gbpusd-m1-ask-2012.csv"), dir.path() + "/ask.csv", 9000);
  MlConfig c = testing::SmallConfig(dir.path() + "/bid.csv", dir.path() + "/ask.csv",
                                    dir.path() + "/registry");
  c.walk_forward.folds = 2;
  return c;
}

std::string Bytes(const ModelRegistry& registry, const ModelRecord& record) {
  auto bytes = registry.LoadBytes(record, record.feature_set_hash);
  EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
  return bytes.ok() ? *bytes : std::string();
}

TEST(PipelineSlowTest, TrainingIsReproducibleAndRegistered) {
  TempDir dir;
  MlConfig config = SmallConfig(dir);
  std::vector<std::string> stages;
  TrainListener listener;
  listener.on_stage = [&stages](const std::string& stage) { stages.push_back(stage); };
  auto first = RunTraining(config, listener);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = RunTraining(config, {});
  ASSERT_TRUE(second.ok()) << second.status().ToString();

  // Same data and seed: the same model bytes for the ensemble and every member, and the same
  // metrics.
  auto registry = ModelRegistry::Open(config.registry_dir, false);
  ASSERT_TRUE(registry.ok());
  EXPECT_EQ(first->ensemble_record.version, 1);
  EXPECT_EQ(second->ensemble_record.version, 2);
  EXPECT_EQ(Bytes(*registry, first->ensemble_record), Bytes(*registry, second->ensemble_record));
  ASSERT_EQ(first->member_records.size(), 6u);  // 5 members + the regressor
  ASSERT_EQ(second->member_records.size(), 6u);
  for (size_t idx = 0; idx < first->member_records.size(); ++idx) {
    EXPECT_EQ(first->member_records[idx].kind, second->member_records[idx].kind);
    EXPECT_EQ(Bytes(*registry, first->member_records[idx]),
              Bytes(*registry, second->member_records[idx]))
        << first->member_records[idx].kind;
    EXPECT_EQ(first->member_records[idx].parent, "gbpusd_test@1");
  }
  EXPECT_EQ(first->metrics["test"].dump(), second->metrics["test"].dump());

  // The record carries what the issue asks for, and the gate decided its status.
  const ModelRecord& r = first->ensemble_record;
  EXPECT_EQ(r.kind, "ensemble");
  EXPECT_FALSE(r.feature_set_hash.empty());
  EXPECT_FALSE(r.code_version.empty());
  EXPECT_LT(r.train_begin.ns, r.train_end.ns);
  EXPECT_TRUE(r.metrics["validation"].contains("auc"));
  EXPECT_TRUE(r.metrics["baseline"].contains("auc"));
  EXPECT_EQ(r.params["features"]["timeframes"].size(), 4u);
  if (first->gate.passed) {
    EXPECT_EQ(r.status, ModelStatus::kProduction);
  } else {
    EXPECT_EQ(r.status, ModelStatus::kRejected);
  }
  EXPECT_FALSE(first->gate.reason.empty());
  // A registry load with another feature set's hash is refused.
  EXPECT_FALSE(registry->LoadBytes(r, "0000000000000000").ok());
  // Progress reports every stage.
  std::string all;
  for (const auto& stage : stages) all += stage + "\n";
  for (const char* part :
       {"stage 1", "XGBoost", "random forest", "logistic", "LSTM", "GRU", "registry"}) {
    EXPECT_NE(all.find(part), std::string::npos) << part << " in:\n" << all;
  }
}

TEST(PipelineSlowTest, WalkForwardEvaluationReportsEveryModelAndBaseline) {
  TempDir dir;
  MlConfig config = SmallConfig(dir);
  config.stacking = true;
  config.walk_forward.folds = 3;
  auto result = RunEvaluation(config, {});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->folds.size(), 3u);
  for (const char* model :
       {"xgboost", "random_forest", "logistic", "lstm", "gru", "ensemble", "stacked (folds 2..)"}) {
    ASSERT_TRUE(result->metrics["models"].contains(model)) << model;
    const auto& m = result->metrics["models"][model];
    EXPECT_GT(m["n"].get<int>(), 100) << model;
    for (const char* key : {"accuracy", "precision", "recall", "log_loss", "auc"}) {
      EXPECT_TRUE(m.contains(key)) << model << " " << key;
    }
  }
  EXPECT_TRUE(result->metrics["ic"].contains("ensemble"));
  EXPECT_EQ(result->calibration.size(), 10u);
  // Every out-of-fold row comes after its fold's training rows by more than the purge.
  for (const Fold& fold : result->folds) EXPECT_LT(fold.train.end, fold.test.begin);
  ASSERT_EQ(result->backtests.size(), 4u);
  EXPECT_EQ(result->backtests[0].name, "ml_ensemble");
  for (const auto& run : result->backtests) {
    // Same span for every run: from the first out-of-fold row on.
    EXPECT_GE(run.result.first.ns, result->scores.front().time.ns - Duration::Minutes(1).ns)
        << run.name;
  }
  EXPECT_EQ(result->backtests[1].result.stats.trades + result->backtests[1].result.fills.size() > 0,
            true);

  const std::string out = dir.path() + "/eval";
  ASSERT_TRUE(WriteEvaluationOutputs(*result, out).ok());
  for (const char* file : {"metrics.json", "scores.csv", "report.html"}) {
    EXPECT_TRUE(std::filesystem::exists(out + "/" + file)) << file;
  }
  std::ifstream html(out + "/report.html");
  std::stringstream text;
  text << html.rdbuf();
  for (const char* part : {"walk-forward evaluation", "buy_and_hold", "sma_cross", "random_signal",
                           "Calibration", "Summary"}) {
    EXPECT_NE(text.str().find(part), std::string::npos) << part;
  }
}

TEST(PipelineSlowTest, MissingDataIsAClearError) {
  TempDir dir;
  MlConfig config = SmallConfig(dir);
  config.data_path = dir.path() + "/nope.csv";
  auto result = RunTraining(config, {});
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("nope.csv"), std::string::npos);
}

}  // namespace
}  // namespace aits::ml
