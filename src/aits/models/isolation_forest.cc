#include "aits/models/isolation_forest.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <utility>

#include "aits/models/internal/unsupervised_util.h"
#include "aits/models/serialize.h"

namespace aits::ml {
namespace {

constexpr uint32_t kFormatVersion = 1;
constexpr double kEulerGamma = 0.57721566490153286061;

// Linear interpolation between order statistics at q in [0, 1] (numpy's default "linear").
double Quantile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const double position = q * static_cast<double>(values.size() - 1);
  const auto lower = static_cast<size_t>(std::floor(position));
  if (lower + 1 >= values.size()) return values.back();
  const double fraction = position - static_cast<double>(lower);
  return values[lower] + fraction * (values[lower + 1] - values[lower]);
}

}  // namespace

// Grows trees into a forest's node array; the scratch vectors are reused across nodes and trees.
struct IsolationForest::Builder {
  const Matrix& x;
  std::mt19937_64& rng;
  int height_limit;
  std::vector<Node>* nodes;
  std::vector<float> low;
  std::vector<float> high;
  std::vector<size_t> candidates;

  // rows: the training rows that reach this node (reordered in place).
  void Grow(std::span<size_t> rows, int depth) {
    const size_t index = nodes->size();
    nodes->push_back(Node{-1, 0, 0.0});
    if (depth < height_limit && rows.size() > 1) {
      const size_t cols = x.cols();
      low.assign(x.Row(rows[0]).begin(), x.Row(rows[0]).end());
      high = low;
      for (size_t row : rows.subspan(1)) {
        for (size_t c = 0; c < cols; ++c) {
          low[c] = std::min(low[c], x(row, c));
          high[c] = std::max(high[c], x(row, c));
        }
      }
      candidates.clear();
      for (size_t c = 0; c < cols; ++c) {
        if (low[c] < high[c]) candidates.push_back(c);
      }
      if (!candidates.empty()) {
        const size_t feature = candidates[internal::UniformIndex(rng, candidates.size())];
        const double lo = low[feature];
        const double hi = high[feature];
        // In (lo, hi]: both sides keep at least one row.
        double split = lo + (1.0 - internal::Uniform01(rng)) * (hi - lo);
        if (!(split > lo)) split = hi;
        const auto middle = std::partition(rows.begin(), rows.end(), [&](size_t row) {
          return static_cast<double>(x(row, feature)) < split;
        });
        const auto left_size = static_cast<size_t>(middle - rows.begin());
        Grow(rows.first(left_size), depth + 1);
        const auto right = static_cast<uint32_t>(nodes->size());
        Grow(rows.subspan(left_size), depth + 1);
        (*nodes)[index] = Node{static_cast<int32_t>(feature), right, split};
        return;
      }
    }
    (*nodes)[index].value = static_cast<double>(depth) + AveragePathLength(rows.size());
  }
};

double IsolationForest::AveragePathLength(size_t n) {
  if (n <= 1) return 0.0;
  if (n == 2) return 1.0;
  const auto nd = static_cast<double>(n);
  return 2.0 * (std::log(nd - 1.0) + kEulerGamma) - 2.0 * (nd - 1.0) / nd;
}

