// Retraining a registered ensemble on recent rows (retrain.h) on the real GBP/USD one-minute
// bars: a source model trained by RunTraining on the first days, then retrained, by continued
// boosting and anew, on a window that reaches into the days after. Small models: seconds.
#include "aits/ml/retrain.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "aits/data/test_util.h"
#include "aits/ml/internal/pipeline_steps.h"
#include "aits/ml/model_watch.h"
#include "aits/ml/pipeline_test_util.h"
#include "aits/models/ensemble.h"
#include "aits/models/xgboost_model.h"

namespace aits::ml {
namespace {

using data::testing::SharedData;
using data::testing::TempDir;
using testing::CopyHead;
using testing::SmallConfig;

class RetrainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    // The source learns from the first 6,000 minutes; the data has grown to 9,000 since.
    CopyHead(SharedData("gbpusd-m1-bid-2012.csv"), Path("old-bid.csv"), 6000);
    CopyHead(SharedData("gbpusd-m1-ask-2012.csv"), Path("old-ask.csv"), 6000);
    CopyHead(SharedData("gbpusd-m1-bid-2012.csv"), Path("bid.csv"), 9000);
    CopyHead(SharedData("gbpusd-m1-ask-2012.csv"), Path("ask.csv"), 9000);
    MlConfig source = SmallConfig(Path("old-bid.csv"), Path("old-ask.csv"), Path("registry"));
    auto trained = RunTraining(source, {});
    ASSERT_TRUE(trained.ok()) << trained.status().ToString();
    ASSERT_EQ(trained->ensemble_record.version, 1);
    // A model without an XGBoost member: nothing to continue.
    MlConfig without = source;
    without.name = "no_xgb";
    without.use_xgboost = false;
    without.use_lstm = false;
    without.use_gru = false;
    ASSERT_TRUE(RunTraining(without, {}).ok());
    config_ = new MlConfig(SmallConfig(Path("bid.csv"), Path("ask.csv"), Path("registry")));
  }
  static void TearDownTestSuite() {
    delete config_;
    delete dir_;
  }
  static std::string Path(const std::string& name) { return dir_->path() + "/" + name; }

  static RetrainOptions Options(RetrainMode mode, size_t rows = 3000) {
    RetrainOptions options;
    options.model = "gbpusd_test@1";
    options.mode = mode;
    options.rows = rows;
    return options;
  }

  static ModelRegistry Registry() {
    auto registry = ModelRegistry::Open(Path("registry"), false);
    EXPECT_TRUE(registry.ok()) << registry.status().ToString();
    return std::move(*registry);
  }

  static Ensemble Load(const ModelRecord& record) {
    ModelRegistry registry = Registry();
    auto bytes = registry.LoadBytes(record, record.feature_set_hash);
    EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
    auto ensemble = Ensemble::Deserialize(*bytes, record.name);
    EXPECT_TRUE(ensemble.ok()) << ensemble.status().ToString();
    return std::move(*ensemble);
  }

  // Every record of the registry with its checksum: what "nothing changed" compares.
  static std::vector<std::string> Contents() {
    std::vector<std::string> out;
    auto records = Registry().List();
    EXPECT_TRUE(records.ok());
    for (const ModelRecord& r : *records) {
      out.push_back(std::to_string(r.id) + " " + r.name + "@" + std::to_string(r.version) + " " +
                    std::string(ToString(r.status)) + " " + r.sha256_or_fnv);
    }
    size_t files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(Path("registry/models"))) {
      files += entry.is_regular_file() ? 1 : 0;
    }
    out.push_back(std::to_string(files) + " files");
    return out;
  }

  // Runs a retrain that must fail, and checks that the registry is as it was.
  static Status Refused(const MlConfig& config, const RetrainOptions& options) {
    const std::vector<std::string> before = Contents();
    auto result = RunRetrain(config, options, {});
    EXPECT_FALSE(result.ok());
    EXPECT_EQ(Contents(), before) << "a refused retrain changed the registry";
    return result.ok() ? Status::Ok() : result.status();
  }

  static TempDir* dir_;
  static MlConfig* config_;
};

TempDir* RetrainTest::dir_ = nullptr;
MlConfig* RetrainTest::config_ = nullptr;

std::string Bytes(const RowModel& model) { return model.Serialize(); }

