#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "aits/models/flat_trees.h"
#include "aits/models/logistic_regression.h"
#include "aits/models/random_forest.h"
#include "aits/models/row_models.h"
#include "aits/models/serialize.h"
#include "aits/models/xgboost_model.h"

namespace aits::ml {
namespace {

// Rows of standard normal features; the label depends on x0 and x1 only:
//   classifier: y = 1 if 2 x0 - x1 + noise > 0;  regressor: y = 0.5 x0 - 0.3 x1 + 0.1 noise.
struct Synthetic {
  Matrix x;
  std::vector<float> y;
};

Synthetic MakeData(size_t rows, size_t cols, bool regression, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Synthetic data{Matrix(rows, cols), {}};
  data.y.resize(rows);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) data.x(r, c) = normal(rng);
    const float noise = normal(rng);
    const float x0 = data.x(r, 0), x1 = data.x(r, 1);
    data.y[r] = regression ? 0.5f * x0 - 0.3f * x1 + 0.1f * noise
                           : (2.0f * x0 - x1 + noise > 0 ? 1.0f : 0.0f);
  }
  return data;
}

// ROC AUC by the rank-sum formula, ties averaged.
double Auc(std::span<const float> y, std::span<const float> score) {
  std::vector<size_t> order(y.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] < score[b]; });
  double rank_sum = 0, positives = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && score[order[j]] == score[order[i]]) ++j;
    const double rank = 0.5 * static_cast<double>(i + 1 + j);  // mean of ranks i+1..j
    for (size_t k = i; k < j; ++k) {
      if (y[order[k]] == 1.0f) {
        rank_sum += rank;
        positives += 1;
      }
    }
    i = j;
  }
  const double negatives = static_cast<double>(y.size()) - positives;
  return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
}

double Correlation(std::span<const float> a, std::span<const float> b) {
  double ma = 0, mb = 0;
  for (size_t i = 0; i < a.size(); ++i) ma += a[i], mb += b[i];
  ma /= static_cast<double>(a.size());
  mb /= static_cast<double>(b.size());
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

std::vector<float> PredictAll(const RowModel& model, const Matrix& x) {
  std::vector<float> out(x.rows());
  for (size_t r = 0; r < x.rows(); ++r) out[r] = model.Predict(x.Row(r));
  return out;
}

void ExpectBitIdentical(std::span<const float> a, std::span<const float> b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(std::bit_cast<uint32_t>(a[i]), std::bit_cast<uint32_t>(b[i])) << "row " << i;
  }
}

// Save, load through LoadRowModel, and check that nothing changed.
void ExpectRoundTrip(const RowModel& model, const Matrix& x) {
  const std::string bytes = model.Serialize();
  auto loaded = LoadRowModel(bytes, "round-trip");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->Kind(), model.Kind());
  EXPECT_EQ((*loaded)->IsRegressor(), model.IsRegressor());
  EXPECT_EQ((*loaded)->InputSize(), model.InputSize());
  EXPECT_EQ((*loaded)->Serialize(), bytes);
  ExpectBitIdentical(PredictAll(**loaded, x), PredictAll(model, x));
}

XgbConfig SmallXgb(bool regression) {
  XgbConfig config;
  config.regression = regression;
  config.rounds = 60;
  config.max_depth = 4;
  config.eta = 0.2;
  config.early_stopping_rounds = 0;
  return config;
}

// ---------------------------------------------------------------- input checks

TEST(CheckTrainingDataTest, RejectsBadInputNamingRowAndColumn) {
  Synthetic data = MakeData(50, 4, false, 1);
  EXPECT_TRUE(CheckTrainingData("m", data.x, data.y, false).ok());

  Synthetic nan_x = data;
  nan_x.x(7, 2) = std::numeric_limits<float>::quiet_NaN();
  Status status = CheckTrainingData("m", nan_x.x, nan_x.y, false);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("row 7 column 2 is nan"), std::string::npos) << status.message();

  Synthetic nan_y = data;
  nan_y.y[3] = std::numeric_limits<float>::quiet_NaN();
  status = CheckTrainingData("m", nan_y.x, nan_y.y, true);
  EXPECT_NE(status.message().find("label of row 3 is nan"), std::string::npos) << status.message();

  Synthetic half = data;
  half.y[5] = 0.5f;
  EXPECT_FALSE(CheckTrainingData("m", half.x, half.y, false).ok());
  EXPECT_TRUE(CheckTrainingData("m", half.x, half.y, true).ok());

  EXPECT_FALSE(CheckTrainingData("m", Matrix(), {}, false).ok());
  EXPECT_FALSE(CheckTrainingData("m", data.x, std::span(data.y).first(10), false).ok());

  Synthetic narrow = MakeData(20, 3, false, 2);
  status = CheckTrainingData("m", data.x, data.y, false, {&narrow.x, narrow.y});
  EXPECT_NE(status.message().find("validation set has 3 columns"), std::string::npos)
      << status.message();
}

