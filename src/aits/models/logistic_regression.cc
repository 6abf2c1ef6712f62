#include "aits/models/logistic_regression.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace aits::ml {
namespace {

constexpr uint32_t kPayloadVersion = 1;
// Rows per block: big enough for Eigen's GEMM to run at speed, small enough to stay in cache.
constexpr size_t kBlockRows = 2048;

Status CheckConfig(const LogisticConfig& c) {
  auto bad = [](std::string_view field, const std::string& value, std::string_view rule) {
    return InvalidArgument("logistic config: " + std::string(field) + " = " + value + " (" +
                           std::string(rule) + ")");
  };
  if (!(c.l2 >= 0) || !std::isfinite(c.l2)) {
    return bad("l2", std::to_string(c.l2), "must be finite and >= 0");
  }
  if (c.max_iterations < 1) {
    return bad("max_iterations", std::to_string(c.max_iterations), "must be >= 1");
  }
  if (!(c.tolerance > 0) || !std::isfinite(c.tolerance)) {
    return bad("tolerance", std::to_string(c.tolerance), "must be finite and > 0");
  }
  return Status::Ok();
}

// log(1 + e^z) without overflow.
double Softplus(double z) { return std::max(z, 0.0) + std::log1p(std::exp(-std::abs(z))); }

// Design matrix of rows [begin, end): column 0 is the intercept, then the standardised features.
void FillBlock(const Matrix& x, const Standardizer& standardizer, size_t begin, size_t end,
               std::vector<float>* scratch, Eigen::MatrixXd* block) {
  const size_t p = x.cols();
  block->resize(static_cast<Eigen::Index>(end - begin), static_cast<Eigen::Index>(p + 1));
  scratch->resize(p);
  for (size_t r = begin; r < end; ++r) {
    standardizer.Apply(x.Row(r), *scratch);
    const auto i = static_cast<Eigen::Index>(r - begin);
    (*block)(i, 0) = 1.0;
    for (size_t j = 0; j < p; ++j) (*block)(i, static_cast<Eigen::Index>(j + 1)) = (*scratch)[j];
  }
}

// Mean log loss of `beta` on (x, y).
double LogLoss(const Matrix& x, std::span<const float> y, const Standardizer& standardizer,
               const Eigen::VectorXd& beta) {
  std::vector<float> scratch;
  Eigen::MatrixXd block;
  double loss = 0;
  for (size_t begin = 0; begin < x.rows(); begin += kBlockRows) {
    const size_t end = std::min(x.rows(), begin + kBlockRows);
    FillBlock(x, standardizer, begin, end, &scratch, &block);
    const Eigen::VectorXd z = block * beta;
    for (size_t r = begin; r < end; ++r) {
      const double zi = z(static_cast<Eigen::Index>(r - begin));
      loss += Softplus(zi) - y[r] * zi;
    }
  }
  return loss / static_cast<double>(x.rows());
}

}  // namespace

Result<std::unique_ptr<LogisticRegression>> LogisticRegression::Train(
    const Matrix& x, std::span<const float> y, const LogisticConfig& config,
    const ValidationSet& validation, const TrainProgress& progress) {
  AITS_RETURN_IF_ERROR(CheckConfig(config));
  AITS_RETURN_IF_ERROR(CheckTrainingData("logistic", x, y, /*regression=*/false, validation));
  std::unique_ptr<LogisticRegression> model(new LogisticRegression());
  model->standardizer_ = Standardizer::Fit(x);
  const Standardizer& standardizer = model->standardizer_;

  const size_t p = x.cols();
  const auto dim = static_cast<Eigen::Index>(p + 1);
  const double n = static_cast<double>(x.rows());
  double mean = 0;
  for (const float label : y) mean += label;
  mean = std::clamp(mean / n, 1e-6, 1 - 1e-6);
  // Start at the base rate: the first Newton step then only has the features to learn.
  Eigen::VectorXd beta = Eigen::VectorXd::Zero(dim);
  beta(0) = std::log(mean / (1 - mean));
  Eigen::VectorXd previous_beta = beta;
  Eigen::VectorXd step = Eigen::VectorXd::Zero(dim);
  double previous_loss = std::numeric_limits<double>::infinity();
  double scale = 1;

  Eigen::MatrixXd hessian(dim, dim);
  Eigen::VectorXd gradient(dim);
  Eigen::MatrixXd block;
  std::vector<float> scratch;
  int newton_steps = 0;
  // Each pass evaluates loss, gradient and Hessian at beta. A pass whose penalised loss went up
  // halves the previous step instead (rare with l2 > 0; it keeps Newton from overshooting).
  for (int pass = 0; newton_steps < config.max_iterations && pass < 4 * config.max_iterations;
       ++pass) {
    hessian.setZero();
    gradient.setZero();
    double loss = 0;
    for (size_t begin = 0; begin < x.rows(); begin += kBlockRows) {
      const size_t end = std::min(x.rows(), begin + kBlockRows);
      FillBlock(x, standardizer, begin, end, &scratch, &block);
      const Eigen::VectorXd z = block * beta;
      Eigen::VectorXd residual(z.size());
      Eigen::VectorXd root_weight(z.size());
      for (Eigen::Index i = 0; i < z.size(); ++i) {
        const double label = y[begin + static_cast<size_t>(i)];
        const double prob = 1.0 / (1.0 + std::exp(-z(i)));
        residual(i) = label - prob;
        root_weight(i) = std::sqrt(prob * (1 - prob));
        loss += Softplus(z(i)) - label * z(i);
      }
      gradient.noalias() += block.transpose() * residual;
      const Eigen::MatrixXd weighted = root_weight.asDiagonal() * block;
      hessian.selfadjointView<Eigen::Lower>().rankUpdate(weighted.transpose());
    }
    const double penalty = 0.5 * config.l2 * beta.tail(dim - 1).squaredNorm();
    const double objective = loss + penalty;
    if (!std::isfinite(objective)) {
      return Internal("logistic: the loss became " + std::to_string(objective) + " at pass " +
                      std::to_string(pass));
    }
    if (objective > previous_loss * (1 + 1e-12) && scale > 1e-6) {
      scale *= 0.5;
      beta = previous_beta + scale * step;
      continue;
    }
    if (progress) {
      const double valid_loss = validation.empty()
                                    ? std::numeric_limits<double>::quiet_NaN()
                                    : LogLoss(*validation.x, validation.y, standardizer, beta);
      progress(newton_steps, loss / n, valid_loss);
    }
    hessian = hessian.selfadjointView<Eigen::Lower>();
    hessian.diagonal().tail(dim - 1).array() += config.l2;
    gradient.tail(dim - 1) -= config.l2 * beta.tail(dim - 1);
    // A tiny ridge on every direction keeps LDLT well posed when l2 == 0 and a column is
    // constant (it standardises to all zeros).
    hessian.diagonal().array() += 1e-12 * n;
    const Eigen::LDLT<Eigen::MatrixXd> ldlt(hessian);
    if (ldlt.info() != Eigen::Success || !ldlt.isPositive()) {
      return Internal("logistic: the Hessian is not positive definite at step " +
                      std::to_string(newton_steps));
    }
    step = ldlt.solve(gradient);
    if (!step.allFinite()) {
      return Internal("logistic: non-finite Newton step at step " + std::to_string(newton_steps));
    }
    previous_beta = beta;
    previous_loss = objective;
    scale = 1;
    beta += step;
    ++newton_steps;
    if (step.cwiseAbs().maxCoeff() < config.tolerance) {
      model->converged_ = true;
      break;
    }
  }
  model->intercept_ = beta(0);
  model->coefficients_.assign(beta.data() + 1, beta.data() + dim);
  model->iterations_ = newton_steps;
  model->Fold();
  return model;
}

