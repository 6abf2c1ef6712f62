#include "aits/ml/drift.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace aits::ml {
namespace {

constexpr size_t kPercentiles = 100;
constexpr size_t kDeciles = 10;
constexpr double kFloor = 1e-4;

// Kolmogorov's distribution's tail, Q(lambda) = 2 sum (-1)^(j-1) exp(-2 j^2 lambda^2).
double KolmogorovQ(double lambda) {
  if (lambda < 1e-3) return 1.0;
  double sum = 0;
  double sign = 1;
  for (int j = 1; j <= 100; ++j) {
    const double term = sign * std::exp(-2.0 * j * j * lambda * lambda);
    sum += term;
    if (std::fabs(term) < 1e-12) break;
    sign = -sign;
  }
  return std::clamp(2.0 * sum, 0.0, 1.0);
}

}  // namespace

Result<FeatureReference> BuildReference(std::string name, std::span<const double> training) {
  std::vector<double> finite;
  finite.reserve(training.size());
  for (double value : training) {
    if (std::isfinite(value)) finite.push_back(value);
  }
  if (finite.size() < kPercentiles) {
    return InvalidArgument("feature " + name + ": " + std::to_string(finite.size()) +
                           " finite training values, fewer than 100");
  }
  std::sort(finite.begin(), finite.end());
  FeatureReference reference;
  reference.name = std::move(name);
  reference.rows = finite.size();
  for (size_t k = 1; k < kPercentiles; ++k) {
    const double edge = finite[k * finite.size() / kPercentiles];
    // A value equal to an edge lands above it (upper_bound): an edge equal to the smallest value
    // would leave its bin empty by construction, and equal edges are one.
    if (edge > finite.front() && (reference.edges.empty() || edge > reference.edges.back())) {
      reference.edges.push_back(edge);
    }
  }
  std::vector<uint64_t> counts(reference.edges.size() + 1, 0);
  for (double value : finite) {
    ++counts[std::upper_bound(reference.edges.begin(), reference.edges.end(), value) -
             reference.edges.begin()];
  }
  for (uint64_t count : counts) {
    reference.fractions.push_back(static_cast<double>(count) / static_cast<double>(finite.size()));
  }
  return reference;
}

Result<DriftMonitor> DriftMonitor::Create(std::vector<FeatureReference> references, size_t window) {
  if (references.empty()) return InvalidArgument("drift: no feature");
  if (window < 100) {
    return InvalidArgument("drift: a window of " + std::to_string(window) + " bars; at least 100");
  }
  DriftMonitor monitor;
  for (const FeatureReference& reference : references) {
    if (reference.fractions.size() != reference.edges.size() + 1 ||
        reference.fractions.size() > kPercentiles) {
      return InvalidArgument("drift: feature " + reference.name +
                             ": its reference is not percentile bins");
    }
    // Deciles of the reference by cumulative share: bin b belongs to the decile its middle
    // falls in, so each decile gathers about a tenth of the training data.
    std::vector<uint8_t> decile_of_bin(reference.fractions.size());
    std::vector<double> deciles(kDeciles, 0.0);
    double before = 0;
    for (size_t bin = 0; bin < reference.fractions.size(); ++bin) {
      const double middle = before + reference.fractions[bin] / 2;
      const size_t decile =
          std::min(kDeciles - 1, static_cast<size_t>(middle * static_cast<double>(kDeciles)));
      decile_of_bin[bin] = static_cast<uint8_t>(decile);
      deciles[decile] += reference.fractions[bin];
      before += reference.fractions[bin];
    }
    monitor.decile_of_reference_.push_back(std::move(deciles));
    monitor.decile_of_bin_.push_back(std::move(decile_of_bin));
    monitor.counts_.emplace_back(reference.fractions.size(), 0);
    monitor.decile_counts_.push_back({});
  }
  monitor.references_ = std::move(references);
  monitor.window_ = window;
  monitor.ring_.assign(window * monitor.references_.size(), kMissing);
  monitor.present_.assign(monitor.references_.size(), 0);
  return monitor;
}

void DriftMonitor::Add(std::span<const double> values) {
  const size_t features = references_.size();
  uint8_t* slot = ring_.data() + next_ * features;
  const bool full = filled_ == window_;
  for (size_t f = 0; f < features; ++f) {
    if (full && slot[f] != kMissing) {
      --counts_[f][slot[f]];
      --decile_counts_[f][decile_of_bin_[f][slot[f]]];
      --present_[f];
    }
    const double value = f < values.size() ? values[f] : std::numeric_limits<double>::quiet_NaN();
    if (std::isfinite(value)) {
      const std::vector<double>& edges = references_[f].edges;
      const auto bin =
          static_cast<uint8_t>(std::upper_bound(edges.begin(), edges.end(), value) - edges.begin());
      ++counts_[f][bin];
      ++decile_counts_[f][decile_of_bin_[f][bin]];
      ++present_[f];
      slot[f] = bin;
    } else {
      slot[f] = kMissing;
    }
  }
  next_ = next_ + 1 == window_ ? 0 : next_ + 1;
  if (!full) ++filled_;
}

double DriftMonitor::Psi(size_t feature) const {
  const uint64_t n = present_[feature];
  if (n == 0) return 0;
  const std::array<uint32_t, kDeciles>& window_deciles = decile_counts_[feature];
  double psi = 0;
  const std::vector<double>& reference = decile_of_reference_[feature];
  for (size_t d = 0; d < kDeciles; ++d) {
    if (reference[d] == 0 && window_deciles[d] == 0) continue;  // a decile ties merged away
    const double w =
        std::max(static_cast<double>(window_deciles[d]) / static_cast<double>(n), kFloor);
    const double r = std::max(reference[d], kFloor);
    psi += (w - r) * std::log(w / r);
  }
  return psi;
}

double DriftMonitor::Ks(size_t feature) const {
  const uint64_t n = present_[feature];
  if (n == 0) return 0;
  const std::vector<uint32_t>& counts = counts_[feature];
  const std::vector<double>& fractions = references_[feature].fractions;
  double window_cdf = 0;
  double reference_cdf = 0;
  double largest = 0;
  for (size_t bin = 0; bin + 1 < counts.size(); ++bin) {
    window_cdf += static_cast<double>(counts[bin]) / static_cast<double>(n);
    reference_cdf += fractions[bin];
    largest = std::max(largest, std::fabs(window_cdf - reference_cdf));
  }
  return largest;
}

double DriftMonitor::KsPValue(size_t feature) const { return Statistics(feature).ks_p_value; }

DriftMonitor::Stats DriftMonitor::Statistics(size_t feature) const {
  Stats stats;
  stats.psi = Psi(feature);
  stats.ks = Ks(feature);
  const double n = static_cast<double>(present_[feature]);
  const double m = static_cast<double>(references_[feature].rows);
  if (n == 0 || m == 0) return stats;
  const double effective = std::sqrt(n * m / (n + m));
  stats.ks_p_value = KolmogorovQ((effective + 0.12 + 0.11 / effective) * stats.ks);
  return stats;
}

}  // namespace aits::ml
