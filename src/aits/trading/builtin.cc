// The built-in rule-based strategies. Both decide on bar closes only, from the bar's mid close,
// and trade by moving the position to a target (so a reversal is one order).
#include <memory>

#include "aits/features/indicators.h"
#include "aits/trading/strategy.h"

namespace aits::strategy {
namespace {

struct CommonParams {
  Quantity lots;
  double sl_pips = 0;
  double tp_pips = 0;
  bool long_short = true;
};

Result<CommonParams> ReadCommon(StrategyParams& params, const Instrument& instrument) {
  CommonParams common;
  AITS_ASSIGN_OR_RETURN(double lots, params.Double("lots", 1.0, 0.0, 1e6));
  AITS_ASSIGN_OR_RETURN(common.sl_pips, params.Double("sl_pips", 0.0, 0.0, 1e6));
  AITS_ASSIGN_OR_RETURN(common.tp_pips, params.Double("tp_pips", 0.0, 0.0, 1e6));
  AITS_ASSIGN_OR_RETURN(std::string mode,
                        params.Choice("mode", "long_short", {"long_only", "long_short"}));
  common.long_short = mode == "long_short";
  AITS_ASSIGN_OR_RETURN(Quantity qty, Quantity::FromDouble(lots, instrument.LotPrecision()));
  common.lots = instrument.RoundLots(qty);
  if (!common.lots.IsPositive()) {
    return InvalidArgument("parameter 'lots' value " + std::to_string(lots) +
                           " rounds to zero at lot step " + instrument.lot_step.ToString());
  }
  return common;
}

// Shared order plumbing: entries carry SL/TP in pips from the current touch.
class RuleStrategy : public Strategy {
 public:
  RuleStrategy(const Instrument& instrument, CommonParams common)
      : instrument_(instrument), common_(common) {}
  // The rule strategies decide on bars; none overrides OnTick.
  bool WantsTicks() const override { return false; }

 protected:
  void GoTo(int direction, std::string tag) {
    const InstrumentId id = instrument_.id;
    const Quantity target =
        direction > 0 ? common_.lots : (direction < 0 ? -common_.lots : Quantity());
    // Where the position is heading, counting orders still travelling to the venue, so that a
    // latency longer than a bar never stacks up duplicate entries.
    const Quantity heading = context().position(id).quantity + context().PendingLots(id);
    if (target == heading) return;
    if (direction == 0 || (common_.sl_pips == 0 && common_.tp_pips == 0)) {
      MoveToTarget(id, target, std::move(tag));
      return;
    }
    // Entries with protection: price SL/TP off the touch the order will most likely get.
    const std::optional<Tick> quote = context().LastQuote(id);
    OrderRequest request;
    request.instrument = id;
    request.side = direction > 0 ? Side::kBuy : Side::kSell;
    request.quantity = (target - heading).Abs();
    request.tag = std::move(tag);
    if (quote) {
      const Price entry = direction > 0 ? quote->ask : quote->bid;
      const int64_t pip = instrument_.pip_size.raw();
      if (common_.sl_pips > 0) {
        const auto offset = static_cast<int64_t>(common_.sl_pips * static_cast<double>(pip));
        request.stop_loss = Price::FromRaw(entry.raw() - direction * offset, instrument_.digits);
      }
      if (common_.tp_pips > 0) {
        const auto offset = static_cast<int64_t>(common_.tp_pips * static_cast<double>(pip));
        request.take_profit = Price::FromRaw(entry.raw() + direction * offset, instrument_.digits);
      }
    }
    SubmitNetted(context(), request);
  }

  const Instrument& instrument_;
  CommonParams common_;
};

class SmaCross final : public RuleStrategy {
 public:
  SmaCross(const Instrument& instrument, CommonParams common, int fast, int slow)
      : RuleStrategy(instrument, common), fast_(fast), slow_(slow) {}
  std::string_view name() const override { return "sma_cross"; }