Result<IsolationForest> IsolationForest::Fit(const Matrix& x, const IsolationForestConfig& config) {
  if (config.trees < 1) {
    return InvalidArgument("isolation forest fit: trees is " + std::to_string(config.trees) +
                           ", must be >= 1");
  }
  if (config.sample_size < 2) {
    return InvalidArgument("isolation forest fit: sample_size is " +
                           std::to_string(config.sample_size) + ", must be >= 2");
  }
  if (!(config.contamination >= 0.0 && config.contamination <= 0.5)) {
    return InvalidArgument("isolation forest fit: contamination is " +
                           std::to_string(config.contamination) + ", must be in [0, 0.5]");
  }
  if (x.rows() < 2) {
    return InvalidArgument("isolation forest fit: " + std::to_string(x.rows()) +
                           " rows, need at least 2");
  }
  if (x.cols() == 0) return InvalidArgument("isolation forest fit: the matrix has no columns");
  if (x.cols() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return InvalidArgument("isolation forest fit: " + std::to_string(x.cols()) +
                           " columns are too many");
  }
  AITS_RETURN_IF_ERROR(internal::CheckFinite(x, "isolation forest"));

  IsolationForest forest;
  forest.input_size_ = x.cols();
  forest.sample_size_ = std::min(static_cast<size_t>(config.sample_size), x.rows());
  forest.average_path_ = AveragePathLength(forest.sample_size_);
  const int height_limit =
      static_cast<int>(std::ceil(std::log2(static_cast<double>(forest.sample_size_))));

  std::mt19937_64 rng(config.seed);
  Builder builder{x, rng, height_limit, &forest.nodes_, {}, {}, {}};
  std::vector<size_t> permutation(x.rows());
  std::iota(permutation.begin(), permutation.end(), size_t{0});
  std::vector<size_t> sample(forest.sample_size_);
  for (int tree = 0; tree < config.trees; ++tree) {
    // A partial Fisher-Yates shuffle: the first psi entries are a uniform sample without
    // replacement whatever order the previous trees left behind.
    for (size_t i = 0; i < forest.sample_size_; ++i) {
      const size_t j = i + internal::UniformIndex(rng, permutation.size() - i);
      std::swap(permutation[i], permutation[j]);
    }
    std::copy_n(permutation.begin(), forest.sample_size_, sample.begin());
    if (forest.nodes_.size() >= std::numeric_limits<uint32_t>::max() / 2) {
      return InvalidArgument("isolation forest fit: " + std::to_string(config.trees) +
                             " trees need more nodes than a model holds");
    }
    forest.roots_.push_back(static_cast<uint32_t>(forest.nodes_.size()));
    builder.Grow(sample, 0);
  }
  forest.Finish();

  std::vector<double> scores(x.rows());
  for (size_t row = 0; row < x.rows(); ++row) scores[row] = forest.Score(x.Row(row));
  forest.threshold_ = Quantile(std::move(scores), 1.0 - config.contamination);
  return forest;
}

void IsolationForest::Finish() {
  steps_.resize(nodes_.size());
  leaf_value_.assign(nodes_.size(), 0.0);
  // Links point forward (checked on load, true by construction in Fit), so a node's depth is
  // final before its children are visited.
  std::vector<int> depth(nodes_.size(), 0);
  depth_ = 0;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& node = nodes_[i];
    if (node.feature < 0) {
      steps_[i] = Step{0, static_cast<uint32_t>(i), -std::numeric_limits<double>::infinity()};
      leaf_value_[i] = node.value;
      depth_ = std::max(depth_, depth[i]);
      continue;
    }
    steps_[i] = Step{static_cast<uint32_t>(node.feature), node.right, node.value};
    depth[i + 1] = std::max(depth[i + 1], depth[i] + 1);
    depth[node.right] = std::max(depth[node.right], depth[i] + 1);
  }
}

// One step down a tree without a branch: a split goes either way about half the time, so a
// branch (what g++ makes of the plain ternary) would be mispredicted half the time. Unsigned
// arithmetic wraps, which makes a leaf (right == index) step to itself.
uint32_t IsolationForest::Next(const Step* steps, const float* values, uint32_t index) {
  const Step& step = steps[index];
  const uint32_t go_right = static_cast<double>(values[step.feature]) < step.split ? 0u : 1u;
  return index + 1 + ((0u - go_right) & (step.right - index - 1));
}

double IsolationForest::Score(std::span<const float> row) const {
  assert(row.size() == input_size_);
  const Step* steps = steps_.data();
  const float* values = row.data();
  // kLanes trees advance together: independent chains of loads the CPU overlaps.
  constexpr size_t kLanes = 8;
  double total = 0.0;
  size_t tree = 0;
  for (; tree + kLanes <= roots_.size(); tree += kLanes) {
    uint32_t index[kLanes];
    for (size_t lane = 0; lane < kLanes; ++lane) index[lane] = roots_[tree + lane];
    for (int level = 0; level < depth_; ++level) {
      for (size_t lane = 0; lane < kLanes; ++lane) index[lane] = Next(steps, values, index[lane]);
    }
    for (size_t lane = 0; lane < kLanes; ++lane) total += leaf_value_[index[lane]];
  }
  for (; tree < roots_.size(); ++tree) {
    uint32_t index = roots_[tree];
    for (int level = 0; level < depth_; ++level) index = Next(steps, values, index);
    total += leaf_value_[index];
  }
  const double mean_path = total / static_cast<double>(roots_.size());
  return std::exp2(-mean_path / average_path_);
}

std::string IsolationForest::Serialize() const {
  ByteWriter out;
  out.U32(kFormatVersion);
  out.U64(input_size_);
  out.U64(sample_size_);
  out.F64(threshold_);
  out.U64(roots_.size());
  for (uint32_t root : roots_) out.U32(root);
  out.U64(nodes_.size());
  for (const Node& node : nodes_) {
    out.U32(static_cast<uint32_t>(node.feature));
    out.U32(node.right);
    out.F64(node.value);
  }
  return WrapModel(kKind, out.data());
}

