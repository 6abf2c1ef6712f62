// Drift of a model's inputs (and of its score) away from its training data (issue 13, item 5;
// docs/ml.md, "Drift"): per feature, the training data's distribution as percentile bins, a
// rolling window of the last N bars' values binned the same way, and two statistics of the
// window against the training data — the population stability index (PSI, over the ten deciles)
// and the two-sample Kolmogorov–Smirnov statistic with its p-value (over the hundred percentile
// edges).
//
// Costs. Add (one bar, every feature) is a binary search over 99 edges and two count updates
// per feature; the statistics are read from the counts (O(bins) per feature), never from the
// window's values. 70 features over a 10,000-bar window: BM_DriftBar in ml_drift_bench.
//
// On the binned KS statistic: it is the largest gap between the two distribution functions at
// the training data's percentiles, a lower bound of the exact statistic (whose gap may peak
// between two percentiles) that misses by at most one percentile's mass, 1 % of the training
// data. Its p-value is Kolmogorov's asymptotic one with Stephens' correction.
//
// Not thread-safe: one monitor per thread (the kernel thread adds; readers copy under their own
// lock).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "aits/core/status.h"

namespace aits::ml {

// A feature's training distribution: the percentile edges of its finite training values and
// the fraction of those values in each bin. Ties in the training data (a discrete feature, a
// constant one) merge equal edges, so a feature may have fewer than 100 bins.
struct FeatureReference {
  std::string name;
  std::vector<double> edges;      // increasing; a value v lands in bin upper_bound(edges, v)
  std::vector<double> fractions;  // edges.size() + 1 of them, summing to 1
  uint64_t rows = 0;              // finite training values
};

// InvalidArgument naming the feature when it has fewer than 100 finite values.
Result<FeatureReference> BuildReference(std::string name, std::span<const double> training);

inline constexpr double kPsiModerate = 0.1;     // the usual reading of PSI: below, stable
inline constexpr double kPsiSignificant = 0.2;  // above, the population has moved

class DriftMonitor {
 public:
  // One reference per feature, in the order Add's values come. `window`: bars kept (>= 100).
  // InvalidArgument for no reference, a reference without bins, a window below 100.
  static Result<DriftMonitor> Create(std::vector<FeatureReference> references, size_t window);

  // One bar: a value per feature (values.size() == features()); NaN or infinite values are
  // counted as missing, not binned. The bar that falls out of a full window is taken out.
  void Add(std::span<const double> values);

  size_t features() const { return references_.size(); }
  const FeatureReference& reference(size_t feature) const { return references_[feature]; }
  // Bars in the window (up to `window`), and of those, the feature's finite values.
  size_t bars() const { return filled_; }
  uint64_t values(size_t feature) const { return present_[feature]; }

  // The window against the training data; 0 for a feature without a finite value in the window.
  // PSI = sum over deciles of (w - r) ln(w / r), each share floored at 1e-4 so that an empty
  // decile weighs but does not make it infinite.
  double Psi(size_t feature) const;
  double Ks(size_t feature) const;
  // The KS test's p-value (1 when the window is empty).
  double KsPValue(size_t feature) const;
  // All three at once, the KS statistic computed once: what a per-bar update reads.
  struct Stats {
    double psi = 0;
    double ks = 0;
    double ks_p_value = 1;
  };
  Stats Statistics(size_t feature) const;

 private:
  DriftMonitor() = default;
  std::vector<FeatureReference> references_;
  std::vector<std::vector<double>> decile_of_reference_;  // per feature, 10 shares
  std::vector<std::vector<uint8_t>> decile_of_bin_;       // per feature: bin -> decile
  size_t window_ = 0;
  size_t filled_ = 0;
  size_t next_ = 0;                            // ring position of the next bar
  std::vector<uint8_t> ring_;                  // [bar * features + feature]: bin, or kMissing
  std::vector<std::vector<uint32_t>> counts_;  // per feature, per bin
  std::vector<std::array<uint32_t, 10>> decile_counts_;  // per feature, kept with counts_
  std::vector<uint64_t> present_;
  static constexpr uint8_t kMissing = 255;
};

}  // namespace aits::ml