  void OnBar(const Bar& bar) override {
    if (bar.instrument != instrument_.id) return;
    const double close = bar.mid.close.AsDouble();
    fast_.Update(close);
    slow_.Update(close);
    if (!fast_.Ready() || !slow_.Ready()) return;
    cross_.Update(fast_.Value(), slow_.Value());
    if (!cross_.Ready()) return;
    const double signal = cross_.Value();
    if (signal > 0) {
      GoTo(1, "cross_up");
    } else if (signal < 0) {
      GoTo(common_.long_short ? -1 : 0, "cross_down");
    }
  }

 private:
  features::Sma fast_;
  features::Sma slow_;
  features::Crossover cross_;
};

class RsiReversion final : public RuleStrategy {
 public:
  RsiReversion(const Instrument& instrument, CommonParams common, int period, double lower,
               double upper, double exit_level)
      : RuleStrategy(instrument, common),
        rsi_(period),
        lower_(lower),
        upper_(upper),
        exit_(exit_level) {}
  std::string_view name() const override { return "rsi_reversion"; }

  void OnBar(const Bar& bar) override {
    if (bar.instrument != instrument_.id) return;
    rsi_.Update(bar.mid.close.AsDouble());
    if (!rsi_.Ready()) return;
    const double rsi = rsi_.Value();
    const Quantity held =
        context().position(instrument_.id).quantity + context().PendingLots(instrument_.id);
    if (rsi < lower_) {
      GoTo(1, "oversold");
    } else if (rsi > upper_ && common_.long_short) {
      GoTo(-1, "overbought");
    } else if (held.IsPositive() && rsi >= exit_) {
      GoTo(0, "exit_long");
    } else if (held.IsNegative() && rsi <= exit_) {
      GoTo(0, "exit_short");
    } else if (held.IsPositive() && rsi > upper_) {
      GoTo(0, "exit_long");
    }
  }

 private:
  features::Rsi rsi_;
  double lower_;
  double upper_;
  double exit_;
};

// Baseline: long from the first bar to the end.
class BuyAndHold final : public RuleStrategy {
 public:
  using RuleStrategy::RuleStrategy;
  std::string_view name() const override { return "buy_and_hold"; }
  void OnBar(const Bar& bar) override {
    if (bar.instrument == instrument_.id) GoTo(1, "buy_and_hold");
  }
};

// Baseline: every `hold` bars a new position drawn uniformly from long / flat / short (flat /
// long in long_only mode) by a seeded generator, so a model's signal can be compared with luck
// at the same trading frequency and costs. SplitMix64 keeps the draws identical on every
// standard library.
class RandomSignal final : public RuleStrategy {
 public:
  RandomSignal(const Instrument& instrument, CommonParams common, int hold, uint64_t seed)
      : RuleStrategy(instrument, common), hold_(hold), state_(seed) {}
  std::string_view name() const override { return "random_signal"; }
  void OnBar(const Bar& bar) override {
    if (bar.instrument != instrument_.id) return;
    if (bars_++ % hold_ != 0) return;
    const uint64_t draw = Next();
    const int direction =
        common_.long_short ? static_cast<int>(draw % 3) - 1 : static_cast<int>(draw % 2);
    GoTo(direction, "random");
  }

