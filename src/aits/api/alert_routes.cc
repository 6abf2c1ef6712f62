#include "aits/api/alert_routes.h"

#include <algorithm>
#include <vector>

#include "aits/api/openapi.h"

namespace aits::api {

namespace {

// An alert as the API shows it: as the notifications role does, and with its key, the identity
// that ties its changes together (Alertmanager's fingerprint, or its name and labels).
nlohmann::json Shown(const notify::Delivered& delivered) {
  nlohmann::json shown(notify::DeliveredJson(delivered));
  shown["key"] = notify::AlertIdentity(delivered.alert);
  return shown;
}

}  // namespace

Result<std::unique_ptr<AlertBoard>> AlertBoard::Create(StreamHub* hub) {
  std::unique_ptr<AlertBoard> board(new AlertBoard());
  board->hub_ = hub;
  // No metrics: in `aits serve` the notifications role may share the process's registry, and its
  // counters count what Alertmanager sent it, not the api role's copy.
  AITS_ASSIGN_OR_RETURN(board->notifier_, notify::Notifier::Create(notify::NotifierOptions{}));
  AlertBoard* self = board.get();
  // Called under the notifier's mutex, once per change, in the order received.
  board->notifier_->AddChannel([self](const notify::Delivered& delivered) {
    const notify::Alert& alert = delivered.alert;
    const nlohmann::json shown = Shown(delivered);
    const std::string key = shown["key"].get<std::string>();
    {
      std::lock_guard lock(self->mutex_);
      ++self->changes_;
      if (alert.status == "firing") {
        self->firing_.insert_or_assign(key, Firing{self->changes_, alert.starts_at, shown});
        if (self->firing_.size() > kMaxFiring) {
          auto oldest = self->firing_.begin();
          for (auto it = self->firing_.begin(); it != self->firing_.end(); ++it) {
            if (it->second.order < oldest->second.order) oldest = it;
          }
          self->firing_.erase(oldest);
        }
      } else if (auto it = self->firing_.find(key);
                 it != self->firing_.end() && it->second.starts_at == alert.starts_at) {
        self->firing_.erase(it);
      }
    }
    if (self->hub_ != nullptr) {
      // The change's id: one start of an alert fires and resolves once.
      self->hub_->PublishBesideLog(kTopicAlerts, key + "/" + alert.status + "/" + alert.starts_at,
                                   shown);
    }
  });
  return board;
}

Result<notify::ReceiveOutcome> AlertBoard::Receive(std::string_view body) {
  return notifier_->Receive(body);
}

nlohmann::json AlertBoard::Snapshot(size_t limit) const {
  // The seq first: whatever changes after it is published at it or later.
  const uint64_t seq = hub_ != nullptr ? hub_->last_seq() : 0;
  nlohmann::json firing = nlohmann::json::array();
  {
    std::lock_guard lock(mutex_);
    std::vector<const Firing*> order;
    order.reserve(firing_.size());
    for (const auto& [key, entry] : firing_) order.push_back(&entry);
    std::sort(order.begin(), order.end(),
              [](const Firing* a, const Firing* b) { return a->order < b->order; });
    for (const Firing* entry : order) firing.push_back(entry->shown);
  }
  nlohmann::json recent = nlohmann::json::array();
  const std::vector<notify::Delivered> delivered = notifier_->Recent();
  for (auto it = delivered.rbegin(); it != delivered.rend() && recent.size() < limit; ++it) {
    recent.push_back(Shown(*it));
  }
  return {{"seq", seq}, {"firing", firing}, {"recent", recent}};
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
               Role::kAdmin,
               true,
               "alerts",
               "Alertmanager's webhook: each change of an alert once on the stream's alerts "
               "topic (give Alertmanager an API key of the notifier role, which may do nothing "
               "else)",
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
                               {"repeated", schema::Integer()}}),
               "application/json",
               {},
               /*notifier=*/true});
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
               schema::Object({{"seq", schema::Integer()},
                               {"firing", schema::ArrayOf(schema::Ref("Alert"))},
                               {"recent", schema::ArrayOf(schema::Ref("Alert"))}})});
}

}  // namespace aits::api
