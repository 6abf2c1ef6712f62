// Signal sources: what a DecisionStrategy asks, at every bar close, for the signal strength
// s in [-1, 1] and its confidence. The decision engine then applies thresholds, filters and
// sizing, so rule-based signals and the ML ensemble go through the same decision and risk path.
//
// Built-in rule-based sources (for sessions before a model exists, and as baselines):
//   sma_cross  s = (SMA(fast) - SMA(slow)) / (scale * ATR(atr_period)), clamped to [-1, 1];
//              confidence 1. A fast average one `scale` ATRs above the slow one is a full buy.
//   rsi        s = (50 - RSI(period)) / band, clamped: oversold (RSI 30 with band 20) is a full
//              buy, overbought a full sell; confidence 1.
// Bars are the kernel's bars of one instrument (mid prices).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/status.h"
#include "aits/model/instrument.h"
#include "aits/model/market.h"
#include "aits/trading/decision_engine.h"
#include "aits/trading/json_writer.h"
#include "aits/trading/strategy.h"

namespace aits::ml {
class ModelWatch;
class ShadowTrial;
}  // namespace aits::ml

namespace aits::trading {

class SignalSource {
 public:
  virtual ~SignalSource() = default;
  virtual std::string_view name() const = 0;
  // Called at every bar close; returns false while warming up (no signal yet).
  virtual bool OnBar(const Bar& bar, decision::Signal* signal) = 0;
  // Writes the inputs behind the last signal as JSON members ("models": {...}, "regime_name",
  // "top_features": [...]) into an open object. `explain` asks for the expensive part (feature
  // contributions): the strategy sets it only for decisions that trade.
  virtual void Describe(JsonWriter& out, bool explain) const = 0;

  // OnBar in its two stages, for roles that run them in different processes (ADR 0007; `aits
  // serve --role features` and `prediction`): Features turns the bar into the model's input row
  // (false while warming up), Predict turns the bar and that row into the signal (false: no
  // signal yet). On every bar, Features and then, when it is ready, Predict with its row give
  // what OnBar gives, and leave Describe as OnBar would. The default suits a source that reads
  // bars only: no row, and Predict is OnBar.
  virtual bool Features(const Bar& /*bar*/, std::vector<float>* row) {
    row->clear();
    return true;
  }
  virtual bool Predict(const Bar& bar, std::span<const float> /*row*/, decision::Signal* signal) {
    return OnBar(bar, signal);
  }
  // The length of Features' row (0: none); a row of another length is not this source's.
  virtual size_t row_size() const { return 0; }
  // The names of the row's values, and the version and hash of the feature set that computes
  // them (the model's training data's): what an offline copy of the rows is kept under
  // (persistence/feature_store.h). Empty for a source without a row.
  virtual std::span<const std::string> feature_names() const { return {}; }
  virtual std::string_view feature_set_version() const { return {}; }
  virtual std::string_view feature_set_hash() const { return {}; }
  // Whether Describe says more when asked to explain (the ensemble's feature contributions).
  virtual bool explains() const { return false; }
  // The model's drift and live record on this source's bars (ml/model_watch.h), or nullptr: a
  // rule, or a model without a watch reference. Read on the thread that calls OnBar.
  virtual const ml::ModelWatch* watch() const { return nullptr; }
  // The candidate model on trial beside this source's model (ml/shadow.h), or nullptr; with the
  // names of the two models ("NAME@VERSION"). Read on the thread that calls OnBar.
  virtual const ml::ShadowTrial* shadow() const { return nullptr; }
  virtual std::string_view shadow_candidate() const { return {}; }
  virtual std::string_view shadow_production() const { return {}; }
  // The registry's answer on the trial of `candidate` (docs/ml.md, "Shadow trial"): promoted,
  // the candidate becomes this source's model from the next bar (its watch, if it carries a
  // reference, starts anew); rejected, it is dropped. Until the answer the candidate keeps being
  // stepped, so that it is current when it takes over. False when this source has no such
  // candidate (nothing changes).
  virtual bool SettleShadow(std::string_view /*candidate*/, bool /*promoted*/) { return false; }
  // Starts the trial of `candidate` ("NAME@VERSION", its bytes' checksum `checksum`) beside
  // this source's model in the middle of a session (a retrained candidate: docs/ml.md, "The
  // loop"), ending at `min_calls` calls. FailedPrecondition when this source serves no model
  // that can load one, or already has a candidate on trial; the loader's errors (an unknown
  // model, another checksum or feature set). Nothing changes on an error.
  virtual Status StartShadow(std::string_view candidate, std::string_view /*checksum*/,
                             uint64_t /*min_calls*/) {
    return Status(StatusCode::kFailedPrecondition, "signal " + std::string(name()) +
                                                       " serves no model to try " +
                                                       std::string(candidate) + " beside");
  }
  // The model this source serves ("NAME@VERSION"; it changes when a candidate is promoted), or
  // empty: a rule.
  virtual std::string_view model_name() const { return {}; }
};

struct SignalInfo {
  std::string name;
  std::string description;
  std::string parameters;
};
const std::vector<SignalInfo>& RuleSignals();

// Builds a rule-based source by name ("sma_cross", "rsi"); every parameter must be known.
Result<std::unique_ptr<SignalSource>> MakeRuleSignal(std::string_view name,
                                                     strategy::StrategyParams params,
                                                     const Instrument& instrument);

}  // namespace aits::trading
