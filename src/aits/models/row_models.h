// What the row learners (XGBoost, random forest, logistic regression) share: the training
// inputs, the progress callback, the input checks, and loading any of them from model bytes.
//
// Training data: `x` holds one feature row per example; `y` is 0/1 for a classifier and the
// forward return for a regressor. The caller drops rows whose label is unknown; a NaN or
// infinite value in x or y is rejected here with an error naming the row and column, never a
// crash. A validation set, when given, drives early stopping (XGBoost) and the validation metric
// of the progress callback.
//
// Thread-compatible.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string_view>

#include "aits/core/status.h"
#include "aits/models/dataset.h"
#include "aits/models/model.h"

namespace aits::ml {

// Called once per boosting round or per finished tree. A metric the model does not compute (no
// validation set; a forest's per-tree progress) is NaN. For XGBoost the metric is logloss
// (classifier) or rmse (regressor). The forest reports finished trees (`iteration` counts them,
// in completion order, which depends on thread timing) with both metrics NaN.
using TrainProgress =
    std::function<void(int iteration, double train_metric, double validation_metric)>;

// An optional held-out set. Empty (x == nullptr) means none.
struct ValidationSet {
  const Matrix* x = nullptr;
  std::span<const float> y;
  bool empty() const { return x == nullptr || x->rows() == 0; }
};

// Checks training (and validation) inputs: at least one row and one column, y.size() == rows,
// every x and y finite, y in {0, 1} for a classifier, validation columns equal to training
// columns. `model` names the caller in errors ("xgboost: row 17 column 3 is nan").
Status CheckTrainingData(std::string_view model, const Matrix& x, std::span<const float> y,
                         bool regression, const ValidationSet& validation = {});

// Reads a model file's bytes (ml/serialize.h envelope) and builds the row model its kind names:
// "xgboost", "xgboost_regressor", "random_forest" or "logistic". `what` names the source (a
// path) in errors. A truncated or corrupt file, or an unknown kind, is an error.
Result<std::unique_ptr<RowModel>> LoadRowModel(std::string_view bytes, std::string_view what);

}  // namespace aits::ml
