#include "aits/feed/tcp_uplink.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "aits/feed/feed_test_util.h"

namespace aits::feed {
namespace {

constexpr Timestamp kStart = FromCivil(2020, 1, 2, 8);

// A TcpBatchServer polled on its own thread until Stop(); what it delivered is read after Stop.
class ServerThread {
 public:
  explicit ServerThread(uint16_t port) {
    auto server = TcpBatchServer::Listen({"127.0.0.1", port});
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    if (!server.ok()) return;
    server_ = std::move(server).value();
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        const Status status = server_->Poll(std::chrono::milliseconds(20), delivered_);
        EXPECT_TRUE(status.ok()) << status.ToString();
      }
    });
  }
  ~ServerThread() { Stop(); }
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  uint16_t port() const { return server_->port(); }
  TcpBatchServer& server() { return *server_; }
  const std::vector<SequencedTick>& delivered() const { return delivered_; }

 private:
  std::unique_ptr<TcpBatchServer> server_;
  std::vector<SequencedTick> delivered_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

Quote QuoteAt(int idx) {
  Quote quote;
  quote.symbol = idx % 2 == 0 ? "EURUSD" : "GBPUSD";
  quote.time = kStart + Duration::Millis(idx);
  quote.bid = 1.12 + (idx % 50) * 0.00001;
  quote.ask = *quote.bid + 0.00015;
  quote.volume = 0.0;
  return quote;
}

