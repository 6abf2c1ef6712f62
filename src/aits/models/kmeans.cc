#include "aits/models/kmeans.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <random>
#include <utility>

#include "aits/models/internal/unsupervised_util.h"
#include "aits/models/serialize.h"

namespace aits::ml {
namespace {

constexpr uint32_t kFormatVersion = 1;

// Standardized training rows, row-major, in double.
struct Points {
  size_t rows = 0;
  size_t cols = 0;
  std::vector<double> z;
  const double* Row(size_t r) const { return z.data() + r * cols; }
};

double SquaredDistance(const double* a, const double* b, size_t cols) {
  double sum = 0.0;
  for (size_t c = 0; c < cols; ++c) {
    const double diff = a[c] - b[c];
    sum += diff * diff;
  }
  return sum;
}

// Greedy k-means++ (Arthur & Vassilvitskii 2007, with scikit-learn's 2 + floor(ln k) local
// trials per centre): fewer bad seedings than plain k-means++ for the same cost order.
std::vector<double> SeedCentres(const Points& p, int k, std::mt19937_64& rng) {
  const size_t cols = p.cols;
  std::vector<double> centres(static_cast<size_t>(k) * cols);
  const size_t first = internal::UniformIndex(rng, p.rows);
  std::copy_n(p.Row(first), cols, centres.begin());

  std::vector<double> closest(p.rows);
  double potential = 0.0;
  for (size_t r = 0; r < p.rows; ++r) {
    closest[r] = SquaredDistance(p.Row(r), p.Row(first), cols);
    potential += closest[r];
  }
  const int trials = 2 + static_cast<int>(std::log(static_cast<double>(k)));
  std::vector<double> candidate_closest(p.rows);
  std::vector<double> best_closest(p.rows);
  for (int centre = 1; centre < k; ++centre) {
    size_t best_row = 0;
    double best_potential = std::numeric_limits<double>::infinity();
    for (int trial = 0; trial < trials; ++trial) {
      // Row drawn with probability closest[r] / potential; the last row with a positive
      // distance when rounding leaves the target unreached (or every distance is 0).
      const double target = internal::Uniform01(rng) * potential;
      size_t row = p.rows - 1;
      double cumulative = 0.0;
      for (size_t r = 0; r < p.rows; ++r) {
        cumulative += closest[r];
        if (cumulative > target) {
          row = r;
          break;
        }
      }
      double candidate_potential = 0.0;
      for (size_t r = 0; r < p.rows; ++r) {
        candidate_closest[r] = std::min(closest[r], SquaredDistance(p.Row(r), p.Row(row), cols));
        candidate_potential += candidate_closest[r];
      }
      if (candidate_potential < best_potential) {
        best_potential = candidate_potential;
        best_row = row;
        std::swap(best_closest, candidate_closest);
      }
    }
    std::copy_n(p.Row(best_row), cols, centres.begin() + static_cast<ptrdiff_t>(centre * cols));
    std::swap(closest, best_closest);
    potential = best_potential;
  }
  return centres;
}

// Assigns every row to its nearest centre (lower index on a tie); returns whether any label
// changed and sets *inertia and *distances (each row's squared distance to its centre).
bool AssignAll(const Points& p, const std::vector<double>& centres, int k, std::vector<int>* labels,
               std::vector<double>* distances, double* inertia) {
  bool changed = false;
  double total = 0.0;
  for (size_t r = 0; r < p.rows; ++r) {
    int best = 0;
    double best_distance = std::numeric_limits<double>::infinity();
    for (int c = 0; c < k; ++c) {
      const double d = SquaredDistance(p.Row(r), centres.data() + c * p.cols, p.cols);
      if (d < best_distance) {
        best_distance = d;
        best = c;
      }
    }
    if ((*labels)[r] != best) changed = true;
    (*labels)[r] = best;
    (*distances)[r] = best_distance;
    total += best_distance;
  }
  *inertia = total;
  return changed;
}

// Moves each centre to the mean of its rows; an empty cluster takes the row farthest from its
// own centre (each such row used once). Returns the summed squared shift of the centres.
double UpdateCentres(const Points& p, const std::vector<int>& labels,
                     const std::vector<double>& distances, int k, std::vector<double>* centres) {
  const size_t cols = p.cols;
  std::vector<double> sums(static_cast<size_t>(k) * cols, 0.0);
  std::vector<size_t> counts(static_cast<size_t>(k), 0);
  for (size_t r = 0; r < p.rows; ++r) {
    const size_t c = static_cast<size_t>(labels[r]);
    ++counts[c];
    for (size_t j = 0; j < cols; ++j) sums[c * cols + j] += p.Row(r)[j];
  }
  std::vector<bool> used(p.rows, false);
  double shift = 0.0;
  for (size_t c = 0; c < static_cast<size_t>(k); ++c) {
    double* centre = centres->data() + c * cols;
    if (counts[c] > 0) {
      for (size_t j = 0; j < cols; ++j) {
        const double mean = sums[c * cols + j] / static_cast<double>(counts[c]);
        shift += (mean - centre[j]) * (mean - centre[j]);
        centre[j] = mean;
      }
      continue;
    }
    size_t farthest = 0;
    double farthest_distance = -1.0;
    for (size_t r = 0; r < p.rows; ++r) {
      if (!used[r] && distances[r] > farthest_distance) {
        farthest_distance = distances[r];
        farthest = r;
      }
    }
    used[farthest] = true;
    shift += SquaredDistance(centre, p.Row(farthest), cols);
    std::copy_n(p.Row(farthest), cols, centre);
  }
  return shift;
}

struct Run {
  std::vector<double> centres;
  std::vector<int> labels;
  double inertia = 0.0;
};

Run Lloyd(const Points& p, std::vector<double> centres, const KMeansConfig& config) {
  Run run;
  run.centres = std::move(centres);
  run.labels.assign(p.rows, -1);
  std::vector<double> distances(p.rows);
  AssignAll(p, run.centres, config.k, &run.labels, &distances, &run.inertia);
  for (int iteration = 0; iteration < config.max_iterations; ++iteration) {
    const double shift = UpdateCentres(p, run.labels, distances, config.k, &run.centres);
    const bool changed = AssignAll(p, run.centres, config.k, &run.labels, &distances, &run.inertia);
    if (!changed || shift <= config.tolerance) break;
  }
  return run;
}

bool Contains(std::string_view name, std::string_view part) {
  return name.find(part) != std::string_view::npos;
}

bool IsVolatilityColumn(std::string_view name) {
  return Contains(name, "volatility") || Contains(name, "atr");
}

bool IsTrendColumn(std::string_view name) {
  if (Contains(name, "macd_signal")) return false;
  return Contains(name, "momentum") || Contains(name, "price_change") || Contains(name, "macd");
}

// Mean of each centroid's coordinates over the selected columns; empty when none is selected.
std::vector<double> Scores(const Eigen::MatrixXd& centroids, const std::vector<size_t>& columns) {
  if (columns.empty()) return {};
  std::vector<double> scores(static_cast<size_t>(centroids.rows()), 0.0);
  for (Eigen::Index c = 0; c < centroids.rows(); ++c) {
    double sum = 0.0;
    for (size_t col : columns) sum += centroids(c, static_cast<Eigen::Index>(col));
    scores[static_cast<size_t>(c)] = sum / static_cast<double>(columns.size());
  }
  return scores;
}

// The unnamed cluster with the highest (or lowest) score; the lower index on a tie.
int Pick(const std::vector<double>& scores, const std::vector<std::string>& names, bool highest) {
  int pick = -1;
  for (size_t c = 0; c < scores.size(); ++c) {
    if (!names[c].empty()) continue;
    if (pick < 0 || (highest ? scores[c] > scores[static_cast<size_t>(pick)]
                             : scores[c] < scores[static_cast<size_t>(pick)])) {
      pick = static_cast<int>(c);
    }
  }
  return pick;
}

size_t CountUnnamed(const std::vector<std::string>& names) {
  return static_cast<size_t>(std::count(names.begin(), names.end(), std::string()));
}

}  // namespace

std::vector<std::string> KMeans::NameRegimes(const Eigen::MatrixXd& centroids,
                                             std::span<const std::string> feature_names) {
  std::vector<size_t> volatility_columns;
  std::vector<size_t> trend_columns;
  for (size_t col = 0; col < feature_names.size(); ++col) {
    if (IsVolatilityColumn(feature_names[col])) volatility_columns.push_back(col);
    if (IsTrendColumn(feature_names[col])) trend_columns.push_back(col);
  }
  const std::vector<double> volatility = Scores(centroids, volatility_columns);
  const std::vector<double> trend = Scores(centroids, trend_columns);
  std::vector<std::string> names(static_cast<size_t>(centroids.rows()));
  auto name_pick = [&](const std::vector<double>& scores, bool highest, const char* name) {
    const int pick = Pick(scores, names, highest);
    if (pick >= 0) names[static_cast<size_t>(pick)] = name;
  };
  if (!volatility.empty()) {
    name_pick(volatility, true, "high_volatility");
    name_pick(volatility, false, "low_volatility");
  }
  if (!trend.empty() && CountUnnamed(names) >= 2) {
    name_pick(trend, true, "trending_up");
    name_pick(trend, false, "trending_down");
  }
  int ranging = 0;
  for (size_t c = 0; c < names.size(); ++c) {
    if (!names[c].empty()) continue;
    if (trend.empty()) {
      names[c] = "regime_" + std::to_string(c);
    } else {
      ++ranging;
      names[c] = ranging == 1 ? "ranging" : "ranging_" + std::to_string(ranging);
    }
  }
  return names;
}

Result<KMeans> KMeans::Fit(const Matrix& x, std::vector<std::string> feature_names,
                           const KMeansConfig& config) {
  if (config.k < 2) {
    return InvalidArgument("kmeans fit: k is " + std::to_string(config.k) + ", must be >= 2");
  }
  if (config.restarts < 1) {
    return InvalidArgument("kmeans fit: restarts is " + std::to_string(config.restarts) +
                           ", must be >= 1");
  }
  if (config.max_iterations < 1) {
    return InvalidArgument("kmeans fit: max_iterations is " +
                           std::to_string(config.max_iterations) + ", must be >= 1");
  }
  if (!(config.tolerance >= 0.0)) {
    return InvalidArgument("kmeans fit: tolerance is " + std::to_string(config.tolerance) +
                           ", must be >= 0");
  }
  if (x.rows() < static_cast<size_t>(config.k)) {
    return InvalidArgument("kmeans fit: " + std::to_string(x.rows()) +
                           " rows, fewer than k = " + std::to_string(config.k));
  }
  if (x.cols() == 0) return InvalidArgument("kmeans fit: the matrix has no columns");
  if (feature_names.size() != x.cols()) {
    return InvalidArgument("kmeans fit: " + std::to_string(feature_names.size()) +
                           " feature names for " + std::to_string(x.cols()) + " columns");
  }
  AITS_RETURN_IF_ERROR(internal::CheckFinite(x, "kmeans", &feature_names));

  KMeans model;
  model.standardizer_ = Standardizer::Fit(x);
  model.feature_names_ = std::move(feature_names);
  model.mean_ = model.standardizer_.mean();
  model.inv_stddev_ = internal::InverseStddev(model.standardizer_);

  Points points;
  points.rows = x.rows();
  points.cols = x.cols();
  points.z.resize(points.rows * points.cols);
  for (size_t r = 0; r < points.rows; ++r) {
    for (size_t c = 0; c < points.cols; ++c) {
      points.z[r * points.cols + c] =
          (static_cast<double>(x(r, c)) - model.mean_[c]) * model.inv_stddev_[c];
    }
  }

  std::mt19937_64 rng(config.seed);
  Run best;
  for (int restart = 0; restart < config.restarts; ++restart) {
    Run run = Lloyd(points, SeedCentres(points, config.k, rng), config);
    if (restart == 0 || run.inertia < best.inertia) best = std::move(run);
  }
  std::vector<size_t> members(static_cast<size_t>(config.k), 0);
  for (int label : best.labels) ++members[static_cast<size_t>(label)];
  for (size_t c = 0; c < members.size(); ++c) {
    if (members[c] == 0) {
      return InvalidArgument("kmeans fit: cluster " + std::to_string(c) +
                             " is empty: the rows hold fewer than k = " + std::to_string(config.k) +
                             " distinct points (after standardization)");
    }
  }

  model.centroids_.resize(config.k, static_cast<Eigen::Index>(points.cols));
  for (Eigen::Index c = 0; c < model.centroids_.rows(); ++c) {
    for (Eigen::Index j = 0; j < model.centroids_.cols(); ++j) {
      model.centroids_(c, j) =
          best.centres[static_cast<size_t>(c) * points.cols + static_cast<size_t>(j)];
    }
  }
  model.inertia_ = best.inertia;
  model.regime_names_ = NameRegimes(model.centroids_, model.feature_names_);
  model.Finish();
  return model;
}

void KMeans::Finish() {
  const size_t k = static_cast<size_t>(centroids_.rows());
  const size_t cols = static_cast<size_t>(centroids_.cols());
  flat_centroids_.resize(k * cols);
  for (size_t c = 0; c < k; ++c) {
    for (size_t j = 0; j < cols; ++j) {
      flat_centroids_[c * cols + j] =
          centroids_(static_cast<Eigen::Index>(c), static_cast<Eigen::Index>(j));
    }
  }
  mean_ = standardizer_.mean();
  inv_stddev_ = internal::InverseStddev(standardizer_);
  high_volatility_cluster_ = -1;
  for (size_t c = 0; c < regime_names_.size(); ++c) {
    if (regime_names_[c] == "high_volatility") high_volatility_cluster_ = static_cast<int>(c);
  }
}

int KMeans::Assign(std::span<const float> row) const {
  assert(row.size() == InputSize());
  const size_t cols = mean_.size();
  const size_t k = regime_names_.size();
  int best = 0;
  double best_distance = std::numeric_limits<double>::infinity();
  for (size_t c = 0; c < k; ++c) {
    const double* centre = flat_centroids_.data() + c * cols;
    double distance = 0.0;
    for (size_t j = 0; j < cols; ++j) {
      const double diff = (static_cast<double>(row[j]) - mean_[j]) * inv_stddev_[j] - centre[j];
      distance += diff * diff;
    }
    if (distance < best_distance) {
      best_distance = distance;
      best = static_cast<int>(c);
    }
  }
  return best;
}

std::string KMeans::Serialize() const {
  ByteWriter out;
  out.U32(kFormatVersion);
  standardizer_.Serialize(&out);
  out.U64(static_cast<uint64_t>(centroids_.rows()));
  out.U64(feature_names_.size());
  for (const std::string& name : feature_names_) out.Str(name);
  out.F64s(flat_centroids_);
  out.F64(inertia_);
  for (const std::string& name : regime_names_) out.Str(name);
  return WrapModel(kKind, out.data());
}

Result<KMeans> KMeans::Deserialize(std::string_view bytes, std::string_view what) {
  AITS_ASSIGN_OR_RETURN(std::string payload, internal::UnwrapKind(bytes, what, kKind));
  ByteReader in(payload, std::string(what));
  AITS_ASSIGN_OR_RETURN(uint32_t version, in.U32("kmeans format version"));
  if (version != kFormatVersion) {
    return DataLoss(std::string(what) + ": kmeans format version " + std::to_string(version) +
                    ", this build reads " + std::to_string(kFormatVersion));
  }
  AITS_ASSIGN_OR_RETURN(Standardizer standardizer, Standardizer::Deserialize(&in));
  AITS_ASSIGN_OR_RETURN(uint64_t k, in.U64("kmeans k"));
  AITS_ASSIGN_OR_RETURN(uint64_t cols, in.U64("kmeans columns"));
  // Every column name and centroid costs at least 8 bytes, which bounds both counts.
  if (k < 2 || cols < 1 || k > in.remaining() || cols > in.remaining()) {
    return DataLoss(std::string(what) + ": kmeans k = " + std::to_string(k) + " and " +
                    std::to_string(cols) + " columns do not fit the " +
                    std::to_string(bytes.size()) + "-byte file");
  }
  KMeans model;
  for (uint64_t c = 0; c < cols; ++c) {
    AITS_ASSIGN_OR_RETURN(std::string name, in.Str("kmeans feature name"));
    model.feature_names_.push_back(std::move(name));
  }
  AITS_ASSIGN_OR_RETURN(std::vector<double> centres, in.F64s("kmeans centroids"));
  if (centres.size() != k * cols) {
    return DataLoss(std::string(what) + ": kmeans has " + std::to_string(centres.size()) +
                    " centroid values, expected k * columns = " + std::to_string(k * cols));
  }
  for (size_t i = 0; i < centres.size(); ++i) {
    if (!std::isfinite(centres[i])) {
      return DataLoss(std::string(what) + ": kmeans centroid value " + std::to_string(i) + " is " +
                      std::to_string(centres[i]));
    }
  }
  AITS_ASSIGN_OR_RETURN(model.inertia_, in.F64("kmeans inertia"));
  if (!(model.inertia_ >= 0.0) || !std::isfinite(model.inertia_)) {
    return DataLoss(std::string(what) + ": kmeans inertia is " + std::to_string(model.inertia_));
  }
  for (uint64_t c = 0; c < k; ++c) {
    AITS_ASSIGN_OR_RETURN(std::string name, in.Str("kmeans regime name"));
    if (name.empty()) return DataLoss(std::string(what) + ": kmeans regime name is empty");
    model.regime_names_.push_back(std::move(name));
  }
  AITS_RETURN_IF_ERROR(in.ExpectEnd());
  AITS_ASSIGN_OR_RETURN(model.standardizer_,
                        internal::CheckStandardizer(std::move(standardizer), cols, what));
  model.centroids_.resize(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(cols));
  for (size_t c = 0; c < k; ++c) {
    for (size_t j = 0; j < cols; ++j) {
      model.centroids_(static_cast<Eigen::Index>(c), static_cast<Eigen::Index>(j)) =
          centres[c * cols + j];
    }
  }
  model.Finish();
  return model;
}

}  // namespace aits::ml
