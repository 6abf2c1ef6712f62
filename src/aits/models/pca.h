// Pca: principal components of standardized feature rows.
//
// Fit standardizes the columns (the model owns its Standardizer; a constant column maps to 0),
// forms the covariance matrix of the standardized rows (divisor rows - 1) in double and takes its
// eigen-decomposition (Eigen::SelfAdjointEigenSolver). Components are ordered by decreasing
// eigenvalue; rounding-level negative eigenvalues count as 0. It keeps the fewest leading
// components whose cumulative explained variance ratio is >= variance_to_keep (all of them when
// rounding keeps the sum below it; scikit-learn keeps the fewest whose sum is strictly greater,
// which differs only on an exact tie).
//
// Sign convention: each component is flipped so that its entry of largest magnitude (the first
// one on an exact tie) is positive. Eigenvectors are defined only up to sign; fixing it makes
// results comparable across implementations and runs.
//
// Transform maps a raw row to its coordinates on the kept components: out[j] = sum_i
// z_i * loading(i, j) with z the standardized row, computed in double and narrowed to float.
// Transform(row, out) does no allocation and is safe on the hot path.
// Thread-compatible; const methods may be called concurrently.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <Eigen/Core>

#include "aits/core/status.h"
#include "aits/models/dataset.h"

namespace aits::ml {

struct PcaConfig {
  double variance_to_keep = 0.95;  // in (0, 1]
};

class Pca {
 public:
  // Kind written into the model file envelope (serialize.h).
  static constexpr std::string_view kKind = "pca";

  // Errors (kInvalidArgument): variance_to_keep outside (0, 1], fewer than 2 rows, no columns,
  // a non-finite value (naming its row, column and value), every column constant (no variance
  // to explain). kInternal if the eigen-solver fails.
  static Result<Pca> Fit(const Matrix& x, const PcaConfig& config);

  size_t InputSize() const { return mean_.size(); }
  // The number of kept components.
  size_t components() const { return static_cast<size_t>(loadings_.cols()); }
  // Explained variance ratio of each kept component (decreasing; the full spectrum sums to 1).
  std::vector<double> explained_variance_ratio() const { return ratios_; }
  // InputSize() x components(): column j is component j (unit length, sign convention above).
  const Eigen::MatrixXd& loadings() const { return loadings_; }
  const Standardizer& standardizer() const { return standardizer_; }

  // Precondition: row.size() == InputSize(), out.size() == components(). No allocation.
  void Transform(std::span<const float> row, std::span<float> out) const;
  // Precondition: x.cols() == InputSize(). Returns x.rows() x components().
  Matrix Transform(const Matrix& x) const;

  // A model file (WrapModel envelope, kind kKind). Same model, same bytes.
  std::string Serialize() const;
  // kDataLoss for truncated or corrupt bytes, kInvalidArgument for another kind of model;
  // `what` names the source in errors.
  static Result<Pca> Deserialize(std::string_view bytes, std::string_view what);

 private:
  Pca() = default;
  // Derives the hot-path arrays from standardizer_ and loadings_.
  void Finish();

  Standardizer standardizer_;
  Eigen::MatrixXd loadings_;
  std::vector<double> ratios_;
  // Hot path: the means, and loading(i, j) / stddev_i stored input-major (i * components() + j),
  // 0 for a constant column, so Transform is one multiply-add per loading.
  std::vector<double> mean_;
  std::vector<double> scaled_loadings_;
};

}  // namespace aits::ml
