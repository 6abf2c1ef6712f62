#include "aits/trading/signal_source.h"

#include <algorithm>
#include <cmath>

#include "aits/features/indicators.h"

namespace aits::trading {
namespace {

// A rule signal: full confidence, no anomaly score or regime.
void RuleSignal(const Bar& bar, double strength, decision::Signal* signal) {
  signal->instrument = bar.instrument;
  signal->ts = bar.CloseTime();
  signal->strength = std::clamp(strength, -1.0, 1.0);
  signal->confidence = 1.0;
  signal->anomaly = 0;
  signal->regime = -1;
}

class SmaCrossSignal final : public SignalSource {
 public:
  SmaCrossSignal(InstrumentId instrument, int fast, int slow, int atr_period, double scale)
      : instrument_(instrument), fast_(fast), slow_(slow), atr_(atr_period), scale_(scale) {}
  std::string_view name() const override { return "sma_cross"; }

  bool OnBar(const Bar& bar, decision::Signal* signal) override {
    if (bar.instrument != instrument_) return false;
    const double close = bar.mid.close.AsDouble();
    fast_.Update(close);
    slow_.Update(close);
    atr_.Update(bar.mid.high.AsDouble(), bar.mid.low.AsDouble(), close);
    if (!fast_.Ready() || !slow_.Ready() || !atr_.Ready() || !(atr_.Value() > 0)) return false;
    gap_ = fast_.Value() - slow_.Value();
    RuleSignal(bar, gap_ / (scale_ * atr_.Value()), signal);
    return true;
  }

  void Describe(JsonWriter& out, bool /*explain*/) const override {
    out.Key("models");
    out.BeginObject();
    out.Member("sma_fast", fast_.Value());
    out.Member("sma_slow", slow_.Value());
    out.Member("atr", atr_.Value());
    out.Member("gap_in_atr", gap_ / atr_.Value());
    out.EndObject();
  }

 private:
  InstrumentId instrument_;
  features::Sma fast_;
  features::Sma slow_;
  features::Atr atr_;
  double scale_;
  double gap_ = 0;
};

class RsiSignal final : public SignalSource {
 public:
  RsiSignal(InstrumentId instrument, int period, double band)
      : instrument_(instrument), rsi_(period), band_(band) {}
  std::string_view name() const override { return "rsi"; }

  bool OnBar(const Bar& bar, decision::Signal* signal) override {
    if (bar.instrument != instrument_) return false;
    rsi_.Update(bar.mid.close.AsDouble());
    if (!rsi_.Ready()) return false;
    RuleSignal(bar, (50.0 - rsi_.Value()) / band_, signal);
    return true;
  }

  void Describe(JsonWriter& out, bool /*explain*/) const override {
    out.Key("models");
    out.BeginObject();
    out.Member("rsi", rsi_.Value());
    out.EndObject();
  }

 private:
  InstrumentId instrument_;
  features::Rsi rsi_;
  double band_;
};

}  // namespace

const std::vector<SignalInfo>& RuleSignals() {
  static const std::vector<SignalInfo> kSignals = {
      {"sma_cross", "s = (SMA fast - SMA slow) / (scale * ATR), clamped to [-1, 1]",
       "fast (int, 10): fast SMA period\n"
       "slow (int, 30): slow SMA period\n"
       "atr (int, 14): ATR period\n"
       "scale (double, 0.5): ATRs of gap that make a full signal"},
      {"rsi", "s = (50 - RSI) / band, clamped to [-1, 1]: oversold buys, overbought sells",
       "period (int, 14): RSI period\n"
       "band (double, 20): RSI points from 50 that make a full signal"},
  };
  return kSignals;
}

Result<std::unique_ptr<SignalSource>> MakeRuleSignal(std::string_view name,
                                                     strategy::StrategyParams params,
                                                     const Instrument& instrument) {
  std::unique_ptr<SignalSource> source;
  if (name == "sma_cross") {
    AITS_ASSIGN_OR_RETURN(const int fast, params.Int("fast", 10, 2, 100'000));
    AITS_ASSIGN_OR_RETURN(const int slow, params.Int("slow", 30, 2, 100'000));
    AITS_ASSIGN_OR_RETURN(const int atr, params.Int("atr", 14, 1, 100'000));
    AITS_ASSIGN_OR_RETURN(const double scale, params.Double("scale", 0.5, 1e-6, 1e6));
    if (fast >= slow) {
      return InvalidArgument("sma_cross: fast (" + std::to_string(fast) +
                             ") must be less than slow (" + std::to_string(slow) + ")");
    }
    source = std::make_unique<SmaCrossSignal>(instrument.id, fast, slow, atr, scale);
  } else if (name == "rsi") {
    AITS_ASSIGN_OR_RETURN(const int period, params.Int("period", 14, 2, 100'000));
    AITS_ASSIGN_OR_RETURN(const double band, params.Double("band", 20, 1e-6, 50));
    source = std::make_unique<RsiSignal>(instrument.id, period, band);
  } else {
    std::string known;
    for (const SignalInfo& info : RuleSignals()) known += (known.empty() ? "" : ", ") + info.name;
    return InvalidArgument("unknown signal '" + std::string(name) + "' (known: " + known +
                           ", ml_ensemble)");
  }
  AITS_RETURN_IF_ERROR(params.CheckAllUsed(name));
  return source;
}

}  // namespace aits::trading
