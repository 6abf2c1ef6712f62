// IsolationForest: anomaly scores for feature rows (Liu, Ting & Zhou, "Isolation Forest", 2008).
//
// Fit grows `trees` isolation trees, each on a subsample of psi = min(sample_size, rows) rows
// drawn without replacement. A node splits on a feature drawn uniformly from those that are not
// constant within the node (as scikit-learn does; the paper draws from all features), at a
// threshold drawn uniformly in (min, max] of that feature within the node: rows with value <
// threshold go left. A node becomes a leaf when it holds one row, when every feature is constant
// in it, or at the height limit ceil(log2(psi)). No standardization: splits are per feature and
// invariant to scaling.
//
// Score: the path length h(x) of a row in a tree is the depth of the leaf it reaches plus c(n)
// for the n training rows in that leaf (the expected depth of the unbuilt subtree), with
//   c(n) = 2 (ln(n - 1) + 0.5772156649...) - 2 (n - 1) / n for n > 2, c(2) = 1, c(n <= 1) = 0
// (the paper's harmonic-number approximation; scikit-learn uses the same). The score is
//   s(x) = 2^(-mean over trees of h(x) / c(psi))  in (0, 1]:
// near 1 for rows isolated in a few splits, about 0.5 and below for typical rows.
// threshold() is the (1 - contamination) quantile of the training rows' scores (linear
// interpolation between order statistics, numpy's default); IsAnomaly is score > threshold, so
// about `contamination` of the training rows are anomalies.
//
// Determinism: one std::mt19937_64 seeded with `seed`, with hand-written uniform draws (see
// kmeans.h): same data, config and seed give the same Serialize() bytes.
//
// Trees are stored as one flat array of nodes in pre-order (a node's left child follows it). For
// scoring, leaves are turned into nodes that lead to themselves, so that every tree takes the same
// number of branch-free steps (the deepest leaf's depth) and Score advances several trees at once
// without pointers, virtual calls, unpredictable branches or allocation.
// Thread-compatible; const methods may be called concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/status.h"
#include "aits/models/dataset.h"

namespace aits::ml {

struct IsolationForestConfig {
  int trees = 100;             // >= 1
  int sample_size = 256;       // psi, >= 2 (capped at the number of rows)
  double contamination = 0.1;  // expected share of anomalies, in [0, 0.5]
  uint64_t seed = 42;
};

class IsolationForest {
 public:
  // Kind written into the model file envelope (serialize.h).
  static constexpr std::string_view kKind = "isolation_forest";

  // Errors (kInvalidArgument): trees < 1, sample_size < 2, contamination outside [0, 0.5],
  // fewer than 2 rows, no columns, a non-finite value (naming its row, column and value).
  static Result<IsolationForest> Fit(const Matrix& x, const IsolationForestConfig& config);

  // The anomaly score s(x) in (0, 1]. Precondition: row.size() == InputSize(). No allocation.
  // A NaN feature goes right at every split on it (no crash, but a meaningless score).
  double Score(std::span<const float> row) const;
  bool IsAnomaly(std::span<const float> row) const { return Score(row) > threshold_; }
  double threshold() const { return threshold_; }

  size_t InputSize() const { return input_size_; }
  size_t trees() const { return roots_.size(); }
  // psi: the subsample size each tree was grown on.
  size_t sample_size() const { return sample_size_; }
  size_t node_count() const { return nodes_.size(); }

  // c(n) of the header comment (exposed for tests).
  static double AveragePathLength(size_t n);

  // A model file (WrapModel envelope, kind kKind). Same model, same bytes.
  std::string Serialize() const;
  // kDataLoss for truncated or corrupt bytes (including tree links that do not point forward
  // within their tree, which could loop), kInvalidArgument for another kind of model; `what`
  // names the source in errors.
  static Result<IsolationForest> Deserialize(std::string_view bytes, std::string_view what);

 private:
  // Internal node: feature >= 0, left child at index + 1, right child at `right`, split value
  // `value`. Leaf: feature == -1, `value` = its depth + c(rows in it).
  struct Node {
    int32_t feature;
    uint32_t right;
    double value;
  };

  // Scoring form of a node: go to index + 1 when row[feature] < split, else to `right`. A leaf
  // has split = -infinity and right = itself (and leaf_value_ holds its path length).
  struct Step {
    uint32_t feature;
    uint32_t right;
    double split;
  };
  struct Builder;  // grows one tree (isolation_forest.cc)

  static uint32_t Next(const Step* steps, const float* values, uint32_t index);

  IsolationForest() = default;
  // Derives steps_, leaf_value_ and depth_ from nodes_ (links already checked).
  void Finish();

  size_t input_size_ = 0;
  size_t sample_size_ = 0;
  double average_path_ = 1.0;  // c(psi)
  double threshold_ = 1.0;
  std::vector<uint32_t> roots_;  // index of each tree's root in nodes_, increasing, roots_[0] = 0
  std::vector<Node> nodes_;
  std::vector<Step> steps_;
  std::vector<double> leaf_value_;  // per node, 0 for a split
  int depth_ = 0;                   // of the deepest leaf
};

}  // namespace aits::ml
