// The alerts the API shows (docs/api.md, "Alerts"): Alertmanager posts to the api role as to the
// notifications role (a receiver of its own), with an API key of the notifier role, which may
// post alerts and do nothing else (OAuth2 client credentials, or the key itself). Each change of an
// alert — it fired, it resolved — goes once to the stream's `alerts` topic; GET /api/v1/alerts
// answers what fires now and the latest changes. Alertmanager's repeats of a change are counted,
// not published again (notify::Notifier).
//
// An alert is not an event of the session's log: a feed gone stale or a role down must reach the
// dashboard when the session cannot write. So alerts live in the api role's memory; a restarted
// api role knows a firing alert again when Alertmanager next sends it (its repeat_interval).
//
// Thread-safety: every call from any thread.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "aits/api/api_service.h"
#include "aits/api/stream_hub.h"
#include "aits/core/status.h"
#include "aits/notify/notifier.h"

namespace aits::api {

class AlertBoard {
 public:
  // `hub`: where each change is published (null: none); it must outlive the board.
  static Result<std::unique_ptr<AlertBoard>> Create(StreamHub* hub);

  // One webhook body; Notifier::Receive's outcome or its InvalidArgument naming the field.
  Result<notify::ReceiveOutcome> Receive(std::string_view body);
  // {"seq", "firing": [alerts firing now, the oldest first], "recent": [the last `limit`
  // changes, newest first]}: each alert as notify::DeliveredJson shows it, with its `key`. A
  // client that subscribes to the alerts topic from `seq` misses no change made after this
  // snapshot (it may get some again).
  nlohmann::json Snapshot(size_t limit) const;
  // Alerts kept as firing at most; the longest firing is forgotten first (a resolution lost on
  // the way must not keep a banner, or memory, forever).
  static constexpr size_t kMaxFiring = 1000;

 private:
  AlertBoard() = default;

  StreamHub* hub_ = nullptr;
  std::unique_ptr<notify::Notifier> notifier_;
  mutable std::mutex mutex_;
  // By AlertIdentity; erased when the same start of it resolves (a late resolution of an older
  // start leaves a newer one firing).
  struct Firing {
    uint64_t order = 0;  // when it fired, among the changes
    std::string starts_at;
    nlohmann::json shown;
  };
  std::map<std::string, Firing> firing_;
  uint64_t changes_ = 0;
};

// POST /api/v1/alerts/alertmanager (a notifier's key, or an admin) and GET
// /api/v1/alerts (viewer). The board must outlive the service.
void AddAlertRoutes(ApiService& service, AlertBoard& board);

}  // namespace aits::api
