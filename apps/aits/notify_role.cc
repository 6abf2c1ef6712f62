#include "notify_role.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "aits/api/api_service.h"
#include "aits/api/http_server.h"
#include "aits/api/model_routes.h"
#include "aits/api/session_view.h"
#include "aits/log/log.h"
#include "aits/ml/registry.h"
#include "aits/net/socket.h"
#include "aits/notify/notifier.h"
#include "aits/notify/telegram_bot.h"
#include "aits/persistence/trade_store.h"
#include "cli.h"
#include "mt5_flags.h"

namespace aits::app {
namespace {

constexpr std::string_view kWebhookPath = "/alerts/alertmanager";

// POST /alerts/alertmanager: a notification; GET /alerts: what was delivered last.
api::HttpResponse Handle(notify::Notifier& notifier, const api::HttpRequest& request) {
  if (request.path == kWebhookPath) {
    if (request.method != "POST") {
      return api::ErrorResponse(405, "method_not_allowed", "POST Alertmanager's webhook here");
    }
    Result<notify::ReceiveOutcome> received = notifier.Receive(request.body);
    // Alertmanager retries 5xx answers, not 4xx: a malformed notification is not sent again.
    if (!received.ok()) {
      return api::ErrorResponse(400, "invalid_argument", received.status().message());
    }
    return api::Json(200, {{"alerts", received->alerts},
                           {"delivered", received->delivered},
                           {"repeated", received->repeated}});
  }
  if (request.path == "/alerts") {
    if (request.method != "GET") return api::ErrorResponse(405, "method_not_allowed", "GET only");
    nlohmann::json alerts = nlohmann::json::array();
    for (const notify::Delivered& delivered : notifier.Recent()) {
      alerts.push_back(nlohmann::json(notify::DeliveredJson(delivered)));
    }
    return api::Json(200, {{"alerts", alerts}});
  }
  return api::ErrorResponse(404, "not_found",
                            "no such path: POST " + std::string(kWebhookPath) + ", GET /alerts");
}

// The session's log, opened once it exists: a notifications role may start before its session
// (Kubernetes starts roles in any order). Asked on the bot's poll thread only; one attempt a
// second at most.
class LazySession {
 public:
  explicit LazySession(std::string location) : location_(std::move(location)) {}
  ~LazySession() {
    if (view_) view_->Stop();
  }
  Result<api::SessionView*> Get() {
    if (view_) return view_.get();
    const auto now = std::chrono::steady_clock::now();
    if (now - last_try_ < std::chrono::seconds(1)) return last_error_;
    last_try_ = now;
    Result<std::unique_ptr<api::SessionView>> opened = api::SessionView::Open(location_);
    if (!opened.ok()) {
      last_error_ = opened.status();
      return last_error_;
    }
    view_ = std::move(opened).value();
    view_->Start();
    return view_.get();
  }

