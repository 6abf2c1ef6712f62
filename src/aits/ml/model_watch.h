// A model watched on live data (issue 13, item 5; docs/ml.md, "Watching a model live"): what
// the model carries from its training — its inputs' and its score's training distributions, the
// label's horizon and its validation accuracy (WatchReference, stored in the ensemble file) —
// and, in a running session, the drift of every input and of the score against that reference
// (DriftMonitor) and the model's record on the calls the market has since settled
// (LiveModelMetrics).
//
// A call is the score's sign: long above 0, short below, flat at 0 (the training's accuracy
// reads p_up against 0.5, the same). It is settled at the first bar that closes at least
// `horizon` after it, with the log return of the close between the two bars. A call whose
// settling bar comes later than twice the horizon (a weekend, a gap in the feed) is dropped,
// counted in dropped_calls(): the labels drop such rows too (ml/labels.h, max_gap).
//
// Costs per bar: one DriftMonitor::Add over the inputs and the score (a binary search and two
// counts each) and O(1) for the calls. The statistics are read when asked (drift.h).
// Not thread-safe: the kernel thread adds and reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/ml/drift.h"
#include "aits/ml/live_metrics.h"
#include "aits/models/dataset.h"

namespace aits::ml {

struct WatchReference {
  std::vector<FeatureReference> features;  // one per input column, in the row's order
  FeatureReference score;                  // of the ensemble's score (2 p_up - 1)
  Duration horizon;                        // the label's: when a call is settled
  double validation_accuracy = std::numeric_limits<double>::quiet_NaN();
};

// From the training rows [begin, end) of `x` (columns named `names`) and the ensemble's scores
// on the validation rows. InvalidArgument naming the column when one has fewer than 100 finite
// values, or when the names do not match the columns; a horizon <= 0.
Result<WatchReference> BuildWatchReference(const Matrix& x, const std::vector<std::string>& names,
                                           size_t begin, size_t end, std::span<const double> scores,
                                           Duration horizon, double validation_accuracy);

// The bytes an ensemble file keeps (ml::Ensemble::Parts::watch_reference), and back: DataLoss
// naming `what`, the field and the offset when they are cut or inconsistent.
std::string SerializeWatchReference(const WatchReference& reference);
Result<WatchReference> DeserializeWatchReference(std::string_view bytes, std::string_view what);

// A model's calls on live bars, settled as the market moves (see the top of this file): each
// scored bar opens a call, and the first bar a horizon later settles it into a LiveModelMetrics
// (a call settled later than twice the horizon is dropped). ModelWatch keeps one, and a
// ShadowTrial one per model, so that two models are settled on the same bars the same way.
class CallBook {
 public:
  // InvalidArgument for a horizon <= 0 or a window below 2.
  static Result<CallBook> Create(Duration horizon, size_t window);

  // One scored bar (in time order): settles what its close settles, then opens its own call
  // (none for a score that is not finite).
  void OnBar(Timestamp close_time, double close, double score);

  const LiveModelMetrics& live() const { return live_; }
  uint64_t settled() const { return settled_; }
  uint64_t dropped() const { return dropped_; }
  size_t open() const { return open_.size(); }

 private:
  CallBook(Duration horizon, LiveModelMetrics live) : horizon_(horizon), live_(std::move(live)) {}
  struct OpenCall {
    Timestamp at;
    double close = 0;
    Call call = Call::kFlat;
  };
  Duration horizon_;
  LiveModelMetrics live_;
  std::deque<OpenCall> open_;
  uint64_t settled_ = 0;
  uint64_t dropped_ = 0;
};

struct WatchOptions {
  size_t drift_window = 2000;  // bars (>= 100): a week of M5 bars
  size_t call_window = 500;    // settled calls the live figures are over (>= 2)
};

class ModelWatch {
 public:
  // InvalidArgument for a reference without inputs or with a horizon <= 0, and for windows
  // below their minimums.
  static Result<ModelWatch> Create(WatchReference reference, WatchOptions options = {});

