// What only the NATS bus has: a server that cannot be reached, one without JetStream, and one
// killed and started again under a running client. Each test starts its own nats-server.
#include "aits/bus/nats_bus.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

#include "aits/testing/servers.h"

namespace aits::bus {
namespace {

using test_servers::NatsServer;

std::unique_ptr<NatsServer> MustStart(bool jetstream = true) {
  Result<std::unique_ptr<NatsServer>> server = NatsServer::Start(jetstream);
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  return server.ok() ? std::move(server).value() : nullptr;
}

// A loopback port nobody listens on: bound, then closed.
int ClosedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(NatsBusTest, AServerListIsSplitAtCommasSkippingEmptyItems) {
  EXPECT_EQ(NatsServers("nats://a:4222,,nats://b:4222,"),
            (std::vector<std::string>{"nats://a:4222", "nats://b:4222"}));
  EXPECT_EQ(NatsServers("nats://a:4222"), (std::vector<std::string>{"nats://a:4222"}));
  EXPECT_TRUE(NatsServers("").empty());
}

TEST(NatsBusTest, AnUnreachableServerIsAClearErrorAtStart) {
  NatsOptions options;
  options.servers = {"nats://127.0.0.1:" + std::to_string(ClosedPort())};
  options.connect_timeout = Duration::Millis(500);
  const Result<std::unique_ptr<MessageBus>> bus = ConnectNats(options);
  ASSERT_FALSE(bus.ok());
  EXPECT_EQ(bus.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(bus.status().message().find(options.servers[0]), std::string::npos)
      << bus.status().ToString();
  EXPECT_EQ(ConnectNats(NatsOptions{}).status().code(), StatusCode::kInvalidArgument);
}

TEST(NatsBusTest, AServerWithoutJetStreamIsRefused) {
  std::unique_ptr<NatsServer> server = MustStart(/*jetstream=*/false);
  ASSERT_NE(server, nullptr);
  NatsOptions options;
  options.servers = {server->url()};
  options.request_timeout = Duration::Seconds(2);
  const Result<std::unique_ptr<MessageBus>> bus = ConnectNats(options);
  ASSERT_FALSE(bus.ok());
  EXPECT_EQ(bus.status().code(), StatusCode::kFailedPrecondition) << bus.status().ToString();
  EXPECT_NE(bus.status().message().find("JetStream"), std::string::npos);
}

// Every role adds the streams it uses at its start, so several processes add the same one at
// once. The server may call the later ones' subjects overlapping with the stream the first is
// still creating (seen as a role failing its start in CI); each must end with the stream.
TEST(NatsBusTest, TheSameStreamAddedAtOnceByManyConnectionsIsOneStream) {
  std::unique_ptr<NatsServer> server = MustStart();
  ASSERT_NE(server, nullptr);
  NatsOptions options;
  options.servers = {server->url()};
  constexpr int kConnections = 6;
  std::vector<std::unique_ptr<MessageBus>> buses;
  for (int i = 0; i < kConnections; ++i) {
    Result<std::unique_ptr<MessageBus>> connected = ConnectNats(options);
    ASSERT_TRUE(connected.ok()) << connected.status().ToString();
    buses.push_back(std::move(connected).value());
  }
  for (int round = 0; round < 60; ++round) {
    const std::string name = "S" + std::to_string(round);
    const StreamConfig config{name, {"s" + std::to_string(round) + ".>"}};
    std::vector<Status> added(kConnections, Status::Ok());
    std::vector<std::thread> threads;
    for (int i = 0; i < kConnections; ++i) {
      threads.emplace_back([&, i] { added[i] = buses[i]->AddStream(config); });
    }
    for (std::thread& t : threads) t.join();
    for (const Status& s : added) EXPECT_TRUE(s.ok()) << name << ": " << s.ToString();
    EXPECT_TRUE(buses[0]->GetStream(name).ok());
  }
  // A real overlap is still refused, after the retries.
  const Status overlap = buses[0]->AddStream(StreamConfig{"OTHER", {"s0.x"}});
  EXPECT_EQ(overlap.code(), StatusCode::kInvalidArgument) << overlap.ToString();
}

// kill -9 of the server under a connected client: calls fail as "try later" while it is down; the
// client reconnects by itself once it is back, a publish retried with its id is stored once, and
// a durable consumer resumes from what was acknowledged (the store survived).
TEST(NatsBusTest, SurvivesTheServerKilledAndStartedAgain) {
  std::unique_ptr<NatsServer> server = MustStart();
  ASSERT_NE(server, nullptr);
  NatsOptions options;
  options.servers = {server->url()};
  options.request_timeout = Duration::Millis(500);
  options.reconnect_wait = Duration::Millis(50);
  Result<std::unique_ptr<MessageBus>> connected = ConnectNats(options);
  ASSERT_TRUE(connected.ok()) << connected.status().ToString();
  MessageBus& bus = **connected;
  ASSERT_TRUE(bus.AddStream(StreamConfig{"ORDERS", {"orders.>"}}).ok());
  ASSERT_TRUE(bus.Publish("orders.acc1", "o1", "1").ok());
  ASSERT_TRUE(bus.Publish("orders.acc1", "o2", "2").ok());
  ConsumerConfig c{"ORDERS", "execution"};
  c.ack_wait = Duration::Millis(500);
  {
    Result<std::unique_ptr<Consumer>> consumer = bus.Consume(c);
    ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
    Result<std::vector<Delivery>> got = (*consumer)->Fetch(1, Duration::Seconds(2));
    ASSERT_TRUE(got.ok() && got->size() == 1u);
    ASSERT_TRUE((*consumer)->Ack(got->front().sequence).ok());
  }

  server->Kill();
  const Result<PublishAck> down = bus.Publish("orders.acc1", "o3", "3");
  ASSERT_FALSE(down.ok());
  EXPECT_TRUE(down.status().code() == StatusCode::kUnavailable ||
              down.status().code() == StatusCode::kDeadlineExceeded)
      << down.status().ToString();

  ASSERT_TRUE(server->Restart().ok());
  Result<PublishAck> retried = down.status();
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (!retried.ok() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    retried = bus.Publish("orders.acc1", "o3", "3");
  }
  ASSERT_TRUE(retried.ok()) << retried.status().ToString();
  EXPECT_EQ(retried->sequence, 3u);
  // The same id once more: stored once, whether or not the failed attempt reached the server.
  const Result<PublishAck> again = bus.Publish("orders.acc1", "o3", "3");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->sequence, 3u);

  Result<std::unique_ptr<Consumer>> resumed = bus.Consume(c);
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  // The server persists a consumer's acks asynchronously: killed at once after the ack of "1",
  // it may deliver "1" again (at least once). A reader drops what is at or before what it
  // applied (docs/services.md), so only what follows "1" counts — and nothing of it may be lost.
  std::vector<std::string> payloads;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (payloads.size() < 2 && std::chrono::steady_clock::now() < until) {
    Result<std::vector<Delivery>> got = (*resumed)->Fetch(2, Duration::Millis(500));
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    for (const Delivery& d : *got) {
      if (d.sequence > 1) payloads.push_back(d.payload);
      ASSERT_TRUE((*resumed)->Ack(d.sequence).ok());
    }
  }
  EXPECT_EQ(payloads, (std::vector<std::string>{"2", "3"}));
}

}  // namespace
}  // namespace aits::bus
