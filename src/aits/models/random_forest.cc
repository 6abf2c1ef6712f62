#include "aits/models/random_forest.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace aits::ml {
namespace {

constexpr uint32_t kPayloadVersion = 1;

__extension__ using Uint128 = unsigned __int128;  // GCC/Clang; __extension__ quiets -Wpedantic

// SplitMix64 (Steele et al. 2014): tiny, fast, and the same on every platform, unlike the
// distributions of <random>.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) by Lemire's multiply-shift (bias below 2^-32 for n < 2^32).
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<Uint128>(Next()) * n) >> 64);
  }

 private:
  uint64_t state_;
};

Status CheckConfig(const RandomForestConfig& c) {
  auto bad = [](std::string_view field, const std::string& value, std::string_view rule) {
    return InvalidArgument("random forest config: " + std::string(field) + " = " + value + " (" +
                           std::string(rule) + ")");
  };
  if (c.trees < 1 || c.trees > 100000) {
    return bad("trees", std::to_string(c.trees), "must be in [1, 100000]");
  }
  if (c.max_depth < 1 || c.max_depth > 40) {
    return bad("max_depth", std::to_string(c.max_depth), "must be in [1, 40]");
  }
  if (c.min_samples_leaf < 1) {
    return bad("min_samples_leaf", std::to_string(c.min_samples_leaf), "must be >= 1");
  }
  if (!(c.max_features >= 0) || !std::isfinite(c.max_features)) {
    return bad("max_features", std::to_string(c.max_features), "must be finite and >= 0");
  }
  if (!(c.sample_fraction > 0 && c.sample_fraction <= 1)) {
    return bad("sample_fraction", std::to_string(c.sample_fraction), "must be in (0, 1]");
  }
  if (c.threads < 1) return bad("threads", std::to_string(c.threads), "must be >= 1");
  return Status::Ok();
}

// Quantile bin edges of every feature and the binned training matrix (column-major, so a node's
// histogram for one feature reads one column).
struct Binned {
  size_t rows = 0;
  std::vector<std::vector<float>> edges;  // per feature, strictly increasing
  std::vector<uint8_t> bins;              // bins[f * rows + r] = #edges <= x(r, f)
  const uint8_t* Column(size_t f) const { return bins.data() + f * rows; }
};

void BinFeature(const Matrix& x, size_t f, Binned* out) {
  const size_t n = x.rows();
  // Quantiles from at most ~200k evenly spaced rows: plenty for 64 bins, and bounded cost.
  const size_t stride = std::max<size_t>(1, n / 200000);
  std::vector<float> values;
  values.reserve(n / stride + 1);
  for (size_t r = 0; r < n; r += stride) values.push_back(x(r, f));
  std::sort(values.begin(), values.end());
  std::vector<float>& edges = out->edges[f];
  for (int k = 1; k < RandomForest::kBins; ++k) {
    const float q = values[values.size() * static_cast<size_t>(k) / RandomForest::kBins];
    // An edge at the minimum would leave its left side empty; duplicates add nothing.
    if (q > values.front() && (edges.empty() || q > edges.back())) edges.push_back(q);
  }
  uint8_t* column = out->bins.data() + f * n;
  for (size_t r = 0; r < n; ++r) {
    column[r] =
        static_cast<uint8_t>(std::upper_bound(edges.begin(), edges.end(), x(r, f)) - edges.begin());
  }
}

struct TreeParams {
  int max_depth;
  size_t min_leaf;
  size_t features_per_split;
  size_t sample_size;
};

