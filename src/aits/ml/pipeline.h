// The training and evaluation pipeline: data file -> features -> labels -> splits -> the four
// stages -> ensemble -> registry (train) or walk-forward out-of-sample report (evaluate).
//
// Honesty rules this code keeps (and tests check):
//   - every split is time-ordered with a purge gap of at least the label horizon between the
//     rows a model learns from and the rows it is scored on, so no label window straddles them;
//   - every stage (standardizers, k-means, PCA, isolation forest, learners) is fitted on training
//     rows only; validation rows are used only for early stopping and gates; test / out-of-fold
//     rows only for scoring;
//   - sequence models are warmed up on the rows just before a scored range (past rows only) and
//     then stepped forward, exactly as they run live;
//   - the stacking learner, when enabled, is fitted on out-of-fold predictions of earlier folds
//     only and scored on the next fold.
//
// Thread-compatible; the learners use their configured thread counts internally, and
// RunEvaluation trains its folds on up to `jobs` threads at once.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "aits/backtest/backtest.h"
#include "aits/ml/feature_dataset.h"
#include "aits/ml/labels.h"
#include "aits/ml/metrics.h"
#include "aits/ml/registry.h"
#include "aits/ml/sequence_trainer.h"
#include "aits/ml/splits.h"
#include "aits/models/dataset.h"
#include "aits/models/ensemble.h"
#include "aits/models/isolation_forest.h"
#include "aits/models/kmeans.h"
#include "aits/models/logistic_regression.h"
#include "aits/models/pca.h"
#include "aits/models/random_forest.h"
#include "aits/models/xgboost_model.h"
#include "aits/node/builder.h"
#include "aits/trading/replay_signal.h"

namespace aits::ml {

struct MlConfig {
  // Data and features.
  std::string data_path;
  std::string ask_path;
  int64_t spread_points = 0;  // single-price data / bid-only bars
  std::string symbol;         // empty: from the file name
  std::vector<Duration> timeframes = {Duration::Minutes(1), Duration::Minutes(5),
                                      Duration::Minutes(15), Duration::Hours(1)};
  LabelConfig label;

  // Splits. The purge of both is raised to at least label.horizon (+ max_gap).
  double train_fraction = 0.70;
  double validation_fraction = 0.15;
  WalkForwardConfig walk_forward;
  // Walk-forward folds hold back this fraction of each fold's training rows (the most recent) as
  // the early-stopping validation set.
  double fold_validation_fraction = 0.15;

  // Stage 1.
  KMeansConfig kmeans;
  // Columns the regimes are clustered on; empty: volatility_20, atr_14, price_momentum and sma_20
  // of the base and the highest timeframe.
  std::vector<std::string> regime_features;
  PcaConfig pca;
  IsolationForestConfig anomaly;
  // Stage 2.
  bool use_xgboost = true;
  XgbConfig xgboost;
  bool use_xgboost_regressor = true;  // forward-return regressor: reported (IC), not in the mean
  XgbConfig xgboost_regressor;
  bool use_random_forest = true;
  RandomForestConfig random_forest;
  bool use_logistic = true;  // also the baseline of the promotion gate
  LogisticConfig logistic;
  // Stage 3.
  bool use_lstm = true;
  SequenceConfig lstm;
  bool use_gru = true;
  SequenceConfig gru;
  // Stage 4.
  EnsembleWeights weights;
  bool stacking = false;

  // Registry (train).
  std::string registry_dir = "models";
  std::string name;  // model family; empty: "<symbol>_<base timeframe>"
  PromotionGate gate;

  // Evaluation backtests. The out-of-sample scores trade through the decision stack (decision
  // engine and risk manager) configured by the `decision:` and `risk:` sections, exactly as
  // `aits backtest --signal ml_ensemble` and a paper session trade a registered model; the
  // baselines (buy_and_hold, sma_cross, random_signal) trade `baseline_lots` lots.
  node::Settings decision;
  node::Settings risk;
  double baseline_lots = 1.0;
  bool baseline_long_short = true;  // false: the baselines' shorts become flat
  std::string commission = "per_lot:7";
  double initial_cash = 100'000;
  int random_baseline_seed = 1;

  uint64_t seed = 42;  // copied into every stage's own seed

