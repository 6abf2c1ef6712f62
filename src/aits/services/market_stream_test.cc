// Market data over the bus, against both buses: a feed published and read back tick for tick,
// published twice and stored once, a live feed continued after a restart, a gap and foreign
// messages, and a feed nobody publishes.
#include "aits/services/market_stream.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "aits/bus/nats_bus.h"
#include "aits/data/merge.h"
#include "aits/data/synthetic.h"
#include "aits/testing/servers.h"

namespace aits::services {
namespace {

enum class Backend { kInProcess, kNats };

test_servers::NatsServer& SharedNats() { return test_servers::SharedNatsServer(); }

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

  // Reads `feed` from its first tick to its end marker: exactly `want`, in order, each once.
  void ExpectReadBackOnce(const std::string& feed, const std::vector<Tick>& want) {
    auto source = BusTickSource::Open(*bus_, instrument_, {.feed = feed});
    ASSERT_TRUE(source.ok()) << source.status().ToString();
    const std::vector<Tick> got = ReadAll(**source);
    ASSERT_EQ(got.size(), want.size());
    for (size_t idx = 0; idx < want.size(); ++idx) ASSERT_TRUE(Same(got[idx], want[idx])) << idx;
    EXPECT_EQ((*source)->duplicates(), 0u);
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
  IngestOptions ingest;
  ingest.publish.feed = "t1";
  ingest.publish.ticks_per_message = 300;  // 34 messages, the last one short
  std::vector<std::unique_ptr<data::TickSource>> sources;
  sources.push_back(std::move(source).value());
  auto ingested = IngestFeeds(*bus_, std::move(sources), {instrument_}, ingest);
  ASSERT_TRUE(ingested.ok()) << ingested.status().ToString();
  const PublishStats* stats = &ingested->feeds.at(0);
  EXPECT_EQ(stats->ticks, 10'000u);
  EXPECT_EQ(stats->messages, 34u);
  EXPECT_EQ(stats->duplicates, 0u);
  EXPECT_LT(stats->bytes, 10'000u * feed::kRawTickBytes / 2) << "LZ4 and deltas compress";

  auto bus_source = BusTickSource::Open(*bus_, instrument_, {.feed = "t1"});
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
        *bus_, instrument_, {.feed = "twice", .ticks_per_message = 100, .messages_per_publish = 3});
    ASSERT_TRUE(publisher.ok());
    for (const Tick& tick : Synthetic(1'050, instrument_.id)) {
      ASSERT_TRUE((*publisher)->Add(tick).ok());
    }
    ASSERT_TRUE((*publisher)->Finish().ok());
    // The second time every message, the end marker included, was stored already.
    EXPECT_EQ((*publisher)->stats().duplicates, round == 0 ? 0u : 12u);
  }
  auto source = BusTickSource::Open(*bus_, instrument_, {.feed = "twice"});
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
  const std::string subject = "md.default." + instrument_.symbol;
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

TEST_P(MarketStreamTest, APublisherStoppedMidFeedAndStartedAgainLeavesEveryTickOnce) {
  const std::vector<Tick> ticks = Synthetic(1'050, instrument_.id);
  const MarketPublisherOptions options{
      .feed = "restart", .ticks_per_message = 100, .messages_per_publish = 4};
  {
    auto first = MarketPublisher::Create(*bus_, instrument_, options);
    ASSERT_TRUE(first.ok());
    for (size_t idx = 0; idx < 730; ++idx) ASSERT_TRUE((*first)->Add(ticks[idx]).ok());
    ASSERT_TRUE((*first)->Stop().ok());  // 7 whole batches; ticks 701..730 dropped
    EXPECT_EQ((*first)->stats().ticks, 700u);
  }
  {
    // Without an end marker the feed is not over: a reader waits (here: its idle timeout).
    auto waiting = BusTickSource::Open(*bus_, instrument_,
                                       {.feed = "restart", .idle_timeout = Duration::Millis(300)});
    ASSERT_TRUE(waiting.ok());
    std::vector<Tick> chunk(2000);
    size_t read = 0;
    Result<size_t> got = size_t{0};
    while ((got = (*waiting)->Read(chunk)).ok() && *got > 0) read += *got;
    EXPECT_EQ(read, 700u);
    EXPECT_EQ(got.status().code(), StatusCode::kDeadlineExceeded);
  }
  auto again = MarketPublisher::Create(*bus_, instrument_, options);
  ASSERT_TRUE(again.ok());
  for (const Tick& tick : ticks) ASSERT_TRUE((*again)->Add(tick).ok());
  ASSERT_TRUE((*again)->Finish().ok());
  EXPECT_EQ((*again)->stats().duplicates, 7u);  // the same cuts, the same ids
  ExpectReadBackOnce("restart", ticks);
}

TEST_P(MarketStreamTest, TwoFeedsIngestedMergedComeBackInTheMergedOrder) {
  Instrument other = instrument_;
  other.symbol += "B";
  other.id = InstrumentId{4};
  const auto synthetic = [](InstrumentId id, uint64_t seed) {
    data::SyntheticOptions options;
    options.seed = seed;
    options.count = 5'000;
    options.instrument = id;
    return std::unique_ptr<data::TickSource>(
        std::move(data::SyntheticTickSource::Create(options)).value());
  };
  std::vector<std::unique_ptr<data::TickSource>> sources;
  sources.push_back(synthetic(instrument_.id, 1));
  sources.push_back(synthetic(other.id, 2));
  std::vector<uint64_t> progress;
  IngestOptions options;
  options.publish.feed = "merged";
  options.progress = [&](uint64_t ticks) { progress.push_back(ticks); };
  auto ingested = IngestFeeds(*bus_, std::move(sources), {instrument_, other}, options);
  ASSERT_TRUE(ingested.ok()) << ingested.status().ToString();
  EXPECT_FALSE(ingested->stopped);
  ASSERT_EQ(ingested->feeds.size(), 2u);
  EXPECT_EQ(ingested->feeds[0].ticks, 5'000u);
  EXPECT_EQ(ingested->feeds[1].ticks, 5'000u);

  // Read back per symbol and merged again: the merge of the original feeds.
  std::vector<std::unique_ptr<data::TickSource>> from_bus;
  for (const Instrument& instrument : {instrument_, other}) {
    auto source = BusTickSource::Open(*bus_, instrument, {.feed = "merged"});
    ASSERT_TRUE(source.ok());
    from_bus.push_back(std::move(source).value());
  }
  std::vector<std::unique_ptr<data::TickSource>> originals;
  originals.push_back(synthetic(instrument_.id, 1));
  originals.push_back(synthetic(other.id, 2));
  data::MergedTickSource expected(std::move(originals));
  data::MergedTickSource got(std::move(from_bus));
  std::vector<Tick> a(777);
  std::vector<Tick> b(777);
  size_t compared = 0;
  for (;;) {
    auto want = expected.Read(a);
    ASSERT_TRUE(want.ok());
    size_t have = 0;
    while (have < *want) {
      auto read = got.Read(std::span<Tick>(b).subspan(have, *want - have));
      ASSERT_TRUE(read.ok()) << read.status().ToString();
      ASSERT_GT(*read, 0u);
      have += *read;
    }
    for (size_t idx = 0; idx < *want; ++idx) ASSERT_TRUE(Same(a[idx], b[idx])) << compared + idx;
    compared += *want;
    if (*want == 0) break;
  }
  EXPECT_EQ(compared, 10'000u);
  auto end = got.Read(b);
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(*end, 0u);
}

TEST_P(MarketStreamTest, AnIngestStoppedBeforeItStartsEndsNoFeed) {
  std::atomic<bool> stop{true};
  std::vector<std::unique_ptr<data::TickSource>> sources;
  data::SyntheticOptions synthetic;
  synthetic.instrument = instrument_.id;
  synthetic.count = 100;
  sources.push_back(std::move(data::SyntheticTickSource::Create(synthetic)).value());
  IngestOptions options;
  options.stop = &stop;
  options.speed = 1;
  auto ingested = IngestFeeds(*bus_, std::move(sources), {instrument_}, options);
  ASSERT_TRUE(ingested.ok());
  EXPECT_TRUE(ingested->stopped);
  EXPECT_EQ(ingested->feeds[0].messages, 0u);
  EXPECT_EQ(IngestFeeds(*bus_, {}, {instrument_}, {}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_P(MarketStreamTest, AnotherDatasetUnderTheSameFeedNameIsRefused) {
  const auto publish = [&](uint64_t seed) -> Status {
    AITS_ASSIGN_OR_RETURN(std::unique_ptr<MarketPublisher> publisher,
                          MarketPublisher::Create(*bus_, instrument_, {.feed = "named"}));
    for (const Tick& tick : Synthetic(600, instrument_.id, seed)) {
      AITS_RETURN_IF_ERROR(publisher->Add(tick));
    }
    return publisher->Finish();
  };
  ASSERT_TRUE(publish(1).ok());
  ASSERT_TRUE(publish(1).ok()) << "the same feed again is a republish";
  const Status other = publish(2);
  EXPECT_EQ(other.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(other.message().find("md.named." + instrument_.symbol + " already holds another feed"),
            std::string::npos)
      << other.ToString();
}

// A restarted ingestion (killed, or stopped) continues after what the stream holds: every tick
// once, none skipped, numbered on; once the whole feed is there, it publishes nothing more; and a
// feed that is not the one the stream holds is refused naming the tick.
TEST_P(MarketStreamTest, ARestartedIngestionContinuesAfterWhatTheStreamHolds) {
  const std::vector<Tick> ticks = Synthetic(3'000, instrument_.id);
  const auto source = [&](uint64_t count, uint64_t seed) {
    data::SyntheticOptions options;
    options.seed = seed;
    options.count = count;
    options.instrument = instrument_.id;
    std::vector<std::unique_ptr<data::TickSource>> sources;
    sources.push_back(std::move(data::SyntheticTickSource::Create(options)).value());
    return sources;
  };
  IngestOptions options;
  options.publish = {.feed = "resume", .ticks_per_message = 100, .messages_per_publish = 2};
  {
    auto first = MarketPublisher::Create(*bus_, instrument_, options.publish);
    ASSERT_TRUE(first.ok());
    for (size_t idx = 0; idx < 1'234; ++idx) ASSERT_TRUE((*first)->Add(ticks[idx]).ok());
    ASSERT_TRUE((*first)->Stop().ok());  // as a kill between publishes leaves it: 1,200 held
  }
  auto resumed = IngestFeeds(*bus_, source(3'000, 7), {instrument_}, options);
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_EQ(resumed->feeds[0].resumed_after, 1'200u);
  EXPECT_EQ(resumed->feeds[0].ticks, 1'800u);
  EXPECT_EQ(resumed->feeds[0].duplicates, 0u);
  EXPECT_FALSE(resumed->feeds[0].already_ended);
  ExpectReadBackOnce("resume", ticks);

  auto again = IngestFeeds(*bus_, source(3'000, 7), {instrument_}, options);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->feeds[0].already_ended);
  EXPECT_EQ(again->feeds[0].ticks, 0u);
  EXPECT_EQ(again->feeds[0].messages, 0u);

  // Another dataset: its first tick differs.
  auto other = IngestFeeds(*bus_, source(3'000, 8), {instrument_}, options);
  EXPECT_EQ(other.status().code(), StatusCode::kFailedPrecondition) << other.status().ToString();
  // The same first tick but a shorter feed than the stream holds.
  IngestOptions partial = options;
  partial.publish.feed = "short";
  {
    auto first = MarketPublisher::Create(*bus_, instrument_, partial.publish);
    ASSERT_TRUE(first.ok());
    for (size_t idx = 0; idx < 1'000; ++idx) ASSERT_TRUE((*first)->Add(ticks[idx]).ok());
    ASSERT_TRUE((*first)->Stop().ok());
  }
  auto shorter = IngestFeeds(*bus_, source(500, 7), {instrument_}, partial);
  EXPECT_EQ(shorter.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(shorter.status().message().find("holds 1000 ticks of this feed but the feed has only"),
            std::string::npos)
      << shorter.status().ToString();
}

// A live gateway that restarts has no source to re-read: it takes the last tick the stream holds,
// with the trade server's time of it, asks its terminal for the ticks after that and numbers on.
// A subject that holds nothing starts the feed; one whose feed ended is another dataset.
TEST_P(MarketStreamTest, ARestartedLivePublisherContinuesAfterTheLastTickHeld) {
  const std::vector<Tick> ticks = Synthetic(1'050, instrument_.id);
  // Server times in ms, repeating as a trade server's do.
  const auto server_msc = [](size_t idx) {
    return int64_t{1'700'000'000'000} + static_cast<int64_t>(idx / 3);
  };
  const MarketPublisherOptions options{
      .feed = "live", .ticks_per_message = 100, .messages_per_publish = 4};
  {
    auto first = MarketPublisher::Create(*bus_, instrument_, options);
    ASSERT_TRUE(first.ok());
    auto nothing = (*first)->ContinueLive();
    ASSERT_TRUE(nothing.ok()) << nothing.status().ToString();
    EXPECT_FALSE(nothing->has_value());
    for (size_t idx = 0; idx < 730; ++idx) {
      ASSERT_TRUE((*first)->Add(ticks[idx], server_msc(idx)).ok());
    }
    ASSERT_TRUE((*first)->Stop().ok());  // 7 whole batches; ticks 701..730 dropped
    EXPECT_EQ((*first)->ContinueLive().status().code(), StatusCode::kFailedPrecondition)
        << "only before the first Add";
  }
  auto again = MarketPublisher::Create(*bus_, instrument_, options);
  ASSERT_TRUE(again.ok());
  auto held = (*again)->ContinueLive();
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  ASSERT_TRUE(held->has_value());
  EXPECT_EQ((*held)->sequence, 700u);
  EXPECT_EQ((*held)->source_msc, server_msc(699));
  EXPECT_TRUE(Same((*held)->tick, ticks[699]));  // with the publisher's instrument id
  EXPECT_EQ((*again)->stats().resumed_after, 700u);
  // The terminal's ticks after the one held, numbered on from 701.
  for (size_t idx = 700; idx < ticks.size(); ++idx) {
    ASSERT_TRUE((*again)->Add(ticks[idx], server_msc(idx)).ok());
  }
  ASSERT_TRUE((*again)->Finish().ok());  // only so that the reader below sees an end
  EXPECT_EQ((*again)->stats().ticks, 350u);
  EXPECT_EQ((*again)->stats().duplicates, 0u);
  ExpectReadBackOnce("live", ticks);

  auto ended = MarketPublisher::Create(*bus_, instrument_, options);
  ASSERT_TRUE(ended.ok());
  const Status refused = (*ended)->ContinueLive().status();
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("md.live." + instrument_.symbol + " holds a feed that ended"),
            std::string::npos)
      << refused.ToString();
}

TEST_P(MarketStreamTest, AFeedNobodyPublishesIsAnErrorAfterTheIdleTimeout) {
  auto source = BusTickSource::Open(*bus_, instrument_, {.idle_timeout = Duration::Millis(300)});
  ASSERT_TRUE(source.ok());
  std::vector<Tick> chunk(10);
  auto read = (*source)->Read(chunk);
  ASSERT_EQ(read.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(read.status().message().find("md.default." + instrument_.symbol + ": no market data"),
            std::string::npos)
      << read.status().ToString();
}

TEST(MarketStreamOptionsTest, BadOptionsAndSymbolsAreRefused) {
  auto bus = bus::MakeInProcessBus();
  Instrument instrument = Instrument::Infer("EURUSD");
  EXPECT_EQ(MarketPublisher::Create(*bus, instrument, {.ticks_per_message = 0}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(MarketPublisher::Create(*bus, instrument, {.feed = "a b"}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(MarketSubject("default", "EUR.USD").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(MarketSubject("a.b", "EURUSD").status().code(), StatusCode::kInvalidArgument);
  auto subject = MarketSubject("hist2020", "EURUSD");
  ASSERT_TRUE(subject.ok());
  EXPECT_EQ(*subject, "md.hist2020.EURUSD");
}

}  // namespace
}  // namespace aits::services
