// Market data over the bus, against both buses: a feed published and read back tick for tick,
// published twice and stored once, a gap and foreign messages, and a feed nobody publishes.
#include "aits/services/market_stream.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "aits/bus/nats_bus.h"
#include "aits/data/synthetic.h"
#include "aits/testing/servers.h"

namespace aits::services {
namespace {

enum class Backend { kInProcess, kNats };

test_servers::NatsServer& SharedNats() {
  static std::unique_ptr<test_servers::NatsServer> server = [] {
    auto started = test_servers::NatsServer::Start();
    if (!started.ok()) {
      ADD_FAILURE() << started.status().ToString();
      std::abort();
    }
    return std::move(started).value();
  }();
  return *server;
}

std::vector<Tick> Synthetic(uint64_t count, InstrumentId id, uint64_t seed = 7) {
  data::SyntheticOptions options;
  options.seed = seed;
  options.count = count;
  options.instrument = id;
  auto source = data::SyntheticTickSource::Create(options);
  EXPECT_TRUE(source.ok());
  std::vector<Tick> ticks(count);
  size_t got = 0;
  while (got < count) {
    auto read = (*source)->Read(std::span<Tick>(ticks).subspan(got));
    EXPECT_TRUE(read.ok());
    if (!read.ok() || *read == 0) break;
    got += *read;
  }
  ticks.resize(got);
  return ticks;
}

bool Same(const Tick& a, const Tick& b) {
  return a.ts == b.ts && a.bid.raw() == b.bid.raw() && a.ask.raw() == b.ask.raw() &&
         a.bid.precision() == b.bid.precision() && a.bid_volume == b.bid_volume &&
         a.ask_volume == b.ask_volume && a.instrument == b.instrument;
}

class MarketStreamTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kInProcess) {
      bus_ = bus::MakeInProcessBus();
    } else {
      bus::NatsOptions options;
      options.servers = {SharedNats().url()};
      auto connected = bus::ConnectNats(options);
      ASSERT_TRUE(connected.ok()) << connected.status().ToString();
      bus_ = std::move(connected).value();
    }
    ASSERT_TRUE(EnsureMarketStream(*bus_).ok());
    // Every test its own symbol: the NATS server is shared by the binary.
    static std::atomic<int> counter{0};
    instrument_ = Instrument::Infer("EURUSD");
    instrument_.symbol = "S" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    instrument_.id = InstrumentId{3};
  }

  std::vector<Tick> ReadAll(BusTickSource& source) {
    std::vector<Tick> out;
    std::vector<Tick> chunk(1000);
    for (;;) {
      auto read = source.Read(chunk);
      EXPECT_TRUE(read.ok()) << read.status().ToString();
      if (!read.ok() || *read == 0) return out;
      out.insert(out.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(*read));
    }
  }

  std::unique_ptr<bus::MessageBus> bus_;
  Instrument instrument_;
};

std::string BusName(const ::testing::TestParamInfo<Backend>& param) {
  return param.param == Backend::kInProcess ? "InProcess" : "Nats";
}

INSTANTIATE_TEST_SUITE_P(Buses, MarketStreamTest,
                         ::testing::Values(Backend::kInProcess, Backend::kNats), BusName);

