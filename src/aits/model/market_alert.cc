#include "aits/model/market_alert.h"

#include <cstdio>

namespace aits {
namespace {

// One table per enum, in declaration order: ToString indexes it and the parser searches it, so
// every name printed parses back and no second list of names can drift from the first.
template <typename E>
struct Named {
  E value;
  std::string_view name;
};

template <typename E, size_t N>
constexpr bool InDeclarationOrder(const Named<E> (&table)[N]) {
  for (size_t i = 0; i < N; ++i) {
    if (static_cast<size_t>(table[i].value) != i) return false;
  }
  return true;
}

template <typename E, size_t N>
std::string_view NameOf(E value, const Named<E> (&table)[N]) {
  const auto index = static_cast<size_t>(value);
  return index < N ? table[index].name : "?";
}

template <typename E, size_t N>
Result<E> ParseEnum(std::string_view text, const Named<E> (&table)[N], std::string_view what) {
  std::string names;
  for (const Named<E>& entry : table) {
    if (entry.name == text) return entry.value;
    names += (names.empty() ? "" : ", ") + std::string(entry.name);
  }
  return InvalidArgument(std::string(what) + " '" + std::string(text) + "' is not one of " + names);
}

constexpr Named<AlertKind> kKinds[] = {{AlertKind::kSpreadSpike, "spread_spike"},
                                       {AlertKind::kPriceGap, "price_gap"},
                                       {AlertKind::kStaleFeed, "stale_feed"},
                                       {AlertKind::kCrossedQuote, "crossed_quote"},
                                       {AlertKind::kFrozenQuote, "frozen_quote"}};
constexpr Named<AlertSeverity> kSeverities[] = {{AlertSeverity::kInfo, "info"},
                                                {AlertSeverity::kWarning, "warning"},
                                                {AlertSeverity::kCritical, "critical"}};
constexpr Named<AlertState> kStates[] = {{AlertState::kRaised, "raised"},
                                         {AlertState::kCleared, "cleared"},
                                         {AlertState::kOneOff, "one_off"}};
static_assert(InDeclarationOrder(kKinds) && InDeclarationOrder(kSeverities) &&
              InDeclarationOrder(kStates));

}  // namespace

std::string_view ToString(AlertKind kind) { return NameOf(kind, kKinds); }

Result<AlertKind> ParseAlertKind(std::string_view text) {
  return ParseEnum(text, kKinds, "alert kind");
}

std::string_view ToString(AlertSeverity severity) { return NameOf(severity, kSeverities); }

Result<AlertSeverity> ParseAlertSeverity(std::string_view text) {
  return ParseEnum(text, kSeverities, "alert severity");
}

std::string_view ToString(AlertState state) { return NameOf(state, kStates); }

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