TEST_F(RetrainTest, UpdateRegistersACandidateOfTheSourceScoredOnTheSameHoldout) {
  auto result = RunRetrain(*config_, Options(RetrainMode::kUpdate), {});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const ModelRecord& source = result->source;
  const ModelRecord& candidate = result->candidate;
  EXPECT_EQ(source.name, "gbpusd_test");
  EXPECT_EQ(candidate.name, "gbpusd_test");
  EXPECT_GT(candidate.version, source.version);
  EXPECT_EQ(candidate.status, ModelStatus::kCandidate) << "never promoted";
  EXPECT_EQ(candidate.parent, "gbpusd_test@" + std::to_string(source.version));
  EXPECT_EQ(candidate.feature_set_hash, source.feature_set_hash);
  auto found = Registry().Find("gbpusd_test@1");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->status, source.status) << "the source is left as it was";

  // The window: the last 3,000 labelled rows of the file, its last 15 % the holdout, the rows
  // learnt from a purge before it.
  FeatureBuildStats stats;
  auto data = internal::LoadData(*config_, {}, &stats);
  ASSERT_TRUE(data.ok());
  auto labels = MakeLabels(*data, config_->label);
  ASSERT_TRUE(labels.ok());
  size_t labelled = 0;
  size_t last_labelled = 0;
  for (size_t r = 0; r < data->rows(); ++r) {
    if (!std::isfinite(labels->direction[r])) continue;
    last_labelled = r;
    labelled += r >= result->window.begin ? 1 : 0;
  }
  EXPECT_EQ(labelled, 3000u);
  EXPECT_TRUE(std::isfinite(labels->direction[result->window.begin]));
  EXPECT_EQ(result->window.end, last_labelled + 1);
  EXPECT_EQ(result->holdout.end, result->window.end);
  EXPECT_EQ(result->holdout.size(),
            static_cast<size_t>(static_cast<double>(result->window.size()) * 0.15));
  EXPECT_GT(result->holdout.size(), 400u);
  EXPECT_EQ(result->train.begin, result->window.begin);
  EXPECT_LE(data->time[result->train.end - 1].ns,
            data->time[result->holdout.begin].ns - internal::Purge(*config_).ns);
  EXPECT_GT(data->time[result->train.end].ns,
            data->time[result->holdout.begin].ns - internal::Purge(*config_).ns)
      << "no more purged than needed";
  EXPECT_EQ(candidate.train_begin.ns, data->time[result->train.begin].ns);
  EXPECT_EQ(candidate.train_end.ns, data->time[result->train.end - 1].ns);

  // The baseline is the source's own score on the holdout, as the test computes it.
  Ensemble source_ensemble = Load(source);
  const ScoredRows scored =
      ScoreRows(source_ensemble, nullptr, *data, result->holdout, internal::WarmUpRows(*config_));
  const nlohmann::json expected =
      ScoreMetrics(source_ensemble.MemberKinds(), scored, *labels)["models"]["ensemble"];
  // Every metric with a value (a precision without calls up has none, and is left out).
  nlohmann::json numbers = nlohmann::json::object();
  for (const auto& [name, value] : expected.items()) {
    if (value.is_number()) numbers[name] = value;
  }
  EXPECT_EQ(candidate.metrics["baseline"], numbers);
  EXPECT_TRUE(candidate.metrics["baseline"]["auc"].is_number());
  EXPECT_EQ(candidate.metrics["baseline_model"], "gbpusd_test@1");
  EXPECT_TRUE(candidate.metrics["validation"]["auc"].is_number());
  EXPECT_NE(candidate.metrics["validation"], candidate.metrics["baseline"]);
  EXPECT_EQ(candidate.metrics["validation"]["n"], expected["n"]) << "the same rows";
  // The source learnt from the first 6,000 minutes' first 70 %: the holdout is out of its sample.
  EXPECT_EQ(candidate.metrics["baseline_in_sample"], false);

  const nlohmann::json& retrain = candidate.params["retrain"];
  EXPECT_EQ(retrain["mode"], "update");
  EXPECT_EQ(retrain["rows"], 3000);
  EXPECT_EQ(retrain["source"], "gbpusd_test@1");
  EXPECT_EQ(retrain["holdout"]["rows"], result->holdout.size());
  EXPECT_EQ(retrain["holdout"]["to"], FormatIso8601(data->time[result->window.end - 1]));
  EXPECT_EQ(candidate.params["features"], source.params["features"]) << "the source's settings";

  // A new watch reference, from the recent rows.
  Ensemble updated = Load(candidate);
  auto watch = DeserializeWatchReference(updated.watch_reference(), "candidate");
  ASSERT_TRUE(watch.ok()) << watch.status().ToString();
  EXPECT_NE(updated.watch_reference(), source_ensemble.watch_reference());
  EXPECT_EQ(watch->horizon.ns, config_->label.horizon.ns);
  EXPECT_DOUBLE_EQ(watch->validation_accuracy,
                   candidate.metrics["validation"]["accuracy"].get<double>());

  // Only the continued member is registered anew, under the candidate.
  ASSERT_EQ(result->member_records.size(), 1u);
  EXPECT_EQ(result->member_records[0].kind, "xgboost");
  EXPECT_EQ(result->member_records[0].parent,
            candidate.name + "@" + std::to_string(candidate.version));
}

