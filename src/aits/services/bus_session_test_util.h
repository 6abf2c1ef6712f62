// What the tests of sessions over the bus share: a two-feed spec, the ingestion role publishing a
// spec's feeds, and a session that reads its feeds from the MARKET stream.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "aits/bus/nats_bus.h"
#include "aits/core/clock.h"
#include "aits/services/market_stream.h"
#include "aits/session/paper.h"
#include "aits/session/session_test_util.h"
#include "aits/testing/servers.h"

namespace aits::services {

// The buses a test runs over: the in-process bus (one, shared by every connection) or a
// nats-server of the test's own on loopback.
enum class BusKind { kInProcess, kNats };

inline std::string BusKindName(const ::testing::TestParamInfo<BusKind>& param) {
  return param.param == BusKind::kNats ? "Nats" : "InProcess";
}

class TestBuses {
 public:
  Status Start(BusKind kind) {
    if (kind == BusKind::kInProcess) {
      shared_ = bus::MakeInProcessBus(clock_);
      return Status::Ok();
    }
    AITS_ASSIGN_OR_RETURN(nats_, test_servers::NatsServer::Start());
    return Status::Ok();
  }
  // A connection of one role (the in-process bus: the one bus, shared); null after a failure,
  // which the test is told of.
  std::shared_ptr<bus::MessageBus> Connect() {
    if (shared_) return shared_;
    bus::NatsOptions options;
    options.servers = {nats_->url()};
    auto bus = bus::ConnectNats(options);
    EXPECT_TRUE(bus.ok()) << bus.status().ToString();
    return bus.ok() ? std::shared_ptr<bus::MessageBus>(std::move(bus).value()) : nullptr;
  }
  test_servers::NatsServer* nats() const { return nats_.get(); }

 private:
  WallClock clock_;
  std::shared_ptr<bus::MessageBus> shared_;
  std::unique_ptr<test_servers::NatsServer> nats_;
};

// BusySpec over EURUSD and GBPUSD, both traded.
inline session::SessionSpec TwoFeeds(uint64_t ticks) {
  session::SessionSpec spec = session::BusySpec(ticks);
  Instrument eurusd = Instrument::Infer("EURUSD");
  eurusd.id = InstrumentId{0};
  Instrument gbpusd = Instrument::Infer("GBPUSD");
  gbpusd.id = InstrumentId{1};
  spec.feeds = {session::FeedSpec{"synthetic", eurusd, true, 7, 1.10000},
                session::FeedSpec{"synthetic", gbpusd, true, 8, 1.27000}};
  return spec;
}

// The ingestion role: every feed of the spec, published in full, merged in time order, at
// `speed` times the ticks' own pace (0: as fast as the bus takes them).
inline Status Ingest(bus::MessageBus& bus, const session::SessionSpec& spec,
                     const std::string& feed, double speed = 0) {
  AITS_RETURN_IF_ERROR(EnsureMarketStream(bus));
  AITS_ASSIGN_OR_RETURN(std::vector<std::unique_ptr<data::TickSource>> sources,
                        session::OpenFeeds(spec));
  std::vector<Instrument> instruments;
  for (const session::FeedSpec& one : session::FeedsOf(spec)) {
    instruments.push_back(one.instrument);
  }
  IngestOptions options;
  options.publish.feed = feed;
  options.speed = speed;
  return IngestFeeds(bus, std::move(sources), instruments, options).status();
}

// The trading side's feeds: the MARKET stream, one consumer per symbol.
inline session::PaperOptions FromBus(session::PaperOptions options, bus::MessageBus& bus,
                                     const std::string& feed) {
  options.open_feeds = [&bus, feed](const session::SessionSpec& spec)
      -> Result<std::vector<std::unique_ptr<data::TickSource>>> {
    std::vector<std::unique_ptr<data::TickSource>> sources;
    for (const session::FeedSpec& one : session::FeedsOf(spec)) {
      AITS_ASSIGN_OR_RETURN(std::unique_ptr<BusTickSource> source,
                            BusTickSource::Open(bus, one.instrument, {.feed = feed}));
      sources.push_back(std::move(source));
    }
    return sources;
  };
  return options;
}

}  // namespace aits::services