  // Checks every value and the combinations (e.g. at least one member model). Errors name the
  // setting as it is spelled in ml.yaml ("xgboost.rounds").
  Status Validate() const;
  // The effective settings as JSON (stored with every model, printed by --dry-run).
  nlohmann::json ToJson() const;
};

// Progress of long work: stage headings and per-iteration metrics (rounds, trees, epochs).
struct TrainListener {
  std::function<void(const std::string& stage)> on_stage;
  std::function<void(const std::string& model, int iteration, double train_metric,
                     double validation_metric)>
      on_iteration;
  // Fraction (0..1) of the data file read while features are computed.
  std::function<void(double fraction)> on_progress;
  void Stage(const std::string& stage) const {
    if (on_stage) on_stage(stage);
  }
};

// What one training run of the four stages produces.
struct TrainedModels {
  Ensemble ensemble;
  std::unique_ptr<RowModel> regressor;  // null when disabled
  // The members again as model files, for the registry: {kind, bytes}.
  std::vector<std::pair<std::string, std::string>> member_files;
  nlohmann::json stage_info;  // PCA components kept, regime names and sizes, iterations used
};

// Trains every enabled stage on `train` rows (rows without a label are skipped by the learners
// but still feed the sequence models' history), early-stopping on `validation` rows. With
// `jobs` > 1 (0: one per core) the LSTM and the GRU train at once, and the listener is called
// from both threads, one call at a time; the models are the same whatever `jobs` is.
Result<TrainedModels> TrainModels(const Dataset& data, const Labels& labels, RowRange train,
                                  RowRange validation, const MlConfig& config,
                                  const TrainListener& listener, int jobs = 1);

// Scores rows [range) in order after stepping the ensemble through `warm_up` rows before it
// (past rows only; fewer when the data starts later). The ensemble's state is reset first.
struct ScoredRows {
  RowRange range;
  std::vector<EnsembleScore> scores;  // one per row of `range`
  std::vector<float> regression;      // one per row; empty without a regressor
};
ScoredRows ScoreRows(Ensemble& ensemble, const RowModel* regressor, const Dataset& data,
                     RowRange range, size_t warm_up);

// Classification metrics of every member, the ensemble and (when given) extra named
// predictions over the rows with a defined label; IC of the ensemble score and the regressor
// against the forward return.
// `kinds` names the members in EnsembleScore::member_p order (Ensemble::MemberKinds()).
nlohmann::json ScoreMetrics(const std::vector<std::string>& kinds, const ScoredRows& scored,
                            const Labels& labels);

// `aits train`: features, labels, the 70/15/15 split, the stages, validation and test metrics,
// the registry entry (candidate) and the promotion decision.
struct TrainResult {
  size_t rows = 0;
  Timestamp first;
  Timestamp last;
  TrainValTest split;
  nlohmann::json metrics;  // {"validation": {...}, "test": {...}, "baseline": {...}}
  ModelRecord ensemble_record;
  std::vector<ModelRecord> member_records;
  GateDecision gate;
  FeatureBuildStats feature_stats;
};
// `jobs` as for TrainModels.
Result<TrainResult> RunTraining(const MlConfig& config, const TrainListener& listener,
                                int jobs = 1);

// `aits evaluate`: walk-forward out-of-sample scores for every row of every test window,
// their metrics and calibration, and backtests of the signal after costs against buy-and-hold,
// sma_cross and a random signal over the same span.
struct BaselineRun {
  std::string name;  // "ml_ensemble", "buy_and_hold", ...
  backtest::BacktestResult result;
};
struct EvaluationResult {
  MlConfig config;
  FeatureBuildStats feature_stats;
  size_t rows = 0;
  std::vector<Fold> folds;
  nlohmann::json fold_metrics;              // per fold: rows, time span, ensemble metrics
  nlohmann::json metrics;                   // pooled out-of-fold metrics per model
  std::vector<CalibrationBin> calibration;  // of the ensemble
  std::vector<BaselineRun> backtests;
  std::vector<trading::TimedSignal> scores;  // out-of-fold ensemble scores
  double wall_seconds = 0;
};
// The folds train on up to `jobs` threads at once (0: one per core), each with its own models;
// threads beyond the number of folds go to each fold's TrainModels. The result is the same, bit
// for bit, whatever `jobs` is. The listener is called from those
// threads, one call at a time, with every line naming its fold ("fold 2/4: stage 1: ...", model
// "fold 2/4 lstm").
Result<EvaluationResult> RunEvaluation(const MlConfig& config, const TrainListener& listener,
                                       int jobs = 1);
// metrics.json, scores.csv and report.html in `dir`.
Status WriteEvaluationOutputs(const EvaluationResult& result, const std::string& dir);

}  // namespace aits::ml
