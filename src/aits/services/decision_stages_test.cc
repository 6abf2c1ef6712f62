// The roles between the tick and the decision, apart from the account's owner (ADR 0007): the
// ingestion, features and prediction roles and the owner each on its own bus connection (its own
// thread here; its own process in tests/e2e/serve_cli_test.sh), over the in-process bus and a
// real nats-server. The session must log exactly what the embedded one logs — two feeds, a stop
// and a resume, a restarted stage, a malformed message — and when a prediction never comes, the
// owner stops without logging the bar as decided, so that a resume decides it.
#include "aits/services/decision_stages.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "aits/bus/nats_bus.h"
#include "aits/cache/cache.h"
#include "aits/core/fixed_point.h"
#include "aits/core/hash.h"
#include "aits/core/metrics.h"
#include "aits/proto/messages.h"
#include "aits/services/bus_session_test_util.h"
#include "aits/services/market_stream.h"
#include "aits/session/paper.h"
#include "aits/session/session_test_util.h"
#include "aits/testing/servers.h"

namespace aits::services {
namespace {

using session::PaperOptions;
using session::SessionSpec;

StageOptions Stage(const SessionSpec& spec, const std::string& feed) {
  StageOptions options;
  options.feed = feed;
  options.bar_period = Duration::Seconds(spec.bar_seconds);
  options.idle_timeout = Duration::Seconds(20);
  return options;
}

enum class StageKind { kFeatures, kPrediction, kDecision };
constexpr StageKind kFeaturesStage = StageKind::kFeatures;
constexpr StageKind kPredictionStage = StageKind::kPrediction;
constexpr StageKind kDecisionStage = StageKind::kDecision;

// One stage of every traded instrument of `spec`, each on its own thread with the signal source
// (or the decision engine) the session would build; Join returns the first error.
class StageThreads {
 public:
  StageThreads(bus::MessageBus& bus, const SessionSpec& spec, StageKind kind, StageOptions options)
      : instruments_(session::InstrumentsOf(spec)) {
    const std::vector<InstrumentId> traded = session::TradedOf(spec);
    stats_.assign(traded.size(), StageStats{});
    auto engine = session::EngineConfigFor(spec);
    EXPECT_TRUE(engine.ok()) << engine.status().ToString();
    engine_.emplace(*engine);
    for (size_t idx = 0; idx < traded.size(); ++idx) {
      const Instrument& instrument = instruments_[traded[idx].value];
      auto source = session::MakeRuleSignalFor(spec, instrument, options.bar_period);
      EXPECT_TRUE(source.ok()) << source.status().ToString();
      sources_.push_back(std::move(source).value());
      threads_.emplace_back([this, idx, &bus, &instrument, kind, options] {
        switch (kind) {
          case StageKind::kFeatures:
            stats_[idx] = RunFeatures(bus, instrument, *sources_[idx], options);
            break;
          case StageKind::kPrediction:
            stats_[idx] = RunPrediction(bus, instrument, *sources_[idx], options);
            break;
          case StageKind::kDecision:
            stats_[idx] = RunDecision(bus, instrument, *engine_, options);
            break;
        }
      });
    }
  }
  ~StageThreads() { (void)Join(); }
  Status Join() {
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
    for (const Result<StageStats>& stats : stats_) AITS_RETURN_IF_ERROR(stats.status());
    return Status::Ok();
  }
  const StageStats& stats(size_t idx) const { return *stats_[idx]; }

 private:
  std::vector<Instrument> instruments_;
  std::vector<std::unique_ptr<trading::SignalSource>> sources_;
  std::optional<decision::DecisionEngine> engine_;
  std::vector<Result<StageStats>> stats_;
  std::vector<std::thread> threads_;
};

// The owner: the session, its market from MARKET and its predictions from PREDICTIONS.
PaperOptions Owner(PaperOptions options, bus::MessageBus& bus, const std::string& feed,
                   PredictionFeed& predictions) {
  options = FromBus(std::move(options), bus, feed);
  options.signals = [&predictions](const SessionSpec& spec, const Instrument& instrument,
                                   Duration /*bar_period*/) {
    return predictions.Source(instrument, spec.signal);
  };
  options.check_tick = [&predictions] { return predictions.status(); };
  return options;
}

// The owner without its decision: the session, its market from MARKET, its decisions from
// DECISIONS (the account at each bar close out to ACCOUNTS).
PaperOptions OwnerApart(PaperOptions options, bus::MessageBus& bus, const std::string& feed,
                        DecisionFeed& decisions) {
  options = FromBus(std::move(options), bus, feed);
  options.deciders = [&decisions](const Instrument& instrument) {
    return decisions.Decider(instrument);
  };
  options.check_tick = [&decisions] { return decisions.status(); };
  return options;
}

class DecisionStagesTest : public ::testing::TestWithParam<BusKind> {
 protected:
  void SetUp() override {
    const Status started = buses_.Start(GetParam());
    ASSERT_TRUE(started.ok()) << started.ToString();
    auto bus = Connect();
    ASSERT_TRUE(EnsureMarketStream(*bus).ok());
    ASSERT_TRUE(EnsureStageStreams(*bus).ok());
  }

  // A connection of one role (the in-process bus: the one bus, shared).
  std::shared_ptr<bus::MessageBus> Connect() { return buses_.Connect(); }

  // The session split (in tmp_ "distributed") ended as the embedded one (in "embedded").
  void ExpectTheEmbeddedRun(const session::PaperResult& distributed,
                            const session::PaperResult& embedded) {
    EXPECT_TRUE(distributed.feed_ended);
    EXPECT_EQ(distributed.orders, embedded.orders);
    EXPECT_EQ(distributed.fills, embedded.fills);
    EXPECT_EQ(distributed.decisions, embedded.decisions);
    EXPECT_EQ(distributed.account.balance.raw(), embedded.account.balance.raw());
    EXPECT_EQ(distributed.account.equity.raw(), embedded.account.equity.raw());
    EXPECT_EQ(session::LogLines(tmp_.Sub("distributed")), session::LogLines(tmp_.Sub("embedded")));
  }