TEST(LearnersTest, EveryTrainerRejectsNanInsteadOfCrashing) {
  Synthetic data = MakeData(200, 4, false, 3);
  data.x(10, 1) = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(XgbModel::Train(data.x, data.y, SmallXgb(false)).ok());
  EXPECT_FALSE(RandomForest::Train(data.x, data.y, {}).ok());
  EXPECT_FALSE(LogisticRegression::Train(data.x, data.y, {}).ok());
  EXPECT_FALSE(XgbModel::Train(Matrix(), {}, SmallXgb(false)).ok());
  EXPECT_FALSE(RandomForest::Train(Matrix(), {}, {}).ok());
  EXPECT_FALSE(LogisticRegression::Train(Matrix(), {}, {}).ok());
}

TEST(LearnersTest, BadConfigIsAnError) {
  Synthetic data = MakeData(200, 4, false, 3);
  XgbConfig xgb = SmallXgb(false);
  xgb.eta = 0;
  EXPECT_FALSE(XgbModel::Train(data.x, data.y, xgb).ok());
  xgb = SmallXgb(false);
  xgb.tree_method = "gpu_hist";
  EXPECT_FALSE(XgbModel::Train(data.x, data.y, xgb).ok());
  RandomForestConfig forest;
  forest.trees = 0;
  EXPECT_FALSE(RandomForest::Train(data.x, data.y, forest).ok());
  LogisticConfig logistic;
  logistic.l2 = -1;
  EXPECT_FALSE(LogisticRegression::Train(data.x, data.y, logistic).ok());
}

// ---------------------------------------------------------------- XGBoost