  // One scored bar: its close time and close price, the model's input row (reference order,
  // row.size() == inputs()) and its score. Bars come in time order.
  void OnBar(Timestamp close_time, double close, std::span<const float> row, double score);

  size_t inputs() const { return reference_.features.size(); }
  const WatchReference& reference() const { return reference_; }
  // The inputs, then the score as the last column (index inputs()).
  const DriftMonitor& drift() const { return drift_; }
  const LiveModelMetrics& live() const { return calls_.live(); }
  uint64_t bars() const { return bars_; }
  uint64_t settled_calls() const { return calls_.settled(); }
  uint64_t dropped_calls() const { return calls_.dropped(); }
  size_t open_calls() const { return calls_.open(); }

 private:
  ModelWatch(WatchReference reference, DriftMonitor drift, CallBook calls)
      : reference_(std::move(reference)), drift_(std::move(drift)), calls_(std::move(calls)) {}

  WatchReference reference_;
  DriftMonitor drift_;
  CallBook calls_;
  std::vector<double> values_;  // the bar's inputs and score, for drift_
  uint64_t bars_ = 0;
};

// What a watched model's figures call for (docs/ml.md, "The watch's verdict"):
//   healthy     nothing to do
//   warming_up  too few bars and too few settled calls to say
//   update      the market moved some: continued boosting on recent data (XgbModel::Continue)
//   retrain     it moved far, or the model decayed: a full retrain
enum class WatchVerdict : uint8_t { kWarmingUp, kHealthy, kUpdate, kRetrain };
std::string_view ToString(WatchVerdict verdict);  // "warming_up", "healthy", ...

struct WatchPolicyConfig {
  size_t min_bars = 500;       // in the drift window before drift counts
  double drifted_psi = 0.2;    // an input with a PSI above this has moved
  double update_share = 0.2;   // more than this share of the inputs moved: update
  double retrain_share = 0.5;  // more than this: retrain
  double score_psi = 0.25;     // the score's PSI above this: update
  size_t min_calls = 200;      // settled long and short calls before decay counts
  double decay_margin = 0.05;  // live accuracy this far under the validation's: retrain
  uint64_t hold_bars = 30;     // a new verdict must hold this many bars to be taken
};

// One look at a watch: the verdict and the figures behind it.
struct WatchAssessment {
  WatchVerdict verdict = WatchVerdict::kWarmingUp;
  std::string reason;  // one sentence: which figure, against which threshold
  size_t drifted_inputs = 0;
  size_t inputs = 0;
  double score_psi = std::numeric_limits<double>::quiet_NaN();
  double live_accuracy = std::numeric_limits<double>::quiet_NaN();
  size_t calls = 0;
};
// Reads every input's PSI: O(inputs * bins), so once a bar at most.
WatchAssessment Assess(const ModelWatch& watch, const WatchPolicyConfig& config);

// The verdict a session acts on: Assess at every bar, a change taken only once the new verdict
// has held for hold_bars bars in a row (a figure hovering at its threshold must not flap), and
// then reported once. Deterministic in the bars, so a replayed session reports the same changes
// at the same bars.
class WatchPolicy {
 public:
  explicit WatchPolicy(WatchPolicyConfig config = {}) : config_(config) {}
  // The assessment that changed the verdict, when this bar did; nothing otherwise.
  std::optional<WatchAssessment> Observe(const ModelWatch& watch);
  WatchVerdict verdict() const { return verdict_; }
  uint64_t changes() const { return changes_; }
  const WatchPolicyConfig& config() const { return config_; }

 private:
  WatchPolicyConfig config_;
  WatchVerdict verdict_ = WatchVerdict::kWarmingUp;
  WatchVerdict candidate_ = WatchVerdict::kWarmingUp;
  uint64_t held_ = 0;
  uint64_t changes_ = 0;
};

}  // namespace aits::ml
