// A signal source that replays precomputed signals by bar close time. `aits evaluate` trades the
// walk-forward out-of-sample scores of its models with it (scores of rows the scoring models never
// saw), through the same DecisionStrategy, decision engine and risk manager as `aits backtest
// --signal ml_ensemble` and a paper session of a registered model (docs/ml.md, "Trading the
// signal"). A bar without a signal of its own close time gets no decision.
#pragma once

#include <memory>
#include <vector>

#include "aits/core/time.h"
#include "aits/trading/signal_source.h"

namespace aits::trading {

struct TimedSignal {
  Timestamp time;         // the close of the bar the signal belongs to
  double strength = 0;    // [-1, 1]
  double confidence = 1;  // [0, 1]
};

// Precondition: `signals` sorted by strictly increasing time (CheckReplayable says whether they
// are). The vector is shared, not copied, so that several runs over the same scores (one per
// traded instrument, or the evaluation's repeats) hold one copy.
std::unique_ptr<SignalSource> MakeReplaySignal(
    const Instrument& instrument, std::shared_ptr<const std::vector<TimedSignal>> signals);

// InvalidArgument naming the first signal out of order or outside its range.
Status CheckReplayable(const std::vector<TimedSignal>& signals);

}  // namespace aits::trading