TEST_F(RetrainTest, UpdateKeepsEveryPartButTheXgboostMemberByteForByte) {
  auto result = RunRetrain(*config_, Options(RetrainMode::kUpdate), {});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const Ensemble source = Load(result->source);
  const Ensemble updated = Load(result->candidate);
  const Ensemble::Parts& before = source.parts();
  const Ensemble::Parts& after = updated.parts();
  EXPECT_EQ(source.MemberKinds(), updated.MemberKinds());
  ASSERT_EQ(before.row_models.size(), after.row_models.size());
  int continued = 0;
  for (size_t idx = 0; idx < before.row_models.size(); ++idx) {
    const RowModel& old_model = *before.row_models[idx];
    const RowModel& new_model = *after.row_models[idx];
    if (old_model.Kind() == XgbModel::kKindClassifier) {
      ++continued;
      EXPECT_NE(Bytes(old_model), Bytes(new_model));
      const auto& old_xgb = static_cast<const XgbModel&>(old_model);
      const auto& new_xgb = static_cast<const XgbModel&>(new_model);
      EXPECT_GT(new_xgb.num_rounds(), old_xgb.num_rounds()) << "trees added on top";
      continue;
    }
    EXPECT_EQ(Bytes(old_model), Bytes(new_model)) << old_model.Kind();
  }
  EXPECT_EQ(continued, 1);
  ASSERT_EQ(before.sequence_models.size(), 2u);
  ASSERT_EQ(after.sequence_models.size(), 2u);
  for (size_t idx = 0; idx < before.sequence_models.size(); ++idx) {
    EXPECT_EQ(before.sequence_models[idx]->Serialize(), after.sequence_models[idx]->Serialize())
        << before.sequence_models[idx]->Kind();
  }
  EXPECT_EQ(before.regimes->Serialize(), after.regimes->Serialize());
  EXPECT_EQ(before.pca->Serialize(), after.pca->Serialize());
  EXPECT_EQ(before.anomaly->Serialize(), after.anomaly->Serialize());
  EXPECT_EQ(before.regime_columns, after.regime_columns);
}

TEST_F(RetrainTest, FullTrainsEveryStageAnewOnTheWindow) {
  auto update = RunRetrain(*config_, Options(RetrainMode::kUpdate), {});
  ASSERT_TRUE(update.ok()) << update.status().ToString();
  auto full = RunRetrain(*config_, Options(RetrainMode::kFull), {});
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  const ModelRecord& candidate = full->candidate;
  EXPECT_EQ(candidate.status, ModelStatus::kCandidate);
  EXPECT_EQ(candidate.parent, "gbpusd_test@1");
  EXPECT_EQ(candidate.params["retrain"]["mode"], "full");
  EXPECT_EQ(full->holdout, update->holdout);
  EXPECT_EQ(full->train, update->train);
  // The same source on the same holdout: the same baseline, whichever mode.
  EXPECT_EQ(candidate.metrics["baseline"], update->candidate.metrics["baseline"]);

  const Ensemble source = Load(full->source);
  const Ensemble trained = Load(candidate);
  EXPECT_EQ(trained.MemberKinds(), source.MemberKinds());
  for (size_t idx = 0; idx < source.parts().row_models.size(); ++idx) {
    EXPECT_NE(Bytes(*source.parts().row_models[idx]), Bytes(*trained.parts().row_models[idx]))
        << source.parts().row_models[idx]->Kind();
  }
  EXPECT_NE(source.parts().pca->Serialize(), trained.parts().pca->Serialize());
  // Every member, and the regressor, registered under the candidate.
  std::vector<std::string> kinds;
  for (const ModelRecord& member : full->member_records) {
    kinds.push_back(member.kind);
    EXPECT_EQ(member.parent, candidate.name + "@" + std::to_string(candidate.version));
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"xgboost", "random_forest", "logistic", "lstm", "gru",
                                             "xgboost_regressor"}));
}