TEST_P(MarketStreamTest, AFeedPublishedIsReadBackTickForTickAndEnds) {
  const std::vector<Tick> ticks = Synthetic(10'000, instrument_.id);
  data::SyntheticOptions options;
  options.seed = 7;
  options.count = 10'000;
  options.instrument = instrument_.id;
  auto source = data::SyntheticTickSource::Create(options);
  ASSERT_TRUE(source.ok());
  MarketPublisherOptions publish;
  publish.session = "t1";
  publish.ticks_per_message = 300;  // 34 messages, the last one short
  auto stats = PublishFeed(*bus_, **source, instrument_, publish);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->ticks, 10'000u);
  EXPECT_EQ(stats->messages, 34u);
  EXPECT_EQ(stats->duplicates, 0u);
  EXPECT_LT(stats->bytes, 10'000u * feed::kRawTickBytes / 2) << "LZ4 and deltas compress";

  auto bus_source = BusTickSource::Open(*bus_, instrument_);
  ASSERT_TRUE(bus_source.ok()) << bus_source.status().ToString();
  const std::vector<Tick> got = ReadAll(**bus_source);
  ASSERT_EQ(got.size(), ticks.size());
  for (size_t idx = 0; idx < ticks.size(); ++idx) {
    ASSERT_TRUE(Same(got[idx], ticks[idx])) << "tick " << idx;
  }
  EXPECT_EQ((*bus_source)->Progress(), 1.0);
  EXPECT_EQ((*bus_source)->stats().accepted, 10'000u);
  std::vector<Tick> one(1);
  auto again = (*bus_source)->Read(one);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0u);
}

TEST_P(MarketStreamTest, AFeedPublishedTwiceIsStoredOnceAndReadOnce) {
  for (int round = 0; round < 2; ++round) {
    auto publisher = MarketPublisher::Create(
        *bus_, instrument_,
        {.session = "twice", .ticks_per_message = 100, .messages_per_publish = 3});
    ASSERT_TRUE(publisher.ok());
    for (const Tick& tick : Synthetic(1'050, instrument_.id)) {
      ASSERT_TRUE((*publisher)->Add(tick).ok());
    }
    ASSERT_TRUE((*publisher)->Finish().ok());
    // The second time every message, the end marker included, was stored already.
    EXPECT_EQ((*publisher)->stats().duplicates, round == 0 ? 0u : 12u);
  }
  auto source = BusTickSource::Open(*bus_, instrument_);
  ASSERT_TRUE(source.ok());
  EXPECT_EQ(ReadAll(**source).size(), 1'050u);
  EXPECT_EQ((*source)->duplicates(), 0u);
}

TEST_P(MarketStreamTest, ABatchAgainIsDroppedAGapIsDataLossAndForeignMessagesAreDeadLettered) {
  const std::vector<Tick> ticks = Synthetic(30, instrument_.id);
  feed::TickBatchCodec codec;
  const auto batch_of = [&](uint64_t first, uint64_t last) {
    feed::TickBatch batch;
    batch.symbols = {{instrument_.symbol, instrument_.digits}};
    for (uint64_t seq = first; seq <= last; ++seq) {
      feed::SequencedTick& added = batch.ticks.emplace_back();
      added.tick = ticks[seq - 1];
      added.tick.instrument = InstrumentId{0};
      added.sequence = seq;
    }
    std::vector<uint8_t> out;
    EXPECT_TRUE(codec.Encode(batch, feed::Compression::kLz4, out).ok());
    return std::string(out.begin(), out.end());
  };
  const std::string subject = "md." + instrument_.symbol;
  ASSERT_TRUE(bus_->Publish(subject, "", batch_of(1, 10)).ok());
  ASSERT_TRUE(bus_->Publish(subject, "", "not a tick batch").ok());
  ASSERT_TRUE(bus_->Publish(subject, "", batch_of(6, 15)).ok());   // 6..10 again
  ASSERT_TRUE(bus_->Publish(subject, "", batch_of(21, 30)).ok());  // 16..20 missing
  auto source = BusTickSource::Open(*bus_, instrument_);
  ASSERT_TRUE(source.ok());
  std::vector<Tick> chunk(100);
  size_t read = 0;
  Status status = Status::Ok();
  while (status.ok()) {
    auto got = (*source)->Read(chunk);
    if (!got.ok())
      status = got.status();
    else if (*got == 0)
      break;
    else
      read += *got;
  }
  EXPECT_EQ(read, 15u);
  EXPECT_EQ((*source)->duplicates(), 5u);
  EXPECT_EQ((*source)->dead_lettered(), 1u);
  EXPECT_EQ(status.code(), StatusCode::kDataLoss);
  EXPECT_NE(status.message().find(subject + ": ticks 16..20 missing"), std::string::npos)
      << status.ToString();
  // The foreign message waits in the DEAD stream, named by where it was.
  bus::ConsumerConfig dead;
  dead.stream = std::string(kDeadLetterStream);
  dead.filter_subject = "dead." + subject;
  auto consumer = bus_->Consume(dead);
  ASSERT_TRUE(consumer.ok());
  auto letters = (*consumer)->Fetch(10, Duration::Seconds(2));
  ASSERT_TRUE(letters.ok());
  ASSERT_EQ(letters->size(), 1u);
  EXPECT_EQ((*letters)[0].payload, "not a tick batch");
  EXPECT_EQ((*letters)[0].id.rfind(subject + ".", 0), 0u);
}

TEST_P(MarketStreamTest, AFeedNobodyPublishesIsAnErrorAfterTheIdleTimeout) {
  auto source = BusTickSource::Open(*bus_, instrument_, {.idle_timeout = Duration::Millis(300)});
  ASSERT_TRUE(source.ok());
  std::vector<Tick> chunk(10);
  auto read = (*source)->Read(chunk);
  ASSERT_EQ(read.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(read.status().message().find("md." + instrument_.symbol + ": no market data"),
            std::string::npos)
      << read.status().ToString();
}

TEST(MarketStreamOptionsTest, BadOptionsAndSymbolsAreRefused) {
  auto bus = bus::MakeInProcessBus();
  Instrument instrument = Instrument::Infer("EURUSD");
  EXPECT_EQ(MarketPublisher::Create(*bus, instrument, {.ticks_per_message = 0}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(MarketPublisher::Create(*bus, instrument, {.session = "a b"}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(MarketSubject("EUR.USD").status().code(), StatusCode::kInvalidArgument);
  auto subject = MarketSubject("EURUSD");
  ASSERT_TRUE(subject.ok());
  EXPECT_EQ(*subject, "md.EURUSD");
}

}  // namespace
}  // namespace aits::services
