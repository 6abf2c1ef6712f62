#include "aits/trading/decision_engine.h"

#include <algorithm>
#include <cmath>

namespace aits::decision {
namespace {

constexpr double kRawPerUnit = static_cast<double>(kFixedScale);
// Offsets and sizes beyond this many raw units are treated as out of range (int64 headroom).
constexpr double kMaxRaw = 4e18;

int64_t FloorTo(int64_t value, int64_t step) {
  int64_t quotient = value / step;
  if (value % step != 0 && value < 0) --quotient;
  return quotient * step;
}
int64_t CeilTo(int64_t value, int64_t step) { return -FloorTo(-value, step); }

constexpr std::array<std::string_view, 5> kFilteredReasons = {
    "filtered: confidence", "filtered: spread", "filtered: anomaly", "filtered: session",
    "filtered: blackout"};

}  // namespace

std::string_view ToString(Action action) {
  switch (action) {
    case Action::kHold:
      return "HOLD";
    case Action::kBuy:
      return "BUY";
    case Action::kSell:
      return "SELL";
    case Action::kClose:
      return "CLOSE";
  }
  return "?";
}

DecisionEngine::DecisionEngine(DecisionConfig config) : config_(std::move(config)) {}

Decision DecisionEngine::Decide(const Signal& signal, const Instrument& instrument,
                                const MarketState& market) const {
  const DecisionConfig& cfg = config_;
  Decision decision;
  if (std::isnan(signal.strength)) {
    decision.reason = "invalid signal";
    return decision;
  }
  const double strength = std::clamp(signal.strength, -1.0, 1.0);
  const double confidence =
      std::isnan(signal.confidence) ? 0.0 : std::clamp(signal.confidence, 0.0, 1.0);
  const Quantity net = market.position + market.pending;
  const int64_t net_raw = net.raw();

  // The rule.
  Side side = Side::kBuy;
  if (strength > cfg.buy_threshold) {
    if (net_raw > 0) {
      decision.reason = "already long";
      return decision;
    }
  } else if (strength < cfg.sell_threshold) {
    if (net_raw < 0) {
      decision.reason = "already short";
      return decision;
    }
    side = Side::kSell;
  } else if (std::fabs(strength) < cfg.close_threshold) {
    if (net_raw == 0) {
      decision.reason = "flat";
      return decision;
    }
    // Cutting risk is never filtered.
    decision.action = Action::kClose;
    decision.side = net_raw > 0 ? Side::kSell : Side::kBuy;
    decision.lots = net.Abs();
    decision.reason = "close band";
    return decision;
  } else {
    decision.reason = "hold band";
    return decision;
  }
  decision.side = side;
  const bool buying = side == Side::kBuy;
  const bool reversing = buying ? net_raw < 0 : net_raw > 0;

  const Tick& quote = market.quote;
  if (!quote.bid.IsPositive() || !quote.ask.IsPositive() || quote.ask < quote.bid) {
    decision.reason = "no valid quote";
    return decision;
  }

  // Filters: all are evaluated so the record is complete; the first failure names the reason.
  const int digits = std::clamp(instrument.digits, 0, kFixedDigits);
  const double point_raw = static_cast<double>(Pow10(kFixedDigits - digits));
  const double spread_points = static_cast<double>(quote.ask.raw() - quote.bid.raw()) / point_raw;
  const BlackoutEvent* event = cfg.calendar ? cfg.calendar->Active(signal.ts, instrument) : nullptr;
  const bool session_open = cfg.sessions.IsOpen(signal.ts);
  decision.filters[0] = {"confidence", confidence >= cfg.min_confidence, confidence,
                         cfg.min_confidence};
  decision.filters[1] = {
      "spread", cfg.max_spread_points <= 0 || spread_points <= cfg.max_spread_points + 1e-9,
      spread_points, cfg.max_spread_points};
  decision.filters[2] = {"anomaly", cfg.max_anomaly >= 1 || signal.anomaly <= cfg.max_anomaly,
                         signal.anomaly, cfg.max_anomaly};
  decision.filters[3] = {"session", session_open, session_open ? 1.0 : 0.0, 1.0};
  decision.filters[4] = {"blackout", event == nullptr, event ? 1.0 : 0.0, 0.0};
  decision.filter_count = decision.filters.size();
  decision.blackout = event;
  for (size_t idx = 0; idx < decision.filters.size(); ++idx) {
    if (!decision.filters[idx].passed) {
      decision.reason = kFilteredReasons[idx];
      return decision;
    }
  }

  // What sizing and stops need.
  const double atr = market.atr;
  const bool atr_known = std::isfinite(atr) && atr > 0;
  const bool needs_atr =
      cfg.sizing != SizingMode::kFixedLots || cfg.stop_atr > 0 || cfg.take_profit_atr > 0;
  if (needs_atr && !atr_known) {
    decision.reason = "no ATR yet";
    return decision;
  }
  const double value_per_unit = market.value_per_price_unit;
  if (cfg.sizing != SizingMode::kFixedLots &&
      !(std::isfinite(value_per_unit) && value_per_unit > 0)) {
    decision.reason = "no price value";
    return decision;
  }

  // Stops, rounded to the tick away from the entry so the distance is never shorter than asked.
  const int64_t tick =
      instrument.tick_size.raw() > 0 ? instrument.tick_size.raw() : Pow10(kFixedDigits - digits);
  const int64_t entry = buying ? quote.ask.raw() : quote.bid.raw();
  int64_t stop_loss = 0;
  int64_t take_profit = 0;
  for (const bool is_stop : {true, false}) {
    const double multiple = is_stop ? cfg.stop_atr : cfg.take_profit_atr;
    if (!(multiple > 0)) continue;
    const double offset = multiple * atr * kRawPerUnit;
    if (!(offset < kMaxRaw)) {
      decision.reason = "stop out of range";
      return decision;
    }
    const int64_t offset_raw = std::max<int64_t>(1, std::llround(offset));
    // A buy's stop is below the entry and its target above; a sell mirrors both.
    const bool below = is_stop == buying;
    const int64_t level =
        below ? FloorTo(entry - offset_raw, tick) : CeilTo(entry + offset_raw, tick);
    if (level <= 0) {
      decision.reason = "stop out of range";
      return decision;
    }
    (is_stop ? stop_loss : take_profit) = level;
  }

  // Sizing.
  const double equity = market.equity.AsDouble();
  double raw_lots = 0;
  switch (cfg.sizing) {
    case SizingMode::kFixedLots:
      raw_lots = cfg.lots;
      break;
    case SizingMode::kFixedFraction: {
      const double distance = static_cast<double>(std::llabs(entry - stop_loss)) / kRawPerUnit;
      raw_lots = equity * cfg.risk_fraction / (distance * value_per_unit);
      break;
    }
    case SizingMode::kVolTarget:
      raw_lots = equity * cfg.vol_target / (atr * value_per_unit);
      break;
  }
  decision.raw_lots = raw_lots;
  double scaled = cfg.scale_by_confidence ? raw_lots * confidence : raw_lots;
  double cap = instrument.max_lots.AsDouble();
  if (cfg.max_lots > 0) cap = std::min(cap, cfg.max_lots);
  if (!(scaled > 0)) scaled = 0;  // NaN, negative equity
  scaled = std::min(scaled, cap);
  decision.scaled_lots = scaled;
  // Snap to the fixed-point grid first so 4.9999999999 (from 1000 / 200.00000000000003) is 5.
  const double scaled_raw = std::min(scaled * kRawPerUnit, kMaxRaw);
  const Quantity size = instrument.RoundLots(Quantity::FromRaw(std::llround(scaled_raw), 9));
  if (!size.IsPositive() || size < instrument.min_lots) {
    if (reversing) {
      decision.action = Action::kClose;
      decision.lots = net.Abs();
      decision.reason = "size below minimum lot; closing";
    } else {
      decision.reason = "size below minimum lot";
    }
    return decision;
  }

  decision.action = buying ? Action::kBuy : Action::kSell;
  decision.lots = Quantity::FromRaw(size.raw() + (reversing ? net.Abs().raw() : 0),
                                    std::max(size.precision(), net.precision()));
  if (stop_loss > 0) decision.stop_loss = Price::FromRaw(stop_loss, digits);
  if (take_profit > 0) decision.take_profit = Price::FromRaw(take_profit, digits);
  if (reversing) {
    decision.reason =
        buying ? "buy threshold (reversing short)" : "sell threshold (reversing long)";
  } else {
    decision.reason = buying ? "buy threshold" : "sell threshold";
  }
  return decision;
}

}  // namespace aits::decision
