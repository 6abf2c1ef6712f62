// A compact, allocation-free evaluator for ensembles of binary decision trees.
//
// Both tree learners store their trees here: XGBoost's trees are converted from its JSON model,
// the random forest writes its own. One layout for both keeps single-row inference a tight loop
// over 12-byte nodes with no virtual call, no XGBoost call and no allocation.
//
// Layout: all trees share one node array; tree t starts at roots()[t]. An inner node sends a row
// to the left child when `row[feature] < threshold` (in float, as XGBoost compares) and to the
// right child otherwise; a NaN feature goes the node's default direction. The two children of a
// node are adjacent (right = left + 1) and always come after their parent, which is what makes
// Validate() able to prove that evaluation terminates and stays in bounds.
//
// Sum() adds the leaf values of every tree in tree order to `base` in float, the way XGBoost's CPU
// predictor accumulates, so an XGBoost margin is reproduced bit for bit.
//
// Thread-compatible; the const methods may be called from many threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "aits/core/status.h"
#include "aits/models/serialize.h"

namespace aits::ml {

class FlatTrees {
 public:
  struct Node {
    float value;       // split threshold, or the leaf value
    uint32_t feature;  // split feature | kDefaultLeft, or kLeaf
    uint32_t left;     // index of the left child in nodes(); the right child is left + 1
  };
  static constexpr uint32_t kLeaf = 0xFFFFFFFFu;
  static constexpr uint32_t kDefaultLeft = 0x80000000u;
  static constexpr uint32_t kFeatureMask = 0x7FFFFFFFu;

  FlatTrees() = default;
  explicit FlatTrees(size_t num_features) : num_features_(num_features) {}

  // Building (each call drops the evaluation form until the next Finish(); Sum stays correct
  // either way): StartTree() returns the index of the new tree's root node (a leaf with value 0);
  // AddChildren(node) turns `node` into a split and returns the index of its new left child
  // (the right child is that + 1), both leaves with value 0 until set.
  uint32_t StartTree();
  uint32_t AddChildren(uint32_t node, uint32_t feature, float threshold, bool default_left);
  void SetLeaf(uint32_t node, float value) {
    nodes_[node] = {value, kLeaf, 0};
    depth_ = -1;
  }
  void set_base(float base) { base_ = base; }
  // Appends the trees of `other` (same num_features()) after this one's; bases are not added.
  void Append(const FlatTrees& other);

  size_t num_features() const { return num_features_; }
  size_t num_trees() const { return roots_.size(); }
  float base() const { return base_; }
  std::span<const Node> nodes() const { return nodes_; }
  std::span<const uint32_t> roots() const { return roots_; }

  // base + the leaf value of every tree, accumulated in float in tree order.
  // Precondition: row.size() >= num_features(). No allocation.
  float Sum(std::span<const float> row) const {
    return depth_ >= 0 ? SumPerfect(row.data()) : SumNodes(row.data());
  }
  // out[r] = Sum(row r) of a row-major matrix with `cols` columns, exactly. Walks each tree for a
  // block of rows at a time: the tree stays in cache and the rows' walks overlap in the CPU.
  void SumBatch(const float* rows, size_t num_rows, size_t cols, float* out) const;

  // Rebuilds the evaluation form (see below). Deserialize and Append call it; a builder calls it
  // once its trees are complete, before the first Sum.
  void Finish();

  // Checks that a tree is well formed: indices in range, children after their parent, features
  // below num_features(). Deserialize calls it; builders may too.
  Status Validate() const;

  void Serialize(ByteWriter* out) const;
  static Result<FlatTrees> Deserialize(ByteReader* in);

  bool operator==(const FlatTrees& other) const;

 private:
  // Evaluation form: when every tree is at most kMaxPerfectDepth deep, each is padded to a
  // perfect tree of the ensemble's depth D (a shallow leaf becomes a split whose two sides carry
  // the same value) and stored in heap order. A walk is then exactly D branch-free steps,
  // child = 2 * node + 1 + go_right, and the walks of several trees (Sum) or rows (SumBatch)
  // are independent chains the CPU overlaps. Deeper ensembles use the node array directly.
  struct Split {
    float threshold;
    uint32_t feature;  // without flags; the default directions are in default_left_
  };
  static constexpr int kMaxPerfectDepth = 12;

  static uint32_t GoRight(float threshold, uint32_t feature_and_flags, const float* x) {
    const float v = x[feature_and_flags & kFeatureMask];
    // `!(v < t)` is true for NaN, so a NaN goes right unless the default is left.
    const bool nan_left = (v != v) & ((feature_and_flags & kDefaultLeft) != 0);
    return static_cast<uint32_t>(!(v < threshold) & !nan_left);
  }
  // The step of the perfect form for a row without NaN: one load, one compare.
  static size_t Child(const Split* splits, size_t n, const float* x) {
    return 2 * n + 1 + static_cast<size_t>(x[splits[n].feature] >= splits[n].threshold);
  }
  size_t ChildAnyRow(size_t tree, size_t n, const float* x) const;
  bool HasNan(const float* x) const {
    bool nan = false;
    for (size_t c = 0; c < num_features_; ++c) nan |= x[c] != x[c];
    return nan;
  }
  static uint32_t LeafOf(const Node* nodes, uint32_t n, const float* x) {
    while (nodes[n].feature != kLeaf) {
      const Node& node = nodes[n];
      n = node.left + GoRight(node.value, node.feature, x);
    }
    return n;
  }
  float SumNodes(const float* x) const;
  float SumPerfect(const float* x) const;
  float SumPerfectWithNan(const float* x) const;

  int depth_ = -1;                     // D of the perfect form, or -1 when it is not built
  std::vector<Split> splits_;          // per tree 2^D - 1, heap order
  std::vector<float> leaves_;          // per tree 2^D
  std::vector<uint8_t> default_left_;  // parallel to splits_
  size_t num_features_ = 0;
  float base_ = 0.0f;
  std::vector<Node> nodes_;
  std::vector<uint32_t> roots_;
};

}  // namespace aits::ml
