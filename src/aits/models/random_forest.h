// A random forest of CART trees (Breiman 2001), trained here and evaluated as FlatTrees.
//
// Each tree sees a bootstrap sample (sample_fraction * rows drawn with replacement) and, at each
// node, a fresh random subset of max_features features. Splits maximise the impurity decrease:
// Gini for the classifier, variance for the regressor. For 0/1 labels the two criteria are the
// same up to a factor 2 (n * gini = 2 * (s - s^2 / n) with s the positives), so one code path
// (maximise sum over children of s^2 / n) serves both. A leaf predicts the mean label of its
// samples: the fraction of positives for the classifier. The forest predicts the mean of its
// trees.
//
// Split search runs on quantile bins: each feature is cut into at most kBins bins at quantiles
// of (a sample of) the training data, and a split "bin <= b" is stored as `x < edge[b]`, so the
// FlatTrees evaluate raw rows with exactly the training-time decision. This makes a node's split
// search linear in its rows, which keeps 1M-row training practical.
//
// Deterministic: tree t draws from a generator seeded by (seed, t), trees are trained in
// parallel into fixed slots, so the model (and its bytes) do not depend on the thread count.
//
// Model file payload: u32 payload version, u8 regression, the FlatTrees.
//
// Thread-compatible; Predict/PredictBatch are const and may run concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "aits/core/status.h"
#include "aits/models/dataset.h"
#include "aits/models/flat_trees.h"
#include "aits/models/model.h"
#include "aits/models/row_models.h"

namespace aits::ml {

struct RandomForestConfig {
  int trees = 100;
  int max_depth = 10;
  int min_samples_leaf = 20;
  // Features tried per split: 0 = sqrt(p); in (0, 1] a fraction of p; > 1 a count (capped at p).
  double max_features = 0;
  double sample_fraction = 1.0;  // bootstrap size as a fraction of the rows, in (0, 1]
  int threads = 2;
  uint64_t seed = 42;
  bool regression = false;
};

class RandomForest final : public RowModel {
 public:
  static constexpr std::string_view kKind = "random_forest";
  static constexpr int kBins = 64;

  // Errors: bad input (see CheckTrainingData) or an invalid config value. `progress` is called
  // after each finished tree (see TrainProgress), from the training threads but never two calls
  // at once.
  static Result<std::unique_ptr<RandomForest>> Train(const Matrix& x, std::span<const float> y,
                                                     const RandomForestConfig& config,
                                                     const TrainProgress& progress = {});
  static Result<std::unique_ptr<RandomForest>> Load(std::string_view bytes, std::string_view what);
  static Result<std::unique_ptr<RandomForest>> FromPayload(std::string_view kind,
                                                           std::string_view payload,
                                                           std::string_view what);

  std::string_view Kind() const override { return kKind; }
  bool IsRegressor() const override { return regression_; }
  size_t InputSize() const override { return trees_.num_features(); }
  // Mean of the trees' leaf values. No allocation.
  float Predict(std::span<const float> row) const override {
    return trees_.Sum(row) * inverse_count_;
  }
  void PredictBatch(const Matrix& x, std::span<float> out) const override;
  std::string Serialize() const override;

  const FlatTrees& trees() const { return trees_; }

 private:
  RandomForest() = default;

  bool regression_ = false;
  float inverse_count_ = 0.0f;
  FlatTrees trees_;
};

}  // namespace aits::ml
