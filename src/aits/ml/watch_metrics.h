// A watched model on a role's /metrics (docs/monitoring.md; docs/ml.md, "Watching a model
// live"): the drift of its inputs and score, its live record, its calls and its verdict, as the
// families aits_model_* with a child per symbol. A paper or live session serves them
// (session/session_metrics.h), and so does the prediction role of `aits serve`, which holds the
// model there.
//
// Publish reads the drift statistics only when bars came since the last time (KS over every
// input is the expensive part: tens of microseconds for 70 inputs); call it at most every few
// hundred milliseconds. Thread-safety: Publish on the thread that feeds the watch; the registry
// may be rendered by any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "aits/core/metrics.h"
#include "aits/core/status.h"
#include "aits/ml/model_watch.h"
#include "aits/ml/shadow.h"

namespace aits::ml {

struct WatchFamilies {
  Family<Gauge>* psi = nullptr;
  Family<Gauge>* ks = nullptr;
  Family<Gauge>* window = nullptr;
  std::array<Family<Gauge>*, 5> live{};  // accuracy, precision, recall, profit factor, Sharpe
  Family<Gauge>* calls = nullptr;
  Family<Gauge>* validation = nullptr;
  Family<Counter>* settled = nullptr;
  Family<Counter>* dropped = nullptr;
  Family<Gauge>* verdict = nullptr;
};
// Registers the families (again: the same ones back), whether or not a model fills them, so that
// an alerting rule over them always reads a family the role serves. Errors: the registry's.
Result<WatchFamilies> RegisterWatchFamilies(Registry& registry);

class WatchMetrics {
 public:
  // The children of `symbol` for `watch`'s inputs; `registry` must outlive this object.
  static Result<WatchMetrics> Create(Registry& registry, const std::string& symbol,
                                     const ModelWatch& watch);

  // The watch's figures and `verdict` into the gauges. The calls settled and dropped since the
  // last Publish are added to the counters when `count`; without it they are taken as the
  // baseline (a resumed session's replayed calls were counted by the process that made them).
  void Publish(const ModelWatch& watch, WatchVerdict verdict, bool count);

 private:
  WatchMetrics() = default;
  uint64_t bars_published_ = 0;
  uint64_t settled_published_ = 0;
  uint64_t dropped_published_ = 0;
  std::vector<Gauge*> psi_;  // per input, the score last
  std::vector<Gauge*> ks_p_value_;
  Gauge* window_bars_ = nullptr;
  Gauge* accuracy_ = nullptr;
  Gauge* precision_ = nullptr;
  Gauge* recall_ = nullptr;
  Gauge* profit_factor_ = nullptr;
  Gauge* sharpe_ = nullptr;
  Gauge* calls_ = nullptr;
  Counter* settled_ = nullptr;
  Counter* dropped_ = nullptr;
  std::array<Gauge*, 4> verdict_{};  // by WatchVerdict
};

// A candidate's shadow trial on a session's /metrics (docs/ml.md, "Shadow trial"), registered
// only by a session that runs one:
//   aits_model_shadow_state{symbol,state}        1 for running, complete or expired, 0 otherwise
//   aits_model_shadow_bars{symbol}               bars of the trial so far
//   aits_model_shadow_calls{symbol,model}        long and short calls settled, model="candidate"
//                                                or "production" (over the same bars)
//   aits_model_shadow_accuracy{symbol,model}     their accuracy; NaN without a call yet
// Thread-safety as WatchMetrics'.
class ShadowMetrics {
 public:
  static Result<ShadowMetrics> Create(Registry& registry, const std::string& symbol,
                                      const ShadowTrial& trial);
  void Publish(const ShadowTrial& trial);

 private:
  ShadowMetrics() = default;
  std::array<Gauge*, 3> state_{};  // by ShadowState
  Gauge* bars_ = nullptr;
  std::array<Gauge*, 2> calls_{};  // candidate, production
  std::array<Gauge*, 2> accuracy_{};
};

}  // namespace aits::ml
