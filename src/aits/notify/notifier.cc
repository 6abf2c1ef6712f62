#include "aits/notify/notifier.h"

#include <nlohmann/json.hpp>

#include "aits/core/clock.h"
#include "aits/core/time.h"
#include "aits/log/log.h"

namespace aits::notify {

std::string AlertIdentity(const Alert& alert) {
  if (!alert.fingerprint.empty()) return alert.fingerprint;
  std::string id;
  for (const auto& [name, value] : alert.labels) id += name + "=" + value + "\n";
  return id;
}

nlohmann::ordered_json DeliveredJson(const Delivered& delivered) {
  const Alert& alert = delivered.alert;
  return {{"received", delivered.received},
          {"status", alert.status},
          {"alertname", alert.name()},
          {"severity", alert.Label("severity")},
          {"summary", alert.Annotation("summary")},
          {"labels", alert.labels},
          {"annotations", alert.annotations},
          {"starts_at", alert.starts_at},
          {"ends_at", alert.ends_at},
          {"fingerprint", alert.fingerprint}};
}

Result<std::unique_ptr<Notifier>> Notifier::Create(const NotifierOptions& options,
                                                   Registry* metrics) {
  std::unique_ptr<Notifier> notifier(new Notifier());
  notifier->options_ = options;
  if (!options.alerts_file.empty()) {
    notifier->file_ = std::fopen(options.alerts_file.c_str(), "a");
    if (notifier->file_ == nullptr) {
      return IoError("cannot open " + options.alerts_file + " for appending");
    }
  }
  if (metrics != nullptr) {
    AITS_ASSIGN_OR_RETURN(notifier->received_,
                          metrics->AddCounter("aits_alerts_received_total",
                                              "Alerts in the webhook notifications received, by "
                                              "status.",
                                              {"status"}));
    AITS_ASSIGN_OR_RETURN(notifier->delivered_,
                          metrics->AddCounter("aits_alerts_delivered_total",
                                              "Changes of alerts delivered (once each), by "
                                              "status.",
                                              {"status"}));
    AITS_ASSIGN_OR_RETURN(Family<Counter> * repeated,
                          metrics->AddCounter("aits_alerts_repeated_total",
                                              "Alerts received again without a change (not "
                                              "delivered again)."));
    AITS_ASSIGN_OR_RETURN(notifier->repeated_, repeated->With({}));
    AITS_ASSIGN_OR_RETURN(Family<Counter> * malformed,
                          metrics->AddCounter("aits_alert_webhooks_rejected_total",
                                              "Webhook notifications refused as malformed."));
    AITS_ASSIGN_OR_RETURN(notifier->malformed_, malformed->With({}));
  }
  return notifier;
}

Notifier::~Notifier() {
  if (file_ != nullptr) std::fclose(file_);
}

void Notifier::AddChannel(Channel channel) {
  std::lock_guard<std::mutex> lock(mutex_);
  channels_.push_back(std::move(channel));
}

Result<ReceiveOutcome> Notifier::Receive(std::string_view body) {
  Result<AlertNotification> parsed = ParseAlertmanagerWebhook(body);
  std::lock_guard<std::mutex> lock(mutex_);
  if (!parsed.ok()) {
    ++rejected_;
    if (malformed_ != nullptr) malformed_->Increment();
    const Status status = parsed.status().WithContext("alertmanager webhook");
    AITS_LOG_WARN("notifications", "webhook refused", {{"error", status.message()}});
    return status;
  }
  const std::string received = FormatIso8601(SystemWallClock().Now());
  ReceiveOutcome outcome;
  outcome.alerts = parsed->alerts.size();
  for (const Alert& alert : parsed->alerts) {
    if (received_ != nullptr) {
      if (Result<Counter*> counter = received_->With({{"status", alert.status}}); counter.ok()) {
        (*counter)->Increment();
      }
    }
    Key key{AlertIdentity(alert), alert.status, alert.starts_at};
    if (seen_.contains(key)) {
      ++outcome.repeated;
      if (repeated_ != nullptr) repeated_->Increment();
      continue;
    }
    seen_.insert(key);
    seen_order_.push_back(std::move(key));
    while (seen_order_.size() > options_.remembered) {
      seen_.erase(seen_order_.front());
      seen_order_.pop_front();
    }
    Deliver(alert, received);
    ++outcome.delivered;
  }
  if (parsed->truncated_alerts > 0) {
    AITS_LOG_WARN("notifications", "alertmanager left alerts out of a notification",
                  {{"truncated", std::to_string(parsed->truncated_alerts)},
                   {"group_key", parsed->group_key}});
  }
  return outcome;
}

void Notifier::Deliver(const Alert& alert, const std::string& received) {
  if (delivered_ != nullptr) {
    if (Result<Counter*> counter = delivered_->With({{"status", alert.status}}); counter.ok()) {
      (*counter)->Increment();
    }
  }
  AITS_LOG_WARN("notifications", "alert " + alert.status + ": " + alert.name(),
                {{"severity", alert.Label("severity")},
                 {"instance", alert.Label("instance")},
                 {"summary", alert.Annotation("summary")},
                 {"starts_at", alert.starts_at},
                 {"fingerprint", alert.fingerprint}});
  Delivered delivered{alert, received};
  if (file_ != nullptr) {
    const std::string text =
        DeliveredJson(delivered).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
        "\n";
    std::fwrite(text.data(), 1, text.size(), file_);
    std::fflush(file_);
  }
  for (const Channel& channel : channels_) channel(delivered);
  recent_.push_back(std::move(delivered));
  while (recent_.size() > options_.recent) recent_.pop_front();
}

std::vector<Delivered> Notifier::Recent() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return {recent_.begin(), recent_.end()};
}

uint64_t Notifier::rejected() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return rejected_;
}

}  // namespace aits::notify