TEST(XgbModelTest, ClassifierLearnsTheSignalAndFlatTreesMatchXgboost) {
  const Synthetic train = MakeData(5000, 8, false, 10);
  const Synthetic test = MakeData(5000, 8, false, 11);
  auto model = XgbModel::Train(train.x, train.y, SmallXgb(false));
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ((*model)->Kind(), "xgboost");
  EXPECT_FALSE((*model)->IsRegressor());
  EXPECT_EQ((*model)->num_rounds(), 60);

  const std::vector<float> flat = PredictAll(**model, test.x);
  EXPECT_GT(Auc(test.y, flat), 0.85);

  std::vector<float> xgb(test.x.rows());
  {
    Status s = (*model)->XgbPredict(test.x, xgb);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  double max_diff = 0;
  for (size_t r = 0; r < flat.size(); ++r) {
    max_diff = std::max(max_diff, static_cast<double>(std::abs(flat[r] - xgb[r])));
  }
  EXPECT_LE(max_diff, 1e-6);

  // PredictBatch (FlatTrees, blocks of rows) equals Predict bit for bit, also on a partial block.
  std::vector<float> batch(test.x.rows());
  (*model)->PredictBatch(test.x, batch);
  ExpectBitIdentical(batch, flat);
  const Matrix odd = test.x.SliceRows(0, 77);
  std::vector<float> odd_batch(77);
  (*model)->PredictBatch(odd, odd_batch);
  ExpectBitIdentical(odd_batch, std::span(flat).first(77));
}

TEST(XgbModelTest, RegressorFlatTreesMatchXgboost) {
  const Synthetic train = MakeData(5000, 8, true, 20);
  const Synthetic test = MakeData(3000, 8, true, 21);
  auto model = XgbModel::Train(train.x, train.y, SmallXgb(true));
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ((*model)->Kind(), "xgboost_regressor");
  EXPECT_TRUE((*model)->IsRegressor());
  const std::vector<float> flat = PredictAll(**model, test.x);
  EXPECT_GT(Correlation(flat, test.y), 0.9);
  std::vector<float> xgb(test.x.rows());
  {
    Status s = (*model)->XgbPredict(test.x, xgb);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  for (size_t r = 0; r < flat.size(); ++r) ASSERT_NEAR(flat[r], xgb[r], 1e-6) << r;
}

TEST(XgbModelTest, ContributionsAddUpToTheMarginAndFavourTheSignal) {
  const Synthetic train = MakeData(3000, 6, false, 30);
  auto model = XgbModel::Train(train.x, train.y, SmallXgb(false));
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  std::vector<float> contributions(7);
  double abs_signal = 0, abs_noise = 0;
  for (size_t r = 0; r < 200; ++r) {
    (*model)->Contributions(train.x.Row(r), contributions);
    double sum = 0;
    for (const float c : contributions) sum += c;
    ASSERT_NEAR(sum, (*model)->Margin(train.x.Row(r)), 1e-4) << r;
    abs_signal += std::abs(contributions[0]);
    abs_noise += std::abs(contributions[4]);
  }
  EXPECT_GT(abs_signal, 5 * abs_noise);

  const std::vector<std::string> names{"a", "b", "c", "d", "e", "f"};
  auto importance = (*model)->FeatureImportance(names);
  ASSERT_TRUE(importance.ok()) << importance.status().ToString();
  ASSERT_FALSE(importance->empty());
  EXPECT_EQ(importance->front().first, "a");
  EXPECT_FALSE((*model)->FeatureImportance(std::span(names).first(2)).ok());

  // A row of the wrong width gives NaN, not a crash.
  std::vector<float> short_row(3, 0.0f);
  (*model)->Contributions(short_row, contributions);
  EXPECT_TRUE(std::isnan(contributions[0]));
  Matrix wrong(10, 5);
  std::vector<float> out(10);
  EXPECT_FALSE((*model)->XgbPredict(wrong, out).ok());
}

TEST(XgbModelTest, EarlyStoppingKeepsTheBestRound) {
  // Labels are pure noise: the validation loss stops improving after a few rounds.
  Synthetic train = MakeData(2000, 6, false, 40);
  Synthetic valid = MakeData(1000, 6, false, 41);
  std::mt19937 coin(7);
  for (float& label : train.y) label = static_cast<float>(coin() & 1);
  for (float& label : valid.y) label = static_cast<float>(coin() & 1);
  XgbConfig config = SmallXgb(false);
  config.rounds = 500;
  config.eta = 0.3;
  config.max_depth = 6;
  config.early_stopping_rounds = 10;
  int calls = 0;
  double best_valid = std::numeric_limits<double>::infinity();
  int best_round = -1;
  auto model = XgbModel::Train(train.x, train.y, config, {&valid.x, valid.y},
                               [&](int iteration, double train_metric, double valid_metric) {
                                 EXPECT_EQ(iteration, calls);
                                 EXPECT_TRUE(std::isfinite(train_metric));
                                 if (valid_metric < best_valid) {
                                   best_valid = valid_metric;
                                   best_round = iteration;
                                 }
                                 ++calls;
                               });
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_LT(calls, 500);
  EXPECT_EQ(calls, best_round + 1 + 10);
  EXPECT_EQ((*model)->best_iteration(), best_round);
  EXPECT_EQ((*model)->num_rounds(), best_round + 1);
  // The sliced booster and the FlatTrees still agree.
  std::vector<float> xgb(valid.x.rows());
  ASSERT_TRUE((*model)->XgbPredict(valid.x, xgb).ok());
  for (size_t r = 0; r < xgb.size(); ++r) {
    ASSERT_NEAR((*model)->Predict(valid.x.Row(r)), xgb[r], 1e-6);
  }
}

// Continued boosting on recent data (issue 13's incremental update): the old trees stay, new
// ones learn what changed, the model's own predictions still match XGBoost's, and the same inputs
// give the same bytes.
TEST(XgbModelTest, ContinuedBoostingAddsTreesThatLearnTheNewRelationship) {
  const Synthetic old_data = MakeData(4000, 8, false, 40);
  auto base = XgbModel::Train(old_data.x, old_data.y, SmallXgb(false));
  ASSERT_TRUE(base.ok()) << base.status().ToString();
  // The market moved: the label now follows x2 as well.
  Synthetic recent = MakeData(4000, 8, false, 41);
  Synthetic later = MakeData(4000, 8, false, 42);
  for (Synthetic* data : {&recent, &later}) {
    for (size_t r = 0; r < data->x.rows(); ++r) {
      data->y[r] = 2.0f * data->x(r, 0) - data->x(r, 1) + 2.5f * data->x(r, 2) > 0 ? 1.0f : 0.0f;
    }
  }
  XgbConfig more = SmallXgb(false);
  more.rounds = 40;
  auto continued = (*base)->Continue(recent.x, recent.y, more);
  ASSERT_TRUE(continued.ok()) << continued.status().ToString();
  EXPECT_EQ((*continued)->num_rounds(), 100);
  EXPECT_EQ((*continued)->best_iteration(), 99);
  EXPECT_EQ((*base)->num_rounds(), 60);  // unchanged
  const double before = Auc(later.y, PredictAll(**base, later.x));
  const double after = Auc(later.y, PredictAll(**continued, later.x));
  EXPECT_GT(after, before + 0.03) << before << " -> " << after;

  std::vector<float> xgb(later.x.rows());
  ASSERT_TRUE((*continued)->XgbPredict(later.x, xgb).ok());
  const std::vector<float> flat = PredictAll(**continued, later.x);
  double max_diff = 0;
  for (size_t r = 0; r < flat.size(); ++r) {
    max_diff = std::max(max_diff, static_cast<double>(std::abs(flat[r] - xgb[r])));
  }
  EXPECT_LE(max_diff, 1e-6);
  auto again = (*base)->Continue(recent.x, recent.y, more);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->Serialize(), (*continued)->Serialize());

  // Early stopping on the added rounds keeps the old trees and the best of the new.
  XgbConfig stopping = more;
  stopping.rounds = 300;
  stopping.early_stopping_rounds = 10;
  auto stopped = (*base)->Continue(recent.x, recent.y, stopping, {&later.x, later.y});
  ASSERT_TRUE(stopped.ok()) << stopped.status().ToString();
  EXPECT_GE((*stopped)->num_rounds(), 61);
  EXPECT_LT((*stopped)->num_rounds(), 360);
  EXPECT_EQ((*stopped)->best_iteration(), (*stopped)->num_rounds() - 1);

  // Another shape of data, another objective: refused by name.
  const Synthetic narrow = MakeData(500, 5, false, 43);
  auto wrong_width = (*base)->Continue(narrow.x, narrow.y, more);
  ASSERT_FALSE(wrong_width.ok());
  EXPECT_EQ(wrong_width.status().message(),
            "xgboost: continuing a model of 8 features on rows of 5");
  XgbConfig regression = more;
  regression.regression = true;
  auto wrong_kind = (*base)->Continue(recent.x, recent.y, regression);
  ASSERT_FALSE(wrong_kind.ok());
  EXPECT_EQ(wrong_kind.status().message(), "xgboost: continuing a classifier as a regressor");
}

TEST(XgbModelTest, SameSeedSameBytesAndRoundTrip) {
  const Synthetic train = MakeData(3000, 8, false, 50);
  XgbConfig config = SmallXgb(false);  // subsample and colsample 0.8: the seed matters
  auto a = XgbModel::Train(train.x, train.y, config);
  auto b = XgbModel::Train(train.x, train.y, config);
  config.seed = 43;
  auto c = XgbModel::Train(train.x, train.y, config);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ((*a)->Serialize(), (*b)->Serialize());
  EXPECT_NE((*a)->Serialize(), (*c)->Serialize());
  ExpectRoundTrip(**a, train.x);

  auto regressor =
      XgbModel::Train(MakeData(2000, 8, true, 51).x, MakeData(2000, 8, true, 51).y, SmallXgb(true));
  ASSERT_TRUE(regressor.ok());
  ExpectRoundTrip(**regressor, train.x);
  auto typed = XgbModel::Load((*regressor)->Serialize(), "typed");
  ASSERT_TRUE(typed.ok()) << typed.status().ToString();
  std::vector<float> xgb(train.x.rows());
  ASSERT_TRUE((*typed)->XgbPredict(train.x, xgb).ok());
  for (size_t r = 0; r < xgb.size(); ++r)
    ASSERT_NEAR((*typed)->Predict(train.x.Row(r)), xgb[r], 1e-6);
}

// Regression: a model held by a static was freed after XGBoost's thread-local result store had
// been destroyed at exit (double free, abort after all tests passed).
TEST(XgbModelTest, StaticModelUsedForPredictionSurvivesProcessExit) {
  static const std::unique_ptr<XgbModel> cached = [] {
    const Synthetic train = MakeData(500, 4, false, 55);
    return std::move(XgbModel::Train(train.x, train.y, SmallXgb(false))).value();
  }();
  const Synthetic test = MakeData(100, 4, false, 56);
  std::vector<float> out(test.x.rows());
  ASSERT_TRUE(cached->XgbPredict(test.x, out).ok());
  std::vector<float> contributions(5);
  cached->Contributions(test.x.Row(0), contributions);
  EXPECT_FALSE(std::isnan(contributions[0]));
}

// ---------------------------------------------------------------- random forest

TEST(RandomForestTest, ClassifierLearnsTheSignal) {
  const Synthetic train = MakeData(5000, 8, false, 60);
  const Synthetic test = MakeData(3000, 8, false, 61);
  RandomForestConfig config;
  config.trees = 50;
  int finished = 0;
  auto forest = RandomForest::Train(train.x, train.y, config,
                                    [&](int trees, double, double) { finished = trees; });
  ASSERT_TRUE(forest.ok()) << forest.status().ToString();
  EXPECT_EQ(finished, 50);
  EXPECT_EQ((*forest)->trees().num_trees(), 50u);
  const std::vector<float> p = PredictAll(**forest, test.x);
  EXPECT_GT(Auc(test.y, p), 0.85);
  for (const float v : p) ASSERT_TRUE(v >= 0 && v <= 1) << v;
  std::vector<float> batch(test.x.rows());
  (*forest)->PredictBatch(test.x, batch);
  ExpectBitIdentical(batch, p);
}

TEST(RandomForestTest, RegressorLearnsTheSignal) {
  const Synthetic train = MakeData(5000, 8, true, 62);
  const Synthetic test = MakeData(2000, 8, true, 63);
  RandomForestConfig config;
  config.trees = 30;
  config.regression = true;
  config.max_features = 1.0;  // all features: the signal sits in 2 of 8
  auto forest = RandomForest::Train(train.x, train.y, config);
  ASSERT_TRUE(forest.ok()) << forest.status().ToString();
  EXPECT_TRUE((*forest)->IsRegressor());
  EXPECT_GT(Correlation(PredictAll(**forest, test.x), test.y), 0.85);
  ExpectRoundTrip(**forest, test.x);
}

TEST(RandomForestTest, SameForestWhateverTheThreadCount) {
  const Synthetic train = MakeData(3000, 8, false, 64);
  RandomForestConfig config;
  config.trees = 20;
  config.threads = 1;
  auto one = RandomForest::Train(train.x, train.y, config);
  config.threads = 2;
  auto two = RandomForest::Train(train.x, train.y, config);
  config.threads = 3;
  auto three = RandomForest::Train(train.x, train.y, config);
  config.seed = 7;
  auto other_seed = RandomForest::Train(train.x, train.y, config);
  ASSERT_TRUE(one.ok() && two.ok() && three.ok() && other_seed.ok());
  EXPECT_EQ((*one)->Serialize(), (*two)->Serialize());
  EXPECT_EQ((*one)->Serialize(), (*three)->Serialize());
  EXPECT_NE((*one)->Serialize(), (*other_seed)->Serialize());
  ExpectRoundTrip(**one, train.x);
}

// ---------------------------------------------------------------- logistic regression

TEST(LogisticRegressionTest, RecoversSignsAndRatioOfTheSignal) {
  const Synthetic train = MakeData(20000, 5, false, 70);
  const Synthetic test = MakeData(5000, 5, false, 71);
  int steps = 0;
  auto model = LogisticRegression::Train(train.x, train.y, {}, {&test.x, test.y},
                                         [&](int, double train_loss, double valid_loss) {
                                           EXPECT_TRUE(std::isfinite(train_loss));
                                           EXPECT_TRUE(std::isfinite(valid_loss));
                                           ++steps;
                                         });
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_TRUE((*model)->converged());
  EXPECT_GT(steps, 1);
  const auto& w = (*model)->coefficients();
  ASSERT_EQ(w.size(), 5u);
  EXPECT_GT(w[0], 0);
  EXPECT_LT(w[1], 0);
  // The latent index is 2 x0 - x1 (unit-variance features): the ratio survives the link.
  EXPECT_NEAR(w[0] / -w[1], 2.0, 0.25);
  for (size_t j = 2; j < 5; ++j) EXPECT_LT(std::abs(w[j]), 0.15 * w[0]) << j;
  EXPECT_GT(Auc(test.y, PredictAll(**model, test.x)), 0.9);
  ExpectRoundTrip(**model, test.x);

  auto again = LogisticRegression::Train(train.x, train.y, {});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->Serialize(), (*model)->Serialize());
}

