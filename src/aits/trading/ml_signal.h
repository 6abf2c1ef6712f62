// The ML ensemble as a signal source: features computed live by the same FeatureEngine that
// produced the training matrix, one Ensemble::Step per base-bar close; s = 2 p_up - 1 (the
// ensemble's score), its confidence, anomaly score and regime. Explanations add the top feature
// contributions of the ensemble's XGBoost member (SHAP values from XGBoost itself) and every
// member's probability.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/status.h"
#include "aits/ml/member_weights.h"
#include "aits/ml/shadow.h"
#include "aits/models/ensemble.h"
#include "aits/trading/signal_source.h"

namespace aits::trading {

// A candidate model to try beside the served one (ml/shadow.h): it scores every bar on the same
// features, never trades, and its calls and the served model's are settled side by side until the
// trial ends. The candidate must have the served model's feature set.
struct ShadowModel {
  ml::Ensemble candidate;
  std::string candidate_name;   // "NAME@VERSION", for the record
  std::string production_name;  // the served model's
  ml::ShadowConfig config;
};

// Loads a candidate by name for a trial started in the middle of a session
// (SignalSource::StartShadow): its ensemble and its name as the record gives it, refused when its
// bytes' checksum is not `checksum` (empty: not checked). Given by whoever knows the registry.
using ShadowLoader =
    std::function<Result<ShadowModel>(std::string_view candidate, std::string_view checksum)>;

// How a model is served beyond its ensemble.
struct MlSignalOptions {
  size_t top_features = 5;  // explained per decision (0: none)
  // A candidate on trial from the start.
  std::optional<ShadowModel> shadow;
  // What the source serves, for records ("NAME@VERSION").
  std::string model_name;
  // Lets the source start a trial later (none: StartShadow is refused).
  ShadowLoader loader;
  // Members weighed by their recent record (ml/member_weights.h; docs/ml.md, "Member weights");
  // none: alike, as trained.
  std::optional<ml::MemberWeightsConfig> member_weights;
};

// Errors: the ensemble's feature set does not match this build for `timeframes`, or the bar
// period is not the ensemble's base timeframe; a shadow candidate with another feature set
// (FailedPrecondition naming both hashes), or without a label horizon in either model's watch
// reference; member weights without a label horizon in the model's watch reference, or with bad
// settings.
Result<std::unique_ptr<SignalSource>> MakeMlSignal(const Instrument& instrument,
                                                   Duration bar_period, ml::Ensemble ensemble,
                                                   const std::vector<Duration>& timeframes,
                                                   MlSignalOptions options);
// The same with `top_features` and `shadow` only.
Result<std::unique_ptr<SignalSource>> MakeMlSignal(const Instrument& instrument,
                                                   Duration bar_period, ml::Ensemble ensemble,
                                                   const std::vector<Duration>& timeframes,
                                                   size_t top_features = 5,
                                                   std::optional<ShadowModel> shadow = {});

}  // namespace aits::trading
