// The roles between the tick and the decision, apart from the account's owner (ADR 0007): the
// ingestion, features and prediction roles and the owner each on its own bus connection (its own
// thread here; its own process in tests/e2e/serve_cli_test.sh), over the in-process bus and a
// real nats-server. The session must log exactly what the embedded one logs — two feeds, a stop
// and a resume, a restarted stage, a malformed message — and when a prediction never comes, the
// owner stops without logging the bar as decided, so that a resume decides it.
#include "aits/services/decision_stages.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "aits/bus/nats_bus.h"
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

// One stage of every traded instrument of `spec`, each on its own thread with the signal source
// the session would build; Join returns the first error.
class StageThreads {
 public:
  StageThreads(bus::MessageBus& bus, const SessionSpec& spec, bool features, StageOptions options)
      : instruments_(session::InstrumentsOf(spec)) {
    const std::vector<InstrumentId> traded = session::TradedOf(spec);
    stats_.assign(traded.size(), StageStats{});
    for (size_t idx = 0; idx < traded.size(); ++idx) {
      const Instrument& instrument = instruments_[traded[idx].value];
      auto source = session::MakeRuleSignalFor(spec, instrument, options.bar_period);
      EXPECT_TRUE(source.ok()) << source.status().ToString();
      sources_.push_back(std::move(source).value());
      threads_.emplace_back([this, idx, &bus, &instrument, features, options] {
        stats_[idx] = features ? RunFeatures(bus, instrument, *sources_[idx], options)
                               : RunPrediction(bus, instrument, *sources_[idx], options);
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

enum class BusKind { kInProcess, kNats };

class DecisionStagesTest : public ::testing::TestWithParam<BusKind> {
 protected:
  void SetUp() override {
    if (GetParam() == BusKind::kNats) {
      auto server = test_servers::NatsServer::Start();
      ASSERT_TRUE(server.ok()) << server.status().ToString();
      nats_ = std::move(server).value();
    } else {
      shared_ = bus::MakeInProcessBus(clock_);
    }
    auto bus = Connect();
    ASSERT_TRUE(EnsureMarketStream(*bus).ok());
    ASSERT_TRUE(EnsureStageStreams(*bus).ok());
  }

  // A connection of one role (the in-process bus: the one bus, shared).
  std::shared_ptr<bus::MessageBus> Connect() {
    if (shared_) return shared_;
    bus::NatsOptions options;
    options.servers = {nats_->url()};
    auto bus = bus::ConnectNats(options);
    EXPECT_TRUE(bus.ok()) << bus.status().ToString();
    return bus.ok() ? std::shared_ptr<bus::MessageBus>(std::move(bus).value()) : nullptr;
  }

  WallClock clock_;
  std::shared_ptr<bus::MessageBus> shared_;
  std::unique_ptr<test_servers::NatsServer> nats_;
  session::TempDir tmp_;
};

TEST_P(DecisionStagesTest, FeaturesAndPredictionApartTradeAsTheEmbeddedNodeWithTwoFeeds) {
  const SessionSpec spec = TwoFeeds(30'000);
  auto embedded = session::RunPaper(session::MaxSpeed(spec, tmp_.Sub("embedded")));
  ASSERT_TRUE(embedded.ok()) << embedded.status().message();
  ASSERT_GT(embedded->fills, 10u) << "the session should trade";

  // Every role at once, each on its own connection: the owner waits for what the others have not
  // yet computed.
  auto ingestion_bus = Connect();
  auto features_bus = Connect();
  auto prediction_bus = Connect();
  auto owner_bus = Connect();
  Status ingested = Status::Ok();
  std::thread ingestion([&] { ingested = Ingest(*ingestion_bus, spec, "eq"); });
  StageThreads features(*features_bus, spec, /*features=*/true, Stage(spec, "eq"));
  StageThreads prediction(*prediction_bus, spec, /*features=*/false, Stage(spec, "eq"));
  PredictionFeed predictions(*owner_bus, Stage(spec, "eq"));
  auto distributed = session::RunPaper(
      Owner(session::MaxSpeed(spec, tmp_.Sub("distributed")), *owner_bus, "eq", predictions));
  ingestion.join();
  ASSERT_TRUE(ingested.ok()) << ingested.ToString();
  ASSERT_TRUE(features.Join().ok());
  ASSERT_TRUE(prediction.Join().ok());
  ASSERT_TRUE(distributed.ok()) << distributed.status().message();
  ASSERT_TRUE(predictions.status().ok()) << predictions.status().ToString();

  EXPECT_TRUE(distributed->feed_ended);
  EXPECT_EQ(distributed->orders, embedded->orders);
  EXPECT_EQ(distributed->fills, embedded->fills);
  EXPECT_EQ(distributed->decisions, embedded->decisions);
  EXPECT_EQ(distributed->account.balance.raw(), embedded->account.balance.raw());
  EXPECT_EQ(distributed->account.equity.raw(), embedded->account.equity.raw());
  EXPECT_EQ(session::LogLines(tmp_.Sub("distributed")), session::LogLines(tmp_.Sub("embedded")));
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
    StageThreads features(*bus, spec, true, Stage(spec, "again"));
    ASSERT_TRUE(features.Join().ok());
    StageThreads prediction(*bus, spec, false, Stage(spec, "again"));
    ASSERT_TRUE(prediction.Join().ok());
    EXPECT_GT(prediction.stats(0).stored, 100u);
  }
  // A stage that restarts recomputes from the first tick and publishes the same ids: the streams
  // store nothing twice (within their duplicate window; past it, consumers drop by bar).
  StageThreads features(*bus, spec, true, Stage(spec, "again"));
  ASSERT_TRUE(features.Join().ok());
  EXPECT_GT(features.stats(0).outputs, 100u);
  EXPECT_EQ(features.stats(0).stored, 0u);
  StageThreads prediction(*bus, spec, false, Stage(spec, "again"));
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

TEST_P(DecisionStagesTest, APredictionThatNeverComesStopsTheOwnerWithoutLoggingTheBar) {
  const SessionSpec spec = session::BusySpec(8'000);
  ASSERT_TRUE(session::RunPaper(session::MaxSpeed(spec, tmp_.Sub("embedded"))).ok());
  auto bus = Connect();
  ASSERT_TRUE(Ingest(*bus, spec, "late").ok());
  // Features and no prediction role: the owner's first bar close waits out the idle timeout.
  StageThreads features(*bus, spec, true, Stage(spec, "late"));
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
  const std::vector<std::string> partial = session::LogLines(tmp_.Sub("owner"));
  const std::vector<std::string> whole = session::LogLines(tmp_.Sub("embedded"));
  ASSERT_LT(partial.size(), whole.size());
  EXPECT_TRUE(std::equal(partial.begin(), partial.end(), whole.begin()));

  // The prediction role comes; the owner resumes and decides that bar as the embedded node did.
  StageThreads prediction(*bus, spec, false, Stage(spec, "late"));
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
  StageThreads features(*bus, spec, true, Stage(spec, "bad"));
  ASSERT_TRUE(features.Join().ok());
  StageThreads prediction(*bus, spec, false, Stage(spec, "bad"));
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

TEST_P(DecisionStagesTest, RolesThatBuildOtherBarsAreAnErrorNamingIt) {
  const SessionSpec spec = session::BusySpec(4'000);
  auto bus = Connect();
  ASSERT_TRUE(Ingest(*bus, spec, "bars").ok());
  StageOptions two_minutes = Stage(spec, "bars");
  two_minutes.bar_period = Duration::Minutes(2);
  StageThreads features(*bus, spec, true, two_minutes);
  ASSERT_TRUE(features.Join().ok());
  StageThreads prediction(*bus, spec, false, two_minutes);
  ASSERT_TRUE(prediction.Join().ok());
  PredictionFeed predictions(*bus, Stage(spec, "bars"));
  auto run = session::RunPaper(
      Owner(session::MaxSpeed(spec, tmp_.Sub("owner")), *bus, "bars", predictions));
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(run.status().message().find("the roles build different bars"), std::string::npos)
      << run.status().message();
}

INSTANTIATE_TEST_SUITE_P(Buses, DecisionStagesTest,
                         ::testing::Values(BusKind::kInProcess, BusKind::kNats),
                         [](const ::testing::TestParamInfo<BusKind>& param) {
                           return param.param == BusKind::kNats ? "Nats" : "InProcess";
                         });

}  // namespace
}  // namespace aits::services
