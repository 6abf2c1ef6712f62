#include "aits/trading/replay_signal.h"

#include <cmath>
#include <cstdio>
#include <string>

namespace aits::trading {
namespace {

class ReplaySignal final : public SignalSource {
 public:
  ReplaySignal(const Instrument& instrument,
               std::shared_ptr<const std::vector<TimedSignal>> signals)
      : instrument_(instrument), signals_(std::move(signals)) {}

  std::string_view name() const override { return "score_replay"; }

  bool OnBar(const Bar& bar, decision::Signal* signal) override {
    const std::vector<TimedSignal>& all = *signals_;
    const Timestamp close = bar.CloseTime();
    // Bars and signals both move forward in time, so one cursor serves the whole run.
    while (next_ < all.size() && all[next_].time < close) ++next_;
    if (next_ >= all.size() || all[next_].time != close) return false;
    last_ = all[next_];
    signal->instrument = instrument_.id;
    signal->ts = close;
    signal->strength = last_.strength;
    signal->confidence = last_.confidence;
    return true;
  }

  void Describe(JsonWriter& out, bool /*explain*/) const override {
    out.Key("models");
    out.BeginObject();
    out.Member("replayed_score", last_.strength);
    out.Member("replayed_confidence", last_.confidence);
    out.EndObject();
  }

 private:
  const Instrument& instrument_;
  std::shared_ptr<const std::vector<TimedSignal>> signals_;
  size_t next_ = 0;
  TimedSignal last_;
};

}  // namespace

std::unique_ptr<SignalSource> MakeReplaySignal(
    const Instrument& instrument, std::shared_ptr<const std::vector<TimedSignal>> signals) {
  return std::make_unique<ReplaySignal>(instrument, std::move(signals));
}

Status CheckReplayable(const std::vector<TimedSignal>& signals) {
  for (size_t i = 0; i < signals.size(); ++i) {
    const TimedSignal& s = signals[i];
    if (i > 0 && !(signals[i - 1].time < s.time)) {
      return InvalidArgument("replayed signal " + std::to_string(i) + " at " +
                             FormatIso8601(s.time) + " is not after the one before it");
    }
    if (!(std::abs(s.strength) <= 1.0) || !(s.confidence >= 0.0 && s.confidence <= 1.0)) {
      char figures[96];
      std::snprintf(figures, sizeof(figures), " has strength %g and confidence %g", s.strength,
                    s.confidence);
      return InvalidArgument("replayed signal " + std::to_string(i) + " at " +
                             FormatIso8601(s.time) + figures + " (need -1..1 and 0..1)");
    }
  }
  return Status::Ok();
}

}  // namespace aits::trading
