// Strategies that trade the ensemble's signal (strategy name "ml_ensemble").
//
// MlEnsembleStrategy computes features live with the same FeatureEngine that produced the
// training matrix (no train/serve skew), scores every base-bar close with the Ensemble and moves
// the position with SignalRules. ScoreReplayStrategy trades precomputed scores by bar close time:
// `aits evaluate` uses it to backtest walk-forward out-of-sample scores, which were produced by
// models that never saw those rows. Both go through the same SignalRules, so an evaluation and a
// backtest of the same scores make the same trades.
//
// The decision thresholds here are the model's own trading rule for evaluation; the decision
// engine with filters, sizing and risk (issue 4) will consume the same EnsembleScore.
//
// Thread-compatible, like every strategy (the kernel thread calls it).
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "aits/features/feature_engine.h"
#include "aits/models/ensemble.h"
#include "aits/strategy/strategy.h"

namespace aits::ml {

struct SignalRules {
  double entry = 0.2;           // |score| above this opens or reverses a position in its direction
  double exit = 0.05;           // |score| below this closes an open position
  double min_confidence = 0.0;  // entries need at least this confidence
  bool long_short = true;       // false: shorts become flat
  double lots = 1.0;
  // 0 <= exit <= entry <= 1, 0 <= min_confidence <= 1, lots > 0 and finite.
  Status Validate() const;
  // Reads entry, exit, min_confidence, mode (long_only|long_short) and lots.
  static Result<SignalRules> FromParams(strategy::StrategyParams& params);
};

// The position direction (-1, 0, +1) the rules want after a score, given the current one.
int TargetDirection(const SignalRules& rules, double score, double confidence, int current);

// Called after every scored row (tests, explanations, the evaluation report).
using ScoreObserver = std::function<void(Timestamp row_time, const EnsembleScore& score)>;

class MlEnsembleStrategy final : public strategy::Strategy {
 public:
  // Precondition: engine.Hash() == ensemble.feature_set_hash() (MakeMlEnsembleStrategy checks).
  MlEnsembleStrategy(const Instrument& instrument, features::FeatureEngine engine,
                     Ensemble ensemble, SignalRules rules, ScoreObserver observer = {});
  std::string_view name() const override { return "ml_ensemble"; }
  void OnBar(const Bar& bar) override;
  uint64_t scored_rows() const { return scored_rows_; }

 private:
  const Instrument& instrument_;
  features::FeatureEngine engine_;
  Ensemble ensemble_;
  SignalRules rules_;
  ScoreObserver observer_;
  std::vector<float> row_;
  Quantity lots_;
  uint64_t scored_rows_ = 0;
};

// Builds the strategy from a serialized ensemble: checks that the feature engine built for the
// ensemble's timeframes has the ensemble's feature-set hash and names, and that the kernel's bar
// period is the base timeframe. Errors say which.
Result<std::unique_ptr<strategy::Strategy>> MakeMlEnsembleStrategy(
    const Instrument& instrument, Duration bar_period, Ensemble ensemble,
    const std::vector<Duration>& timeframes, SignalRules rules, ScoreObserver observer = {});

struct TimedScore {
  Timestamp time;  // row time: the close of the base bar the score belongs to
  double score = 0;
  double confidence = 0;
};

class ScoreReplayStrategy final : public strategy::Strategy {
 public:
  // Precondition: scores sorted by strictly increasing time.
  ScoreReplayStrategy(const Instrument& instrument, std::vector<TimedScore> scores,
                      SignalRules rules);
  std::string_view name() const override { return "ml_scores"; }
  void OnBar(const Bar& bar) override;

 private:
  const Instrument& instrument_;
  std::vector<TimedScore> scores_;
  SignalRules rules_;
  Quantity lots_;
  size_t next_ = 0;
};

}  // namespace aits::ml
