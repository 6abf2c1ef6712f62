// `aits serve --role notifications` (docs/monitoring.md, "The notifications role"): Alertmanager's
// webhook on --notify-listen, each change of an alert delivered once to the log and the alerts
// file (notify/notifier.h). Runs until SIGINT or SIGTERM.
#pragma once

#include <functional>
#include <string>

#include "aits/core/metrics.h"
#include "aits/core/status.h"

namespace aits::app {

struct NotifyFlags {
  std::string listen = "127.0.0.1:9095";
  std::string alerts_file;  // empty: none
  bool quiet = false;
  bool json = false;
};

// The exit code. `metrics`: the role's registry (its /metrics); `ready` hears Ok once the webhook
// listens, and Unavailable when it stops.
int RunNotificationsRole(const NotifyFlags& flags, Registry* metrics,
                         const std::function<void(Status)>& ready);

}  // namespace aits::app
