#include "aits/services/health.h"

#include <array>
#include <chrono>
#include <string_view>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "aits/core/process_metrics.h"

namespace aits::services {
namespace {

constexpr size_t kMaxRequest = 8192;
constexpr auto kRequestDeadline = std::chrono::seconds(2);

constexpr std::string_view kJson = "application/json";
// Prometheus' text exposition format.
constexpr std::string_view kMetricsText = "text/plain; version=0.0.4; charset=utf-8";

std::string Response(int code, std::string_view reason, const std::string& body, bool head = false,
                     std::string_view type = kJson) {
  return "HTTP/1.1 " + std::to_string(code) + " " + std::string(reason) +
         "\r\nContent-Type: " + std::string(type) +
         "\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n" + (head ? "" : body);
}

// A reason with bytes that are not UTF-8 is answered with replacements, never thrown on.
std::string Dump(const nlohmann::ordered_json& body) {
  return body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace

Result<std::unique_ptr<HealthServer>> HealthServer::Start(const net::Endpoint& at, std::string role,
                                                          ReadyCheck ready,
                                                          const Registry* metrics) {
  AITS_ASSIGN_OR_RETURN(net::Listener listener, net::Listener::Listen(at));
  std::unique_ptr<HealthServer> server(
      new HealthServer(std::move(listener), std::move(role), std::move(ready), metrics));
  server->thread_ = std::thread([raw = server.get()] { raw->Run(); });
  return server;
}

HealthServer::~HealthServer() {
  stop_.store(true);
  waker_.Notify();
  if (thread_.joinable()) thread_.join();
}

void HealthServer::Run() {
  while (!stop_.load()) {
    std::array<net::WaitFor, 2> items{net::WaitFor{.fd = listener_.fd()},
                                      net::WaitFor{.fd = waker_.fd()}};
    if (!net::Wait(items, std::chrono::milliseconds(-1)).ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // no busy loop on a failing wait
      continue;
    }
    if (items[1].readable) waker_.Drain();
    if (!items[0].readable) continue;
    Result<net::Socket> client = listener_.Accept();
    if (client.ok() && client->valid()) Serve(*client);
  }
}

void HealthServer::Serve(net::Socket& client) {
  std::string request;
  std::array<char, 1024> buffer{};
  const auto deadline = std::chrono::steady_clock::now() + kRequestDeadline;
  // The request line and headers end at the blank line; a probe sends no body.
  while (request.find("\r\n\r\n") == std::string::npos && request.size() <= kMaxRequest) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || stop_.load()) return;
    std::array<net::WaitFor, 2> items{net::WaitFor{.fd = client.fd()},
                                      net::WaitFor{.fd = waker_.fd()}};
    if (!net::Wait(items, left).ok()) return;
    if (items[1].readable) return;  // stopping
    if (!items[0].readable) continue;
    Result<net::ReadResult> read = client.Read(buffer);
    if (!read.ok() || read->closed) return;
    request.append(buffer.data(), read->bytes);
  }
  requests_.fetch_add(1, std::memory_order_relaxed);
  const size_t line_end = request.find("\r\n");
  std::string answer = request.size() > kMaxRequest || line_end == std::string::npos
                           ? Response(400, "Bad Request", R"({"status":"bad request"})")
                           : Answer(std::string_view(request).substr(0, line_end));
  // Small answers: the kernel takes them at once; a client that reads nothing loses its answer.
  std::string_view rest = answer;
  while (!rest.empty()) {
    Result<size_t> wrote = client.Write(rest);
    if (!wrote.ok() || *wrote == 0) break;
    rest.remove_prefix(*wrote);
  }
  client.Close();
}

std::string HealthServer::Answer(std::string_view request_line) {
  // "GET /readyz HTTP/1.1"
  const size_t first = request_line.find(' ');
  const size_t second = request_line.find(' ', first + 1);
  if (first == std::string_view::npos || second == std::string_view::npos ||
      !request_line.substr(second + 1).starts_with("HTTP/1.")) {
    return Response(400, "Bad Request", R"({"status":"bad request"})");
  }
  const std::string_view method = request_line.substr(0, first);
  std::string_view path = request_line.substr(first + 1, second - first - 1);
  path = path.substr(0, path.find('?'));
  nlohmann::ordered_json body;
  if (method != "GET" && method != "HEAD") {
    return Response(405, "Method Not Allowed", R"({"status":"method not allowed"})");
  }
  if (path == "/healthz") {
    body = {{"status", "ok"}, {"role", role_}};
    return Response(200, "OK", Dump(body), method == "HEAD");
  }
  if (path == "/readyz") {
    const Status ready = ready_ ? ready_() : Status::Ok();
    if (ready.ok()) {
      body = {{"status", "ok"}, {"role", role_}};
      return Response(200, "OK", Dump(body), method == "HEAD");
    }
    body = {{"status", "unready"}, {"role", role_}, {"reason", ready.message()}};
    return Response(503, "Service Unavailable", Dump(body), method == "HEAD");
  }
  if (path == "/metrics" && metrics_ != nullptr) {
    std::string text = metrics_->RenderText();
    // The process's own figures: a /proc that cannot be read leaves them out, not the rest.
    if (Result<ProcessStats> process = ReadProcessStats(); process.ok()) {
      text += RenderProcessMetrics(*process);
    }
    return Response(200, "OK", text, method == "HEAD", kMetricsText);
  }
  return Response(404, "Not Found", R"({"status":"not found"})");
}

}  // namespace aits::services
