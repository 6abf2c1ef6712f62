#include "notify_role.h"

#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include <nlohmann/json.hpp>

#include "aits/api/http_server.h"
#include "aits/net/socket.h"
#include "aits/notify/notifier.h"
#include "cli.h"

namespace aits::app {
namespace {

constexpr std::string_view kWebhookPath = "/alerts/alertmanager";

api::HttpResponse Json(int status, const nlohmann::ordered_json& body) {
  api::HttpResponse response;
  response.status = status;
  response.body = body.dump();
  return response;
}

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
    return Json(200, {{"alerts", received->alerts},
                      {"delivered", received->delivered},
                      {"repeated", received->repeated}});
  }
  if (request.path == "/alerts") {
    if (request.method != "GET") return api::ErrorResponse(405, "method_not_allowed", "GET only");
    nlohmann::ordered_json alerts = nlohmann::ordered_json::array();
    for (const notify::Delivered& delivered : notifier.Recent()) {
      const notify::Alert& alert = delivered.alert;
      alerts.push_back({{"received", delivered.received},
                        {"status", alert.status},
                        {"alertname", alert.name()},
                        {"labels", alert.labels},
                        {"annotations", alert.annotations},
                        {"starts_at", alert.starts_at},
                        {"ends_at", alert.ends_at}});
    }
    return Json(200, {{"alerts", alerts}});
  }
  return api::ErrorResponse(404, "not_found",
                            "no such path: POST " + std::string(kWebhookPath) + ", GET /alerts");
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
  auto server = api::HttpServer::Start(
      http, [raw = notifier->get()](const api::HttpRequest& r) { return Handle(*raw, r); });
  if (!server.ok()) return Fail(server.status().WithContext("--notify-listen"));
  const std::string url =
      "http://" + at->host + ":" + std::to_string((*server)->port()) + std::string(kWebhookPath);
  if (ready) ready(Status::Ok());
  if (flags.json) {
    std::printf("%s\n", nlohmann::ordered_json{{"webhook", url}}.dump().c_str());
  } else if (!flags.quiet) {
    std::fprintf(stderr, "aits serve: notifications: Alertmanager's webhook on %s (Ctrl-C stops)\n",
                 url.c_str());
  }
  std::fflush(stdout);
  while (!StopSignals::stopped()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (ready) ready(Unavailable("stopping"));
  (*server)->Stop();
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
