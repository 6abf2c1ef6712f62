// The ML ensemble as a signal source: features computed live by the same FeatureEngine that
// produced the training matrix, one Ensemble::Step per base-bar close; s = 2 p_up - 1 (the
// ensemble's score), its confidence, anomaly score and regime. Explanations add the top feature
// contributions of the ensemble's XGBoost member (SHAP values from XGBoost itself) and every
// member's probability.
#pragma once

#include <memory>
#include <vector>

#include "aits/core/status.h"
#include "aits/models/ensemble.h"
#include "aits/trading/signal_source.h"

namespace aits::trading {

// Errors: the ensemble's feature set does not match this build for `timeframes`, or the bar
// period is not the ensemble's base timeframe.
Result<std::unique_ptr<SignalSource>> MakeMlSignal(const Instrument& instrument,
                                                   Duration bar_period, ml::Ensemble ensemble,
                                                   const std::vector<Duration>& timeframes,
                                                   size_t top_features = 5);

}  // namespace aits::trading
