// Ensemble weights that follow recent performance (issue 13, item 5; docs/ml.md, "Member
// weights"): each member of a served ensemble is judged on its own calls, and members that have
// been right more often lately count for more in the ensemble's mean, within bounds.
//
// Each bar, every member's output p opens a call (the sign of 2p - 1), settled a horizon later by
// a CallBook of its own, the same settlement as the model's watch (model_watch.h). Once every
// member has `min_calls` long and short calls settled in its window, member i's weight is
//     w_i = clamp(accuracy_i / mean_j accuracy_j, min, max)
// (1 for all before, and while any accuracy is undefined). The ensemble takes them into the mean
// of each group (Ensemble::set_member_weights): an ensemble's members then count by their recent
// record instead of alike, a member that has stopped being right counts for at most `min`, and
// none for more than `max` times the others.
//
// Deterministic in the bars (a replay computes the same weights at the same bars). O(members)
// per bar. Thread-compatible.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/ml/model_watch.h"

namespace aits::ml {

struct MemberWeightsConfig {
  size_t window = 500;     // settled calls per member the accuracy is over (>= 2)
  size_t min_calls = 100;  // long and short calls settled before the weights move (>= 1)
  double min = 0.5;        // bounds of a weight, 0 < min <= 1 <= max
  double max = 2.0;
  // InvalidArgument naming the setting and its value.
  Status Validate() const;
};

class MemberWeights {
 public:
  // InvalidArgument for no member, a horizon <= 0, or a config that does not validate.
  static Result<MemberWeights> Create(size_t members, Duration horizon,
                                      const MemberWeightsConfig& config);

  // One scored bar, in time order: `member_p` are the members' outputs at its close (as many as
  // members). Settles what the close settles, opens each member's call, and sets the weights.
  void OnBar(Timestamp close_time, double close, std::span<const float> member_p);

  std::span<const double> weights() const { return weights_; }
  // A member's recent accuracy (NaN before its first settled directional call).
  double accuracy(size_t member) const { return books_[member].live().accuracy(); }
  size_t calls(size_t member) const { return books_[member].live().directional(); }
  // Whether the weights have left 1 (every member has min_calls settled calls).
  bool active() const { return active_; }
  const MemberWeightsConfig& config() const { return config_; }

 private:
  MemberWeights(std::vector<CallBook> books, const MemberWeightsConfig& config)
      : books_(std::move(books)), weights_(books_.size(), 1.0), config_(config) {}

  std::vector<CallBook> books_;
  std::vector<double> weights_;
  MemberWeightsConfig config_;
  bool active_ = false;
};

}  // namespace aits::ml