TEST(LogisticRegressionTest, ConstantColumnIsHarmless) {
  Synthetic train = MakeData(2000, 3, false, 72);
  for (size_t r = 0; r < train.x.rows(); ++r) train.x(r, 2) = 5.0f;
  LogisticConfig config;
  config.l2 = 0;
  auto model = LogisticRegression::Train(train.x, train.y, config);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_NEAR((*model)->coefficients()[2], 0.0, 1e-9);
  EXPECT_GT(Auc(train.y, PredictAll(**model, train.x)), 0.85);
}

// ---------------------------------------------------------------- corrupt files

TEST(LoadRowModelTest, CorruptOrTruncatedBytesAreClearErrors) {
  const Synthetic train = MakeData(1000, 4, false, 80);
  RandomForestConfig config;
  config.trees = 5;
  auto forest = RandomForest::Train(train.x, train.y, config);
  auto xgb = XgbModel::Train(train.x, train.y, SmallXgb(false));
  auto logistic = LogisticRegression::Train(train.x, train.y, {});
  ASSERT_TRUE(forest.ok() && xgb.ok() && logistic.ok());
  for (const RowModel* model :
       {static_cast<const RowModel*>(forest->get()), static_cast<const RowModel*>(xgb->get()),
        static_cast<const RowModel*>(logistic->get())}) {
    const std::string bytes = model->Serialize();
    for (const size_t cut : {size_t{0}, size_t{5}, bytes.size() / 2, bytes.size() - 1}) {
      auto loaded = LoadRowModel(bytes.substr(0, cut), "cut.model");
      ASSERT_FALSE(loaded.ok()) << model->Kind() << " cut at " << cut;
      EXPECT_NE(loaded.status().message().find("cut.model"), std::string::npos)
          << loaded.status().message();
    }
    std::string flipped = bytes;
    flipped[flipped.size() / 2] ^= 0x40;
    EXPECT_FALSE(LoadRowModel(flipped, "flipped.model").ok()) << model->Kind();
  }
  EXPECT_FALSE(LoadRowModel(WrapModel("lstm", "whatever"), "x").ok());
  EXPECT_FALSE(XgbModel::Load((*forest)->Serialize(), "x").ok());
}

