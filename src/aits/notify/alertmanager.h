// Alertmanager's webhook notification (a `webhook_configs` receiver; payload version "4"): the
// group of alerts one POST carries, checked field by field before anything of it is used.
// docs/monitoring.md, "The notifications role".
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/status.h"

namespace aits::notify {

struct Alert {
  std::string status;  // "firing" or "resolved"
  // Prometheus' labels (alertname always; severity, instance, symbol, ... as the rule sets
  // them) and annotations (summary, description).
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string starts_at;  // RFC 3339, as Alertmanager wrote it
  std::string ends_at;    // "0001-01-01T00:00:00Z" while firing
  std::string fingerprint;
  std::string generator_url;

  const std::string& name() const { return labels.at("alertname"); }
  // A label or annotation, or "" when it has none.
  std::string Label(const std::string& key) const;
  std::string Annotation(const std::string& key) const;
};

struct AlertNotification {
  std::string receiver;
  std::string status;  // the group's: firing while any alert of it fires
  std::string group_key;
  uint64_t truncated_alerts = 0;  // alerts Alertmanager left out (its max_alerts)
  std::vector<Alert> alerts;
};

// Parses one webhook body. InvalidArgument naming the field by its JSON pointer and what is
// wrong with it ("/alerts/1/status: \"maybe\" is neither firing nor resolved"), for a body that
// is not JSON, a version other than "4", a missing or mistyped field, an alert without an
// alertname label, more than kMaxAlerts alerts.
Result<AlertNotification> ParseAlertmanagerWebhook(std::string_view body);

inline constexpr size_t kMaxAlerts = 1000;

}  // namespace aits::notify