void LogisticRegression::Fold() {
  const auto& mean = standardizer_.mean();
  const auto& stddev = standardizer_.stddev();
  raw_weights_.assign(coefficients_.size(), 0.0);
  raw_bias_ = intercept_;
  for (size_t j = 0; j < coefficients_.size(); ++j) {
    // Standardizer maps a constant column (std 0) to 0: it contributes nothing.
    if (stddev[j] == 0) continue;
    raw_weights_[j] = coefficients_[j] / stddev[j];
    raw_bias_ -= raw_weights_[j] * mean[j];
  }
}

float LogisticRegression::Predict(std::span<const float> row) const {
  double z = raw_bias_;
  for (size_t j = 0; j < raw_weights_.size(); ++j) z += raw_weights_[j] * row[j];
  return static_cast<float>(1.0 / (1.0 + std::exp(-z)));
}

std::string LogisticRegression::Serialize() const {
  ByteWriter out;
  out.U32(kPayloadVersion);
  standardizer_.Serialize(&out);
  out.F64s(coefficients_);
  out.F64(intercept_);
  out.U32(static_cast<uint32_t>(iterations_));
  out.U8(converged_ ? 1 : 0);
  return WrapModel(kKind, out.data());
}

Result<std::unique_ptr<LogisticRegression>> LogisticRegression::Load(std::string_view bytes,
                                                                     std::string_view what) {
  AITS_ASSIGN_OR_RETURN(ModelEnvelope envelope, UnwrapModel(bytes, what));
  return FromPayload(envelope.kind, envelope.payload, what);
}

Result<std::unique_ptr<LogisticRegression>> LogisticRegression::FromPayload(
    std::string_view kind, std::string_view payload, std::string_view what) {
  if (kind != kKind) {
    return InvalidArgument(std::string(what) + ": model kind is " + std::string(kind) + ", not " +
                           std::string(kKind));
  }
  ByteReader in(payload, std::string(what));
  AITS_ASSIGN_OR_RETURN(const uint32_t version, in.U32("logistic.version"));
  if (version != kPayloadVersion) {
    return DataLoss(std::string(what) + ": logistic payload version " + std::to_string(version) +
                    " (this build reads " + std::to_string(kPayloadVersion) + ")");
  }
  std::unique_ptr<LogisticRegression> model(new LogisticRegression());
  AITS_ASSIGN_OR_RETURN(model->standardizer_, Standardizer::Deserialize(&in));
  AITS_ASSIGN_OR_RETURN(model->coefficients_, in.F64s("logistic.coefficients"));
  AITS_ASSIGN_OR_RETURN(model->intercept_, in.F64("logistic.intercept"));
  AITS_ASSIGN_OR_RETURN(const uint32_t iterations, in.U32("logistic.iterations"));
  AITS_ASSIGN_OR_RETURN(const uint8_t converged, in.U8("logistic.converged"));
  AITS_RETURN_IF_ERROR(in.ExpectEnd());
  model->iterations_ = static_cast<int>(iterations);
  model->converged_ = converged != 0;
  if (model->coefficients_.empty() || model->coefficients_.size() != model->standardizer_.size()) {
    return DataLoss(std::string(what) + ": logistic has " +
                    std::to_string(model->coefficients_.size()) + " coefficients for " +
                    std::to_string(model->standardizer_.size()) + " standardised features");
  }
  model->Fold();
  return model;
}

}  // namespace aits::ml
