// KMeans: market regimes as k-means clusters of standardized feature rows.
//
// Fit standardizes the columns (the model owns its Standardizer: population mean and standard
// deviation of the training rows; a constant column maps to 0), then runs `restarts` times
// "greedy" k-means++ seeding (as scikit-learn: each new centre is the best of 2 + floor(ln k)
// candidates drawn in proportion to D^2) followed by Lloyd iterations, and keeps the run with the
// lowest inertia (the first one on a tie). Lloyd stops when no row changes cluster, when the
// summed squared centroid shift is <= `tolerance` (then a last assignment step), or after
// `max_iterations`. A cluster left empty is moved to the row farthest from its centroid.
//
// Determinism: all randomness comes from one std::mt19937_64 seeded with `seed`, turned into
// uniforms by hand ((draw >> 11) * 2^-53) rather than by <random>'s distributions, whose output
// the standard does not pin down. Same data, config and seed give the same Serialize() bytes on
// every platform that gives the same floating-point results.
//
// Regime names (NameRegimes) are relative ranks of the centroids in standardized space:
//   volatility score of a centroid = mean of its coordinates in the columns whose name contains
//     "volatility" or "atr";
//   trend score = mean over the columns whose name contains "momentum", "price_change" or
//     "macd", except "macd_signal" (the signal line is a lagged smoothing of the MACD line, so
//     counting both would weigh MACD twice).
//   1. With volatility columns: the highest volatility score is "high_volatility", then the
//      lowest of the others "low_volatility".
//   2. With trend columns, among the clusters still unnamed, if at least two remain: the highest
//      trend score is "trending_up", then the lowest of the others "trending_down".
//   3. The rest are "ranging", "ranging_2", "ranging_3", ... in cluster order when trend columns
//      exist (they are the least trending), and "regime_<cluster index>" otherwise (nothing
//      is known about them).
// Ties go to the lower cluster index. So k = 5 with both kinds of columns gives the five names
// high_volatility, low_volatility, trending_up, trending_down, ranging; k = 3 gives high/low
// volatility and ranging; with neither kind of column every cluster is "regime_<index>". The
// names are ranks, not thresholds: "trending_up" is the most upward of the middle clusters even
// if its trend score is negative.
//
// Assign() and IsHighVolatility() do no allocation and are safe on the hot path.
// Thread-compatible; const methods may be called concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <Eigen/Core>

#include "aits/core/status.h"
#include "aits/models/dataset.h"

namespace aits::ml {

struct KMeansConfig {
  int k = 5;
  uint64_t seed = 42;
  int max_iterations = 300;  // per restart, >= 1
  double tolerance = 1e-6;   // summed squared centroid shift (standardized units), >= 0
  int restarts = 4;          // >= 1
};

class KMeans {
 public:
  // Kind written into the model file envelope (serialize.h).
  static constexpr std::string_view kKind = "kmeans";

  // Errors (kInvalidArgument): k < 2, restarts < 1, max_iterations < 1, a negative or NaN
  // tolerance, fewer rows than k, no columns, feature_names.size() != x.cols(), a non-finite
  // value (naming its row, column name and value).
  static Result<KMeans> Fit(const Matrix& x, std::vector<std::string> feature_names,
                            const KMeansConfig& config);

  // The nearest centroid (squared Euclidean distance in standardized space; the lower index on a
  // tie). Precondition: row.size() == InputSize(). No allocation.
  int Assign(std::span<const float> row) const;

  // Precondition: 0 <= cluster < k().
  const std::string& RegimeName(int cluster) const { return regime_names_[cluster]; }
  const std::vector<std::string>& RegimeNames() const { return regime_names_; }
  bool IsHighVolatility(int cluster) const { return cluster == high_volatility_cluster_; }

  int k() const { return static_cast<int>(centroids_.rows()); }
  size_t InputSize() const { return feature_names_.size(); }
  // Sum over the training rows of the squared distance to their centroid (standardized space).
  double inertia() const { return inertia_; }
  // k x InputSize(), in standardized space.
  const Eigen::MatrixXd& centroids() const { return centroids_; }
  const std::vector<std::string>& feature_names() const { return feature_names_; }
  const Standardizer& standardizer() const { return standardizer_; }

  // The naming rule of the header comment, applied to any centroid layout (k x names.size(),
  // standardized). Precondition: centroids.cols() == feature_names.size().
  static std::vector<std::string> NameRegimes(const Eigen::MatrixXd& centroids,
                                              std::span<const std::string> feature_names);

  // A model file (WrapModel envelope, kind kKind). Same model, same bytes.
  std::string Serialize() const;
  // kDataLoss for truncated or corrupt bytes, kInvalidArgument for another kind of model or
  // inconsistent contents; `what` names the source in errors.
  static Result<KMeans> Deserialize(std::string_view bytes, std::string_view what);

 private:
  KMeans() = default;
  // Derives the hot-path copies (row-major centroids, 1 / stddev) and the regime names.
  void Finish();

  Standardizer standardizer_;
  std::vector<std::string> feature_names_;
  Eigen::MatrixXd centroids_;
  double inertia_ = 0.0;
  std::vector<std::string> regime_names_;
  int high_volatility_cluster_ = -1;
  // Hot path: centroids row-major (k * InputSize()), the means and 1 / stddev (0 for a constant
  // column) of the standardizer.
  std::vector<double> flat_centroids_;
  std::vector<double> mean_;
  std::vector<double> inv_stddev_;
};

}  // namespace aits::ml
