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
  // Telegram (docs/monitoring.md, "Telegram"): the users, roles and alert chats (YAML); empty:
  // no bot. The token from a file (sealed or not, as --token-file) or $AITS_TELEGRAM_TOKEN.
  std::string telegram_config;
  std::string telegram_token_file;
  std::string telegram_api = "https://api.telegram.org";
  std::string telegram_audit = "telegram-audit.jsonl";
  // What the bot answers from: the session's log (a state directory, an events file or
  // postgresql://...#SESSION), its trade store and the model registry (both optional).
  std::string session;
  std::string trades;
  std::string registry;
  bool quiet = false;
  bool json = false;
};

// The exit code. `metrics`: the role's registry (its /metrics); `ready` hears Ok once the webhook
// listens, and Unavailable when it stops.
int RunNotificationsRole(const NotifyFlags& flags, Registry* metrics,
                         const std::function<void(Status)>& ready);

}  // namespace aits::app
