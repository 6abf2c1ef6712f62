// What the ensemble sees of a trained model.
//
// Every supervised model predicts the direction of the label (ml/labels.h): Predict returns
// P(up) in [0, 1] for a classifier, and the predicted forward return for a regressor
// (IsRegressor()). Row models (XGBoost, random forest, logistic regression) map one feature row
// to an output; sequence models (LSTM, GRU) consume rows one at a time and carry a hidden state,
// so live inference costs one cell step per bar instead of a re-run of the whole window.
//
// Inputs are the raw feature rows of a Dataset (ml/dataset.h) in the column order the model was
// trained with; a model that needs scaled inputs owns its Standardizer. Serialize() gives the
// bytes of a model file (ml/serialize.h WrapModel envelope); the same model always gives the same
// bytes. LoadRowModel (ml/row_models.h) dispatches on the envelope's kind; sequence models load
// with RecurrentModel::Deserialize (ml/recurrent_model.h), which needs no LibTorch.
//
// Predict/Step never allocate once constructed and are safe to call on the hot path.
// Thread-compatible; a SequenceModel's state makes it one-stream-per-object.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "aits/core/status.h"
#include "aits/models/dataset.h"

namespace aits::ml {

class RowModel {
 public:
  virtual ~RowModel() = default;
  virtual std::string_view Kind() const = 0;  // "xgboost", "random_forest", "logistic"
  virtual bool IsRegressor() const { return false; }
  virtual size_t InputSize() const = 0;
  // Precondition: row.size() == InputSize().
  virtual float Predict(std::span<const float> row) const = 0;
  // Precondition: x.cols() == InputSize(), out.size() == x.rows(). The default loops Predict.
  virtual void PredictBatch(const Matrix& x, std::span<float> out) const;
  virtual std::string Serialize() const = 0;
};

class SequenceModel {
 public:
  virtual ~SequenceModel() = default;
  virtual std::string_view Kind() const = 0;  // "lstm", "gru"
  virtual size_t InputSize() const = 0;
  // Forgets the hidden state (start of a new stream, or after a gap in the data).
  virtual void ResetState() = 0;
  // Consumes the next row and returns P(up) after it. Precondition: row.size() == InputSize().
  virtual float Step(std::span<const float> row) = 0;
  virtual std::string Serialize() const = 0;
  // A fresh copy with a reset state (one per stream).
  virtual std::unique_ptr<SequenceModel> Clone() const = 0;
};

}  // namespace aits::ml