 private:
  std::string location_;
  std::unique_ptr<api::SessionView> view_;
  std::chrono::steady_clock::time_point last_try_{};
  Status last_error_;
};

// The bot and what it answers from, alive while the role runs.
struct Telegram {
  std::unique_ptr<LazySession> session;
  std::unique_ptr<persistence::TradeStore> trades;
  std::unique_ptr<api::ModelCatalog> models;
  std::unique_ptr<notify::TelegramBot> bot;
};

Result<std::string> TelegramToken(const NotifyFlags& flags) {
  if (!flags.telegram_token_file.empty()) {
    Result<std::string> token = ReadToken(flags.telegram_token_file);
    if (!token.ok()) return token.status().WithContext("--telegram-token-file");
    return token;
  }
  if (const char* env = std::getenv("AITS_TELEGRAM_TOKEN"); env != nullptr && *env != '\0') {
    return std::string(env);
  }
  return InvalidArgument(
      "the Telegram bot's token is missing: give --telegram-token-file FILE or set "
      "AITS_TELEGRAM_TOKEN (@BotFather's token; docs/monitoring.md, \"Telegram\")");
}

Result<Telegram> StartTelegram(const NotifyFlags& flags, notify::Notifier& notifier,
                               Registry* metrics) {
  Telegram telegram;
  AITS_ASSIGN_OR_RETURN(notify::TelegramBotOptions options,
                        notify::LoadTelegramBotConfig(flags.telegram_config));
  options.audit_file = flags.telegram_audit;
  AITS_ASSIGN_OR_RETURN(const std::string token, TelegramToken(flags));
  notify::TelegramOptions client;
  client.base_url = flags.telegram_api;
  client.token = token;
  AITS_ASSIGN_OR_RETURN(notify::TelegramClient made, notify::TelegramClient::Create(client));
  telegram.session = std::make_unique<LazySession>(flags.session);
  if (Result<api::SessionView*> view = telegram.session->Get(); !view.ok()) {
    AITS_LOG_WARN("telegram", "no session yet; the bot looks for it at each command",
                  {{"session", flags.session}, {"error", view.status().message()}});
  }
  if (!flags.trades.empty()) {
    Result<std::unique_ptr<persistence::TradeStore>> trades =
        persistence::OpenTradeStore(flags.trades);
    if (!trades.ok()) return trades.status().WithContext("--trades");
    telegram.trades = std::move(trades).value();
  }
  if (!flags.registry.empty()) {
    Result<ml::ModelRegistry> registry = ml::ModelRegistry::Open(flags.registry, false);
    if (!registry.ok()) return registry.status().WithContext("--registry");
    telegram.models = std::make_unique<api::ModelCatalog>(std::move(registry).value());
  }
  Result<std::unique_ptr<notify::TelegramBot>> bot = notify::TelegramBot::Create(
      std::move(made), std::move(options), [raw = telegram.session.get()] { return raw->Get(); },
      telegram.trades.get(), telegram.models.get(), metrics);
  if (!bot.ok()) return bot.status().WithContext("--telegram-config");
  telegram.bot = std::move(bot).value();
  notify::TelegramBot* raw = telegram.bot.get();
  notifier.AddChannel([raw](const notify::Delivered& delivered) { raw->QueueAlert(delivered); });
  telegram.bot->Start();
  return telegram;
}

}  // namespace

int RunNotificationsRole(const NotifyFlags& flags, Registry* metrics,
                         const std::function<void(Status)>& ready) {
  Result<net::Endpoint> at = net::ParseEndpoint(flags.listen);
  if (!at.ok()) return Fail(at.status().WithContext("--notify-listen"));
  notify::NotifierOptions options;
  options.alerts_file = flags.alerts_file;
  auto notifier = notify::Notifier::Create(options, metrics);
  if (!notifier.ok()) return Fail(notifier.status().WithContext("--alerts-file"));
  api::HttpServerOptions http;
  http.host = at->host;
  http.port = at->port;
  http.threads = 1;
  std::optional<Telegram> telegram;
  if (!flags.telegram_config.empty()) {
    Result<Telegram> started = StartTelegram(flags, **notifier, metrics);
    if (!started.ok()) return Fail(started.status());
    telegram = std::move(started).value();
  }
  auto server = api::HttpServer::Start(
      http, [raw = notifier->get()](const api::HttpRequest& r) { return Handle(*raw, r); });
  if (!server.ok()) return Fail(server.status().WithContext("--notify-listen"));
  const std::string url =
      "http://" + at->host + ":" + std::to_string((*server)->port()) + std::string(kWebhookPath);
  if (ready) ready(Status::Ok());
  if (flags.json) {
    std::printf("%s\n", nlohmann::ordered_json{{"webhook", url}}.dump().c_str());
  } else if (!flags.quiet) {
    std::fprintf(stderr,
                 "aits serve: notifications: Alertmanager's webhook on %s%s (Ctrl-C stops)\n",
                 url.c_str(), telegram ? "; the Telegram bot polls" : "");
  }
  std::fflush(stdout);
  while (!StopSignals::stopped()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (ready) ready(Unavailable("stopping"));
  (*server)->Stop();
  if (telegram) telegram->bot->Stop();
  const size_t delivered = (*notifier)->Recent().size();
  if (flags.json) {
    std::printf("%s\n", nlohmann::ordered_json{{"stopped", "signal"},
                                               {"recent_alerts", delivered},
                                               {"rejected", (*notifier)->rejected()}}
                            .dump()
                            .c_str());
  } else if (!flags.quiet) {
    std::fprintf(stderr,
                 "aits serve: notifications: stopped by signal; %zu recent alert(s), %llu "
                 "notification(s) refused\n",
                 delivered, static_cast<unsigned long long>((*notifier)->rejected()));
  }
  return 0;
}

}  // namespace aits::app
