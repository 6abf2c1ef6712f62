#include "aits/models/row_models.h"

#include <cmath>
#include <string>

#include "aits/models/logistic_regression.h"
#include "aits/models/random_forest.h"
#include "aits/models/xgboost_model.h"

namespace aits::ml {
namespace {

std::string Text(float v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return std::to_string(v);
}

Status CheckSet(std::string_view model, std::string_view set, const Matrix& x,
                std::span<const float> y, bool regression) {
  const std::string where = std::string(model) + ": " + std::string(set);
  if (x.rows() == 0) return InvalidArgument(where + " has no rows");
  if (x.cols() == 0) return InvalidArgument(where + " has no feature columns");
  if (y.size() != x.rows()) {
    return InvalidArgument(where + " has " + std::to_string(x.rows()) + " rows but " +
                           std::to_string(y.size()) + " labels");
  }
  // One pass over the whole block first (vectorisable); only a failure looks for the culprit.
  const float* data = x.data();
  const size_t count = x.rows() * x.cols();
  bool finite = true;
  for (size_t i = 0; i < count; ++i) finite &= std::isfinite(data[i]);
  if (!finite) {
    for (size_t i = 0; i < count; ++i) {
      if (!std::isfinite(data[i])) {
        return InvalidArgument(where + " row " + std::to_string(i / x.cols()) + " column " +
                               std::to_string(i % x.cols()) + " is " + Text(data[i]) +
                               " (features must be finite)");
      }
    }
  }
  for (size_t r = 0; r < y.size(); ++r) {
    if (!std::isfinite(y[r]) || (!regression && y[r] != 0.0f && y[r] != 1.0f)) {
      return InvalidArgument(where + " label of row " + std::to_string(r) + " is " + Text(y[r]) +
                             (regression ? " (must be finite)" : " (must be 0 or 1)"));
    }
  }
  return Status::Ok();
}

}  // namespace

Status CheckTrainingData(std::string_view model, const Matrix& x, std::span<const float> y,
                         bool regression, const ValidationSet& validation) {
  AITS_RETURN_IF_ERROR(CheckSet(model, "training set", x, y, regression));
  if (validation.x == nullptr) return Status::Ok();
  if (validation.x->cols() != x.cols()) {
    return InvalidArgument(std::string(model) + ": validation set has " +
                           std::to_string(validation.x->cols()) + " columns, training set " +
                           std::to_string(x.cols()));
  }
  return CheckSet(model, "validation set", *validation.x, validation.y, regression);
}

Result<std::unique_ptr<RowModel>> LoadRowModel(std::string_view bytes, std::string_view what) {
  AITS_ASSIGN_OR_RETURN(ModelEnvelope envelope, UnwrapModel(bytes, what));
  const std::string& kind = envelope.kind;
  if (kind == XgbModel::kKindClassifier || kind == XgbModel::kKindRegressor) {
    AITS_ASSIGN_OR_RETURN(auto model, XgbModel::FromPayload(kind, envelope.payload, what));
    return std::unique_ptr<RowModel>(std::move(model));
  }
  if (kind == RandomForest::kKind) {
    AITS_ASSIGN_OR_RETURN(auto model, RandomForest::FromPayload(kind, envelope.payload, what));
    return std::unique_ptr<RowModel>(std::move(model));
  }
  if (kind == LogisticRegression::kKind) {
    AITS_ASSIGN_OR_RETURN(auto model,
                          LogisticRegression::FromPayload(kind, envelope.payload, what));
    return std::unique_ptr<RowModel>(std::move(model));
  }
  return InvalidArgument(std::string(what) + ": model kind \"" + kind +
                         "\" is not a row model (xgboost, xgboost_regressor, random_forest, "
                         "logistic)");
}

}  // namespace aits::ml
