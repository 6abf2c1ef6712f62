#include "aits/api/alert_routes.h"

#include <algorithm>
#include <vector>

#include "aits/api/openapi.h"

namespace aits::api {

Result<std::unique_ptr<AlertBoard>> AlertBoard::Create(StreamHub* hub) {
  std::unique_ptr<AlertBoard> board(new AlertBoard());
  board->hub_ = hub;
  // No metrics: in `aits serve` the notifications role may share the process's registry, and its
  // counters count what Alertmanager sent it, not the api role's copy.
  AITS_ASSIGN_OR_RETURN(board->notifier_, notify::Notifier::Create(notify::NotifierOptions{}));
  AlertBoard* self = board.get();
  // Called under the notifier's mutex, once per change, in the order received.
  board->notifier_->AddChannel([self](const notify::Delivered& delivered) {
    const nlohmann::json shown(notify::DeliveredJson(delivered));
    const std::string identity = notify::AlertIdentity(delivered.alert);
    {
      std::lock_guard lock(self->mutex_);
      ++self->changes_;
      if (delivered.alert.status == "firing") {
        self->firing_.insert_or_assign(identity, std::make_pair(self->changes_, shown));
      } else {
        self->firing_.erase(identity);
      }
    }
    if (self->hub_ != nullptr) {
      // The change's id: one alert fires and resolves once per start.
      self->hub_->PublishBesideLog(
          kTopicAlerts, identity + "/" + delivered.alert.status + "/" + delivered.alert.starts_at,
          shown);
    }
  });
  return board;
}

Result<notify::ReceiveOutcome> AlertBoard::Receive(std::string_view body) {
  return notifier_->Receive(body);
}

nlohmann::json AlertBoard::Snapshot(size_t limit) const {
  nlohmann::json firing = nlohmann::json::array();
  {
    std::lock_guard lock(mutex_);
    std::vector<const std::pair<uint64_t, nlohmann::json>*> order;
    order.reserve(firing_.size());
    for (const auto& [identity, entry] : firing_) order.push_back(&entry);
    std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->first < b->first; });
    for (const auto* entry : order) firing.push_back(entry->second);
  }
  nlohmann::json recent = nlohmann::json::array();
  const std::vector<notify::Delivered> delivered = notifier_->Recent();
  for (auto it = delivered.rbegin(); it != delivered.rend() && recent.size() < limit; ++it) {
    recent.push_back(nlohmann::json(notify::DeliveredJson(*it)));
  }
  return {{"firing", firing}, {"recent", recent}};
}

void AddAlertRoutes(ApiService& service, AlertBoard& board) {
  AlertBoard* b = &board;
  const nlohmann::json labels = schema::StringMap();
  // Alertmanager's webhook payload (version 4), as far as the API reads it.
  const nlohmann::json webhook = schema::Object(
      {{"version", schema::Enum({"4"})},
       {"status", schema::Enum({"firing", "resolved"})},
       {"alerts", schema::ArrayOf(schema::Object({{"status", schema::Enum({"firing", "resolved"})},
                                                  {"labels", labels},
                                                  {"startsAt", schema::String()}},
                                                 {{"annotations", labels},
                                                  {"endsAt", schema::String()},
                                                  {"fingerprint", schema::String()},
                                                  {"generatorURL", schema::String()}}))}},
      {{"receiver", schema::String()},
       {"groupKey", schema::String()},
       {"truncatedAlerts", schema::Integer()},
       {"groupLabels", labels},
       {"commonLabels", labels},
       {"commonAnnotations", labels},
       {"externalURL", schema::String()}});
  service.Add({"POST",
               "/api/v1/alerts/alertmanager",
               Role::kTrader,
               true,
               "alerts",
               "Alertmanager's webhook: each change of an alert once on the stream's alerts "
               "topic (give Alertmanager an API key of its own, role trader)",
               {},
               webhook,
               [b](RequestContext& ctx) {
                 Result<notify::ReceiveOutcome> received = b->Receive(ctx.http.body);
                 ctx.audit_target = "alertmanager";
                 // Alertmanager retries a 5xx, not a 4xx: a malformed body is not sent again.
                 if (!received.ok()) return FromStatus(ctx, received.status());
                 ctx.audit_detail = "alerts: " + std::to_string(received->alerts) +
                                    ", new: " + std::to_string(received->delivered);
                 return Json(200, {{"alerts", received->alerts},
                                   {"delivered", received->delivered},
                                   {"repeated", received->repeated}});
               },
               200,
               schema::Object({{"alerts", schema::Integer()},
                               {"delivered", schema::Integer()},
                               {"repeated", schema::Integer()}})});
  service.Add({"GET",
               "/api/v1/alerts",
               Role::kViewer,
               false,
               "alerts",
               "The alerts firing now, and the latest changes (newest first)",
               {{"limit", "integer", "at most this many changes (1..1000, default 100)"}},
               nullptr,
               [b](RequestContext& ctx) {
                 Result<PageQuery> page = ParsePageQuery(ctx.query);
                 if (!page.ok()) return FromStatus(ctx, page.status());
                 return Json(200, b->Snapshot(page->limit));
               },
               200,
               schema::Object({{"firing", schema::ArrayOf(schema::Ref("Alert"))},
                               {"recent", schema::ArrayOf(schema::Ref("Alert"))}})});
}

}  // namespace aits::api
