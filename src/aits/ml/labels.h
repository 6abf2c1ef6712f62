// Supervised targets: the direction and log return of the mid close `horizon` ahead of each row.
//
// A row's label looks into the future (the close at t + horizon), so it is never a feature and
// never part of a Dataset: it is built here, from Dataset::close and Dataset::time, and only the
// training and scoring code reads it. The target of row t is the first row whose time is
// >= t + horizon; it must also be no later than t + horizon + max_gap, otherwise (a weekend, a
// feed outage, the end of the data) the label is undefined. Rows whose label is undefined (NaN
// direction) are excluded from training and scoring; a caller must never impute them.
//
// When splitting data for training (ml/splits.h), pass purge >= horizon + max_gap so that no
// label window of a training row reaches into the rows it is evaluated on.
//
// Thread-compatible; MakeLabels is a pure function.
#pragma once

#include <cstdint>
#include <vector>

#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/models/dataset.h"

namespace aits::ml {

struct LabelConfig {
  Duration horizon = Duration::Minutes(15);
  // |forward return| <= dead_zone leaves the direction undefined: moves inside the spread are
  // noise that a classifier should not be trained to call. 0 still leaves an exactly flat move
  // undefined.
  double dead_zone = 0.0;
  // How late the target row may be beyond t + horizon; 0 means "= horizon".
  Duration max_gap = Duration::Nanos(0);
};

struct Labels {
  std::vector<float> direction;       // 1 up, 0 down, NaN undefined
  std::vector<float> forward_return;  // log(close[target] / close[t]); NaN when no target
  std::vector<int64_t> target_row;    // index of the target row; -1 when no target

  size_t size() const { return direction.size(); }
  // Rows whose direction is defined, in order (what training and scoring use).
  std::vector<size_t> DefinedRows() const;
};

// One label per row of `data`, in O(rows) (two pointers over the time-ordered rows).
// Errors (kInvalidArgument): horizon <= 0, max_gap < 0, a negative or non-finite dead zone,
// per-row sizes that disagree, times that do not strictly increase, a close that is not finite
// and > 0 (each naming the row).
Result<Labels> MakeLabels(const Dataset& data, const LabelConfig& config);

// The max_gap MakeLabels uses for `config` (horizon when 0); horizon + this is the purge a split
// needs.
Duration EffectiveMaxGap(const LabelConfig& config);

}  // namespace aits::ml
