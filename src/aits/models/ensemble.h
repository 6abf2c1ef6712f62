// Stage 4 of the hybrid pipeline (docs/ml.md): one feature row in, one scored signal out.
//
// Per row (a base-bar close), in this order:
//   1. regime   = KMeans over the configured regime columns (standardized inside the k-means);
//   2. anomaly  = IsolationForest score over the PCA projection of the whole row;
//   3. members  = every row model's P(up) and one stateful Step of every sequence model;
//   4. p_up     = w_ml * mean(row models) + w_dl * mean(sequence models), with (w_ml, w_dl) taken
//                 from the high-volatility pair when the regime is the k-means high_volatility
//                 cluster and from the normal pair otherwise. Weights are renormalised over the
//                 groups that have members, so an ensemble without sequence models is simply the
//                 mean of its row models;
//      or, when a stacking learner is present (trained only on out-of-fold member outputs, see
//      pipeline.h), p_up = stacker([member outputs..., high_volatility]);
//   5. score    = 2 * p_up - 1 in [-1, 1] (the signal strength the decision rules use);
//      confidence = |score| * agreement, agreement = 1 - 2 * (population std of the member
//                   outputs), clamped to [0, 1]: a strong mean that the members disagree on is
//                   worth less than the same mean they agree on. Anomalous rows (score above the
//                   isolation forest's contamination threshold) halve the confidence.
//
// Every output at row t depends only on rows <= t: the row models are row-wise and the sequence
// models carry state forward only (the lookahead test in pipeline_test.cc checks it end to end).
// Step() does no allocation. A serialized ensemble embeds every member's model file, the regime,
// PCA and anomaly models and the feature-set identity, so one file is a complete model.
//
// Thread-compatible; Step() mutates the sequence models' state (one stream per object).
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/features/feature_engine.h"
#include "aits/models/isolation_forest.h"
#include "aits/models/kmeans.h"
#include "aits/models/logistic_regression.h"
#include "aits/models/model.h"
#include "aits/models/pca.h"

namespace aits::ml {

struct EnsembleWeights {
  double high_vol_ml = 0.7;
  double high_vol_dl = 0.3;
  double normal_ml = 0.4;
  double normal_dl = 0.6;
  // Each weight finite and >= 0, and each pair summing to > 0.
  Status Validate() const;
};

inline constexpr size_t kMaxEnsembleMembers = 16;

struct EnsembleScore {
  double p_up = 0.5;
  double score = 0.0;       // 2 * p_up - 1
  double confidence = 0.0;  // [0, 1]
  int regime = -1;
  bool high_volatility = false;
  double anomaly = 0.0;  // isolation-forest score in (0, 1]
  bool is_anomaly = false;
  double ml_mean = 0.0;  // NaN when the group is empty
  double dl_mean = 0.0;
  size_t members = 0;  // outputs in `member_p`, row models first
  std::array<float, kMaxEnsembleMembers> member_p{};
};

class Ensemble {
 public:
  struct Parts {
    std::string feature_set_version;
    std::string feature_set_hash;
    std::vector<std::string> feature_names;
    std::vector<size_t> regime_columns;  // indices into the row fed to `regimes`
    std::optional<KMeans> regimes;
    std::optional<Pca> pca;
    std::optional<IsolationForest> anomaly;  // over the PCA projection
    std::vector<std::unique_ptr<RowModel>> row_models;
    std::vector<std::unique_ptr<SequenceModel>> sequence_models;
    std::unique_ptr<LogisticRegression>
        stacker;  // may be null  // input: member outputs + high_volatility flag
    EnsembleWeights weights;
    // What a live session watches the model against (ml/model_watch.h), as its bytes; empty for
    // a model trained before it existed (then nothing is watched).
    std::string watch_reference;
  };

  // Checks that the parts fit together (input sizes, column indices, at least one member, at most
  // kMaxEnsembleMembers, no regressors among the members, stacker width); errors say which part.
  static Result<Ensemble> Create(Parts parts);

  // Precondition: row.size() == feature_names().size() and every value finite.
  EnsembleScore Step(std::span<const float> row);
  // Forgets the sequence models' hidden state (a new stream or a gap in the data).
  void ResetState();
  // Weights of the members inside their group's mean (row models first, in member_p order; see
  // ml/member_weights.h): the group mean becomes sum(w_i p_i) / sum(w_i). Empty (the default):
  // every member alike, the plain mean. InvalidArgument for another count than the members, or a
  // weight that is not finite and > 0; the weights are then unchanged. Not used by a stacker.
  Status set_member_weights(std::span<const double> weights);

  const std::vector<std::string>& feature_names() const { return parts_.feature_names; }
  const std::string& feature_set_hash() const { return parts_.feature_set_hash; }
  const std::string& feature_set_version() const { return parts_.feature_set_version; }
  const EnsembleWeights& weights() const { return parts_.weights; }
  // "xgboost", "random_forest", ..., row models first, in member_p order.
  std::vector<std::string> MemberKinds() const;
  std::string RegimeName(int regime) const;
  bool has_stacker() const { return parts_.stacker != nullptr; }
  const std::string& watch_reference() const { return parts_.watch_reference; }
  void set_watch_reference(std::string bytes) { parts_.watch_reference = std::move(bytes); }
  const Parts& parts() const { return parts_; }
  // Hands the parts back (to recombine members, e.g. in benchmarks); the ensemble is empty after.
  Parts ReleaseParts() && { return std::move(parts_); }

  std::string Serialize() const;  // a model file of kind "ensemble"
  static Result<Ensemble> Deserialize(std::string_view bytes, std::string_view what);

 private:
  explicit Ensemble(Parts parts);

  Parts parts_;
  std::vector<double> member_weights_;  // empty: alike
  std::vector<float> regime_buffer_;
  std::vector<float> pca_buffer_;
  std::vector<float> stack_buffer_;
};

// The feature engine for an ensemble's timeframes, checked against the ensemble: same feature-set
// hash and column names, and the kernel's bar period equal to the base timeframe. Errors say which.
Result<features::FeatureEngine> MakeFeatureEngineFor(const Ensemble& ensemble,
                                                     const std::vector<Duration>& timeframes,
                                                     Duration bar_period);

}  // namespace aits::ml