TEST_F(RetrainTest, TheSameInputsGiveTheSameBytes) {
  for (const RetrainMode mode : {RetrainMode::kUpdate, RetrainMode::kFull}) {
    auto one = RunRetrain(*config_, Options(mode), {});
    auto two = RunRetrain(*config_, Options(mode), {});
    ASSERT_TRUE(one.ok()) << one.status().ToString();
    ASSERT_TRUE(two.ok()) << two.status().ToString();
    EXPECT_NE(one->candidate.version, two->candidate.version);
    EXPECT_EQ(one->candidate.sha256_or_fnv, two->candidate.sha256_or_fnv) << ToString(mode);
    EXPECT_EQ(one->candidate.metrics, two->candidate.metrics) << ToString(mode);
  }
}

TEST_F(RetrainTest, ToEndsTheWindow) {
  RetrainOptions options = Options(RetrainMode::kUpdate, 2000);
  options.to = ParseUtcTime("2012-02-06T12:00");
  auto result = RunRetrain(*config_, options, {});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_LE(result->window_last.ns, options.to->ns);
  // Labelled by then: the last row's label reaches no further than `to`.
  EXPECT_LE((result->window_last + config_->label.horizon).ns, options.to->ns);
  EXPECT_EQ(result->candidate.params["retrain"]["to"], FormatIso8601(*options.to));
  EXPECT_EQ(result->candidate.params["retrain"]["window"]["to"],
            FormatIso8601(result->window_last));
}

TEST_F(RetrainTest, TooLittleDataIsAClearErrorAndChangesNothing) {
  Status status = Refused(*config_, Options(RetrainMode::kUpdate, 50'000));
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  for (const std::string& part :
       {std::string("too little data to retrain"), Path("bid.csv"), std::string("labelled rows"),
        std::string(" .. 2012-02-"), std::string("50000 needed")}) {
    EXPECT_NE(status.message().find(part), std::string::npos) << part << ": " << status.ToString();
  }
  RetrainOptions early = Options(RetrainMode::kFull);
  early.to = ParseUtcTime("2012-02-02T00:00");
  status = Refused(*config_, early);
  EXPECT_NE(status.message().find("up to --to 2012-02-02"), std::string::npos) << status.ToString();
  // A day's horizon on 1,000 one-minute rows: its purge reaches past the window's start.
  MlConfig long_horizon = *config_;
  long_horizon.label.horizon = Duration::Hours(24);
  status = Refused(long_horizon, Options(RetrainMode::kUpdate, 1000));
  EXPECT_NE(status.message().find("leaves none of the window's rows to learn from"),
            std::string::npos)
      << status.ToString();
  status = Refused(*config_, Options(RetrainMode::kUpdate, 10));
  EXPECT_NE(status.message().find("--rows 10: at least 1000"), std::string::npos)
      << status.ToString();
}

TEST_F(RetrainTest, BadModelsAreClearErrorsAndChangeNothing) {
  RetrainOptions options = Options(RetrainMode::kUpdate);
  options.model = "nope";
  Status status = Refused(*config_, options);
  EXPECT_EQ(status.code(), StatusCode::kNotFound) << status.ToString();
  EXPECT_NE(status.message().find("nope"), std::string::npos) << status.ToString();

  options.model = "gbpusd_test_random_forest";
  status = Refused(*config_, options);
  EXPECT_NE(status.message().find("a random_forest, not an ensemble"), std::string::npos)
      << status.ToString();

  options.model = "no_xgb@1";
  status = Refused(*config_, options);
  EXPECT_NE(status.message().find("has none (members: random_forest,logistic)"), std::string::npos)
      << status.ToString();

  MlConfig other = *config_;
  other.timeframes = {Duration::Minutes(1), Duration::Minutes(5), Duration::Minutes(15)};
  status = Refused(other, Options(RetrainMode::kFull));
  const std::string source_hash = Registry().Find("gbpusd_test@1")->feature_set_hash;
  EXPECT_NE(status.message().find("timeframes M1,M5,M15, hash "), std::string::npos)
      << status.ToString();
  EXPECT_NE(status.message().find("(hash " + source_hash + ")"), std::string::npos)
      << status.ToString();

  MlConfig elsewhere = *config_;
  elsewhere.registry_dir = Path("no-registry");
  auto result = RunRetrain(elsewhere, Options(RetrainMode::kUpdate), {});
  EXPECT_EQ(result.status().code(), StatusCode::kNotFound) << result.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(Path("no-registry"))) << "no registry made";
}

TEST(RetrainModeTest, ParsesTheTwoModesAndNamesAnyOther) {
  EXPECT_EQ(*ParseRetrainMode("update"), RetrainMode::kUpdate);
  EXPECT_EQ(*ParseRetrainMode("full"), RetrainMode::kFull);
  auto bad = ParseRetrainMode("partial");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--mode 'partial'"), std::string::npos);
}

}  // namespace
}  // namespace aits::ml
