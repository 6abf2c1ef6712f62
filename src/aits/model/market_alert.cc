#include "aits/model/market_alert.h"

#include <cstdio>

namespace aits {
namespace {

template <typename E, size_t N>
Result<E> ParseEnum(std::string_view text, const E (&values)[N], std::string_view what) {
  std::string names;
  for (E value : values) {
    if (ToString(value) == text) return value;
    names += (names.empty() ? "" : ", ") + std::string(ToString(value));
  }
  return InvalidArgument(std::string(what) + " '" + std::string(text) + "' is not one of " + names);
}

constexpr AlertKind kKinds[] = {AlertKind::kSpreadSpike, AlertKind::kPriceGap,
                                AlertKind::kStaleFeed, AlertKind::kCrossedQuote,
                                AlertKind::kFrozenQuote};
constexpr AlertSeverity kSeverities[] = {AlertSeverity::kInfo, AlertSeverity::kWarning,
                                         AlertSeverity::kCritical};
constexpr AlertState kStates[] = {AlertState::kRaised, AlertState::kCleared, AlertState::kOneOff};

}  // namespace

std::string_view ToString(AlertKind kind) {
  switch (kind) {
    case AlertKind::kSpreadSpike:
      return "spread_spike";
    case AlertKind::kPriceGap:
      return "price_gap";
    case AlertKind::kStaleFeed:
      return "stale_feed";
    case AlertKind::kCrossedQuote:
      return "crossed_quote";
    case AlertKind::kFrozenQuote:
      return "frozen_quote";
  }
  return "?";
}

Result<AlertKind> ParseAlertKind(std::string_view text) {
  return ParseEnum(text, kKinds, "alert kind");
}

std::string_view ToString(AlertSeverity severity) {
  switch (severity) {
    case AlertSeverity::kInfo:
      return "info";
    case AlertSeverity::kWarning:
      return "warning";
    case AlertSeverity::kCritical:
      return "critical";
  }
  return "?";
}

Result<AlertSeverity> ParseAlertSeverity(std::string_view text) {
  return ParseEnum(text, kSeverities, "alert severity");
}

std::string_view ToString(AlertState state) {
  switch (state) {
    case AlertState::kRaised:
      return "raised";
    case AlertState::kCleared:
      return "cleared";
    case AlertState::kOneOff:
      return "one_off";
  }
  return "?";
}

Result<AlertState> ParseAlertState(std::string_view text) {
  return ParseEnum(text, kStates, "alert state");
}

std::string Describe(const MarketAlert& alert) {
  std::string text = FormatIso8601(alert.ts) + " " + std::string(ToString(alert.state)) + " " +
                     std::string(ToString(alert.severity)) + " " +
                     std::string(ToString(alert.kind)) + " " + alert.symbol + " #" +
                     std::to_string(alert.id);
  if (alert.state == AlertState::kCleared) {
    char lasted[48];
    std::snprintf(lasted, sizeof(lasted), ", %.1f s)", (alert.end - alert.start).SecondsF());
    text += " (from " + FormatIso8601(alert.start) + lasted;
  }
  if (!alert.detail.empty()) text += ": " + alert.detail;
  return text;
}

}  // namespace aits