Result<IsolationForest> IsolationForest::Deserialize(std::string_view bytes,
                                                     std::string_view what) {
  AITS_ASSIGN_OR_RETURN(std::string payload, internal::UnwrapKind(bytes, what, kKind));
  ByteReader in(payload, std::string(what));
  const std::string source(what);
  AITS_ASSIGN_OR_RETURN(uint32_t version, in.U32("isolation forest format version"));
  if (version != kFormatVersion) {
    return DataLoss(source + ": isolation forest format version " + std::to_string(version) +
                    ", this build reads " + std::to_string(kFormatVersion));
  }
  IsolationForest forest;
  AITS_ASSIGN_OR_RETURN(uint64_t input_size, in.U64("isolation forest input size"));
  AITS_ASSIGN_OR_RETURN(uint64_t sample_size, in.U64("isolation forest sample size"));
  AITS_ASSIGN_OR_RETURN(forest.threshold_, in.F64("isolation forest threshold"));
  AITS_ASSIGN_OR_RETURN(uint64_t tree_count, in.U64("isolation forest trees"));
  if (input_size < 1 || input_size > static_cast<uint64_t>(std::numeric_limits<int32_t>::max()) ||
      sample_size < 2 || !(forest.threshold_ >= 0.0 && forest.threshold_ <= 1.0) ||
      tree_count < 1 || tree_count > in.remaining() / 4) {
    return DataLoss(source + ": isolation forest header is corrupt (input size " +
                    std::to_string(input_size) + ", sample size " + std::to_string(sample_size) +
                    ", threshold " + std::to_string(forest.threshold_) + ", trees " +
                    std::to_string(tree_count) + ")");
  }
  forest.input_size_ = input_size;
  forest.sample_size_ = sample_size;
  forest.average_path_ = AveragePathLength(sample_size);
  forest.roots_.reserve(tree_count);
  for (uint64_t tree = 0; tree < tree_count; ++tree) {
    AITS_ASSIGN_OR_RETURN(uint32_t root, in.U32("isolation forest root"));
    forest.roots_.push_back(root);
  }
  AITS_ASSIGN_OR_RETURN(uint64_t node_count, in.U64("isolation forest nodes"));
  if (node_count > in.remaining() / 16 || node_count >= std::numeric_limits<uint32_t>::max()) {
    return DataLoss(source + ": isolation forest claims " + std::to_string(node_count) +
                    " nodes, more than the " + std::to_string(in.remaining()) +
                    " bytes left can hold");
  }
  forest.nodes_.reserve(node_count);
  for (uint64_t i = 0; i < node_count; ++i) {
    AITS_ASSIGN_OR_RETURN(uint32_t feature, in.U32("isolation forest node feature"));
    AITS_ASSIGN_OR_RETURN(uint32_t right, in.U32("isolation forest node right child"));
    AITS_ASSIGN_OR_RETURN(double value, in.F64("isolation forest node value"));
    forest.nodes_.push_back(Node{static_cast<int32_t>(feature), right, value});
  }
  AITS_RETURN_IF_ERROR(in.ExpectEnd());

  // Every link must point forward inside its own tree, so every walk ends at a leaf.
  for (size_t tree = 0; tree < forest.roots_.size(); ++tree) {
    const uint64_t begin = forest.roots_[tree];
    const uint64_t end = tree + 1 < forest.roots_.size() ? forest.roots_[tree + 1] : node_count;
    if ((tree == 0 && begin != 0) || begin >= end) {
      return DataLoss(source + ": isolation forest tree " + std::to_string(tree) + " has root " +
                      std::to_string(begin) + " and end " + std::to_string(end));
    }
    for (uint64_t i = begin; i < end; ++i) {
      const Node& node = forest.nodes_[i];
      const bool leaf_ok = node.feature == -1 && std::isfinite(node.value) && node.value >= 0.0;
      const bool split_ok = node.feature >= 0 && static_cast<uint64_t>(node.feature) < input_size &&
                            std::isfinite(node.value) && i + 1 < end && node.right > i + 1 &&
                            node.right < end;
      if (!leaf_ok && !split_ok) {
        return DataLoss(source + ": isolation forest tree " + std::to_string(tree) + " node " +
                        std::to_string(i) + " is corrupt (feature " + std::to_string(node.feature) +
                        ", right " + std::to_string(node.right) + ", value " +
                        std::to_string(node.value) + ")");
      }
    }
  }
  forest.Finish();
  return forest;
}

}  // namespace aits::ml
