// Gradient-boosted trees trained with XGBoost's C API (Debian libxgboost 1.7), evaluated on the
// hot path without XGBoost.
//
// Training runs XGBoost (tree_method hist by default) round by round, reporting the training and
// validation metric (logloss for the classifier, rmse for the regressor) after each round. With
// a validation set and early_stopping_rounds > 0, training stops once the validation metric has
// not improved for that many rounds, and the model keeps the rounds up to and including the
// best one: the booster is cut with XGBoosterSlice (no retraining, so the kept trees are exactly
// the ones that were evaluated).
//
// A trained model holds both XGBoost's booster (for batched inference and contributions) and the
// same trees as FlatTrees (ml/flat_trees.h), converted from XGBoost's JSON model. Predict() walks
// the FlatTrees: no XGBoost call and no allocation; it reproduces XGBoost's own prediction
// (float accumulation in tree order, then XGBoost's sigmoid for the classifier).
//
// Model file payload: u32 payload version, u8 regression, u64 features, i64 best iteration, the
// XGBoost model as JSON bytes, then the FlatTrees. Same data, config and seed give the same bytes.
//
// Thread-compatible. Predict/PredictBatch/Contributions are const and may run concurrently;
// SetInferenceThreads may not run concurrently with anything else.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aits/core/status.h"
#include "aits/models/dataset.h"
#include "aits/models/flat_trees.h"
#include "aits/models/model.h"
#include "aits/models/row_models.h"

namespace aits::ml {

struct XgbConfig {
  bool regression = false;  // reg:squarederror on returns instead of binary:logistic on 0/1
  int rounds = 300;
  int max_depth = 6;
  double eta = 0.05;
  double subsample = 0.8;
  double colsample_bytree = 0.8;
  double min_child_weight = 1;
  double lambda = 1;
  int early_stopping_rounds = 30;  // 0 disables; needs a validation set
  int threads = 2;
  uint64_t seed = 42;
  std::string tree_method = "hist";
};

namespace internal {
// Owns an XGBoost BoosterHandle (void*); frees it on destruction.
struct BoosterDeleter {
  void operator()(void* handle) const;
};
using BoosterPtr = std::unique_ptr<void, BoosterDeleter>;
// Call before an XGBoost call that may leave a thread-local result (see xgboost_model.cc).
void TouchExitSentinel();
}  // namespace internal

class XgbModel final : public RowModel {
 public:
  static constexpr std::string_view kKindClassifier = "xgboost";
  static constexpr std::string_view kKindRegressor = "xgboost_regressor";

  // Errors: bad input (see CheckTrainingData), an invalid config value, or XGBoost's own error
  // text (XGBGetLastError).
  static Result<std::unique_ptr<XgbModel>> Train(const Matrix& x, std::span<const float> y,
                                                 const XgbConfig& config,
                                                 const ValidationSet& validation = {},
                                                 const TrainProgress& progress = {});
  // Continued boosting (issue 13: an incremental update on recent data): `config.rounds` more
  // trees fitted to the residuals this model leaves on (x, y), on top of its own trees, which stay
  // as they are; the objective, base score and feature count are this model's. With a validation
  // set and early stopping the added rounds are cut at their best. Returns a new model; this one
  // is unchanged. Errors: Train's, and InvalidArgument for a regression flag or a column count
  // that differs from this model's.
  Result<std::unique_ptr<XgbModel>> Continue(const Matrix& x, std::span<const float> y,
                                             const XgbConfig& config,
                                             const ValidationSet& validation = {},
                                             const TrainProgress& progress = {}) const;
  // From a model file's bytes (the whole envelope). `what` names the source in errors.
  static Result<std::unique_ptr<XgbModel>> Load(std::string_view bytes, std::string_view what);
  // From the payload of an already unwrapped envelope of kind kKindClassifier/kKindRegressor.
  static Result<std::unique_ptr<XgbModel>> FromPayload(std::string_view kind,
                                                       std::string_view payload,
                                                       std::string_view what);

  std::string_view Kind() const override { return regression_ ? kKindRegressor : kKindClassifier; }
  bool IsRegressor() const override { return regression_; }
  size_t InputSize() const override { return num_features_; }
  // P(up) for the classifier, the predicted return for the regressor. No allocation.
  float Predict(std::span<const float> row) const override {
    const float margin = trees_.Sum(row);
    return regression_ ? margin : Sigmoid(margin);
  }
  // FlatTrees::SumBatch at every size: on one core it runs ~1.4M rows/s against ~0.56M rows/s
  // for XGBoost's inplace prediction with nthread 1 (bench/ml_bench.cc, 100 trees of depth 6,
  // 70 features), and it equals Predict() bit for bit.
  void PredictBatch(const Matrix& x, std::span<float> out) const override;
  std::string Serialize() const override;

  // Per-feature SHAP contributions to the margin (log-odds for the classifier), from XGBoost's
  // pred_contribs. Precondition: row.size() == InputSize(), out.size() == InputSize() + 1; the
  // last element is the bias (base margin plus expected value). Sum(out) == the margin up to
  // rounding. Allocates (it explains a decision; it is not for the hot path). Should XGBoost fail
  // (it does not for a row of the right size), out is filled with NaN.
  void Contributions(std::span<const float> row, std::span<float> out) const;
  // Average gain of each feature over the splits that use it, sorted by decreasing gain; features
  // never used are left out. Precondition: names.size() == InputSize().
  Result<std::vector<std::pair<std::string, double>>> FeatureImportance(
      std::span<const std::string> names) const;

  // Threads XGBoost uses for XgbPredict and Contributions (default 1).
  Status SetInferenceThreads(int threads);

  int num_rounds() const { return static_cast<int>(trees_.num_trees()); }
  // The round early stopping chose (0-based), or num_rounds() - 1 without early stopping.
  int best_iteration() const { return best_iteration_; }
  const FlatTrees& trees() const { return trees_; }
  // The raw margin before the sigmoid (== the prediction for the regressor). No allocation.
  float Margin(std::span<const float> row) const { return trees_.Sum(row); }
  // XGBoost's own prediction (inplace predict), for checking the FlatTrees against it.
  Status XgbPredict(const Matrix& x, std::span<float> out) const;

  // The sigmoid XGBoost 1.7 applies to a binary:logistic margin (common::Sigmoid).
  static float Sigmoid(float margin);

 private:
  XgbModel() = default;
  // Builds trees_ from the booster's JSON model.
  Status ConvertTrees(std::string_view json);
  // The model a trained booster (an XGBoost BoosterHandle) holds, through its saved JSON.
  static Result<std::unique_ptr<XgbModel>> FromBooster(void* booster, bool regression,
                                                       size_t features, int best_iteration);

  bool regression_ = false;
  size_t num_features_ = 0;
  int best_iteration_ = -1;
  internal::BoosterPtr booster_;
  std::string model_json_;  // XGBoost's model, as saved
  FlatTrees trees_;
};

}  // namespace aits::ml
