#include "aits/ml/shadow.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace aits::ml {
namespace {

nlohmann::json Finite(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nullptr;
}

ShadowSide SideOf(const CallBook& book) {
  const LiveModelMetrics& live = book.live();
  return ShadowSide{.settled = book.settled(),
                    .dropped = book.dropped(),
                    .directional = live.directional(),
                    .accuracy = live.accuracy(),
                    .precision = live.precision(),
                    .recall = live.recall(),
                    .profit_factor = live.profit_factor(),
                    .sharpe = live.sharpe()};
}

nlohmann::json SideJson(const ShadowSide& side) {
  return {{"accuracy", Finite(side.accuracy)}, {"precision", Finite(side.precision)},
          {"recall", Finite(side.recall)},     {"profit_factor", Finite(side.profit_factor)},
          {"sharpe", Finite(side.sharpe)},     {"calls", side.directional},
          {"settled", side.settled},           {"dropped", side.dropped}};
}

}  // namespace

Status ShadowConfig::Validate() const {
  if (min_calls < 2) {
    return InvalidArgument("shadow: min_calls " + std::to_string(min_calls) + " must be >= 2");
  }
  return Status::Ok();
}

std::string_view ToString(ShadowState state) {
  switch (state) {
    case ShadowState::kRunning:
      return "running";
    case ShadowState::kComplete:
      return "complete";
    case ShadowState::kExpired:
      return "expired";
  }
  return "unknown";
}

nlohmann::json ToJson(const ShadowRecord& record) {
  nlohmann::json out = SideJson(record.candidate);
  out["state"] = ToString(record.state);
  out["bars"] = record.bars;
  out["from"] = record.bars > 0 ? FormatIso8601(record.from) : "";
  out["to"] = record.bars > 0 ? FormatIso8601(record.to) : "";
  out["production"] = SideJson(record.production);
  return out;
}

Result<ShadowTrial> ShadowTrial::Create(Duration horizon, ShadowConfig config) {
  AITS_RETURN_IF_ERROR(config.Validate());
  if (horizon.ns <= 0) return InvalidArgument("shadow: a horizon <= 0");
  // Every call of the trial in the window, flat ones included, with room for the flat ones
  // (a score of exactly 0 is rare): the record is over the whole trial.
  const size_t window = std::max<size_t>(4 * config.min_calls, 100);
  AITS_ASSIGN_OR_RETURN(CallBook candidate, CallBook::Create(horizon, window));
  AITS_ASSIGN_OR_RETURN(CallBook production, CallBook::Create(horizon, window));
  return ShadowTrial(config, std::move(candidate), std::move(production));
}

bool ShadowTrial::OnBar(Timestamp close_time, double close, double production_score,
                        double candidate_score) {
  if (state_ != ShadowState::kRunning) return false;
  if (bars_ == 0) from_ = close_time;
  to_ = close_time;
  ++bars_;
  candidate_.OnBar(close_time, close, candidate_score);
  production_.OnBar(close_time, close, production_score);
  if (candidate_.live().directional() >= config_.min_calls) {
    state_ = ShadowState::kComplete;
  } else if (config_.max_bars > 0 && bars_ >= config_.max_bars) {
    state_ = ShadowState::kExpired;
  }
  return state_ != ShadowState::kRunning;
}

ShadowRecord ShadowTrial::Record() const {
  return ShadowRecord{.state = state_,
                      .bars = bars_,
                      .from = from_,
                      .to = to_,
                      .candidate = SideOf(candidate_),
                      .production = SideOf(production_)};
}

}  // namespace aits::ml
