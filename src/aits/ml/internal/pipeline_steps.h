// Steps of the training pipeline that `aits train` (pipeline.cc) and `aits retrain`
// (retrain.cc) share: the data file as features, the labelled rows of a range, the purge between
// the rows a model learns from and the rows it is scored on, the sequence models' warm-up and
// the learners' progress. Internal to aits::ml_pipeline.
#pragma once

#include <string>
#include <vector>

#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/ml/feature_dataset.h"
#include "aits/ml/pipeline.h"
#include "aits/ml/splits.h"
#include "aits/models/dataset.h"

namespace aits::ml::internal {

// Labelled rows of a range, their features and labels.
struct Labelled {
  std::vector<size_t> rows;
  Matrix x;
  std::vector<float> y;
};
// The rows of `range` whose label is finite.
Labelled LabelledRows(const Dataset& data, const std::vector<float>& labels, RowRange range);

// The learners' per-iteration progress, reported to the listener under `model`.
TrainProgress Progress(const TrainListener& listener, std::string model);

// How far before a scored row the rows a model learns from must end: the label's horizon plus
// its largest gap, so that no label window reaches the scored rows.
Duration Purge(const MlConfig& config);

// Rows the sequence models step through before a scored range (their longest window).
size_t WarmUpRows(const MlConfig& config);

// The feature rows of the config's data file.
Result<Dataset> LoadData(const MlConfig& config, const TrainListener& listener,
                         FeatureBuildStats* stats);

}  // namespace aits::ml::internal