// A batch of one EURUSD tick, the `sequence`th, `sequence` ms after kStart.
TickBatch OneTickBatch(uint64_t sequence) {
  TickBatch batch;
  batch.symbols = {{"EURUSD", 5}};
  SequencedTick st;
  st.tick.ts = kStart + Duration::Millis(static_cast<int64_t>(sequence));
  st.tick.bid = Price::FromRaw(1'120'000'000, 5);
  st.tick.ask = Price::FromRaw(1'120'100'000, 5);
  st.sequence = sequence;
  batch.ticks.push_back(st);
  return batch;
}

class TcpUplinkTest : public ::testing::Test {
 protected:
  void SetUp() override { clock_.AdvanceTo(kStart); }

  CollectorOptions Options() const {
    CollectorOptions options;
    options.symbols = {{"EURUSD", 5}, {"GBPUSD", 5}};
    options.spill_path = spill_.path();
    options.spill.sync = SpillSync::kNone;
    options.max_batch_ticks = 200;
    return options;
  }
  void Feed(Collector& collector, int from, int to) {
    for (int idx = from; idx < to; ++idx) {
      clock_.AdvanceTo(*QuoteAt(idx).time);
      ASSERT_TRUE(collector.Accept(QuoteAt(idx)).ok());
      ASSERT_TRUE(collector.Poll().ok());
    }
  }

  ScopedTestPath spill_;
  SimulatedClock clock_;
  SimulatedSleeper sleeper_{clock_};
};

TEST_F(TcpUplinkTest, TheServerAwayAndBackOnTheSamePortLosesNothing) {
  auto first = std::make_unique<ServerThread>(0);
  const uint16_t port = first->port();
  TcpUplink uplink({.server = {"127.0.0.1", port}});
  auto opened = Collector::Open(Options(), uplink, clock_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Collector& collector = **opened;

  Feed(collector, 0, 3'000);
  ASSERT_TRUE(collector.Drain(sleeper_, clock_.Now()).ok());
  first->Stop();
  const std::vector<SequencedTick> before = first->delivered();
  const std::string eurusd_first = first->server().symbol_name(before[0].tick.instrument.value);
  first.reset();  // the server process is gone: connections refused

  Feed(collector, 3'000, 15'000);  // 12 s: the retries after 1, 2 and 4 s run out
  EXPECT_TRUE(collector.uplink_down());
  EXPECT_GT(collector.spilled_records(), 0u);

  ServerThread second(port);
  ASSERT_TRUE(collector.Drain(sleeper_, clock_.Now() + Duration::Minutes(5)).ok())
      << collector.stats().last_send_error;
  second.Stop();
  ASSERT_EQ(before.size(), 3'000u);
  ASSERT_EQ(second.delivered().size(), 12'000u);
  EXPECT_EQ(eurusd_first, "EURUSD");
  EXPECT_EQ(second.server().receiver_stats().duplicates, 0u);
  uint64_t sequences[2] = {0, 0};
  for (int idx = 0; idx < 15'000; ++idx) {
    const SequencedTick& st = idx < 3'000 ? before[static_cast<size_t>(idx)]
                                          : second.delivered()[static_cast<size_t>(idx - 3'000)];
    ASSERT_EQ(st.tick.ts, *QuoteAt(idx).time) << idx;
    ASSERT_EQ(st.sequence, ++sequences[idx % 2]) << idx;
  }
  EXPECT_GE(collector.stats().failed_sends, 4u);
}

TEST_F(TcpUplinkTest, NothingListeningIsAnIoErrorNamingTheServer) {
  uint16_t port = 0;
  {
    auto probe = net::Listener::Listen({"127.0.0.1", 0});
    ASSERT_TRUE(probe.ok());
    port = probe->port();
  }
  TcpUplink uplink({.server = {"127.0.0.1", port}});
  const std::vector<uint8_t> batch = EncodeBatch({}, Compression::kLz4).value();
  const Status status = uplink.Send(batch);
  EXPECT_EQ(status.code(), StatusCode::kIoError);
  EXPECT_NE(status.message().find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << status.message();
}

TEST_F(TcpUplinkTest, TheServerRefusesBadBatchesAndBadFrames) {
  ServerThread server(0);
  TcpUplink uplink({.server = {"127.0.0.1", server.port()}});
  const std::vector<uint8_t> garbage = {1, 2, 3, 4, 5, 6, 7, 8};
  const Status refused = uplink.Send(garbage);
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("refused"), std::string::npos);
  // A good batch after a refusal reconnects and goes through.
  TickBatch batch = OneTickBatch(1);
  EXPECT_TRUE(uplink.Send(EncodeBatch(batch, Compression::kLz4).value()).ok());

  // A frame length of zero breaks the framing: the server closes that connection.
  auto raw = net::Connect({"127.0.0.1", server.port()}, std::chrono::milliseconds(1'000));
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(raw->Write(std::string(4, '\0')).ok());
  bool closed = false;
  for (int attempt = 0; attempt < 200 && !closed; ++attempt) {
    char byte;
    auto got = raw->Read({&byte, 1});
    closed = !got.ok() || got->closed;
    if (!closed) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(closed);
  server.Stop();
  EXPECT_EQ(server.server().stats().refused_batches, 1u);
  EXPECT_EQ(server.server().stats().bad_frames, 1u);
  EXPECT_EQ(server.delivered().size(), 1u);
}

// aits ingest writes each batch to its files before the collector hears it was delivered: a
// batch whose commit fails is not acknowledged (so the collector keeps it and sends it again),
// and a batch is acknowledged only after its commit returned.
TEST_F(TcpUplinkTest, ABatchIsAcknowledgedOnlyAfterItsCommitSucceeded) {
  auto listened = TcpBatchServer::Listen({"127.0.0.1", 0});
  ASSERT_TRUE(listened.ok()) << listened.status().ToString();
  std::unique_ptr<TcpBatchServer> server = std::move(listened).value();
  std::atomic<bool> fail{true};
  std::atomic<bool> stop{false};
  std::atomic<size_t> committed{0};
  std::atomic<int> poll_errors{0};
  std::thread thread([&] {
    while (!stop.load()) {
      const Status status =
          server->Poll(std::chrono::milliseconds(20), [&](std::span<const SequencedTick> ticks) {
            if (fail.load()) return IoError("disk full");
            committed += ticks.size();
            return Status::Ok();
          });
      if (!status.ok()) {
        EXPECT_NE(status.message().find("disk full"), std::string::npos);
        ++poll_errors;
      }
    }
  });
  TickBatch batch = OneTickBatch(1);
  TcpUplink uplink({.server = {"127.0.0.1", server->port()}});
  EXPECT_FALSE(uplink.Send(EncodeBatch(batch, Compression::kLz4).value()).ok());
  EXPECT_EQ(committed.load(), 0u);
  fail.store(false);
  batch = OneTickBatch(2);
  EXPECT_TRUE(uplink.Send(EncodeBatch(batch, Compression::kLz4).value()).ok());
  // The acknowledgement came after the commit.
  EXPECT_EQ(committed.load(), 1u);
  stop.store(true);
  thread.join();
  EXPECT_EQ(poll_errors.load(), 1);
}

}  // namespace
}  // namespace aits::feed
