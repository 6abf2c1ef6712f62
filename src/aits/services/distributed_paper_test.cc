// The first split of the node across processes' boundaries (docs/services.md, "Market data over
// the bus"): the ingestion role publishes a session's feeds to the MARKET stream of a real
// nats-server, and the session that trades takes them from there on another connection. It must
// trade exactly as the embedded session does, also with two feeds merged by time, also resumed
// after a stop — the start of the equality test of ADR 0007.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "aits/bus/nats_bus.h"
#include "aits/services/bus_session_test_util.h"
#include "aits/services/market_stream.h"
#include "aits/session/paper.h"
#include "aits/session/session_test_util.h"
#include "aits/testing/servers.h"

namespace aits::services {
namespace {

using session::PaperOptions;
using session::PaperResult;
using session::SessionSpec;

std::unique_ptr<bus::MessageBus> Connect(const test_servers::NatsServer& server) {
  bus::NatsOptions options;
  options.servers = {server.url()};
  auto bus = bus::ConnectNats(options);
  EXPECT_TRUE(bus.ok()) << bus.status().ToString();
  return bus.ok() ? std::move(bus).value() : nullptr;
}

class DistributedPaperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = test_servers::NatsServer::Start();
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    nats_ = std::move(server).value();
  }
  std::unique_ptr<test_servers::NatsServer> nats_;
  session::TempDir tmp_;
};

TEST_F(DistributedPaperTest, ASessionFedOverNatsTradesAsTheEmbeddedOneWithTwoFeeds) {
  const SessionSpec spec = TwoFeeds(30'000);
  auto embedded = session::RunPaper(session::MaxSpeed(spec, tmp_.Sub("embedded")));
  ASSERT_TRUE(embedded.ok()) << embedded.status().message();
  ASSERT_GT(embedded->fills, 10u) << "the session should trade";

  // The two roles run at once, on connections of their own: the session reads what ingestion
  // has published so far and waits for the rest.
  std::unique_ptr<bus::MessageBus> ingestion_bus = Connect(*nats_);
  std::unique_ptr<bus::MessageBus> trading_bus = Connect(*nats_);
  ASSERT_NE(ingestion_bus, nullptr);
  ASSERT_NE(trading_bus, nullptr);
  ASSERT_TRUE(EnsureMarketStream(*trading_bus).ok());
  Status ingested = Status::Ok();
  std::thread ingestion([&] { ingested = Ingest(*ingestion_bus, spec, "eq"); });
  auto distributed = session::RunPaper(
      FromBus(session::MaxSpeed(spec, tmp_.Sub("distributed")), *trading_bus, "eq"));
  ingestion.join();
  ASSERT_TRUE(ingested.ok()) << ingested.ToString();
  ASSERT_TRUE(distributed.ok()) << distributed.status().message();

  EXPECT_TRUE(distributed->feed_ended);
  EXPECT_EQ(distributed->ticks, embedded->ticks);
  EXPECT_EQ(distributed->orders, embedded->orders);
  EXPECT_EQ(distributed->fills, embedded->fills);
  EXPECT_EQ(distributed->account.balance.raw(), embedded->account.balance.raw());
  EXPECT_EQ(distributed->account.equity.raw(), embedded->account.equity.raw());
  const std::vector<std::string> lines = session::LogLines(tmp_.Sub("distributed"));
  EXPECT_GT(lines.size(), 30'000u);
  EXPECT_EQ(lines, session::LogLines(tmp_.Sub("embedded")));
}

TEST_F(DistributedPaperTest, StoppedAndResumedFromTheStreamItLogsWhatOneEmbeddedRunLogs) {
  const SessionSpec spec = session::BusySpec(12'000);
  ASSERT_TRUE(session::RunPaper(session::MaxSpeed(spec, tmp_.Sub("embedded"))).ok());
  std::unique_ptr<bus::MessageBus> bus = Connect(*nats_);
  ASSERT_NE(bus, nullptr);
  // Published once, in full, before the session starts; each start reads the stream from its
  // first tick and skips what its log consumed, as it does a file.
  ASSERT_TRUE(Ingest(*bus, spec, "resume").ok());
  PaperOptions first = FromBus(session::MaxSpeed(spec, tmp_.Sub("parts")), *bus, "resume");
  first.stop_after = 5'000;
  auto part = session::RunPaper(first);
  ASSERT_TRUE(part.ok()) << part.status().message();
  EXPECT_FALSE(part->feed_ended);
  PaperOptions rest = FromBus(session::MaxSpeed(spec, tmp_.Sub("parts")), *bus, "resume");
  rest.spec_given = false;
  auto last = session::RunPaper(rest);
  ASSERT_TRUE(last.ok()) << last.status().message();
  EXPECT_TRUE(last->resumed);
  EXPECT_EQ(last->resumed_ticks, 5'000u);
  EXPECT_TRUE(last->feed_ended);
  EXPECT_EQ(session::LogLines(tmp_.Sub("parts")), session::LogLines(tmp_.Sub("embedded")));
}

}  // namespace
}  // namespace aits::services