TEST(LoadRowModelTest, WellChecksummedButMalformedPayloadsAreRejected) {
  // A payload that passes the checksum but whose tree loops back on itself must not be loaded
  // (evaluating it would never end).
  FlatTrees trees(2);
  const uint32_t root = trees.StartTree();
  trees.AddChildren(root, 0, 0.5f, false);
  ByteWriter good;
  good.U32(1);
  good.U8(0);
  trees.Serialize(&good);
  EXPECT_TRUE(LoadRowModel(WrapModel("random_forest", good.data()), "good").ok());

  auto forge = [](uint32_t feature, uint32_t left) {
    ByteWriter out;
    out.U32(1);
    out.U8(0);
    out.U64(2);     // features
    out.F32(0.0f);  // base
    out.U64(1);     // trees
    out.U32(0);     // root
    out.U64(3);     // nodes
    out.F32(0.5f);
    out.U32(feature);
    out.U32(left);
    for (int leaf = 0; leaf < 2; ++leaf) {
      out.F32(1.0f);
      out.U32(FlatTrees::kLeaf);
      out.U32(0);
    }
    return WrapModel("random_forest", out.data());
  };
  EXPECT_TRUE(LoadRowModel(forge(1, 1), "ok").ok());
  auto cycle = LoadRowModel(forge(1, 0), "cycle.model");
  ASSERT_FALSE(cycle.ok());
  EXPECT_NE(cycle.status().message().find("left child"), std::string::npos)
      << cycle.status().message();
  EXPECT_FALSE(LoadRowModel(forge(1, 2), "past-end").ok());
  EXPECT_FALSE(LoadRowModel(forge(7, 1), "feature").ok());
}

