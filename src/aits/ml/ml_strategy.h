// The ensemble's own trading rule for evaluation (strategy name "ml_scores").
//
// ScoreReplayStrategy trades precomputed scores by bar close time with SignalRules: `aits
// evaluate` uses it to backtest walk-forward out-of-sample scores, which were produced by models
// that never saw those rows. A backtest or a paper session of a registered model trades its
// live score through the decision engine and the risk manager instead (trading/ml_signal.h,
// node/builder.h); MakeFeatureEngineFor is the check both share that the model and the live
// feature engine agree.
//
// Thread-compatible, like every strategy (the kernel thread calls it).
#pragma once

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
