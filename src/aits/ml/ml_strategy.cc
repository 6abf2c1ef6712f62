#include "aits/ml/ml_strategy.h"

#include <cmath>

namespace aits::ml {
namespace {

Quantity LotsFor(const Instrument& instrument, double lots) {
  auto qty = Quantity::FromDouble(lots, instrument.LotPrecision());
  return qty.ok() ? instrument.RoundLots(*qty) : Quantity();
}

int CurrentDirection(strategy::StrategyContext& context, InstrumentId id) {
  const Quantity heading = context.position(id).quantity + context.PendingLots(id);
  return heading.IsPositive() ? 1 : (heading.IsNegative() ? -1 : 0);
}

}  // namespace

Status SignalRules::Validate() const {
  if (!(exit >= 0 && exit <= entry && entry <= 1)) {
    return InvalidArgument("signal rules need 0 <= exit <= entry <= 1 (got entry " +
                           std::to_string(entry) + ", exit " + std::to_string(exit) + ")");
  }
  if (!(min_confidence >= 0 && min_confidence <= 1)) {
    return InvalidArgument("min_confidence must be within [0, 1] (got " +
                           std::to_string(min_confidence) + ")");
  }
  if (!(std::isfinite(lots) && lots > 0)) {
    return InvalidArgument("lots must be finite and > 0 (got " + std::to_string(lots) + ")");
  }
  return Status::Ok();
}

Result<SignalRules> SignalRules::FromParams(strategy::StrategyParams& params) {
  SignalRules rules;
  AITS_ASSIGN_OR_RETURN(rules.entry, params.Double("entry", rules.entry, 0.0, 1.0));
  AITS_ASSIGN_OR_RETURN(rules.exit, params.Double("exit", rules.exit, 0.0, 1.0));
  AITS_ASSIGN_OR_RETURN(rules.min_confidence,
                        params.Double("min_confidence", rules.min_confidence, 0.0, 1.0));
  AITS_ASSIGN_OR_RETURN(rules.lots, params.Double("lots", rules.lots, 0.0, 1e6));
  AITS_ASSIGN_OR_RETURN(std::string mode,
                        params.Choice("mode", "long_short", {"long_only", "long_short"}));
  rules.long_short = mode == "long_short";
  AITS_RETURN_IF_ERROR(rules.Validate());
  return rules;
}

int TargetDirection(const SignalRules& rules, double score, double confidence, int current) {
  if (!std::isfinite(score)) return current;
  const bool confident = confidence >= rules.min_confidence;
  if (score > rules.entry && confident) return 1;
  if (score < -rules.entry && confident) return rules.long_short ? -1 : 0;
  if (std::abs(score) < rules.exit) return 0;
  // Between exit and entry, or an entry without the confidence: hold.
  return current;
}

ScoreReplayStrategy::ScoreReplayStrategy(const Instrument& instrument,
                                         std::vector<TimedScore> scores, SignalRules rules)
    : instrument_(instrument),
      scores_(std::move(scores)),
      rules_(rules),
      lots_(LotsFor(instrument, rules.lots)) {}

void ScoreReplayStrategy::OnBar(const Bar& bar) {
  if (bar.instrument != instrument_.id) return;
  const Timestamp close = bar.CloseTime();
  while (next_ < scores_.size() && scores_[next_].time < close) ++next_;
  if (next_ >= scores_.size() || scores_[next_].time != close) return;
  const TimedScore& s = scores_[next_];
  const int current = CurrentDirection(context(), instrument_.id);
  const int target = TargetDirection(rules_, s.score, s.confidence, current);
  if (target == current) return;
  MoveToTarget(instrument_.id, target > 0 ? lots_ : (target < 0 ? -lots_ : Quantity()),
               target > 0 ? "ml_long" : (target < 0 ? "ml_short" : "ml_flat"));
}

}  // namespace aits::ml
