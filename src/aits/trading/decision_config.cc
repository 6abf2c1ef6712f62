#include <charconv>
#include <cmath>

#include "aits/trading/decision_engine.h"
#include "aits/trading/text_util.h"

namespace aits::decision {
namespace {

// Shortest text that reads back as the same double: "0.7", not "0.69999999999999996".
std::string Num(double value) {
  char buf[32];
  const auto result = std::to_chars(buf, buf + sizeof(buf), value);
  return std::string(buf, result.ptr);
}

Status BadField(std::string_view key, double value, std::string_view rule) {
  return InvalidArgument("decision config: " + std::string(key) + " " + Num(value) + " " +
                         std::string(rule));
}

// `low <= value <= high` (a bound is open when the matching flag says so), finite.
Status CheckRange(std::string_view key, double value, double low, bool low_open, double high,
                  bool high_open) {
  const bool ok = std::isfinite(value) && (low_open ? value > low : value >= low) &&
                  (high_open ? value < high : value <= high);
  if (ok) return Status::Ok();
  if (!std::isfinite(value)) return BadField(key, value, "is not a finite number");
  std::string rule = "is outside ";
  rule += low_open ? "(" : "[";
  rule += std::isinf(low) ? "-inf" : Num(low);
  rule += ", ";
  rule += std::isinf(high) ? "inf" : Num(high);
  rule += high_open ? ")" : "]";
  return BadField(key, value, rule);
}

constexpr double kInf = INFINITY;

// The rule each numeric field obeys on its own (the cross-field rules live in Validate).
Status CheckField(const DecisionConfig& config, std::string_view key) {
  if (key == "buy_threshold") return CheckRange(key, config.buy_threshold, 0, false, 1, false);
  if (key == "sell_threshold") return CheckRange(key, config.sell_threshold, -1, false, 0, false);
  if (key == "close_threshold") return CheckRange(key, config.close_threshold, 0, false, 1, false);
  if (key == "min_confidence") return CheckRange(key, config.min_confidence, 0, false, 1, false);
  if (key == "max_spread_points") {
    return CheckRange(key, config.max_spread_points, 0, false, kInf, true);
  }
  if (key == "max_anomaly") return CheckRange(key, config.max_anomaly, 0, false, kInf, true);
  if (key == "lots") return CheckRange(key, config.lots, 0, true, kInf, true);
  if (key == "risk_fraction") return CheckRange(key, config.risk_fraction, 0, true, 1, false);
  if (key == "vol_target") return CheckRange(key, config.vol_target, 0, true, 1, false);
  if (key == "max_lots") return CheckRange(key, config.max_lots, 0, false, kInf, true);
  if (key == "stop_atr") return CheckRange(key, config.stop_atr, 0, false, kInf, true);
  if (key == "take_profit_atr")
    return CheckRange(key, config.take_profit_atr, 0, false, kInf, true);
  if (key == "atr_period") {
    if (config.atr_period < 1 || config.atr_period > 100'000) {
      return InvalidArgument("decision config: atr_period " + std::to_string(config.atr_period) +
                             " is outside 1..100000");
    }
    return Status::Ok();
  }
  if (key == "blackout_before_minutes" || key == "blackout_after_minutes") {
    const Duration value =
        key == "blackout_before_minutes" ? config.blackout_before : config.blackout_after;
    if (value.ns < 0 || value > Duration::Days(7)) {
      return InvalidArgument("decision config: " + std::string(key) + " " +
                             std::to_string(value.ns / Duration::Minutes(1).ns) +
                             " is outside 0..10080");
    }
  }
  return Status::Ok();
}

double* DoubleField(DecisionConfig& config, std::string_view key) {
  if (key == "buy_threshold") return &config.buy_threshold;
  if (key == "sell_threshold") return &config.sell_threshold;
  if (key == "close_threshold") return &config.close_threshold;
  if (key == "min_confidence") return &config.min_confidence;
  if (key == "max_spread_points") return &config.max_spread_points;
  if (key == "max_anomaly") return &config.max_anomaly;
  if (key == "lots") return &config.lots;
  if (key == "risk_fraction") return &config.risk_fraction;
  if (key == "vol_target") return &config.vol_target;
  if (key == "max_lots") return &config.max_lots;
  if (key == "stop_atr") return &config.stop_atr;
  if (key == "take_profit_atr") return &config.take_profit_atr;
  return nullptr;
}

Status BadValue(std::string_view key, std::string_view value, std::string_view expected) {
  return InvalidArgument("decision config: " + std::string(key) + ": bad value '" +
                         std::string(value) + "' (expected " + std::string(expected) + ")");
}

}  // namespace

std::string_view ToString(SizingMode mode) {
  switch (mode) {
    case SizingMode::kFixedLots:
      return "fixed_lots";
    case SizingMode::kFixedFraction:
      return "fixed_fraction";
    case SizingMode::kVolTarget:
      return "vol_target";
  }
  return "?";
}

const std::vector<std::string_view>& DecisionConfig::Keys() {
  static const std::vector<std::string_view> kKeys = {"buy_threshold",
                                                      "sell_threshold",
                                                      "close_threshold",
                                                      "min_confidence",
                                                      "max_spread_points",
                                                      "max_anomaly",
                                                      "sessions",
                                                      "calendar",
                                                      "blackout_before_minutes",
                                                      "blackout_after_minutes",
                                                      "sizing",
                                                      "lots",
                                                      "risk_fraction",
                                                      "vol_target",
                                                      "scale_by_confidence",
                                                      "max_lots",
                                                      "stop_atr",
                                                      "take_profit_atr",
                                                      "atr_period"};
  return kKeys;
}

Status DecisionConfig::Validate() const {
  for (std::string_view key : Keys()) AITS_RETURN_IF_ERROR(CheckField(*this, key));
  // -1 <= sell <= -close <= 0 <= close <= buy <= 1.
  if (close_threshold > buy_threshold) {
    return InvalidArgument("decision config: close_threshold " + Num(close_threshold) +
                           " is above buy_threshold " + Num(buy_threshold));
  }
  if (sell_threshold > -close_threshold) {
    return InvalidArgument("decision config: sell_threshold " + Num(sell_threshold) +
                           " is above -close_threshold " + Num(-close_threshold));
  }
  if (sizing == SizingMode::kFixedFraction && stop_atr <= 0) {
    return InvalidArgument(
        "decision config: sizing fixed_fraction needs stop_atr > 0 (it sizes on the stop "
        "distance), got stop_atr " +
        Num(stop_atr));
  }
  return Status::Ok();
}

Status DecisionConfig::Set(std::string_view key, std::string_view value) {
  const std::string_view text = internal::Trim(value);
  if (double* field = DoubleField(*this, key)) {
    const auto number = internal::ParseFiniteDouble(text);
    if (!number) return BadValue(key, value, "a finite number");
    const double previous = *field;
    *field = *number;
    Status status = CheckField(*this, key);
    if (!status.ok()) *field = previous;
    return status;
  }
  if (key == "atr_period") {
    const auto number = internal::ParseInt(text);
    if (!number || *number < 1 || *number > 100'000) {
      return BadValue(key, value, "a whole number in 1..100000");
    }
    atr_period = static_cast<int>(*number);
    return Status::Ok();
  }
  if (key == "blackout_before_minutes" || key == "blackout_after_minutes") {
    const auto number = internal::ParseInt(text);
    if (!number || *number < 0 || *number > 7 * 24 * 60) {
      return BadValue(key, value, "whole minutes in 0..10080");
    }
    (key == "blackout_before_minutes" ? blackout_before : blackout_after) =
        Duration::Minutes(*number);
    if (calendar) calendar->SetDefaultWindow(blackout_before, blackout_after);
    return Status::Ok();
  }
  if (key == "sessions") {
    auto parsed = SessionHours::Parse(text);
    if (!parsed.ok()) return parsed.status().WithContext("decision config");
    sessions = std::move(parsed).value();
    return Status::Ok();
  }
  if (key == "calendar") {
    if (text.empty()) {
      calendar.reset();
      return Status::Ok();
    }
    auto loaded = BlackoutCalendar::Load(std::string(text), blackout_before, blackout_after);
    if (!loaded.ok()) return loaded.status().WithContext("decision config: calendar");
    calendar = std::move(loaded).value();
    return Status::Ok();
  }
  if (key == "sizing") {
    for (SizingMode mode :
         {SizingMode::kFixedLots, SizingMode::kFixedFraction, SizingMode::kVolTarget}) {
      if (text == ToString(mode)) {
        sizing = mode;
        return Status::Ok();
      }
    }
    return BadValue(key, value, "fixed_lots, fixed_fraction or vol_target");
  }
  if (key == "scale_by_confidence") {
    const std::string lower = internal::Lower(text);
    if (lower == "true" || lower == "1") {
      scale_by_confidence = true;
    } else if (lower == "false" || lower == "0") {
      scale_by_confidence = false;
    } else {
      return BadValue(key, value, "true or false");
    }
    return Status::Ok();
  }
  std::string known;
  for (std::string_view name : Keys()) {
    if (!known.empty()) known += ", ";
    known += name;
  }
  return InvalidArgument("decision config: unknown key '" + std::string(key) +
                         "' (known: " + known + ")");
}

}  // namespace aits::decision
