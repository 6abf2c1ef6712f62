// L2-regularised logistic regression on standardised features: the linear baseline every other
// model has to beat.
//
// Training standardises the features (the model owns its Standardizer), then maximises the
// penalised log-likelihood  sum_i [y_i log p_i + (1 - y_i) log(1 - p_i)] - l2/2 * |w|^2  (the
// intercept is not penalised) by Newton-Raphson (IRLS): each step solves (X'WX + l2 I) d = g with
// Eigen's LDLT, accumulated over blocks of rows in a fixed order, so the result is deterministic
// and memory stays O(p^2) whatever the number of rows. It stops when the largest step component
// is below `tolerance` or after max_iterations (the last iterate is kept; converged() says which).
//
// Predict folds the standardisation into raw-space weights (a_j = w_j / std_j), so a prediction is
// one dot product: no allocation, no scaling buffer.
//
// Model file payload: u32 payload version, the Standardizer, f64s coefficients (standardised
// space), f64 intercept, u32 iterations, u8 converged.
//
// Thread-compatible; Predict is const and may run concurrently.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/status.h"
#include "aits/models/dataset.h"
#include "aits/models/model.h"
#include "aits/models/row_models.h"

namespace aits::ml {

struct LogisticConfig {
  double l2 = 1.0;  // >= 0; 0 may not converge on separable data
  int max_iterations = 100;
  double tolerance = 1e-8;
};

class LogisticRegression final : public RowModel {
 public:
  static constexpr std::string_view kKind = "logistic";

  // Errors: bad input (see CheckTrainingData; y must be 0/1), an invalid config value, or a
  // numerical failure (the Hessian is not positive definite, a non-finite step). `progress`
  // gets (iteration, training log loss, validation log loss or NaN) after each Newton step.
  static Result<std::unique_ptr<LogisticRegression>> Train(const Matrix& x,
                                                           std::span<const float> y,
                                                           const LogisticConfig& config,
                                                           const ValidationSet& validation = {},
                                                           const TrainProgress& progress = {});
  static Result<std::unique_ptr<LogisticRegression>> Load(std::string_view bytes,
                                                          std::string_view what);
  static Result<std::unique_ptr<LogisticRegression>> FromPayload(std::string_view kind,
                                                                 std::string_view payload,
                                                                 std::string_view what);

  std::string_view Kind() const override { return kKind; }
  size_t InputSize() const override { return coefficients_.size(); }
  // P(up). No allocation.
  float Predict(std::span<const float> row) const override;
  std::string Serialize() const override;

  // Weights of the standardised features (per one standard deviation), and the intercept: the
  // log-odds at the training mean.
  const std::vector<double>& coefficients() const { return coefficients_; }
  double intercept() const { return intercept_; }
  const Standardizer& standardizer() const { return standardizer_; }
  int iterations() const { return iterations_; }
  bool converged() const { return converged_; }

 private:
  LogisticRegression() = default;
  // Derives raw_weights_ / raw_bias_ from the standardised coefficients.
  void Fold();

  Standardizer standardizer_;
  std::vector<double> coefficients_;
  double intercept_ = 0;
  int iterations_ = 0;
  bool converged_ = false;
  std::vector<double> raw_weights_;
  double raw_bias_ = 0;
};

}  // namespace aits::ml