  // The roles of a split session, each on its own connection.
  struct Split {
    std::shared_ptr<bus::MessageBus> ingestion_bus, features_bus, prediction_bus, owner_bus;
    std::unique_ptr<StageThreads> features, prediction;
    std::unique_ptr<PredictionFeed> predictions;
    Result<session::PaperResult> owner = session::PaperResult{};
    bool ended = false;  // every role without error
    std::string error;   // else the first
  };
  // Ingestion, features and prediction (with `stages`, whose feed names the market) and the
  // owner (its log in tmp_ "distributed") all at once.
  void RunSplit(const SessionSpec& spec, const StageOptions& stages, Split* split) {
    split->ingestion_bus = Connect();
    split->features_bus = Connect();
    split->prediction_bus = Connect();
    split->owner_bus = Connect();
    Status ingested = Status::Ok();
    std::thread ingestion([&] { ingested = Ingest(*split->ingestion_bus, spec, stages.feed); });
    split->features =
        std::make_unique<StageThreads>(*split->features_bus, spec, kFeaturesStage, stages);
    split->prediction =
        std::make_unique<StageThreads>(*split->prediction_bus, spec, kPredictionStage, stages);
    split->predictions =
        std::make_unique<PredictionFeed>(*split->owner_bus, Stage(spec, stages.feed));
    split->owner = session::RunPaper(Owner(session::MaxSpeed(spec, tmp_.Sub("distributed")),
                                           *split->owner_bus, stages.feed, *split->predictions));
    ingestion.join();
    for (const Status& status : {ingested, split->features->Join(), split->prediction->Join(),
                                 split->owner.status(), split->predictions->status()}) {
      if (!status.ok() && split->error.empty()) split->error = status.ToString();
    }
    split->ended = split->error.empty();
  }

  // The owner's log (in tmp_ "owner") is a strict prefix of the embedded one's ("embedded"),
  // which it returns.
  std::vector<std::string> ExpectTheOwnerLogAStrictPrefix() {
    const std::vector<std::string> partial = session::LogLines(tmp_.Sub("owner"));
    std::vector<std::string> whole = session::LogLines(tmp_.Sub("embedded"));
    EXPECT_LT(partial.size(), whole.size());
    if (partial.size() < whole.size()) {
      EXPECT_TRUE(std::equal(partial.begin(), partial.end(), whole.begin()));
    }
    return whole;
  }