 private:
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  int hold_;
  uint64_t state_;
  uint64_t bars_ = 0;
};

constexpr const char* kCommonHelp =
    "  lots (number, 1.0): position size in lots, rounded down to the lot step\n"
    "  mode (long_only|long_short, long_short): whether to go short\n"
    "  sl_pips (number, 0 = none): stop-loss distance from the entry touch\n"
    "  tp_pips (number, 0 = none): take-profit distance from the entry touch\n";

}  // namespace

const std::vector<StrategyInfo>& BuiltInStrategies() {
  static const std::vector<StrategyInfo> kInfos = {
      {"sma_cross",
       "Long when the fast SMA of mid closes crosses above the slow one; flat (long_only) or "
       "short (long_short) when it crosses below.",
       std::string("  fast (int, 10): fast SMA period in bars\n"
                   "  slow (int, 30): slow SMA period in bars\n") +
           kCommonHelp},
      {"rsi_reversion",
       "Mean reversion on Wilder's RSI: long below `lower`, short above `upper` (long_short), "
       "exit when RSI returns to `exit`.",
       std::string("  period (int, 14): RSI period in bars\n"
                   "  lower (number, 30): oversold level\n"
                   "  upper (number, 70): overbought level\n"
                   "  exit (number, 50): level that closes the position\n") +
           kCommonHelp},
      {"buy_and_hold",
       "Baseline: long `lots` from the first bar to the end of the data (mode, sl_pips "
       "and tp_pips are accepted for uniformity; a stop ends the position).",
       kCommonHelp},
      {"random_signal",
       "Baseline: every `hold` bars a position drawn at random (seeded) from long, flat and "
       "short; the luck a model's signal must beat at the same trading frequency.",
       std::string("  hold (int, 15): bars between draws\n"
                   "  seed (int, 1): random seed\n") +
           kCommonHelp},
  };
  return kInfos;
}

Result<std::unique_ptr<Strategy>> MakeStrategy(std::string_view name, StrategyParams params,
                                               const Instrument& instrument) {
  const std::string where = "strategy '" + std::string(name) + "': ";
  if (name == "sma_cross") {
    AITS_ASSIGN_OR_RETURN(int fast, params.Int("fast", 10, 1, 100'000));
    AITS_ASSIGN_OR_RETURN(int slow, params.Int("slow", 30, 1, 100'000));
    if (fast >= slow) {
      return InvalidArgument(where + "fast " + std::to_string(fast) +
                             " must be smaller than slow " + std::to_string(slow));
    }
    auto common = ReadCommon(params, instrument);
    if (!common.ok()) return common.status().WithContext(where);
    AITS_RETURN_IF_ERROR(params.CheckAllUsed(name));
    return std::unique_ptr<Strategy>(std::make_unique<SmaCross>(instrument, *common, fast, slow));
  }
  if (name == "rsi_reversion") {
    AITS_ASSIGN_OR_RETURN(int period, params.Int("period", 14, 2, 100'000));
    AITS_ASSIGN_OR_RETURN(double lower, params.Double("lower", 30, 0, 100));
    AITS_ASSIGN_OR_RETURN(double upper, params.Double("upper", 70, 0, 100));
    AITS_ASSIGN_OR_RETURN(double exit_level, params.Double("exit", 50, 0, 100));
    if (!(lower < exit_level && exit_level < upper)) {
      return InvalidArgument(where + "levels must satisfy lower < exit < upper (got " +
                             std::to_string(lower) + ", " + std::to_string(exit_level) + ", " +
                             std::to_string(upper) + ")");
    }
    auto common = ReadCommon(params, instrument);
    if (!common.ok()) return common.status().WithContext(where);
    AITS_RETURN_IF_ERROR(params.CheckAllUsed(name));
    return std::unique_ptr<Strategy>(
        std::make_unique<RsiReversion>(instrument, *common, period, lower, upper, exit_level));
  }
  std::string names;
  if (name == "buy_and_hold") {
    auto common = ReadCommon(params, instrument);
    if (!common.ok()) return common.status().WithContext(where);
    AITS_RETURN_IF_ERROR(params.CheckAllUsed(name));
    return std::unique_ptr<Strategy>(std::make_unique<BuyAndHold>(instrument, *common));
  }
  if (name == "random_signal") {
    AITS_ASSIGN_OR_RETURN(int hold, params.Int("hold", 15, 1, 1'000'000));
    AITS_ASSIGN_OR_RETURN(int seed, params.Int("seed", 1, 0, 2'000'000'000));
    auto common = ReadCommon(params, instrument);
    if (!common.ok()) return common.status().WithContext(where);
    AITS_RETURN_IF_ERROR(params.CheckAllUsed(name));
    return std::unique_ptr<Strategy>(
        std::make_unique<RandomSignal>(instrument, *common, hold, static_cast<uint64_t>(seed)));
  }
  for (const auto& info : BuiltInStrategies()) names += (names.empty() ? "" : ", ") + info.name;
  return InvalidArgument("unknown strategy '" + std::string(name) + "' (built in: " + names + ")");
}

}  // namespace aits::strategy