TEST(FlatTreesTest, NanGoesTheDefaultWayAndSumsInTreeOrder) {
  FlatTrees trees(1);
  trees.set_base(0.25f);
  uint32_t left = trees.AddChildren(trees.StartTree(), 0, 1.0f, /*default_left=*/true);
  trees.SetLeaf(left, 1.0f);
  trees.SetLeaf(left + 1, 2.0f);
  left = trees.AddChildren(trees.StartTree(), 0, 1.0f, /*default_left=*/false);
  trees.SetLeaf(left, 10.0f);
  trees.SetLeaf(left + 1, 20.0f);
  ASSERT_TRUE(trees.Validate().ok());
  const float below[] = {0.5f}, equal[] = {1.0f}, nan[] = {std::nanf("")};
  EXPECT_EQ(trees.Sum(below), 11.25f);
  EXPECT_EQ(trees.Sum(equal), 22.25f);  // x < threshold is false at equality
  EXPECT_EQ(trees.Sum(nan), 21.25f);
  float out[3];
  const float rows[] = {0.5f, 1.0f, std::nanf("")};
  trees.SumBatch(rows, 3, 1, out);
  EXPECT_EQ(out[0], 11.25f);
  EXPECT_EQ(out[1], 22.25f);
  EXPECT_EQ(out[2], 21.25f);
}

