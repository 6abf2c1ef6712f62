#include "aits/models/pca.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <utility>

#include <Eigen/Eigenvalues>

#include "aits/models/internal/unsupervised_util.h"
#include "aits/models/serialize.h"

namespace aits::ml {
namespace {

constexpr uint32_t kFormatVersion = 1;

}  // namespace

Result<Pca> Pca::Fit(const Matrix& x, const PcaConfig& config) {
  if (!(config.variance_to_keep > 0.0 && config.variance_to_keep <= 1.0)) {
    return InvalidArgument("pca fit: variance_to_keep is " +
                           std::to_string(config.variance_to_keep) + ", must be in (0, 1]");
  }
  if (x.rows() < 2) {
    return InvalidArgument("pca fit: " + std::to_string(x.rows()) + " rows, need at least 2");
  }
  if (x.cols() == 0) return InvalidArgument("pca fit: the matrix has no columns");
  AITS_RETURN_IF_ERROR(internal::CheckFinite(x, "pca"));

  Pca model;
  model.standardizer_ = Standardizer::Fit(x);
  const std::vector<double>& mean = model.standardizer_.mean();
  const std::vector<double> inv_stddev = internal::InverseStddev(model.standardizer_);
  const auto rows = static_cast<Eigen::Index>(x.rows());
  const auto cols = static_cast<Eigen::Index>(x.cols());
  // Z^T Z accumulated over blocks of standardized rows: memory stays O(block * cols) however
  // many rows there are.
  constexpr Eigen::Index kBlockRows = 1024;
  Eigen::MatrixXd covariance = Eigen::MatrixXd::Zero(cols, cols);
  Eigen::MatrixXd block(std::min(rows, kBlockRows), cols);
  for (Eigen::Index first = 0; first < rows; first += kBlockRows) {
    const Eigen::Index count = std::min(kBlockRows, rows - first);
    for (Eigen::Index r = 0; r < count; ++r) {
      const std::span<const float> values = x.Row(static_cast<size_t>(first + r));
      for (Eigen::Index c = 0; c < cols; ++c) {
        const auto col = static_cast<size_t>(c);
        block(r, c) = (static_cast<double>(values[col]) - mean[col]) * inv_stddev[col];
      }
    }
    const auto used = block.topRows(count);
    covariance.noalias() += used.transpose() * used;
  }
  covariance /= static_cast<double>(rows - 1);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(covariance);
  if (solver.info() != Eigen::Success) {
    return Internal("pca fit: the eigen-decomposition of the " + std::to_string(cols) + "x" +
                    std::to_string(cols) + " covariance matrix did not converge");
  }
  // Eigen sorts eigenvalues in increasing order.
  std::vector<double> eigenvalues(static_cast<size_t>(cols));
  double total = 0.0;
  for (Eigen::Index i = 0; i < cols; ++i) {
    eigenvalues[static_cast<size_t>(i)] = std::max(0.0, solver.eigenvalues()(cols - 1 - i));
    total += eigenvalues[static_cast<size_t>(i)];
  }
  if (!(total > 0.0)) {
    return InvalidArgument("pca fit: every one of the " + std::to_string(cols) +
                           " columns is constant, there is no variance to explain");
  }
  Eigen::Index kept = cols;
  double cumulative = 0.0;
  for (Eigen::Index i = 0; i < cols; ++i) {
    cumulative += eigenvalues[static_cast<size_t>(i)] / total;
    if (cumulative >= config.variance_to_keep) {
      kept = i + 1;
      break;
    }
  }
  model.loadings_.resize(cols, kept);
  for (Eigen::Index j = 0; j < kept; ++j) {
    Eigen::VectorXd component = solver.eigenvectors().col(cols - 1 - j);
    Eigen::Index largest = 0;
    for (Eigen::Index i = 1; i < cols; ++i) {
      if (std::abs(component(i)) > std::abs(component(largest))) largest = i;
    }
    if (component(largest) < 0.0) component = -component;
    model.loadings_.col(j) = component;
    model.ratios_.push_back(eigenvalues[static_cast<size_t>(j)] / total);
  }
  model.Finish();
  return model;
}

void Pca::Finish() {
  mean_ = standardizer_.mean();
  const std::vector<double> inv_stddev = internal::InverseStddev(standardizer_);
  const size_t cols = mean_.size();
  const size_t kept = components();
  scaled_loadings_.resize(cols * kept);
  for (size_t i = 0; i < cols; ++i) {
    for (size_t j = 0; j < kept; ++j) {
      scaled_loadings_[i * kept + j] =
          loadings_(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) * inv_stddev[i];
    }
  }
}

void Pca::Transform(std::span<const float> row, std::span<float> out) const {
  assert(row.size() == InputSize() && out.size() == components());
  const size_t cols = mean_.size();
  const size_t kept = std::min(out.size(), components());
  // Input-major with the components innermost: kBlock independent sums the compiler vectorizes,
  // where one dot product per component would be a chain of dependent additions.
  constexpr size_t kBlock = 32;
  for (size_t first = 0; first < kept; first += kBlock) {
    const size_t width = std::min(kBlock, kept - first);
    double sums[kBlock] = {};
    for (size_t i = 0; i < cols; ++i) {
      const double centred = static_cast<double>(row[i]) - mean_[i];
      const double* weights = scaled_loadings_.data() + i * kept + first;
      for (size_t j = 0; j < width; ++j) sums[j] += centred * weights[j];
    }
    for (size_t j = 0; j < width; ++j) out[first + j] = static_cast<float>(sums[j]);
  }
}

Matrix Pca::Transform(const Matrix& x) const {
  Matrix out(x.rows(), components());
  for (size_t r = 0; r < x.rows(); ++r) Transform(x.Row(r), out.Row(r));
  return out;
}

std::string Pca::Serialize() const {
  ByteWriter out;
  out.U32(kFormatVersion);
  standardizer_.Serialize(&out);
  out.U64(InputSize());
  out.U64(components());
  out.F64s(ratios_);
  // Column-major: component after component.
  out.F64s(std::span<const double>(loadings_.data(), static_cast<size_t>(loadings_.size())));
  return WrapModel(kKind, out.data());
}

Result<Pca> Pca::Deserialize(std::string_view bytes, std::string_view what) {
  AITS_ASSIGN_OR_RETURN(std::string payload, internal::UnwrapKind(bytes, what, kKind));
  ByteReader in(payload, std::string(what));
  AITS_ASSIGN_OR_RETURN(uint32_t version, in.U32("pca format version"));
  if (version != kFormatVersion) {
    return DataLoss(std::string(what) + ": pca format version " + std::to_string(version) +
                    ", this build reads " + std::to_string(kFormatVersion));
  }
  AITS_ASSIGN_OR_RETURN(Standardizer standardizer, Standardizer::Deserialize(&in));
  AITS_ASSIGN_OR_RETURN(uint64_t cols, in.U64("pca columns"));
  AITS_ASSIGN_OR_RETURN(uint64_t kept, in.U64("pca components"));
  if (cols < 1 || kept < 1 || kept > cols || cols > in.remaining()) {
    return DataLoss(std::string(what) + ": pca keeps " + std::to_string(kept) + " components of " +
                    std::to_string(cols) + " columns");
  }
  Pca model;
  AITS_ASSIGN_OR_RETURN(model.ratios_, in.F64s("pca explained variance ratios"));
  AITS_ASSIGN_OR_RETURN(std::vector<double> loadings, in.F64s("pca loadings"));
  AITS_RETURN_IF_ERROR(in.ExpectEnd());
  if (model.ratios_.size() != kept || loadings.size() != cols * kept) {
    return DataLoss(std::string(what) + ": pca has " + std::to_string(model.ratios_.size()) +
                    " ratios and " + std::to_string(loadings.size()) + " loadings, expected " +
                    std::to_string(kept) + " and " + std::to_string(cols * kept));
  }
  for (double ratio : model.ratios_) {
    if (!(ratio >= 0.0 && ratio <= 1.0)) {
      return DataLoss(std::string(what) + ": pca explained variance ratio " +
                      std::to_string(ratio) + " is outside [0, 1]");
    }
  }
  for (size_t i = 0; i < loadings.size(); ++i) {
    if (!std::isfinite(loadings[i])) {
      return DataLoss(std::string(what) + ": pca loading " + std::to_string(i) + " is " +
                      std::to_string(loadings[i]));
    }
  }
  AITS_ASSIGN_OR_RETURN(model.standardizer_,
                        internal::CheckStandardizer(std::move(standardizer), cols, what));
  model.loadings_ = Eigen::Map<const Eigen::MatrixXd>(
      loadings.data(), static_cast<Eigen::Index>(cols), static_cast<Eigen::Index>(kept));
  model.Finish();
  return model;
}

}  // namespace aits::ml