FlatTrees TrainTree(const Binned& data, std::span<const float> y, const TreeParams& params,
                    uint64_t seed) {
  const size_t num_features = data.edges.size();
  SplitMix64 rng(seed);
  std::vector<uint32_t> samples(params.sample_size);
  for (auto& s : samples) s = static_cast<uint32_t>(rng.Below(data.rows));
  // Sorted row indices read the binned columns front to back.
  std::sort(samples.begin(), samples.end());

  std::vector<size_t> features(num_features);
  for (size_t f = 0; f < num_features; ++f) features[f] = f;
  std::vector<uint32_t> count(RandomForest::kBins);
  std::vector<double> sum(RandomForest::kBins);

  FlatTrees tree(num_features);
  struct Work {
    uint32_t node;
    size_t begin, end;
    int depth;
  };
  std::vector<Work> stack{{tree.StartTree(), 0, samples.size(), 0}};
  while (!stack.empty()) {
    const Work work = stack.back();
    stack.pop_back();
    const size_t n = work.end - work.begin;
    double s = 0, s2 = 0;
    for (size_t i = work.begin; i < work.end; ++i) {
      const double v = y[samples[i]];
      s += v;
      s2 += v * v;
    }
    tree.SetLeaf(work.node, static_cast<float>(s / static_cast<double>(n)));
    const double parent = s * s / static_cast<double>(n);
    // Pure or too small or too deep: stays a leaf. (s2 - parent is n times the variance.)
    if (work.depth >= params.max_depth || n < 2 * params.min_leaf || s2 - parent <= 0) continue;

    double best_score = parent + 1e-10 * s2;
    size_t best_feature = num_features;
    size_t best_bin = 0;
    for (size_t k = 0; k < params.features_per_split; ++k) {
      std::swap(features[k], features[k + rng.Below(num_features - k)]);
      const size_t f = features[k];
      const size_t num_bins = data.edges[f].size() + 1;
      if (num_bins < 2) continue;
      std::fill_n(count.begin(), num_bins, 0u);
      std::fill_n(sum.begin(), num_bins, 0.0);
      const uint8_t* column = data.Column(f);
      for (size_t i = work.begin; i < work.end; ++i) {
        const uint32_t row = samples[i];
        ++count[column[row]];
        sum[column[row]] += y[row];
      }
      size_t left_n = 0;
      double left_s = 0;
      for (size_t b = 0; b + 1 < num_bins; ++b) {
        left_n += count[b];
        left_s += sum[b];
        const size_t right_n = n - left_n;
        if (left_n < params.min_leaf) continue;
        if (right_n < params.min_leaf) break;
        const double right_s = s - left_s;
        const double score = left_s * left_s / static_cast<double>(left_n) +
                             right_s * right_s / static_cast<double>(right_n);
        if (score > best_score) {
          best_score = score;
          best_feature = f;
          best_bin = b;
        }
      }
    }
    if (best_feature == num_features) continue;

    const uint8_t* column = data.Column(best_feature);
    const auto middle = std::partition(samples.begin() + static_cast<std::ptrdiff_t>(work.begin),
                                       samples.begin() + static_cast<std::ptrdiff_t>(work.end),
                                       [&](uint32_t row) { return column[row] <= best_bin; });
    const size_t split = static_cast<size_t>(middle - samples.begin());
    // bin <= b  <=>  x < edges[b]: the FlatTrees test, on raw values.
    const uint32_t left = tree.AddChildren(work.node, static_cast<uint32_t>(best_feature),
                                           data.edges[best_feature][best_bin], false);
    stack.push_back({left + 1, split, work.end, work.depth + 1});
    stack.push_back({left, work.begin, split, work.depth + 1});
  }
  return tree;
}

}  // namespace

