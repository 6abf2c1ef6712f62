#include "aits/mt5sim/terminal_link.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "aits/mt5/link.h"
#include "aits/mt5sim/mt5sim_test_util.h"

namespace aits::mt5sim {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
namespace rc = mt5::retcode;

std::vector<mt5::TickData> Walk(int count) { return testing::Walk(count, 100); }

// The gateway's side, played by the test: accepts the simulator's connections and speaks to it.
class FakeGateway {
 public:
  FakeGateway()
      : listener_(net::Listener::Listen(net::Endpoint{.host = "127.0.0.1", .port = 0}).value()) {}
  net::Endpoint endpoint() const { return listener_.endpoint(); }

  // Waits for the next connection; false after two seconds.
  bool Accept() {
    net::WaitFor item{.fd = listener_.fd()};
    Result<int> ready = net::Wait(std::span<net::WaitFor>(&item, 1), milliseconds(2000));
    if (!ready.ok() || *ready == 0) return false;
    link_ = std::make_unique<mt5::Link>(listener_.Accept().value());
    return true;
  }
  mt5::Link& link() { return *link_; }

  // Polls until `done(frame)` returns true or two seconds pass; false on timeout or link error.
  template <typename Done>
  bool ReceiveUntil(Done&& done) {
    const Clock::time_point deadline = Clock::now() + std::chrono::seconds(2);
    bool finished = false;
    while (!finished && Clock::now() < deadline) {
      Status status = link_->Poll(milliseconds(20), [&](const mt5::Frame& frame) {
        if (done(frame)) finished = true;  // every frame of the batch is seen
        return Status::Ok();
      });
      if (!status.ok()) return false;
    }
    return finished;
  }

  // The hello, then the welcome.
  bool Handshake(uint32_t heartbeat_ms = 200, uint32_t dead_after_ms = 3000) {
    mt5::Hello hello;
    if (!ReceiveUntil([&](const mt5::Frame& frame) {
          return frame.envelope.type == static_cast<uint16_t>(mt5::MessageType::kHello) &&
                 mt5::DecodeFrame(frame, hello).ok();
        })) {
      return false;
    }
    last_hello_ = hello;
    return link_
        ->Send(mt5::Welcome{mt5::kProtocolVersion, heartbeat_ms, dead_after_ms, "test-gateway"})
        .ok();
  }
  const mt5::Hello& last_hello() const { return last_hello_; }

 private:
  net::Listener listener_;
  std::unique_ptr<mt5::Link> link_;
  mt5::Hello last_hello_;
};

bool Is(const mt5::Frame& frame, mt5::MessageType type) {
  return frame.envelope.type == static_cast<uint16_t>(type);
}

struct Simulator {
  explicit Simulator(RunnerConfig config, int ticks = 2000)
      : server(ServerConfig{}), terminal(TerminalConfig{"tok"}, server) {
    EXPECT_TRUE(server.AddSymbol(ForexSymbol("EURUSD")).ok());
    EXPECT_TRUE(terminal.AddTicks("EURUSD", Walk(ticks)).ok());
    runner = std::make_unique<TerminalRunner>(std::move(config), terminal);
    thread = std::thread([this] { status = runner->Run(); });
  }
  ~Simulator() { Join(); }
  void Join() {
    if (thread.joinable()) {
      runner->Stop();
      thread.join();
    }
  }

