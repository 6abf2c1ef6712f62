// A candidate model on trial beside the production model (issue 13, item 5; docs/ml.md, "Shadow
// trial"): both score the same live bars, only the production model trades, and each one's calls
// are settled the same way (CallBook: the sign of its score, settled a horizon later). The trial
// ends when the candidate has made enough long and short calls; its record — both models'
// figures over the same bars — is what the registry's gate decides the promotion on
// (ModelRegistry::RecordShadow, PromotionGate::record = "shadow").
//
// Costs per bar: two CallBook steps, O(1). Not thread-safe: the kernel thread adds and reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/ml/model_watch.h"

namespace aits::ml {

struct ShadowConfig {
  // Long and short calls of the candidate settled before the trial ends (>= 2).
  size_t min_calls = 200;
  // The trial gives up after this many bars without them (0: it never does): a candidate that
  // stays flat is not judged on a handful of calls.
  uint64_t max_bars = 0;
  Status Validate() const;
};

enum class ShadowState : uint8_t { kRunning, kComplete, kExpired };
std::string_view ToString(ShadowState state);  // "running", "complete", "expired"

// One model's figures over the trial's bars (LiveModelMetrics'; NaN when a figure has no
// denominator yet).
struct ShadowSide {
  uint64_t settled = 0;  // calls settled, flat ones included
  uint64_t dropped = 0;  // calls settled too late (a gap in the feed)
  size_t directional = 0;
  double accuracy = 0;
  double precision = 0;
  double recall = 0;
  double profit_factor = 0;
  double sharpe = 0;
};

struct ShadowRecord {
  ShadowState state = ShadowState::kRunning;
  uint64_t bars = 0;
  Timestamp from, to;  // the close times of the trial's first and last bar
  ShadowSide candidate;
  ShadowSide production;
};

// {"state", "bars", "from", "to", the candidate's figures ("accuracy", ..., "calls" for the
// directional ones, "settled", "dropped"), "production": {the same}}: what the registry keeps
// under metrics.shadow. A figure that is not finite (no denominator, a profit factor without
// losses) is null.
nlohmann::json ToJson(const ShadowRecord& record);

class ShadowTrial {
 public:
  // Both models' calls are settled at `horizon` (the candidate's label horizon; a production
  // model trained on another horizon would be judged on calls it never made). InvalidArgument for
  // a horizon <= 0 or a config that does not validate.
  static Result<ShadowTrial> Create(Duration horizon, ShadowConfig config = {});

  // One bar both models scored (in time order): its close time and price and the two scores.
  // Ignored once the trial has ended. Returns true on the bar that ends it.
  bool OnBar(Timestamp close_time, double close, double production_score, double candidate_score);

  ShadowState state() const { return state_; }
  bool running() const { return state_ == ShadowState::kRunning; }
  ShadowRecord Record() const;
  const ShadowConfig& config() const { return config_; }

 private:
  ShadowTrial(ShadowConfig config, CallBook candidate, CallBook production)
      : config_(config), candidate_(std::move(candidate)), production_(std::move(production)) {}

  ShadowConfig config_;
  CallBook candidate_;
  CallBook production_;
  ShadowState state_ = ShadowState::kRunning;
  uint64_t bars_ = 0;
  Timestamp from_, to_;
};

}  // namespace aits::ml
