// A role's health endpoints for its orchestrator (Kubernetes' probes, compose's healthcheck):
// GET /healthz answers 200 while the process serves (liveness: restart it when this fails), and
// GET /readyz answers 200 when the role's own check says it can do its work — its dependencies
// reached, its loop running — and 503 with the check's reason otherwise (readiness: send it no
// work until then). GET /metrics answers the role's metrics registry in Prometheus' text
// exposition format 0.0.4, when it was given one (404 otherwise). Anything else is 404; a
// request that is not HTTP is 400.
//
// HTTP/1.1 on its own thread, one short connection at a time (Connection: close), bodies of one
// JSON line: {"status":"ok","role":"ingestion"} or {"status":"unready","role":...,"reason":...}.
// A request must arrive whole within 2 s and within 8 KiB. Probes come every few seconds; this
// is not a web server (the api role's is, issue 12).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "aits/core/metrics.h"
#include "aits/core/status.h"
#include "aits/net/socket.h"

namespace aits::services {

class HealthServer {
 public:
  // Ok: ready; an error: not ready, its message the reason. Called on the server's thread.
  using ReadyCheck = std::function<Status()>;

  // Listens on `at` (port 0: a free one, see port()). IoError naming the address. `metrics`,
  // when given, must outlive the server.
  static Result<std::unique_ptr<HealthServer>> Start(const net::Endpoint& at, std::string role,
                                                     ReadyCheck ready,
                                                     const Registry* metrics = nullptr);
  ~HealthServer();  // stops the thread
  HealthServer(const HealthServer&) = delete;
  HealthServer& operator=(const HealthServer&) = delete;

  uint16_t port() const { return listener_.port(); }
  uint64_t requests() const { return requests_.load(std::memory_order_relaxed); }

 private:
  HealthServer(net::Listener listener, std::string role, ReadyCheck ready, const Registry* metrics)
      : listener_(std::move(listener)),
        role_(std::move(role)),
        ready_(std::move(ready)),
        metrics_(metrics) {}
  void Run();
  void Serve(net::Socket& client);
  std::string Answer(std::string_view request_line);

  net::Listener listener_;
  std::string role_;
  ReadyCheck ready_;
  const Registry* metrics_;
  net::Waker waker_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> requests_{0};
  std::thread thread_;
};

}  // namespace aits::services
