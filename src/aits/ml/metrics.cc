#include "aits/ml/metrics.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <numeric>

namespace aits::ml {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kClip = 1e-7;

// 1-based ranks of `values`, tied values sharing the average of their ranks.
std::vector<double> AverageRanks(std::span<const double> values) {
  const size_t n = values.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(n);
  for (size_t first = 0; first < n;) {
    size_t last = first + 1;
    while (last < n && values[order[last]] == values[order[first]]) ++last;
    // Ranks first+1 .. last share their mean.
    const double rank = (static_cast<double>(first + 1) + static_cast<double>(last)) / 2.0;
    for (size_t idx = first; idx < last; ++idx) ranks[order[idx]] = rank;
    first = last;
  }
  return ranks;
}

double Ratio(double num, double den) { return den > 0.0 ? num / den : kNaN; }

nlohmann::json Number(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

}  // namespace

ClassificationMetrics Classification(std::span<const float> y01, std::span<const float> p_up,
                                     double threshold) {
  assert(y01.size() == p_up.size());
  std::vector<double> scores;
  std::vector<uint8_t> labels;
  scores.reserve(y01.size());
  labels.reserve(y01.size());
  double tp = 0, fp = 0, fn = 0, tn = 0, log_loss = 0, brier = 0;
  for (size_t row = 0; row < y01.size(); ++row) {
    if (std::isnan(y01[row]) || std::isnan(p_up[row])) continue;
    const bool up = y01[row] > 0.5f;
    const double p = p_up[row];
    const bool called_up = p > threshold;
    tp += up && called_up;
    fp += !up && called_up;
    fn += up && !called_up;
    tn += !up && !called_up;
    const double clipped = std::clamp(p, kClip, 1.0 - kClip);
    log_loss -= up ? std::log(clipped) : std::log(1.0 - clipped);
    brier += (p - (up ? 1.0 : 0.0)) * (p - (up ? 1.0 : 0.0));
    scores.push_back(p);
    labels.push_back(up);
  }
  ClassificationMetrics m;
  m.n = scores.size();
  const double n = static_cast<double>(m.n);
  m.accuracy = Ratio(tp + tn, n);
  m.precision = Ratio(tp, tp + fp);
  m.recall = Ratio(tp, tp + fn);
  if (std::isnan(m.precision) || std::isnan(m.recall)) {
    m.f1 = kNaN;
  } else {
    m.f1 = m.precision + m.recall > 0.0 ? 2.0 * m.precision * m.recall / (m.precision + m.recall)
                                        : 0.0;
  }
  m.log_loss = Ratio(log_loss, n);
  m.brier = Ratio(brier, n);
  const double positives = tp + fn;
  const double negatives = fp + tn;
  m.positive_rate = Ratio(positives, n);
  m.predicted_positive_rate = Ratio(tp + fp, n);
  if (positives > 0.0 && negatives > 0.0) {
    // Mann-Whitney U: the probability that a random up row outscores a random down row, ties
    // counting one half.
    const std::vector<double> ranks = AverageRanks(scores);
    double positive_rank_sum = 0.0;
    for (size_t idx = 0; idx < ranks.size(); ++idx) {
      if (labels[idx]) positive_rank_sum += ranks[idx];
    }
    m.auc = (positive_rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives);
  } else {
    m.auc = kNaN;
  }
  return m;
}

double InformationCoefficient(std::span<const float> prediction, std::span<const float> realized) {
  assert(prediction.size() == realized.size());
  std::vector<double> a, b;
  a.reserve(prediction.size());
  b.reserve(prediction.size());
  for (size_t row = 0; row < prediction.size(); ++row) {
    if (std::isnan(prediction[row]) || std::isnan(realized[row])) continue;
    a.push_back(prediction[row]);
    b.push_back(realized[row]);
  }
  if (a.size() < 3) return kNaN;
  const std::vector<double> ra = AverageRanks(a);
  const std::vector<double> rb = AverageRanks(b);
  // Pearson on the ranks (the n^3 shortcut formula is wrong with ties).
  const double mean = (static_cast<double>(a.size()) + 1.0) / 2.0;  // of 1..n, ties included
  double cov = 0.0, var_a = 0.0, var_b = 0.0;
  for (size_t idx = 0; idx < ra.size(); ++idx) {
    const double da = ra[idx] - mean;
    const double db = rb[idx] - mean;
    cov += da * db;
    var_a += da * da;
    var_b += db * db;
  }
  if (var_a <= 0.0 || var_b <= 0.0) return kNaN;
  return cov / std::sqrt(var_a * var_b);
}

std::vector<CalibrationBin> Calibration(std::span<const float> y01, std::span<const float> p_up,
                                        int bins) {
  assert(y01.size() == p_up.size());
  if (bins < 1) return {};
  const size_t count = static_cast<size_t>(bins);
  std::vector<CalibrationBin> out(count);
  std::vector<double> sum_p(count, 0.0), sum_up(count, 0.0);
  for (size_t row = 0; row < y01.size(); ++row) {
    if (std::isnan(y01[row]) || std::isnan(p_up[row])) continue;
    const double p = std::clamp(static_cast<double>(p_up[row]), 0.0, 1.0);
    const size_t bin = std::min(static_cast<size_t>(p * static_cast<double>(count)), count - 1);
    sum_p[bin] += p;
    sum_up[bin] += y01[row] > 0.5f ? 1.0 : 0.0;
    ++out[bin].count;
  }
  for (size_t bin = 0; bin < count; ++bin) {
    CalibrationBin& b = out[bin];
    b.lower = static_cast<double>(bin) / static_cast<double>(count);
    b.upper = static_cast<double>(bin + 1) / static_cast<double>(count);
    const double c = static_cast<double>(b.count);
    b.mean_predicted = Ratio(sum_p[bin], c);
    b.observed_rate = Ratio(sum_up[bin], c);
  }
  return out;
}

nlohmann::json ToJson(const ClassificationMetrics& m) {
  return nlohmann::json{{"n", m.n},
                        {"accuracy", Number(m.accuracy)},
                        {"precision", Number(m.precision)},
                        {"recall", Number(m.recall)},
                        {"f1", Number(m.f1)},
                        {"log_loss", Number(m.log_loss)},
                        {"auc", Number(m.auc)},
                        {"brier", Number(m.brier)},
                        {"positive_rate", Number(m.positive_rate)},
                        {"predicted_positive_rate", Number(m.predicted_positive_rate)}};
}

nlohmann::json ToJson(std::span<const CalibrationBin> bins) {
  nlohmann::json out = nlohmann::json::array();
  for (const CalibrationBin& b : bins) {
    out.push_back({{"lower", b.lower},
                   {"upper", b.upper},
                   {"mean_predicted", Number(b.mean_predicted)},
                   {"observed_rate", Number(b.observed_rate)},
                   {"count", b.count}});
  }
  return out;
}

}  // namespace aits::ml
