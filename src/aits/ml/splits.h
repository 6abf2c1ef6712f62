// Time-ordered train / validation / test splits and walk-forward folds.
//
// Market rows are not exchangeable: a random split lets a model train on the hour after the one
// it is tested on. Every split here keeps time order (train before validation before test) and
// can purge: a row of an earlier segment is kept only if its time is more than `purge` before
// the first row of the segment that follows. With purge >= horizon + max_gap (ml/labels.h) no
// label window of a training row reaches the rows it is evaluated on.
//
// Inputs are the per-row times of a Dataset; they must strictly increase (checked, O(n)).
// Thread-compatible; all functions are pure.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "aits/core/status.h"
#include "aits/core/time.h"

namespace aits::ml {

// Rows [begin, end).
struct RowRange {
  size_t begin = 0, end = 0;
  size_t size() const { return end - begin; }
  bool empty() const { return end == begin; }
  friend bool operator==(const RowRange&, const RowRange&) = default;
};

struct TrainValTest {
  RowRange train, validation, test;
};

// Splits at floor(n * train_fraction) and floor(n * (train_fraction + validation_fraction));
// the test segment gets the rest. Train and validation then lose their purged tail rows (see
// above), so train.end <= validation.begin and validation.end <= test.begin.
// Errors (kInvalidArgument): a fraction not in (0, 1), fractions summing to >= 1, times that do
// not strictly increase, or too few rows to give every segment at least one row (the message
// says how many are needed).
Result<TrainValTest> TimeSplit(std::span<const Timestamp> time, double train_fraction = 0.70,
                               double validation_fraction = 0.15,
                               Duration purge = Duration::Nanos(0));

enum class WindowKind { kRolling, kExpanding };

struct WalkForwardConfig {
  int folds = 5;
  WindowKind window = WindowKind::kExpanding;
  // Rolling: the train window's length as a fraction of the rows. Expanding: the first train
  // window's length.
  double train_fraction = 0.5;
  Duration purge = Duration::Nanos(0);
  size_t min_train_rows = 100;
  size_t min_test_rows = 20;
};

struct Fold {
  RowRange train;
  RowRange test;
};

// `folds` test windows of equal length, consecutive and non-overlapping, that tile the rows after
// the first train window up to the last row (rounding leftovers go to the first train window).
// Each fold's train window ends before its test window begins, purged: its last row is more
// than `purge` before the first test row. Expanding: train starts at row 0. Rolling: every train
// window has the same number of rows (that of the first fold after its purge) and slides.
// Errors (kInvalidArgument): folds < 1, train_fraction not in (0, 1), times that do not strictly
// increase, a test window smaller than min_test_rows or a train window smaller than
// min_train_rows (the message says which, by how much, and how many rows would be needed).
Result<std::vector<Fold>> WalkForward(std::span<const Timestamp> time,
                                      const WalkForwardConfig& config);

// "rolling" or "expanding".
Result<WindowKind> ParseWindowKind(std::string_view text);
std::string_view ToString(WindowKind kind);

}  // namespace aits::ml
