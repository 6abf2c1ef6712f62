#include "aits/models/flat_trees.h"

#include <algorithm>
#include <bit>
#include <string>

namespace aits::ml {

uint32_t FlatTrees::StartTree() {
  const auto root = static_cast<uint32_t>(nodes_.size());
  nodes_.push_back({0.0f, kLeaf, 0});
  roots_.push_back(root);
  depth_ = -1;
  return root;
}

uint32_t FlatTrees::AddChildren(uint32_t node, uint32_t feature, float threshold,
                                bool default_left) {
  const auto left = static_cast<uint32_t>(nodes_.size());
  nodes_.push_back({0.0f, kLeaf, 0});
  nodes_.push_back({0.0f, kLeaf, 0});
  nodes_[node] = {threshold, (feature & kFeatureMask) | (default_left ? kDefaultLeft : 0u), left};
  depth_ = -1;
  return left;
}

void FlatTrees::Append(const FlatTrees& other) {
  const auto offset = static_cast<uint32_t>(nodes_.size());
  for (const uint32_t root : other.roots_) roots_.push_back(root + offset);
  for (Node node : other.nodes_) {
    if (node.feature != kLeaf) node.left += offset;
    nodes_.push_back(node);
  }
  depth_ = -1;
}

void FlatTrees::Finish() {
  depth_ = -1;
  splits_.clear();
  leaves_.clear();
  default_left_.clear();
  if (!Validate().ok()) return;  // the node walk never runs on a malformed ensemble either
  // Depth of every tree; nodes come after their parent, so one forward pass does it.
  std::vector<int> depth(nodes_.size(), 0);
  int max_depth = 0;
  for (const uint32_t root : roots_) depth[root] = 0;
  for (size_t n = 0; n < nodes_.size(); ++n) {
    if (nodes_[n].feature == kLeaf) continue;
    depth[nodes_[n].left] = depth[nodes_[n].left + 1] = depth[n] + 1;
    max_depth = std::max(max_depth, depth[n] + 1);
  }
  if (max_depth > kMaxPerfectDepth) return;
  const size_t inner = (size_t{1} << max_depth) - 1;
  const size_t leaves = size_t{1} << max_depth;
  splits_.resize(roots_.size() * inner);
  leaves_.resize(roots_.size() * leaves);
  default_left_.resize(splits_.size());
  struct Item {
    uint32_t node;  // in nodes_
    size_t slot;    // heap index in the perfect tree
  };
  std::vector<Item> stack;
  for (size_t t = 0; t < roots_.size(); ++t) {
    Split* splits = splits_.data() + t * inner;
    uint8_t* default_left = default_left_.data() + t * inner;
    float* leaf_values = leaves_.data() + t * leaves;
    stack.push_back({roots_[t], 0});
    while (!stack.empty()) {
      const Item item = stack.back();
      stack.pop_back();
      const Node& node = nodes_[item.node];
      if (item.slot >= inner) {
        leaf_values[item.slot - inner] = node.value;  // a leaf at depth D
        continue;
      }
      if (node.feature == kLeaf) {
        // Padding: both sides lead to this leaf, so the test does not matter.
        splits[item.slot] = {0.0f, 0};
        stack.push_back({item.node, 2 * item.slot + 1});
        stack.push_back({item.node, 2 * item.slot + 2});
      } else {
        splits[item.slot] = {node.value, node.feature & kFeatureMask};
        default_left[item.slot] = (node.feature & kDefaultLeft) != 0;
        stack.push_back({node.left, 2 * item.slot + 1});
        stack.push_back({node.left + 1, 2 * item.slot + 2});
      }
    }
  }
  depth_ = max_depth;
}

float FlatTrees::SumNodes(const float* x) const {
  float sum = base_;
  const Node* nodes = nodes_.data();
  for (const uint32_t root : roots_) sum += nodes[LeafOf(nodes, root, x)].value;
  return sum;
}

size_t FlatTrees::ChildAnyRow(size_t tree, size_t n, const float* x) const {
  const size_t at = tree * ((size_t{1} << depth_) - 1) + n;
  const Split& split = splits_[at];
  return 2 * n + 1 +
         GoRight(split.threshold, split.feature | (default_left_[at] ? kDefaultLeft : 0u), x);
}

float FlatTrees::SumPerfectWithNan(const float* x) const {
  const size_t leaves = size_t{1} << depth_;
  float sum = base_;
  for (size_t t = 0; t < roots_.size(); ++t) {
    size_t n = 0;
    for (int level = 0; level < depth_; ++level) n = ChildAnyRow(t, n, x);
    sum += leaves_[t * leaves + n - (leaves - 1)];
  }
  return sum;
}

float FlatTrees::SumPerfect(const float* x) const {
  if (HasNan(x)) return SumPerfectWithNan(x);
  const int depth = depth_;
  const size_t inner = (size_t{1} << depth) - 1;
  const size_t leaves = inner + 1;
  const size_t trees = roots_.size();
  const Split* splits = splits_.data();
  const float* leaf_values = leaves_.data();
  float sum = base_;
  size_t t = 0;
  // Four trees at a time: four independent walks. The leaves are still added in tree order.
  for (; t + 4 <= trees; t += 4) {
    const Split* s0 = splits + t * inner;
    const Split* s1 = s0 + inner;
    const Split* s2 = s1 + inner;
    const Split* s3 = s2 + inner;
    size_t n0 = 0, n1 = 0, n2 = 0, n3 = 0;
    for (int level = 0; level < depth; ++level) {
      n0 = Child(s0, n0, x);
      n1 = Child(s1, n1, x);
      n2 = Child(s2, n2, x);
      n3 = Child(s3, n3, x);
    }
    const float* l0 = leaf_values + t * leaves - inner;
    sum += l0[n0];
    sum += l0[leaves + n1];
    sum += l0[2 * leaves + n2];
    sum += l0[3 * leaves + n3];
  }
  for (; t < trees; ++t) {
    const Split* s = splits + t * inner;
    size_t n = 0;
    for (int level = 0; level < depth; ++level) n = Child(s, n, x);
    sum += leaf_values[t * leaves + n - inner];
  }
  return sum;
}

void FlatTrees::SumBatch(const float* rows, size_t num_rows, size_t cols, float* out) const {
  if (depth_ < 0) {
    for (size_t r = 0; r < num_rows; ++r) out[r] = SumNodes(rows + r * cols);
    return;
  }
  // 32 rows x 70 features is ~9 KB of input: the block and a tree stay in L1 together.
  constexpr size_t kBlock = 32;
  const int depth = depth_;
  const size_t inner = (size_t{1} << depth) - 1;
  const size_t leaves = inner + 1;
  size_t slot[kBlock];
  for (size_t begin = 0; begin < num_rows; begin += kBlock) {
    const size_t count = std::min(kBlock, num_rows - begin);
    const float* block = rows + begin * cols;
    float* block_out = out + begin;
    bool nan = false;
    for (size_t r = 0; r < count; ++r) nan |= HasNan(block + r * cols);
    // A few rows: interleaving trees within a row (SumPerfect) overlaps more work than rows do.
    if (nan || count < 4) {
      for (size_t r = 0; r < count; ++r) block_out[r] = SumPerfect(block + r * cols);
      continue;
    }
    for (size_t r = 0; r < count; ++r) block_out[r] = base_;
    for (size_t t = 0; t < roots_.size(); ++t) {
      const Split* splits = splits_.data() + t * inner;
      const float* leaf_values = leaves_.data() + t * leaves - inner;
      for (size_t r = 0; r < count; ++r) slot[r] = 0;
      for (int level = 0; level < depth; ++level) {
        for (size_t r = 0; r < count; ++r) slot[r] = Child(splits, slot[r], block + r * cols);
      }
      for (size_t r = 0; r < count; ++r) block_out[r] += leaf_values[slot[r]];
    }
  }
}

Status FlatTrees::Validate() const {
  const size_t count = nodes_.size();
  if (num_features_ == 0 && !nodes_.empty()) {
    return DataLoss("flat trees: nodes present but the number of features is 0");
  }
  for (size_t tree = 0; tree < roots_.size(); ++tree) {
    if (roots_[tree] >= count) {
      return DataLoss("flat trees: tree " + std::to_string(tree) + " root " +
                      std::to_string(roots_[tree]) + " is past the " + std::to_string(count) +
                      " nodes");
    }
  }
  for (size_t n = 0; n < count; ++n) {
    const Node& node = nodes_[n];
    if (node.feature == kLeaf) continue;
    if ((node.feature & kFeatureMask) >= num_features_) {
      return DataLoss("flat trees: node " + std::to_string(n) + " splits on feature " +
                      std::to_string(node.feature & kFeatureMask) + " of " +
                      std::to_string(num_features_));
    }
    // Children strictly after the parent: every walk moves forward, so it ends.
    if (node.left <= n || static_cast<size_t>(node.left) + 1 >= count) {
      return DataLoss("flat trees: node " + std::to_string(n) + " has left child " +
                      std::to_string(node.left) + " (must be after it and below " +
                      std::to_string(count - 1) + ")");
    }
  }
  return Status::Ok();
}

void FlatTrees::Serialize(ByteWriter* out) const {
  out->U64(num_features_);
  out->F32(base_);
  out->U64(roots_.size());
  for (const uint32_t root : roots_) out->U32(root);
  out->U64(nodes_.size());
  for (const Node& node : nodes_) {
    out->F32(node.value);
    out->U32(node.feature);
    out->U32(node.left);
  }
}

Result<FlatTrees> FlatTrees::Deserialize(ByteReader* in) {
  FlatTrees trees;
  AITS_ASSIGN_OR_RETURN(const uint64_t num_features, in->U64("trees.num_features"));
  AITS_ASSIGN_OR_RETURN(trees.base_, in->F32("trees.base"));
  AITS_ASSIGN_OR_RETURN(const uint64_t num_trees, in->U64("trees.num_trees"));
  if (num_features > kFeatureMask || num_trees > in->remaining() / 4) {
    return DataLoss(in->what() + ": flat trees: implausible sizes (features " +
                    std::to_string(num_features) + ", trees " + std::to_string(num_trees) + ")");
  }
  trees.num_features_ = num_features;
  trees.roots_.resize(num_trees);
  for (auto& root : trees.roots_) {
    AITS_ASSIGN_OR_RETURN(root, in->U32("trees.root"));
  }
  AITS_ASSIGN_OR_RETURN(const uint64_t num_nodes, in->U64("trees.num_nodes"));
  if (num_nodes > in->remaining() / 12) {
    return DataLoss(in->what() + ": flat trees: " + std::to_string(num_nodes) + " nodes but only " +
                    std::to_string(in->remaining()) + " bytes left");
  }
  trees.nodes_.resize(num_nodes);
  for (Node& node : trees.nodes_) {
    AITS_ASSIGN_OR_RETURN(node.value, in->F32("trees.node.value"));
    AITS_ASSIGN_OR_RETURN(node.feature, in->U32("trees.node.feature"));
    AITS_ASSIGN_OR_RETURN(node.left, in->U32("trees.node.left"));
  }
  const Status valid = trees.Validate();
  if (!valid.ok()) return valid.WithContext(in->what());
  trees.Finish();
  return trees;
}

bool FlatTrees::operator==(const FlatTrees& other) const {
  auto same_node = [](const Node& a, const Node& b) {
    return a.feature == b.feature && a.left == b.left &&
           std::bit_cast<uint32_t>(a.value) == std::bit_cast<uint32_t>(b.value);
  };
  return num_features_ == other.num_features_ &&
         std::bit_cast<uint32_t>(base_) == std::bit_cast<uint32_t>(other.base_) &&
         roots_ == other.roots_ &&
         std::equal(nodes_.begin(), nodes_.end(), other.nodes_.begin(), other.nodes_.end(),
                    same_node);
}

}  // namespace aits::ml
