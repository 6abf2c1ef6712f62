#include "aits/ml/splits.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>

namespace aits::ml {
namespace {

Status CheckTimeOrder(std::span<const Timestamp> time) {
  for (size_t row = 1; row < time.size(); ++row) {
    if (!(time[row - 1] < time[row])) {
      return InvalidArgument("split: row " + std::to_string(row) + " time " +
                             FormatIso8601(time[row]) + " is not after row " +
                             std::to_string(row - 1) + "'s " + FormatIso8601(time[row - 1]));
    }
  }
  return Status::Ok();
}

bool InOpenUnit(double fraction) { return fraction > 0.0 && fraction < 1.0; }

// floor(n * fraction), robust to 0.7 * 10 = 6.9999999.
size_t FractionOf(size_t n, double fraction) {
  return static_cast<size_t>(std::floor(static_cast<double>(n) * fraction + 1e-9));
}

// The end of [begin, end) after dropping rows whose time is not more than `purge` before
// `next_time`.
size_t PurgedEnd(std::span<const Timestamp> time, size_t begin, size_t end, Timestamp next_time,
                 Duration purge) {
  while (end > begin && !(next_time - time[end - 1] > purge)) --end;
  return end;
}

std::string Seconds(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g s", d.SecondsF());
  return buf;
}

std::string Fraction(double f) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", f);
  return buf;
}

}  // namespace

Result<TrainValTest> TimeSplit(std::span<const Timestamp> time, double train_fraction,
                               double validation_fraction, Duration purge) {
  if (!InOpenUnit(train_fraction) || !InOpenUnit(validation_fraction)) {
    return InvalidArgument("TimeSplit: train_fraction " + Fraction(train_fraction) +
                           " and validation_fraction " + Fraction(validation_fraction) +
                           " must both be in (0, 1)");
  }
  if (!(train_fraction + validation_fraction < 1.0)) {
    return InvalidArgument("TimeSplit: train_fraction " + Fraction(train_fraction) +
                           " + validation_fraction " + Fraction(validation_fraction) +
                           " must be < 1 to leave rows for the test segment");
  }
  if (purge.ns < 0) {
    return InvalidArgument("TimeSplit: purge must be >= 0, got " + std::to_string(purge.ns) +
                           " ns");
  }
  AITS_RETURN_IF_ERROR(CheckTimeOrder(time));
  const size_t n = time.size();
  const auto segment_ends = [&](size_t rows) {
    return std::pair{FractionOf(rows, train_fraction),
                     FractionOf(rows, train_fraction + validation_fraction)};
  };
  const auto all_nonempty = [&](size_t rows) {
    const auto [train_end, val_end] = segment_ends(rows);
    return train_end > 0 && val_end > train_end && rows > val_end;
  };
  if (!all_nonempty(n)) {
    // No segment can be non-empty below 1 / (its fraction) rows, so the search starts near there.
    const double smallest =
        std::min({train_fraction, validation_fraction, 1.0 - train_fraction - validation_fraction});
    size_t needed = std::max(n + 1, static_cast<size_t>(std::min(0.5 / smallest, 1e12)));
    for (size_t tries = 0; !all_nonempty(needed) && tries < 10'000'000; ++tries) ++needed;
    return InvalidArgument("TimeSplit: " + std::to_string(n) +
                           " rows leave a segment empty (train " + Fraction(train_fraction) +
                           ", validation " + Fraction(validation_fraction) + "); at least " +
                           std::to_string(needed) + " rows are needed");
  }
  const auto [train_end, val_end] = segment_ends(n);
  TrainValTest split;
  split.train = {0, PurgedEnd(time, 0, train_end, time[train_end], purge)};
  split.validation = {train_end, PurgedEnd(time, train_end, val_end, time[val_end], purge)};
  split.test = {val_end, n};
  if (split.train.empty() || split.validation.empty()) {
    return InvalidArgument("TimeSplit: a purge of " + Seconds(purge) +
                           " removes every row of the " +
                           (split.train.empty() ? "train" : "validation") + " segment (" +
                           std::to_string(split.train.empty() ? train_end : val_end - train_end) +
                           " rows); more rows or a shorter purge are needed");
  }
  return split;
}

Result<std::vector<Fold>> WalkForward(std::span<const Timestamp> time,
                                      const WalkForwardConfig& config) {
  if (config.folds < 1) {
    return InvalidArgument("WalkForward: folds must be >= 1, got " + std::to_string(config.folds));
  }
  if (!InOpenUnit(config.train_fraction)) {
    return InvalidArgument("WalkForward: train_fraction " + Fraction(config.train_fraction) +
                           " must be in (0, 1)");
  }
  if (config.purge.ns < 0) {
    return InvalidArgument("WalkForward: purge must be >= 0, got " +
                           std::to_string(config.purge.ns) + " ns");
  }
  AITS_RETURN_IF_ERROR(CheckTimeOrder(time));
  const size_t n = time.size();
  const size_t folds = static_cast<size_t>(config.folds);
  const size_t min_test = std::max<size_t>(config.min_test_rows, 1);
  const size_t test_rows = (n - FractionOf(n, config.train_fraction)) / folds;
  if (test_rows < min_test) {
    const auto needed = static_cast<size_t>(
        std::ceil(static_cast<double>(folds * min_test) / (1.0 - config.train_fraction)));
    return InvalidArgument("WalkForward: " + std::to_string(n) + " rows give test windows of " +
                           std::to_string(test_rows) + " rows (" + std::to_string(folds) +
                           " folds after a train fraction of " + Fraction(config.train_fraction) +
                           "), below min_test_rows " + std::to_string(min_test) + "; about " +
                           std::to_string(needed) + " rows are needed");
  }
  // Leftover rows from the rounding widen the first train window, so that the last test window
  // ends at the last row.
  const size_t first_test = n - folds * test_rows;
  std::vector<Fold> result(folds);
  for (size_t fold = 0; fold < folds; ++fold) {
    Fold& f = result[fold];
    f.test = {first_test + fold * test_rows, first_test + (fold + 1) * test_rows};
    f.train = {0, PurgedEnd(time, 0, f.test.begin, time[f.test.begin], config.purge)};
  }
  if (config.window == WindowKind::kRolling) {
    // Every rolling window as long as the first (the shortest after its purge).
    const size_t length = result[0].train.end;
    for (Fold& f : result) f.train.begin = f.train.end - length;
  }
  const size_t min_train = std::max<size_t>(config.min_train_rows, 1);
  for (size_t fold = 0; fold < folds; ++fold) {
    const RowRange& train = result[fold].train;
    if (train.size() < min_train) {
      return InvalidArgument("WalkForward: fold " + std::to_string(fold) + " has " +
                             std::to_string(train.size()) + " train rows after a purge of " +
                             Seconds(config.purge) + " (first train window " +
                             std::to_string(first_test) + " rows of " + std::to_string(n) +
                             "), below min_train_rows " + std::to_string(min_train) +
                             "; more rows, a larger train_fraction or a shorter purge are needed");
    }
  }
  return result;
}

Result<WindowKind> ParseWindowKind(std::string_view text) {
  if (text == "rolling") return WindowKind::kRolling;
  if (text == "expanding") return WindowKind::kExpanding;
  return InvalidArgument("window kind '" + std::string(text) +
                         "' is not one of: rolling, expanding");
}

std::string_view ToString(WindowKind kind) {
  switch (kind) {
    case WindowKind::kRolling:
      return "rolling";
    case WindowKind::kExpanding:
      return "expanding";
  }
  return "unknown";
}

}  // namespace aits::ml