  TradeServer server;
  Terminal terminal;
  std::unique_ptr<TerminalRunner> runner;
  std::thread thread;
  Status status;
};

RunnerConfig ConfigFor(const FakeGateway& gateway) {
  RunnerConfig config;
  config.gateway = gateway.endpoint();
  config.speed = 0;
  config.backoff_initial_ms = 10;
  config.backoff_max_ms = 50;
  config.ticks_per_step = 50;
  return config;
}

TEST(TerminalRunner, TradesAndStreamsThenResumesWithoutAGapAfterTheGatewayDrops) {
  FakeGateway gateway;
  Simulator sim(ConfigFor(gateway));
  ASSERT_TRUE(gateway.Accept());
  ASSERT_TRUE(gateway.Handshake());
  EXPECT_EQ(gateway.last_hello().token, "tok");
  EXPECT_EQ(gateway.last_hello().login, 5000001);
  ASSERT_TRUE(gateway.link().Send(mt5::Subscribe{{"EURUSD"}, 0}, 1).ok());
  std::vector<mt5::TickData> received;
  auto collect = [&](const mt5::Frame& frame) {
    mt5::Ticks ticks;
    if (Is(frame, mt5::MessageType::kTicks) && frame.envelope.request_id == 0 &&
        mt5::DecodeFrame(frame, ticks).ok()) {
      received.insert(received.end(), ticks.ticks.begin(), ticks.ticks.end());
    }
  };
  ASSERT_TRUE(gateway.ReceiveUntil([&](const mt5::Frame& frame) {
    collect(frame);
    return received.size() >= 200;
  }));
  // An order while ticks stream: the result with its request id, then the transactions.
  mt5::PlaceOrder order;
  order.client_order_id = "gw-1";
  order.symbol = "EURUSD";
  order.action = 1;
  order.volume = 0.1;
  ASSERT_TRUE(gateway.link().Send(order, 2).ok());
  mt5::TradeResult result;
  int transactions = 0;
  ASSERT_TRUE(gateway.ReceiveUntil([&](const mt5::Frame& frame) {
    collect(frame);
    if (Is(frame, mt5::MessageType::kTradeResult)) {
      EXPECT_EQ(frame.envelope.request_id, 2u);
      EXPECT_TRUE(mt5::DecodeFrame(frame, result).ok());
    }
    if (Is(frame, mt5::MessageType::kTransaction)) ++transactions;
    return transactions >= 5;
  }));
  EXPECT_EQ(result.retcode, rc::kDone);
  EXPECT_EQ(result.client_order_id, "gw-1");

  // The gateway goes away; the simulator reconnects and the stream resumes where it stopped.
  gateway.link().Drop();
  ASSERT_TRUE(gateway.Accept());
  ASSERT_TRUE(gateway.Handshake());
  ASSERT_TRUE(
      gateway.link().Send(mt5::Subscribe{{"EURUSD"}, received.back().time_msc + 1}, 1).ok());
  ASSERT_TRUE(gateway.ReceiveUntil([&](const mt5::Frame& frame) {
    collect(frame);
    return received.size() >= 2000;
  })) << received.size()
      << " ticks, the last at " << received.back().time_msc;
  EXPECT_EQ(received, Walk(2000));
  // The account survived the reconnect.
  ASSERT_TRUE(gateway.link().Send(mt5::GetPositions{}, 3).ok());
  mt5::Positions positions;
  ASSERT_TRUE(gateway.ReceiveUntil([&](const mt5::Frame& frame) {
    return Is(frame, mt5::MessageType::kPositions) && mt5::DecodeFrame(frame, positions).ok();
  }));
  EXPECT_EQ(positions.positions.size(), 1u);
  sim.Join();
  EXPECT_TRUE(sim.status.ok());
  EXPECT_EQ(sim.runner->stats().connects, 2u);
  EXPECT_EQ(sim.runner->stats().sessions, 2u);
}

TEST(TerminalRunner, HeartbeatsWhenIdleAndDropsASilentGateway) {
  FakeGateway gateway;
  Simulator sim(ConfigFor(gateway));
  ASSERT_TRUE(gateway.Accept());
  ASSERT_TRUE(gateway.Handshake(/*heartbeat_ms=*/50, /*dead_after_ms=*/300));
  const Clock::time_point start = Clock::now();
  // Nothing is subscribed: the simulator has nothing to say but heartbeats.
  ASSERT_TRUE(gateway.ReceiveUntil(
      [&](const mt5::Frame& frame) { return Is(frame, mt5::MessageType::kHeartbeat); }));
  // The gateway says nothing back: after 300 ms the simulator gives up and reconnects.
  ASSERT_TRUE(gateway.Accept());
  const auto waited = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
  EXPECT_GE(waited, 250);
  EXPECT_LT(waited, 1500);
  ASSERT_TRUE(gateway.Handshake());
  sim.Join();
  EXPECT_EQ(sim.runner->stats().dead_links, 1u);
}

TEST(TerminalRunner, DropsTheLinkAtChosenMomentsAndComesBack) {
  FakeGateway gateway;
  RunnerConfig config = ConfigFor(gateway);
  config.drop_after_frames = {3};
  Simulator sim(config);
  ASSERT_TRUE(gateway.Accept());
  ASSERT_TRUE(gateway.Handshake(50, 3000));
  // Hello, then two heartbeats, then the drop: the gateway's read sees the close.
  bool closed = false;
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(2);
  while (!closed && Clock::now() < deadline) {
    closed =
        !gateway.link().Poll(milliseconds(20), [](const mt5::Frame&) { return Status::Ok(); }).ok();
  }
  EXPECT_TRUE(closed);
  ASSERT_TRUE(gateway.Accept());
  ASSERT_TRUE(gateway.Handshake());
  sim.Join();
  EXPECT_EQ(sim.runner->stats().drops, 1u);
  EXPECT_EQ(sim.runner->stats().connects, 2u);
}

// The back-off once waited for ever (a negative timeout to net::Wait) when its deadline passed
// between the loop's test and the wait: the simulator never reconnected (gateway_fault_test).
TEST(TerminalRunner, AWaitSliceIsNeverNegative) {
  const Clock::time_point now = Clock::now();
  EXPECT_EQ(WaitSlice(now - milliseconds(5), now, milliseconds(10)), milliseconds(0));
  EXPECT_EQ(WaitSlice(now - std::chrono::microseconds(300), now, milliseconds(10)),
            milliseconds(0));
  EXPECT_EQ(WaitSlice(now, now, milliseconds(10)), milliseconds(0));
  EXPECT_EQ(WaitSlice(now + milliseconds(3), now, milliseconds(10)), milliseconds(3));
  EXPECT_EQ(WaitSlice(now + milliseconds(30), now, milliseconds(10)), milliseconds(10));
}

TEST(TerminalRunner, KeepsTryingWhileNoGatewayListens) {
  net::Endpoint nowhere;
  {
    // A port that was free a moment ago: nothing listens there now.
    net::Listener probe = net::Listener::Listen(net::Endpoint{.host = "127.0.0.1"}).value();
    nowhere = probe.endpoint();
  }
  RunnerConfig config;
  config.gateway = nowhere;
  config.backoff_initial_ms = 5;
  config.backoff_max_ms = 20;
  Simulator sim(config);
  std::this_thread::sleep_for(milliseconds(200));
  sim.Join();
  EXPECT_GE(sim.runner->stats().connect_failures, 3u);
  EXPECT_EQ(sim.runner->stats().connects, 0u);
}

}  // namespace
}  // namespace aits::mt5sim
