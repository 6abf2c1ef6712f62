// Retraining a registered ensemble on recent data (issue 13, item 5; docs/ml.md, "Retraining"):
// what the watch's `update` and `retrain` verdicts (model_watch.h) call for, run by
// `aits retrain` and by the ml role's "retrain" jobs, off the trading path.
//
// From the source model (a registry reference, usually the production one) and the config's data,
// the window is the last `rows` labelled rows at or before `to`. Its last `holdout_fraction` is
// the holdout; the rows before it, purged by the label's horizon and largest gap as every split
// is (splits.h), are what the models learn from.
//
//   update  continued boosting of the XGBoost member (XgbModel::Continue: config.xgboost's rounds
//           more trees, early-stopped on the holdout); every other part — regimes, PCA, the
//           isolation forest, the other members, the weights — is the source's, byte for byte;
//   full    every stage trained anew on the window (TrainModels, as `aits train` does), with the
//           config's settings.
//
// The result is registered as a candidate of the source's name, never promoted: the registry's
// gate is applied later, on the candidate's shadow record. Its record holds
//   parent            "NAME@VERSION" of the source;
//   params            the candidate's settings (update: the source's, which its parts still are)
//                     and "retrain": mode, rows, the window's, training rows' and holdout's spans,
//                     the source, the settings it was updated with;
//   metrics           "validation": the candidate's ensemble on the holdout, "baseline": the
//                     source's on the same rows (so the gate compares like with like; a source
//                     trained on those rows scores in sample there, said by
//                     "baseline_in_sample"), their per-member details, the stages' information;
//   train range       the rows learnt from;
// and its file a new watch reference: the inputs of the rows learnt from, the candidate's scores
// on the holdout, so that a live session measures its drift against the recent regime.
//
// Nothing is registered unless everything succeeded: bad input (an unknown model, a member rather
// than an ensemble, a config whose feature set is not the model's, update on a model without an
// XGBoost member, too few labelled rows) is an error before the registry is written.
// Same inputs give the same model bytes.
//
// Thread-compatible, as RunTraining.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/ml/pipeline.h"
#include "aits/ml/registry.h"
#include "aits/ml/splits.h"

namespace aits::ml {

enum class RetrainMode { kUpdate, kFull };

// "update", "full".
std::string_view ToString(RetrainMode mode);
// The inverse; InvalidArgument naming the text and the two modes otherwise.
Result<RetrainMode> ParseRetrainMode(std::string_view text);

// Below this a window's holdout is too small to gate on or to take percentiles of.
inline constexpr size_t kMinRetrainRows = 1000;

struct RetrainOptions {
  std::string model;  // the source: "NAME", "NAME@3", "#12", "latest" (registry.h, Find)
  RetrainMode mode = RetrainMode::kUpdate;
  size_t rows = 50'000;  // labelled rows in the window
  // As of this time: the window's rows are those labelled by then (their label's target at or
  // before it), so no row looks past it; none: the data's end.
  std::optional<Timestamp> to;
  double holdout_fraction = 0.15;  // of the window's rows, at its end
};

struct RetrainResult {
  ModelRecord source;
  ModelRecord candidate;                    // status candidate
  std::vector<ModelRecord> member_records;  // the candidate's members, parent the candidate
  size_t data_rows = 0;                     // feature rows in the data file
  RowRange window;                          // rows of the data
  RowRange train;                           // the rows learnt from
  RowRange holdout;
  Timestamp window_first, window_last;
  nlohmann::json metrics;  // as registered
  FeatureBuildStats feature_stats;
};

// Checks the options and finds the source: registry and model (an ensemble), the config's feature
// set against the model's, an XGBoost member for update. What `aits retrain --check` runs, and the
// first step of RunRetrain.
Result<ModelRecord> CheckRetrain(const MlConfig& config, const RetrainOptions& options);

// The retraining above; `jobs` as for TrainModels (full mode).
Result<RetrainResult> RunRetrain(const MlConfig& config, const RetrainOptions& options,
                                 const TrainListener& listener, int jobs = 1);

}  // namespace aits::ml
