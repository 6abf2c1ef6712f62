// A signal source for tests of what consumes signals (DecisionStrategy, the node builder).
#pragma once

#include <string_view>
#include <utility>
#include <vector>

#include "aits/trading/signal_source.h"

namespace aits::trading::testing {

// Plays a fixed list of signal strengths, one per bar close (our own interface, not a mock of a
// third party: what consumes the signal is under test).
class ScriptedSignal final : public SignalSource {
 public:
  explicit ScriptedSignal(std::vector<double> strengths) : strengths_(std::move(strengths)) {}
  std::string_view name() const override { return "scripted"; }
  bool OnBar(const Bar& bar, decision::Signal* signal) override {
    // Silent while the strategy's ATR (period 2) warms up: stops need it.
    if (++bars_ <= 3 || next_ >= strengths_.size()) return false;
    signal->instrument = bar.instrument;
    signal->ts = bar.CloseTime();
    signal->strength = strengths_[next_++];
    signal->confidence = 1.0;
    return true;
  }
  void Describe(JsonWriter& out, bool explain) const override {
    out.Key("models");
    out.BeginObject();
    out.Member("scripted", strengths_[next_ - 1]);
    out.EndObject();
    if (explain) out.Member("explained", true);
  }

 private:
  std::vector<double> strengths_;
  size_t next_ = 0;
  int bars_ = 0;
};

}  // namespace aits::trading::testing