Result<std::unique_ptr<RandomForest>> RandomForest::Train(const Matrix& x, std::span<const float> y,
                                                          const RandomForestConfig& config,
                                                          const TrainProgress& progress) {
  AITS_RETURN_IF_ERROR(CheckConfig(config));
  AITS_RETURN_IF_ERROR(CheckTrainingData("random forest", x, y, config.regression));
  if (x.rows() > UINT32_MAX) {
    return InvalidArgument("random forest: " + std::to_string(x.rows()) + " rows (at most 2^32)");
  }
  const size_t p = x.cols();
  TreeParams params;
  params.max_depth = config.max_depth;
  params.min_leaf = static_cast<size_t>(config.min_samples_leaf);
  double features = config.max_features == 0   ? std::sqrt(static_cast<double>(p))
                    : config.max_features <= 1 ? config.max_features * static_cast<double>(p)
                                               : config.max_features;
  params.features_per_split = std::clamp<size_t>(static_cast<size_t>(std::lround(features)), 1, p);
  params.sample_size = std::max<size_t>(
      1, static_cast<size_t>(std::llround(config.sample_fraction * static_cast<double>(x.rows()))));

  const size_t threads = std::min<size_t>(static_cast<size_t>(config.threads),
                                          std::max<size_t>(p, static_cast<size_t>(config.trees)));
  auto run_parallel = [threads](size_t count, const auto& task) {
    std::atomic<size_t> next{0};
    auto worker = [&] {
      for (size_t i = next++; i < count; i = next++) task(i);
    };
    std::vector<std::thread> pool;
    for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
    worker();
    for (auto& thread : pool) thread.join();
  };

  Binned binned;
  binned.rows = x.rows();
  binned.edges.resize(p);
  binned.bins.resize(x.rows() * p);
  run_parallel(p, [&](size_t f) { BinFeature(x, f, &binned); });

  std::vector<FlatTrees> trees(static_cast<size_t>(config.trees));
  std::mutex progress_mutex;
  int finished = 0;
  run_parallel(trees.size(), [&](size_t t) {
    // Seed per tree from (seed, tree index) only: the same forest whatever the thread count.
    SplitMix64 mix(config.seed ^ (0xD1B54A32D192ED03ull * (t + 1)));
    trees[t] = TrainTree(binned, y, params, mix.Next());
    if (progress) {
      std::lock_guard<std::mutex> lock(progress_mutex);
      progress(++finished, std::numeric_limits<double>::quiet_NaN(),
               std::numeric_limits<double>::quiet_NaN());
    }
  });

  std::unique_ptr<RandomForest> forest(new RandomForest());
  forest->regression_ = config.regression;
  forest->trees_ = FlatTrees(p);
  for (const FlatTrees& tree : trees) forest->trees_.Append(tree);
  forest->inverse_count_ = 1.0f / static_cast<float>(trees.size());
  AITS_RETURN_IF_ERROR(forest->trees_.Validate());
  forest->trees_.Finish();
  return forest;
}

void RandomForest::PredictBatch(const Matrix& x, std::span<float> out) const {
  trees_.SumBatch(x.data(), x.rows(), x.cols(), out.data());
  for (float& value : out) value *= inverse_count_;
}

std::string RandomForest::Serialize() const {
  ByteWriter out;
  out.U32(kPayloadVersion);
  out.U8(regression_ ? 1 : 0);
  trees_.Serialize(&out);
  return WrapModel(kKind, out.data());
}

Result<std::unique_ptr<RandomForest>> RandomForest::Load(std::string_view bytes,
                                                         std::string_view what) {
  AITS_ASSIGN_OR_RETURN(ModelEnvelope envelope, UnwrapModel(bytes, what));
  return FromPayload(envelope.kind, envelope.payload, what);
}

Result<std::unique_ptr<RandomForest>> RandomForest::FromPayload(std::string_view kind,
                                                                std::string_view payload,
                                                                std::string_view what) {
  if (kind != kKind) {
    return InvalidArgument(std::string(what) + ": model kind is " + std::string(kind) + ", not " +
                           std::string(kKind));
  }
  ByteReader in(payload, std::string(what));
  AITS_ASSIGN_OR_RETURN(const uint32_t version, in.U32("random_forest.version"));
  if (version != kPayloadVersion) {
    return DataLoss(std::string(what) + ": random forest payload version " +
                    std::to_string(version) + " (this build reads " +
                    std::to_string(kPayloadVersion) + ")");
  }
  std::unique_ptr<RandomForest> forest(new RandomForest());
  AITS_ASSIGN_OR_RETURN(const uint8_t regression, in.U8("random_forest.regression"));
  forest->regression_ = regression != 0;
  AITS_ASSIGN_OR_RETURN(forest->trees_, FlatTrees::Deserialize(&in));
  AITS_RETURN_IF_ERROR(in.ExpectEnd());
  if (forest->trees_.num_trees() == 0 || forest->trees_.num_features() == 0) {
    return DataLoss(std::string(what) + ": random forest without trees or features");
  }
  forest->inverse_count_ = 1.0f / static_cast<float>(forest->trees_.num_trees());
  return forest;
}

}  // namespace aits::ml