TEST(FlatTreesTest, PerfectFormEqualsTheNodeWalkOnUnevenTrees) {
  // Trees of depth 0, 1 and 3 in one ensemble: the shallow ones are padded to depth 3.
  FlatTrees trees(3);
  trees.set_base(-0.5f);
  trees.SetLeaf(trees.StartTree(), 0.125f);
  uint32_t left = trees.AddChildren(trees.StartTree(), 2, 0.0f, true);
  trees.SetLeaf(left, -1.0f);
  trees.SetLeaf(left + 1, 1.0f);
  left = trees.AddChildren(trees.StartTree(), 0, 0.3f, false);
  trees.SetLeaf(left, 3.0f);
  uint32_t right = trees.AddChildren(left + 1, 1, -0.2f, true);
  trees.SetLeaf(right, 5.0f);
  right = trees.AddChildren(right + 1, 2, 0.7f, false);
  trees.SetLeaf(right, 7.0f);
  trees.SetLeaf(right + 1, 11.0f);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  Matrix x(1000, 3);
  for (size_t r = 0; r < x.rows(); ++r) {
    for (size_t c = 0; c < 3; ++c) x(r, c) = r % 17 == 0 ? std::nanf("") : uniform(rng);
  }
  std::vector<float> walked(x.rows()), perfect(x.rows()), batch(x.rows());
  for (size_t r = 0; r < x.rows(); ++r) walked[r] = trees.Sum(x.Row(r));  // before Finish
  trees.Finish();
  for (size_t r = 0; r < x.rows(); ++r) perfect[r] = trees.Sum(x.Row(r));
  trees.SumBatch(x.data(), x.rows(), 3, batch.data());
  ExpectBitIdentical(perfect, walked);
  ExpectBitIdentical(batch, walked);
  // A hand-checked row: tree 2 goes right at x0, right at x1, left at x2.
  const float row[] = {0.5f, 0.0f, 0.1f};
  EXPECT_EQ(trees.Sum(row), -0.5f + 0.125f + 1.0f + 7.0f);
}

}  // namespace
}  // namespace aits::ml
