#include "aits/services/health.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

namespace aits::services {
namespace {

// Sends `request` and reads the whole answer (the server closes after it).
std::string Exchange(uint16_t port, const std::string& request) {
  auto socket = net::Connect(net::Endpoint{"127.0.0.1", port}, std::chrono::milliseconds(2000));
  EXPECT_TRUE(socket.ok()) << socket.status().ToString();
  if (!socket.ok()) return "";
  std::string_view rest = request;
  while (!rest.empty()) {
    auto wrote = socket->Write(rest);
    if (!wrote.ok()) return "";
    rest.remove_prefix(*wrote);
  }
  std::string answer;
  char buffer[512];
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < give_up) {
    net::WaitFor item{.fd = socket->fd()};
    if (!net::Wait(std::span<net::WaitFor>(&item, 1), std::chrono::milliseconds(100)).ok()) break;
    auto read = socket->Read(buffer);
    if (!read.ok() || read->closed) break;
    answer.append(buffer, read->bytes);
  }
  return answer;
}

std::string Get(uint16_t port, const std::string& path) {
  return Exchange(port, "GET " + path + " HTTP/1.1\r\nHost: probe\r\n\r\n");
}

TEST(HealthServerTest, LivenessReadinessAndEverythingElse) {
  std::atomic<bool> bus_up{false};
  auto server = HealthServer::Start(net::Endpoint{"127.0.0.1", 0}, "ingestion", [&] {
    return bus_up.load() ? Status::Ok() : Unavailable("the bus nats://127.0.0.1:1 is down");
  });
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const uint16_t port = (*server)->port();
  ASSERT_GT(port, 0);

  std::string answer = Get(port, "/healthz");
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answer;
  EXPECT_NE(answer.find(R"({"status":"ok","role":"ingestion"})"), std::string::npos) << answer;

  answer = Get(port, "/readyz");
  EXPECT_EQ(answer.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u) << answer;
  EXPECT_NE(answer.find(R"("reason":"the bus nats://127.0.0.1:1 is down")"), std::string::npos)
      << answer;
  bus_up = true;
  answer = Get(port, "/readyz?verbose=1");
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answer;

  EXPECT_EQ(Get(port, "/metrics").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(Exchange(port, "POST /healthz HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405", 0), 0u);
  EXPECT_EQ(Exchange(port, "hello\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
  EXPECT_EQ(Exchange(port, std::string(9000, 'x')).rfind("HTTP/1.1 400", 0), 0u);
  EXPECT_EQ((*server)->requests(), 7u);
}

// With a registry, /metrics answers it in Prometheus' text format, as it stands at each scrape.
TEST(HealthServerTest, MetricsAnswerTheRegistryAsItStands) {
  Registry registry;
  auto family = registry.AddCounter("aits_predictions_total", "Predictions published", {"symbol"});
  ASSERT_TRUE(family.ok()) << family.status().ToString();
  auto eurusd = (*family)->With({{"symbol", "EURUSD"}});
  ASSERT_TRUE(eurusd.ok());
  auto server = HealthServer::Start(net::Endpoint{"127.0.0.1", 0}, "prediction", {}, &registry);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  (*eurusd)->Increment(41);
  std::string answer = Get((*server)->port(), "/metrics");
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answer;
  EXPECT_NE(answer.find("Content-Type: text/plain; version=0.0.4"), std::string::npos) << answer;
  EXPECT_NE(answer.find("# TYPE aits_predictions_total counter\n"), std::string::npos) << answer;
  EXPECT_NE(answer.find("aits_predictions_total{symbol=\"EURUSD\"} 41\n"), std::string::npos)
      << answer;
  (*eurusd)->Increment();
  answer = Get((*server)->port(), "/metrics");
  EXPECT_NE(answer.find("aits_predictions_total{symbol=\"EURUSD\"} 42\n"), std::string::npos)
      << answer;
  // The process's own figures follow, under the names Prometheus' client libraries use.
  EXPECT_NE(answer.find("\nprocess_resident_memory_bytes "), std::string::npos) << answer;
  EXPECT_NE(answer.find("\nprocess_open_fds "), std::string::npos) << answer;
}

TEST(HealthServerTest, ASilentClientDoesNotStopTheNextProbeForLong) {
  auto server = HealthServer::Start(net::Endpoint{"127.0.0.1", 0}, "risk", {});
  ASSERT_TRUE(server.ok());
  auto silent =
      net::Connect(net::Endpoint{"127.0.0.1", (*server)->port()}, std::chrono::milliseconds(1000));
  ASSERT_TRUE(silent.ok());
  // Served after the silent one's 2 s deadline at most.
  const std::string answer = Get((*server)->port(), "/healthz");
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK", 0), 0u) << answer;
}

TEST(HealthServerTest, AnAddressInUseIsAClearError) {
  auto first = HealthServer::Start(net::Endpoint{"127.0.0.1", 0}, "a", {});
  ASSERT_TRUE(first.ok());
  auto second = HealthServer::Start(net::Endpoint{"127.0.0.1", (*first)->port()}, "b", {});
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("127.0.0.1:" + std::to_string((*first)->port())),
            std::string::npos)
      << second.status().ToString();
}

}  // namespace
}  // namespace aits::services