  TestBuses buses_;
  session::TempDir tmp_;
};

TEST_P(DecisionStagesTest, FeaturesAndPredictionApartTradeAsTheEmbeddedNodeWithTwoFeeds) {
  const SessionSpec spec = TwoFeeds(30'000);
  auto embedded = session::RunPaper(session::MaxSpeed(spec, tmp_.Sub("embedded")));
  ASSERT_TRUE(embedded.ok()) << embedded.status().message();
  ASSERT_GT(embedded->fills, 10u) << "the session should trade";

  // Every role at once, each on its own connection: the owner waits for what the others have not
  // yet computed.
  Split split;
  RunSplit(spec, Stage(spec, "eq"), &split);
  ASSERT_TRUE(split.ended) << split.error;
  const StageThreads& features = *split.features;
  const StageThreads& prediction = *split.prediction;
  const PredictionFeed& predictions = *split.predictions;
  ExpectTheEmbeddedRun(*split.owner, *embedded);
  // One prediction per bar the owner closed, in hand for every one of them.
  EXPECT_GT(predictions.predictions(), 100u);
  EXPECT_EQ(predictions.wait().count(), predictions.predictions());
  for (size_t idx = 0; idx < 2; ++idx) {
    EXPECT_TRUE(features.stats(idx).ended);
    EXPECT_EQ(features.stats(idx).outputs, prediction.stats(idx).inputs);
    EXPECT_EQ(prediction.stats(idx).outputs, prediction.stats(idx).inputs);
    EXPECT_EQ(prediction.stats(idx).dead_lettered, 0u);
  }
  // The session stops at 30,000 ticks of both feeds together; the stages ran to the feeds' end.
  EXPECT_GE(features.stats(0).inputs + features.stats(1).inputs, 30'000u);
  EXPECT_LE(predictions.predictions(), prediction.stats(0).outputs + prediction.stats(1).outputs);
}

TEST_P(DecisionStagesTest, RestartedStagesRepeatNothingAndAResumedOwnerLogsWhatOneRunLogs) {
  const SessionSpec spec = session::BusySpec(12'000);
  ASSERT_TRUE(session::RunPaper(session::MaxSpeed(spec, tmp_.Sub("embedded"))).ok());
  auto bus = Connect();
  ASSERT_TRUE(Ingest(*bus, spec, "again").ok());
  {
    StageThreads features(*bus, spec, kFeaturesStage, Stage(spec, "again"));
    ASSERT_TRUE(features.Join().ok());
    StageThreads prediction(*bus, spec, kPredictionStage, Stage(spec, "again"));
    ASSERT_TRUE(prediction.Join().ok());
    EXPECT_GT(prediction.stats(0).stored, 100u);
  }
  // A stage that restarts recomputes from the first tick and publishes the same ids: the streams
  // store nothing twice (within their duplicate window; past it, consumers drop by bar).
  StageThreads features(*bus, spec, kFeaturesStage, Stage(spec, "again"));
  ASSERT_TRUE(features.Join().ok());
  EXPECT_GT(features.stats(0).outputs, 100u);
  EXPECT_EQ(features.stats(0).stored, 0u);
  StageThreads prediction(*bus, spec, kPredictionStage, Stage(spec, "again"));
  ASSERT_TRUE(prediction.Join().ok());
  EXPECT_EQ(prediction.stats(0).stored, 0u);
  EXPECT_EQ(prediction.stats(0).duplicates, 0u);

  PredictionFeed first_feed(*bus, Stage(spec, "again"));
  PaperOptions first = Owner(session::MaxSpeed(spec, tmp_.Sub("parts")), *bus, "again", first_feed);
  first.stop_after = 5'000;
  auto part = session::RunPaper(first);
  ASSERT_TRUE(part.ok()) << part.status().message();
  EXPECT_FALSE(part->feed_ended);
  // The resumed owner asks again for every bar its log holds, from the stream's first prediction.
  PredictionFeed rest_feed(*bus, Stage(spec, "again"));
  PaperOptions rest = Owner(session::MaxSpeed(spec, tmp_.Sub("parts")), *bus, "again", rest_feed);
  rest.spec_given = false;
  auto last = session::RunPaper(rest);
  ASSERT_TRUE(last.ok()) << last.status().message();
  EXPECT_TRUE(last->resumed);
  EXPECT_TRUE(last->feed_ended);
  EXPECT_EQ(session::LogLines(tmp_.Sub("parts")), session::LogLines(tmp_.Sub("embedded")));
}

// Each stage's reader exports its lag on the role's registry (bus/consumer_metrics.h), named
// by reader and subject: a stage that starts with the whole feed stored behind it ends caught up,
// at 0, nothing handed to it twice.
TEST_P(DecisionStagesTest, EveryStageReaderExportsItsLagCaughtUpAtTheEnd) {
  const SessionSpec spec = session::BusySpec(6'000);
  auto bus = Connect();
  ASSERT_TRUE(Ingest(*bus, spec, "lag").ok());
  Registry registry;
  StageOptions options = Stage(spec, "lag");
  options.metrics = &registry;
  StageThreads features(*bus, spec, kFeaturesStage, options);
  ASSERT_TRUE(features.Join().ok());
  StageThreads prediction(*bus, spec, kPredictionStage, options);
  ASSERT_TRUE(prediction.Join().ok());
  const std::string symbol = session::InstrumentsOf(spec)[session::TradedOf(spec)[0].value].symbol;
  std::map<std::vector<std::string>, double> lag;
  std::map<std::vector<std::string>, uint64_t> again;
  for (const FamilySnapshot& family : registry.Collect()) {
    for (const FamilySnapshot::Child& child : family.children) {
      if (family.name == "aits_bus_consumer_pending_messages")
        lag[child.label_values] = child.gauge;
      if (family.name == "aits_bus_redeliveries_total") again[child.label_values] = child.counter;
    }
  }
  const std::vector<std::string> market = {"MARKET", "features:md.lag." + symbol};
  const std::vector<std::string> rows = {"FEATURES", "prediction:feat.lag." + symbol};
  ASSERT_TRUE(lag.contains(market) && lag.contains(rows)) << lag.size() << " readers";
  EXPECT_EQ(lag[market], 0);
  EXPECT_EQ(lag[rows], 0);
  EXPECT_EQ(again[market], 0u);
  EXPECT_EQ(again[rows], 0u);
}

TEST_P(DecisionStagesTest, APredictionThatNeverComesStopsTheOwnerWithoutLoggingTheBar) {
  const SessionSpec spec = session::BusySpec(8'000);
  ASSERT_TRUE(session::RunPaper(session::MaxSpeed(spec, tmp_.Sub("embedded"))).ok());
  auto bus = Connect();
  ASSERT_TRUE(Ingest(*bus, spec, "late").ok());
  // Features and no prediction role: the owner's first bar close waits out the idle timeout.
  StageThreads features(*bus, spec, kFeaturesStage, Stage(spec, "late"));
  ASSERT_TRUE(features.Join().ok());
  StageOptions impatient = Stage(spec, "late");
  impatient.idle_timeout = Duration::Millis(300);
  PredictionFeed waiting(*bus, impatient);
  auto failed =
      session::RunPaper(Owner(session::MaxSpeed(spec, tmp_.Sub("owner")), *bus, "late", waiting));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(failed.status().message().find("EURUSD bar 2024-01-08"), std::string::npos)
      << failed.status().message();
  EXPECT_NE(failed.status().message().find("predictions from the prediction role"),
            std::string::npos)
      << failed.status().message();
  // The log holds no tick past the last commit before that bar: nothing of it was decided.
  const std::vector<std::string> whole = ExpectTheOwnerLogAStrictPrefix();

  // The prediction role comes; the owner resumes and decides that bar as the embedded node did.
  StageThreads prediction(*bus, spec, kPredictionStage, Stage(spec, "late"));
  ASSERT_TRUE(prediction.Join().ok());
  PredictionFeed answered(*bus, Stage(spec, "late"));
  PaperOptions resume = Owner(session::MaxSpeed(spec, tmp_.Sub("owner")), *bus, "late", answered);
  resume.spec_given = false;
  auto resumed = session::RunPaper(resume);
  ASSERT_TRUE(resumed.ok()) << resumed.status().message();
  EXPECT_TRUE(resumed->feed_ended);
  EXPECT_EQ(session::LogLines(tmp_.Sub("owner")), whole);
}

TEST_P(DecisionStagesTest, MalformedFeaturesAreDeadLetteredAndTradingIsUnchanged) {
  const SessionSpec spec = session::BusySpec(6'000);
  ASSERT_TRUE(session::RunPaper(session::MaxSpeed(spec, tmp_.Sub("embedded"))).ok());
  auto bus = Connect();
  ASSERT_TRUE(Ingest(*bus, spec, "bad").ok());
  // Before the features role publishes: garbage, another instrument's bar, and a bar of the
  // right instrument that is no feature row.
  ASSERT_TRUE(bus->Publish("feat.bad.EURUSD", "", "not a message").ok());
  FeatureRow other;
  other.bar.instrument = InstrumentId{5};
  other.bar.period = Duration::Minutes(1);
  ASSERT_TRUE(bus->Publish("feat.bad.EURUSD", "", proto::Encode(other)).ok());
  Bar bar;
  bar.period = Duration::Minutes(1);
  ASSERT_TRUE(bus->Publish("feat.bad.EURUSD", "", proto::Encode(bar)).ok());
  // And one on the owner's subject, before the first prediction.
  ASSERT_TRUE(bus->Publish("pred.bad.EURUSD", "", "\xff\xfe").ok());
  StageThreads features(*bus, spec, kFeaturesStage, Stage(spec, "bad"));
  ASSERT_TRUE(features.Join().ok());
  StageThreads prediction(*bus, spec, kPredictionStage, Stage(spec, "bad"));
  ASSERT_TRUE(prediction.Join().ok());
  EXPECT_EQ(prediction.stats(0).dead_lettered, 3u);
  auto dead = bus->GetStream(kDeadLetterStream);
  ASSERT_TRUE(dead.ok());
  EXPECT_EQ(dead->messages, 3u);
  PredictionFeed predictions(*bus, Stage(spec, "bad"));
  auto run = session::RunPaper(
      Owner(session::MaxSpeed(spec, tmp_.Sub("owner")), *bus, "bad", predictions));
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_EQ(predictions.dead_lettered(), 1u);
  EXPECT_EQ(session::LogLines(tmp_.Sub("owner")), session::LogLines(tmp_.Sub("embedded")));
}

// The lockstep's two subjects: garbage and another instrument's message on ACCOUNTS (read by the
// decision role) and on DECISIONS (read by the owner) are dead-lettered and counted, and the
// session logs what the embedded one logs.
TEST_P(DecisionStagesTest, MalformedAccountsAndDecisionsAreDeadLetteredAndTradingIsUnchanged) {
  const SessionSpec spec = session::BusySpec(6'000);
  ASSERT_TRUE(session::RunPaper(session::MaxSpeed(spec, tmp_.Sub("embedded"))).ok());
  auto bus = Connect();
  ASSERT_TRUE(Ingest(*bus, spec, "bad2").ok());
  StageThreads features(*bus, spec, kFeaturesStage, Stage(spec, "bad2"));
  ASSERT_TRUE(features.Join().ok());
  StageThreads prediction(*bus, spec, kPredictionStage, Stage(spec, "bad2"));
  ASSERT_TRUE(prediction.Join().ok());
  ASSERT_TRUE(bus->Publish("acct.bad2.EURUSD", "", "not a message").ok());
  AccountAtBar other_account;
  other_account.instrument = InstrumentId{5};
  ASSERT_TRUE(bus->Publish("acct.bad2.EURUSD", "", proto::Encode(other_account)).ok());
  ASSERT_TRUE(bus->Publish("dec.bad2.EURUSD", "", "\xff\xfe").ok());
  BarDecision other_decision;
  other_decision.instrument = InstrumentId{5};
  ASSERT_TRUE(bus->Publish("dec.bad2.EURUSD", "", proto::Encode(other_decision)).ok());
  Bar bar;
  bar.period = Duration::Minutes(1);
  ASSERT_TRUE(bus->Publish("dec.bad2.EURUSD", "", proto::Encode(bar)).ok());

  StageThreads decision(*bus, spec, kDecisionStage, Stage(spec, "bad2"));
  DecisionFeed decisions(*bus, Stage(spec, "bad2"));
  auto run = session::RunPaper(
      OwnerApart(session::MaxSpeed(spec, tmp_.Sub("owner")), *bus, "bad2", decisions));
  // The owner's end ends the decision role.
  const Status ended = decisions.End();
  const Status decided = decision.Join();
  ASSERT_TRUE(ended.ok()) << ended.ToString();
  ASSERT_TRUE(run.ok()) << run.status().message() << "; decision role: " << decided.ToString();
  ASSERT_TRUE(decided.ok()) << decided.ToString();
  EXPECT_EQ(decision.stats(0).dead_lettered, 2u);
  EXPECT_EQ(decisions.dead_lettered(), 3u);
  auto dead = bus->GetStream(kDeadLetterStream);
  ASSERT_TRUE(dead.ok());
  EXPECT_EQ(dead->messages, 5u);
  EXPECT_EQ(session::LogLines(tmp_.Sub("owner")), session::LogLines(tmp_.Sub("embedded")));
}

TEST_P(DecisionStagesTest, RolesThatBuildOtherBarsAreAnErrorNamingIt) {
  const SessionSpec spec = session::BusySpec(4'000);
  auto bus = Connect();
  ASSERT_TRUE(Ingest(*bus, spec, "bars").ok());
  StageOptions two_minutes = Stage(spec, "bars");
  two_minutes.bar_period = Duration::Minutes(2);
  StageThreads features(*bus, spec, kFeaturesStage, two_minutes);
  ASSERT_TRUE(features.Join().ok());
  StageThreads prediction(*bus, spec, kPredictionStage, two_minutes);
  ASSERT_TRUE(prediction.Join().ok());
  PredictionFeed predictions(*bus, Stage(spec, "bars"));
  auto run = session::RunPaper(
      Owner(session::MaxSpeed(spec, tmp_.Sub("owner")), *bus, "bars", predictions));
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(run.status().message().find("the roles build different bars"), std::string::npos)
      << run.status().message();
}

// The stage options with Redis at `redis` for the features, prediction and decision roles; a short
// cool-down so that a restarted Redis is tried again within the test, and a long timeout so
// that a loaded machine (ctest runs tests side by side) does not count slow answers as errors.
StageOptions WithRedis(StageOptions options, const test_servers::RedisServer& redis,
                       const SessionSpec& spec) {
  StageCacheOptions cache;
  cache.cache.redis.port = redis.port();
  cache.timeout = Duration::Seconds(5);
  cache.breaker.open_for = Duration::Millis(200);
  cache.model = spec.signal + "(" + spec.signal_params + ")";
  options.cache = cache;
  return options;
}

// Every payload on `subject` of `stream` up to its end marker, in order.
std::vector<std::string> Payloads(bus::MessageBus& bus, std::string_view stream,
                                  const std::string& subject) {
  bus::ConsumerConfig config;
  config.stream = std::string(stream);
  config.filter_subject = subject;
  config.start = bus::StartAt::kFirst;
  auto consumer = bus.Consume(config);
  EXPECT_TRUE(consumer.ok()) << consumer.status().ToString();
  std::vector<std::string> out;
  while (consumer.ok()) {
    auto got = (*consumer)->Fetch(64, Duration::Seconds(5));
    EXPECT_TRUE(got.ok() && !got->empty()) << subject << " ended without its end marker";
    if (!got.ok() || got->empty()) break;
    for (const bus::Delivery& delivery : *got) {
      if (delivery.payload == kEndOfFeed) return out;
      out.push_back(delivery.payload);
    }
  }
  return out;
}

std::unique_ptr<cache::RedisClient> RedisAt(const test_servers::RedisServer& redis) {
  auto client = cache::RedisClient::Connect({.port = redis.port()});
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return client.ok() ? std::move(client).value() : nullptr;
}

TEST_P(DecisionStagesTest, TheDecisionRoleApartTradesAsTheEmbeddedNodeWithTwoFeeds) {
  const SessionSpec spec = TwoFeeds(30'000);
  auto embedded = session::RunPaper(session::MaxSpeed(spec, tmp_.Sub("embedded")));
  ASSERT_TRUE(embedded.ok()) << embedded.status().message();
  ASSERT_GT(embedded->fills, 10u) << "the session should trade";

  // Five roles at once, each on its own connection: ingestion, features, prediction, decision,
  // and the owner (risk and execution), which asks the decision role at every bar close. The
  // decision role keeps each symbol's last decision in Redis as well.
  auto redis = test_servers::RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status().ToString();
  auto ingestion_bus = Connect();
  auto features_bus = Connect();
  auto prediction_bus = Connect();
  auto decision_bus = Connect();
  auto owner_bus = Connect();
  Status ingested = Status::Ok();
  std::thread ingestion([&] { ingested = Ingest(*ingestion_bus, spec, "apart"); });
  StageThreads features(*features_bus, spec, kFeaturesStage, Stage(spec, "apart"));
  StageThreads prediction(*prediction_bus, spec, kPredictionStage, Stage(spec, "apart"));
  StageThreads decision(*decision_bus, spec, kDecisionStage,
                        WithRedis(Stage(spec, "apart"), **redis, spec));
  DecisionFeed decisions(*owner_bus, Stage(spec, "apart"));
  auto distributed = session::RunPaper(
      OwnerApart(session::MaxSpeed(spec, tmp_.Sub("distributed")), *owner_bus, "apart", decisions));
  ingestion.join();
  ASSERT_TRUE(ingested.ok()) << ingested.ToString();
  ASSERT_TRUE(features.Join().ok());
  ASSERT_TRUE(prediction.Join().ok());
  if (!distributed.ok()) {
    (void)decisions.End();
    ADD_FAILURE() << "decision role: " << decision.Join().ToString();
  }
  ASSERT_TRUE(distributed.ok()) << distributed.status().message();
  ASSERT_TRUE(decisions.status().ok()) << decisions.status().ToString();

  ExpectTheEmbeddedRun(*distributed, *embedded);
  // One answer per bar the owner closed, "no decision" included.
  EXPECT_GT(decisions.decisions(), 100u);
  EXPECT_EQ(decisions.wait().count(), decisions.decisions());
  EXPECT_EQ(decisions.dead_lettered(), 0u);
  // The owner's end ends the decision role, which answered every question once.
  ASSERT_TRUE(decisions.End().ok());
  ASSERT_TRUE(decision.Join().ok());
  for (size_t idx = 0; idx < 2; ++idx) {
    EXPECT_TRUE(decision.stats(idx).ended);
    EXPECT_EQ(decision.stats(idx).outputs, decision.stats(idx).inputs);
    EXPECT_EQ(decision.stats(idx).duplicates, 0u);
  }
  EXPECT_EQ(decision.stats(0).inputs + decision.stats(1).inputs, decisions.decisions());

  // Redis holds each symbol's last answer, as DecisionStateJson renders it.
  auto client = RedisAt(**redis);
  ASSERT_NE(client, nullptr);
  const std::vector<Instrument> instruments = session::InstrumentsOf(spec);
  for (size_t idx = 0; idx < 2; ++idx) {
    const CacheCounters& written = decision.stats(idx).cache;
    EXPECT_EQ(written.puts + written.errors + written.skipped, decision.stats(idx).outputs)
        << written.last_error;
    const Instrument& instrument = instruments[session::TradedOf(spec)[idx].value];
    const std::vector<std::string> answers =
        Payloads(*owner_bus, kDecisionsStream, *DecisionsSubject("apart", instrument.symbol));
    ASSERT_FALSE(answers.empty());
    auto last = proto::Decode<BarDecision>(answers.back());
    ASSERT_TRUE(last.ok()) << last.status().ToString();
    auto held = client->Get(cache::DecisionKey("apart", instrument.symbol));
    ASSERT_TRUE(held.ok() && held->has_value()) << instrument.symbol;
    EXPECT_EQ(**held, DecisionStateJson("apart", instrument, *last));
    EXPECT_NE(held->value().find("\"bar_open\":\"" + FormatIso8601(last->bar_open)),
              std::string::npos)
        << **held;
  }
}

TEST_P(DecisionStagesTest, ARestartedDecisionRoleAndAResumedOwnerLogWhatOneRunLogs) {
  const SessionSpec spec = session::BusySpec(12'000);
  ASSERT_TRUE(session::RunPaper(session::MaxSpeed(spec, tmp_.Sub("embedded"))).ok());
  auto bus = Connect();
  ASSERT_TRUE(Ingest(*bus, spec, "again").ok());
  StageThreads features(*bus, spec, kFeaturesStage, Stage(spec, "again"));
  ASSERT_TRUE(features.Join().ok());
  StageThreads prediction(*bus, spec, kPredictionStage, Stage(spec, "again"));
  ASSERT_TRUE(prediction.Join().ok());

  // The first decision role answers the owner's first 5,000 ticks and is stopped with it.
  std::atomic<bool> stop_first{false};
  StageOptions first_options = Stage(spec, "again");
  first_options.stop = &stop_first;
  DecisionFeed first_feed(*bus, Stage(spec, "again"));
  uint64_t first_answers = 0;
  {
    StageThreads first_role(*bus, spec, kDecisionStage, first_options);
    PaperOptions first =
        OwnerApart(session::MaxSpeed(spec, tmp_.Sub("parts")), *bus, "again", first_feed);
    first.stop_after = 5'000;
    auto part = session::RunPaper(first);
    ASSERT_TRUE(part.ok()) << part.status().message();
    EXPECT_FALSE(part->feed_ended);
    first_answers = first_feed.decisions();
    EXPECT_GT(first_answers, 30u);
    stop_first = true;
    // A stop is a clean end where the role was: its stats, no end marker.
    const Status stopped = first_role.Join();
    ASSERT_TRUE(stopped.ok()) << stopped.ToString();
    EXPECT_TRUE(first_role.stats(0).stopped);
    EXPECT_FALSE(first_role.stats(0).ended);
  }
  // A new decision role recomputes from the first question: the same ids, stored once. The
  // resumed owner asks again for every bar its log holds.
  StageThreads second_role(*bus, spec, kDecisionStage, Stage(spec, "again"));
  DecisionFeed rest_feed(*bus, Stage(spec, "again"));
  PaperOptions rest =
      OwnerApart(session::MaxSpeed(spec, tmp_.Sub("parts")), *bus, "again", rest_feed);
  rest.spec_given = false;
  auto last = session::RunPaper(rest);
  ASSERT_TRUE(last.ok()) << last.status().message();
  EXPECT_TRUE(last->resumed);
  EXPECT_TRUE(last->feed_ended);
  ASSERT_TRUE(rest_feed.End().ok());
  ASSERT_TRUE(second_role.Join().ok());
  EXPECT_EQ(second_role.stats(0).outputs, rest_feed.decisions());
  EXPECT_EQ(second_role.stats(0).stored, rest_feed.decisions() - first_answers);
  EXPECT_EQ(session::LogLines(tmp_.Sub("parts")), session::LogLines(tmp_.Sub("embedded")));
}

TEST_P(DecisionStagesTest, ADecisionThatNeverComesStopsTheOwnerWithoutLoggingTheBar) {
  const SessionSpec spec = session::BusySpec(8'000);
  ASSERT_TRUE(session::RunPaper(session::MaxSpeed(spec, tmp_.Sub("embedded"))).ok());
  auto bus = Connect();
  ASSERT_TRUE(Ingest(*bus, spec, "late").ok());
  StageThreads features(*bus, spec, kFeaturesStage, Stage(spec, "late"));
  ASSERT_TRUE(features.Join().ok());
  StageThreads prediction(*bus, spec, kPredictionStage, Stage(spec, "late"));
  ASSERT_TRUE(prediction.Join().ok());
  // No decision role: the owner's first bar close waits out the idle timeout.
  StageOptions impatient = Stage(spec, "late");
  impatient.idle_timeout = Duration::Millis(300);
  DecisionFeed waiting(*bus, impatient);
  auto failed = session::RunPaper(
      OwnerApart(session::MaxSpeed(spec, tmp_.Sub("owner")), *bus, "late", waiting));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(failed.status().message().find("EURUSD bar 2024-01-08"), std::string::npos)
      << failed.status().message();
  EXPECT_NE(failed.status().message().find("decisions from the decision role"), std::string::npos)
      << failed.status().message();
  const std::vector<std::string> whole = ExpectTheOwnerLogAStrictPrefix();

  // The decision role comes (the question already waits on ACCOUNTS); the owner resumes and
  // decides that bar as the embedded node did.
  StageThreads decision(*bus, spec, kDecisionStage, Stage(spec, "late"));
  DecisionFeed answered(*bus, Stage(spec, "late"));
  PaperOptions resume =
      OwnerApart(session::MaxSpeed(spec, tmp_.Sub("owner")), *bus, "late", answered);
  resume.spec_given = false;
  auto resumed = session::RunPaper(resume);
  ASSERT_TRUE(resumed.ok()) << resumed.status().message();
  EXPECT_TRUE(resumed->feed_ended);
  ASSERT_TRUE(answered.End().ok());
  ASSERT_TRUE(decision.Join().ok());
  EXPECT_EQ(session::LogLines(tmp_.Sub("owner")), whole);
}

// A decision role of its own making (not the engine): it answers every question of one symbol,
// and at the first bar with a quote sends BUY `lots` whatever the account holds.
class ScriptedDecisionRole {
 public:
  ScriptedDecisionRole(bus::MessageBus& bus, const Instrument& instrument, const std::string& feed,
                       double lots)
      : thread_(
            [this, &bus, instrument, feed, lots] { result_ = Run(bus, instrument, feed, lots); }) {}
  ~ScriptedDecisionRole() { Join(); }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  const Status& result() const { return result_; }

 private:
  static Status Run(bus::MessageBus& bus, const Instrument& instrument, const std::string& feed,
                    double lots) {
    bus::ConsumerConfig config;
    config.stream = std::string(kAccountsStream);
    AITS_ASSIGN_OR_RETURN(config.filter_subject, AccountsSubject(feed, instrument.symbol));
    AITS_ASSIGN_OR_RETURN(const std::string answers, DecisionsSubject(feed, instrument.symbol));
    config.start = bus::StartAt::kFirst;
    AITS_ASSIGN_OR_RETURN(std::unique_ptr<bus::Consumer> consumer, bus.Consume(config));
    bool sent = false;
    for (;;) {
      AITS_ASSIGN_OR_RETURN(std::vector<bus::Delivery> got,
                            consumer->Fetch(16, Duration::Seconds(20)));
      if (got.empty()) return DeadlineExceeded("no question on " + config.filter_subject);
      for (const bus::Delivery& delivery : got) {
        AITS_RETURN_IF_ERROR(consumer->Ack(delivery.sequence));
        if (delivery.payload == kEndOfFeed) return Status::Ok();
        AITS_ASSIGN_OR_RETURN(const AccountAtBar account,
                              proto::Decode<AccountAtBar>(delivery.payload));
        BarDecision reply;
        reply.instrument = instrument.id;
        reply.bar_open = account.bar_open;
        reply.decided = account.has_quote;
        if (reply.decided) {
          const bool buy = !sent;
          sent = true;
          reply.action =
              static_cast<uint8_t>(buy ? decision::Action::kBuy : decision::Action::kHold);
          AITS_ASSIGN_OR_RETURN(reply.lots, Quantity::FromDouble(buy ? lots : 0, 2));
          reply.record = R"("scripted":")" + instrument.symbol + R"(")";
        }
        AITS_RETURN_IF_ERROR(bus.Publish(answers, "", proto::Encode(reply)).status());
      }
    }
  }

  Status result_;
  std::thread thread_;
};

TEST_P(DecisionStagesTest, TwoIntentsThatTogetherBreakALimitPassOneAtATime) {
  // Each alone is within the gross exposure limit (1 lot: ~110,000 USD of EURUSD, ~127,000 USD
  // of GBPUSD); together they exceed it. Two decision roles decide at once, each unaware of the
  // other; the owner's risk check of the second must see the first.
  SessionSpec spec = TwoFeeds(6'000);
  spec.risk = {{"base", "defaults"}, {"max_gross_exposure", "200000"}};
  auto bus = Connect();
  ASSERT_TRUE(Ingest(*bus, spec, "two").ok());
  const std::vector<Instrument> instruments = session::InstrumentsOf(spec);
  ScriptedDecisionRole eurusd(*bus, instruments[0], "two", 1.0);
  ScriptedDecisionRole gbpusd(*bus, instruments[1], "two", 1.0);
  DecisionFeed decisions(*bus, Stage(spec, "two"));
  auto run = session::RunPaper(
      OwnerApart(session::MaxSpeed(spec, tmp_.Sub("owner")), *bus, "two", decisions));
  ASSERT_TRUE(run.ok()) << run.status().message();
  ASSERT_TRUE(decisions.End().ok());
  eurusd.Join();
  gbpusd.Join();
  ASSERT_TRUE(eurusd.result().ok()) << eurusd.result().ToString();
  ASSERT_TRUE(gbpusd.result().ok()) << gbpusd.result().ToString();

  EXPECT_EQ(run->orders, 2u);
  EXPECT_EQ(run->fills, 1u);
  size_t passed = 0;
  size_t refused = 0;
  for (const std::string& line : session::LogLines(tmp_.Sub("owner"))) {
    if (line.find(R"("scripted")") == std::string::npos) continue;
    if (line.find(R"("risk":{"passed":true})") != std::string::npos) ++passed;
    if (line.find(R"("risk":{"passed":false,"reason":"risk_gross_exposure")") !=
        std::string::npos) {
      ++refused;
    }
  }
  EXPECT_EQ(passed, 1u);
  EXPECT_EQ(refused, 1u);
}

TEST_P(DecisionStagesTest, ARoleWhoseInputComesOnceABarWaitsABarPeriodMore) {
  // Rows 300 ms apart, an idle timeout of 100 ms: at a real-time pace rows come a bar period
  // apart, so the prediction role waits the bar period (here 2 s) on top of its idle timeout.
  const SessionSpec spec = session::BusySpec(100);
  const Instrument instrument = session::InstrumentsOf(spec)[0];
  auto bus = Connect();
  FeatureRow row;
  row.bar.instrument = instrument.id;
  row.bar.period = Duration::Seconds(2);
  row.bar.open_time = FromCivil(2024, 1, 8);
  ASSERT_TRUE(bus->Publish("feat.slow.EURUSD", "r1", proto::Encode(row)).ok());
  StageOptions options = Stage(spec, "slow");
  options.idle_timeout = Duration::Millis(100);
  options.bar_period = Duration::Seconds(2);
  auto source = session::MakeRuleSignalFor(spec, instrument, options.bar_period);
  ASSERT_TRUE(source.ok());
  Result<StageStats> stats = StageStats{};
  std::thread prediction([&] { stats = RunPrediction(*bus, instrument, **source, options); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  row.bar.open_time = row.bar.open_time + Duration::Seconds(2);
  ASSERT_TRUE(bus->Publish("feat.slow.EURUSD", "r2", proto::Encode(row)).ok());
  ASSERT_TRUE(bus->Publish("feat.slow.EURUSD", "end", kEndOfFeed).ok());
  prediction.join();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->inputs, 2u);
  EXPECT_TRUE(stats->ended);
}

TEST_P(DecisionStagesTest, RowsStoredOutOfOrderAreReadInOrderAndAMissingOneIsAnError) {
  // A pipelined batch retried after a failure may store a row after a later one: the reader puts
  // them back in order by number; a feed that ends with one still missing is an error.
  const SessionSpec spec = session::BusySpec(100);
  const Instrument instrument = session::InstrumentsOf(spec)[0];
  auto bus = Connect();
  const auto row_of = [&instrument](uint64_t index) {
    FeatureRow row;
    row.bar.instrument = instrument.id;
    row.bar.period = Duration::Minutes(1);
    row.bar.open_time = FromCivil(2024, 1, 8) + Duration::Minutes(static_cast<int64_t>(index));
    row.index = index;
    return proto::Encode(row);
  };
  for (const uint64_t index : {1, 3, 4, 2, 3}) {
    ASSERT_TRUE(bus->Publish("feat.order.EURUSD", "", row_of(index)).ok());
  }
  ASSERT_TRUE(bus->Publish("feat.order.EURUSD", "", kEndOfFeed).ok());
  auto source = session::MakeRuleSignalFor(spec, instrument, Duration::Minutes(1));
  ASSERT_TRUE(source.ok());
  const Result<StageStats> stats = RunPrediction(*bus, instrument, **source, Stage(spec, "order"));
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->inputs, 4u);
  EXPECT_EQ(stats->duplicates, 1u);
  bus::ConsumerConfig config;
  config.stream = std::string(kPredictionsStream);
  config.filter_subject = "pred.order.EURUSD";
  auto consumer = bus->Consume(config);
  ASSERT_TRUE(consumer.ok());
  auto got = (*consumer)->Fetch(10, Duration::Seconds(5));
  ASSERT_TRUE(got.ok());
  std::vector<uint64_t> order;
  for (const bus::Delivery& delivery : *got) {
    auto prediction = proto::Decode<Prediction>(delivery.payload);
    if (prediction.ok()) order.push_back(prediction->index);
  }
  EXPECT_EQ(order, (std::vector<uint64_t>{1, 2, 3, 4}));

  for (const uint64_t index : {1, 3}) {
    ASSERT_TRUE(bus->Publish("feat.gap.EURUSD", "", row_of(index)).ok());
  }
  ASSERT_TRUE(bus->Publish("feat.gap.EURUSD", "", kEndOfFeed).ok());
  const Result<StageStats> gap = RunPrediction(*bus, instrument, **source, Stage(spec, "gap"));
  ASSERT_FALSE(gap.ok());
  EXPECT_EQ(gap.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(gap.status().message().find("ended without message 2"), std::string::npos)
      << gap.status().ToString();
}

// --- Redis beside the roles (stage_cache.h): the online features and the prediction cache.

// The prediction cache's key of each row's prediction: the hash of the rows up to it.
std::vector<std::string> PredictionKeys(const std::vector<std::string>& rows,
                                        const std::string& model) {
  std::vector<std::string> keys;
  uint64_t rows_hash = kFnvOffset;
  for (const std::string& row : rows) {
    rows_hash = Fnv1a64(row, rows_hash);
    keys.push_back(cache::PredictionKey(model, rows_hash));
  }
  return keys;
}

// What Redis holds of one symbol's rows and predictions: how many of each are there with their
// message's bytes and a TTL within its bound (each row under its bar's close, each prediction
// under the hash of the rows up to its own).
struct HeldInRedis {
  size_t features = 0;
  size_t predictions = 0;
};
HeldInRedis HeldFor(cache::RedisClient& redis, bus::MessageBus& bus, const std::string& market,
                    const std::string& symbol, const std::string& model) {
  const std::vector<std::string> rows =
      Payloads(bus, kFeaturesStream, *FeaturesSubject(market, symbol));
  const std::vector<std::string> predictions =
      Payloads(bus, kPredictionsStream, *PredictionsSubject(market, symbol));
  EXPECT_EQ(rows.size(), predictions.size());
  HeldInRedis held;
  const std::vector<std::string> prediction_keys = PredictionKeys(rows, model);
  for (size_t idx = 0; idx < rows.size() && idx < predictions.size(); ++idx) {
    auto row = proto::Decode<FeatureRow>(rows[idx]);
    EXPECT_TRUE(row.ok());
    const std::string feature_key = cache::FeatureKey(symbol, row->bar.CloseTime());
    const std::string& prediction_key = prediction_keys[idx];
    auto feature = redis.Get(feature_key);
    auto prediction = redis.Get(prediction_key);
    if (!feature.ok() || !prediction.ok()) {
      ADD_FAILURE() << "Redis: " << feature.status().ToString() << prediction.status().ToString();
      break;
    }
    if (feature->has_value()) {
      EXPECT_EQ(**feature, rows[idx]) << feature_key;
      const int64_t ttl = *redis.TtlMillis(feature_key);
      EXPECT_TRUE(ttl > 0 && ttl <= cache::kFeatureTtl.ns / 1'000'000) << ttl;
      ++held.features;
    }
    if (prediction->has_value()) {
      EXPECT_EQ(**prediction, predictions[idx]) << prediction_key;
      const int64_t ttl = *redis.TtlMillis(prediction_key);
      EXPECT_TRUE(ttl > 0 && ttl <= cache::kPredictionTtl.ns / 1'000'000) << ttl;
      ++held.predictions;
    }
  }
  return held;
}

TEST_P(DecisionStagesTest, WithRedisTheRolesWriteEveryRowAndPredictionAndTradeTheSame) {
  auto redis = test_servers::RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status().ToString();
  const SessionSpec spec = TwoFeeds(30'000);
  auto embedded = session::RunPaper(session::MaxSpeed(spec, tmp_.Sub("embedded")));
  ASSERT_TRUE(embedded.ok()) << embedded.status().message();
  ASSERT_GT(embedded->fills, 10u) << "the session should trade";

  const StageOptions cached = WithRedis(Stage(spec, "rd"), **redis, spec);
  Split split;
  RunSplit(spec, cached, &split);
  ASSERT_TRUE(split.ended) << split.error;
  const StageThreads& features = *split.features;
  const StageThreads& prediction = *split.prediction;
  auto& owner_bus = split.owner_bus;
  // The same log as embedded, hence as the same roles without Redis (the first test).
  ExpectTheEmbeddedRun(*split.owner, *embedded);

  auto client = RedisAt(**redis);
  ASSERT_NE(client, nullptr);
  const char* symbols[] = {"EURUSD", "GBPUSD"};
  for (size_t idx = 0; idx < 2; ++idx) {
    const CacheCounters& written = features.stats(idx).cache;
    EXPECT_GT(written.puts, 100u);
    EXPECT_EQ(written.puts, features.stats(idx).outputs);
    EXPECT_EQ(written.hits + written.misses, 0u) << "the features role does not look first";
    const CacheCounters& predicted = prediction.stats(idx).cache;
    EXPECT_EQ(predicted.misses, prediction.stats(idx).outputs);
    EXPECT_EQ(predicted.puts, predicted.misses);
    EXPECT_EQ(predicted.hits, 0u);
    for (const CacheCounters& counters : {written, predicted}) {
      EXPECT_EQ(counters.errors + counters.skipped + counters.breaker_opened, 0u)
          << counters.last_error;
    }
    const HeldInRedis held = HeldFor(*client, *owner_bus, "rd", symbols[idx], cached.cache->model);
    EXPECT_EQ(held.features, features.stats(idx).outputs);
    EXPECT_EQ(held.predictions, prediction.stats(idx).outputs);
  }

  // A prediction role restarted within the TTL recomputes every prediction (its state must
  // advance) and finds each one held: it writes nothing.
  StageThreads again(*split.prediction_bus, spec, kPredictionStage, cached);
  ASSERT_TRUE(again.Join().ok());
  for (size_t idx = 0; idx < 2; ++idx) {
    EXPECT_EQ(again.stats(idx).cache.hits, again.stats(idx).outputs);
    EXPECT_EQ(again.stats(idx).cache.puts + again.stats(idx).cache.misses, 0u);
  }

  // A hit never stands in for the source: with Redis holding only the first 50 predictions of
  // the same rows (under another market's name), the role publishes exactly what it published
  // above. One that took the held ones instead of predicting would start row 51 with indicators
  // that never saw rows 1-50.
  constexpr size_t kHeld = 50;
  std::vector<std::vector<std::string>> rows(2);
  for (size_t idx = 0; idx < 2; ++idx) {
    rows[idx] = Payloads(*owner_bus, kFeaturesStream, *FeaturesSubject("rd", symbols[idx]));
    ASSERT_GT(rows[idx].size(), kHeld + 20);
    const std::vector<std::string> keys = PredictionKeys(rows[idx], cached.cache->model);
    for (size_t row = kHeld; row < keys.size(); ++row) ASSERT_TRUE(client->Delete(keys[row]).ok());
    for (const std::string& payload : rows[idx]) {
      ASSERT_TRUE(owner_bus->Publish(*FeaturesSubject("rd2", symbols[idx]), "", payload).ok());
    }
    ASSERT_TRUE(owner_bus->Publish(*FeaturesSubject("rd2", symbols[idx]), "", kEndOfFeed).ok());
  }
  StageOptions elsewhere = cached;
  elsewhere.feed = "rd2";
  StageThreads half_held(*split.prediction_bus, spec, kPredictionStage, elsewhere);
  ASSERT_TRUE(half_held.Join().ok());
  for (size_t idx = 0; idx < 2; ++idx) {
    EXPECT_EQ(half_held.stats(idx).cache.hits, kHeld);
    EXPECT_EQ(half_held.stats(idx).cache.puts, rows[idx].size() - kHeld);
    EXPECT_EQ(Payloads(*owner_bus, kPredictionsStream, *PredictionsSubject("rd2", symbols[idx])),
              Payloads(*owner_bus, kPredictionsStream, *PredictionsSubject("rd", symbols[idx])));
  }
}

TEST_P(DecisionStagesTest, RedisKilledMidRunCostsCountedErrorsNotATradeAndItsRestartIsUsed) {
  auto started = test_servers::RedisServer::Start();
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  test_servers::RedisServer& redis = **started;
  const SessionSpec spec = session::BusySpec(12'000);
  ASSERT_TRUE(session::RunPaper(session::MaxSpeed(spec, tmp_.Sub("embedded"))).ok());
  // Paced so that the run lasts about 4 s: Redis dies after its first rows and comes back while
  // the roles still have most of the feed to go.
  auto feeds = session::OpenFeeds(spec);
  ASSERT_TRUE(feeds.ok());
  std::vector<Tick> ticks(spec.max_ticks);
  ASSERT_EQ(*(*feeds)[0]->Read(ticks), ticks.size());
  const double speed = (ticks.back().ts - ticks.front().ts).SecondsF() / 4.0;

  auto ingestion_bus = Connect();
  auto features_bus = Connect();
  auto prediction_bus = Connect();
  auto owner_bus = Connect();
  const StageOptions cached = WithRedis(Stage(spec, "rk"), redis, spec);
  Status ingested = Status::Ok();
  std::thread ingestion([&] { ingested = Ingest(*ingestion_bus, spec, "rk", speed); });
  StageThreads features(*features_bus, spec, kFeaturesStage, cached);
  StageThreads prediction(*prediction_bus, spec, kPredictionStage, cached);
  PredictionFeed predictions(*owner_bus, Stage(spec, "rk"));
  Result<session::PaperResult> run = session::PaperResult{};
  std::thread owner([&] {
    run = session::RunPaper(
        Owner(session::MaxSpeed(spec, tmp_.Sub("owner")), *owner_bus, "rk", predictions));
  });
  // Killed and restarted from this thread: a server dies with the thread that started it
  // (PR_SET_PDEATHSIG), so not from one that ends before the test does.
  for (int waited = 0; waited < 200; ++waited) {
    auto stream = owner_bus->GetStream(kPredictionsStream);
    if (stream.ok() && stream->messages >= 20) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  redis.Kill();
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_TRUE(redis.Restart().ok());
  owner.join();
  ingestion.join();
  ASSERT_TRUE(ingested.ok()) << ingested.ToString();
  ASSERT_TRUE(features.Join().ok());
  ASSERT_TRUE(prediction.Join().ok());
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_TRUE(run->feed_ended);
  EXPECT_EQ(session::LogLines(tmp_.Sub("owner")), session::LogLines(tmp_.Sub("embedded")));

  for (const StageStats* stats : {&features.stats(0), &prediction.stats(0)}) {
    const CacheCounters& cache = stats->cache;
    // Failures counted, then the breaker spared the dead server most calls.
    EXPECT_GE(cache.errors, 3u);
    EXPECT_GE(cache.breaker_opened, 1u);
    EXPECT_GT(cache.skipped, 0u);
    EXPECT_GT(cache.puts, 0u);
    EXPECT_LT(cache.puts, stats->outputs);
  }
  // Every row was written, failed or skipped; the prediction role asked before each write.
  const CacheCounters& written = features.stats(0).cache;
  EXPECT_EQ(written.puts + written.errors + written.skipped, features.stats(0).outputs);
  // The restarted Redis started empty: what it holds was written after it came back, the last
  // bar's row and prediction among it.
  auto client = RedisAt(redis);
  ASSERT_NE(client, nullptr);
  const HeldInRedis held = HeldFor(*client, *owner_bus, "rk", "EURUSD", cached.cache->model);
  EXPECT_GT(held.features, 0u);
  EXPECT_LE(held.features, written.puts);
  EXPECT_GT(held.predictions, 0u);
  EXPECT_LE(held.predictions, prediction.stats(0).cache.puts);
  const std::vector<std::string> rows =
      Payloads(*owner_bus, kFeaturesStream, *FeaturesSubject("rk", "EURUSD"));
  ASSERT_FALSE(rows.empty());
  auto last = proto::Decode<FeatureRow>(rows.back());
  ASSERT_TRUE(last.ok());
  auto last_held = client->Get(cache::FeatureKey("EURUSD", last->bar.CloseTime()));
  ASSERT_TRUE(last_held.ok());
  EXPECT_TRUE(last_held->has_value()) << "the last bar's features are not in the restarted Redis";
}

INSTANTIATE_TEST_SUITE_P(Buses, DecisionStagesTest,
                         ::testing::Values(BusKind::kInProcess, BusKind::kNats), BusKindName);

}  // namespace
}  // namespace aits::services
