// The ml role's job runner (ml_jobs.h) over both buses — in-process, and NATS JetStream on a
// nats-server this binary starts — running the real aits-train on a slice of the GBP/USD
// one-minute bars with an XGBoost-only configuration (a job takes a few seconds). The role's
// process killed with SIGKILL, its CLI and /readyz are tested in tests/e2e/ml_role_test.sh.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "aits/bus/message_bus.h"
#include "aits/bus/nats_bus.h"
#include "aits/ml/registry.h"
#include "aits/services/market_stream.h"
#include "aits/services/ml_jobs.h"
#include "aits/testing/servers.h"

namespace aits::services {
namespace {

enum class Backend { kInProcess, kNats };

test_servers::NatsServer& SharedNats() { return test_servers::SharedNatsServer(); }

// The first `lines` lines of a shared data file, written to `to`.
void Slice(const std::string& from, const std::string& to, int lines) {
  std::ifstream in(from);
  ASSERT_TRUE(in) << from;
  std::ofstream out(to);
  std::string line;
  for (int n = 0; n < lines && std::getline(in, line); ++n) out << line << '\n';
}

class MlJobsTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    bus_ = Open();
    ASSERT_NE(bus_, nullptr);
    static std::atomic<int> counter{0};
    market_ = "T" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    ASSERT_TRUE(EnsureMlStreams(*bus_).ok());
    Result<test_servers::TempDir> dir = test_servers::TempDir::Make("ml_jobs_test");
    ASSERT_TRUE(dir.ok()) << dir.status().ToString();
    dir_.emplace(std::move(dir).value());
    Config("quick", 6000,
           "xgboost:\n  rounds: 10\n  max_depth: 3\nrandom_forest:\n  enabled: false\n");
    // Several seconds, longer than the 1 s ack_wait of the tests that need a job to outlast it.
    Config("slow", 20000,
           "xgboost:\n  rounds: 300\n  max_depth: 6\nrandom_forest:\n  trees: 40\n  "
           "max_depth: 8\n");
    options_.market = market_;
    options_.trainer = AITS_TRAIN_BINARY;
    options_.registry = Path("models");
  }

  std::shared_ptr<bus::MessageBus> Open() {
    if (GetParam() == Backend::kInProcess) {
      if (!in_process_) in_process_ = bus::MakeInProcessBus();
      return in_process_;
    }
    bus::NatsOptions options;
    options.servers = {SharedNats().url()};
    options.request_timeout = Duration::Seconds(5);
    Result<std::unique_ptr<bus::MessageBus>> bus = bus::ConnectNats(options);
    EXPECT_TRUE(bus.ok()) << bus.status().ToString();
    return bus.ok() ? std::shared_ptr<bus::MessageBus>(std::move(bus).value()) : nullptr;
  }

  std::string Path(const std::string& name) const { return dir_->path() + "/" + name; }

  // NAME.yaml: XGBoost and the logistic baseline (no LibTorch model) on the first `lines`
  // one-minute bars, with `models` choosing the sizes.
  void Config(const std::string& name, int lines, const std::string& models) {
    const std::string data = AITS_SHARED_DATA_DIR;
    ASSERT_EQ(::mkdir(Path(name).c_str(), 0755), 0);
    Slice(data + "/gbpusd-m1-bid-2012.csv", Path(name + "/gbpusd-m1-bid.csv"), lines);
    Slice(data + "/gbpusd-m1-ask-2012.csv", Path(name + "/gbpusd-m1-ask.csv"), lines);
    std::ofstream(Path(name + ".yaml")) << "data:\n  path: " << Path(name + "/gbpusd-m1-bid.csv")
                                        << "\n  ask: " << Path(name + "/gbpusd-m1-ask.csv") << "\n"
                                        << models << R"(xgboost_regressor:
  enabled: false
lstm:
  enabled: false
gru:
  enabled: false
anomaly:
  trees: 10
registry:
  name: gbp_job
gate:
  metric: auc
  threshold: 0.0
)";
  }

  MlJob Train(const std::string& id, const std::string& config = "quick") const {
    return MlJob{id, "train", {"--config", Path(config + ".yaml")}};
  }

  void Submit(const MlJob& job) {
    Result<bus::PublishAck> ack = SubmitMlJob(*bus_, market_, job);
    ASSERT_TRUE(ack.ok()) << ack.status().ToString();
    EXPECT_FALSE(ack->duplicate);
  }

  MlJobStats Run(uint64_t messages, const std::atomic<bool>* stop = nullptr) {
    MlJobOptions options = options_;
    options.max_messages = messages;
    options.stop = stop;
    Result<MlJobStats> stats = RunMlJobs(*bus_, options);
    EXPECT_TRUE(stats.ok()) << stats.status().ToString();
    return stats.ok() ? *stats : MlJobStats{};
  }

  // The events of one job, in the order stored.
  std::vector<nlohmann::json> EventsOf(const std::string& job) {
    Result<std::vector<nlohmann::json>> all = MlEvents(*bus_, market_);
    EXPECT_TRUE(all.ok()) << all.status().ToString();
    std::vector<nlohmann::json> out;
    if (!all.ok()) return out;
    for (nlohmann::json& event : *all) {
      if (event.value("job", std::string()) == job) out.push_back(std::move(event));
    }
    return out;
  }

  static int Count(const std::vector<nlohmann::json>& events, const std::string& kind) {
    int count = 0;
    for (const nlohmann::json& event : events) count += event.value("event", "") == kind ? 1 : 0;
    return count;
  }

  // Waits until the job's last event is `kind`.
  bool WaitFor(const std::string& job, const std::string& kind) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < give_up) {
      Result<std::optional<nlohmann::json>> last = LastMlEvent(*bus_, market_, job);
      if (last.ok() && *last && (*last)->value("event", "") == kind) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  std::shared_ptr<bus::MessageBus> in_process_;
  std::shared_ptr<bus::MessageBus> bus_;
  std::string market_;
  std::optional<test_servers::TempDir> dir_;
  MlJobOptions options_;
};

TEST_P(MlJobsTest, ASubmittedJobRegistersAModelAndPublishesDone) {
  Submit(Train("job-1", "slow"));
  // A second runner on the same durable while the job runs for longer than ack_wait: the job's
  // in-progress acks keep it from ever reaching the second.
  options_.ack_wait = Duration::Seconds(1);
  std::atomic<bool> stop{false};
  MlJobStats one;
  MlJobStats other;
  std::thread first([&] { one = Run(0, &stop); });
  std::thread second([&] { other = Run(0, &stop); });
  EXPECT_TRUE(WaitFor("job-1", "done"));
  stop = true;
  first.join();
  second.join();
  EXPECT_EQ(one.done + other.done, 1u);
  EXPECT_EQ(one.failed + other.failed, 0u);
  EXPECT_EQ(one.interrupted + other.interrupted, 0u);

  Result<std::optional<nlohmann::json>> last = LastMlEvent(*bus_, market_, "job-1");
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  ASSERT_TRUE(last->has_value());
  const nlohmann::json& done = **last;
  EXPECT_EQ(done.value("event", ""), "done") << done.dump();
  EXPECT_EQ(done.value("command", ""), "train");
  EXPECT_EQ(done.value("registry", ""), Path("models"));
  ASSERT_TRUE(done.contains("model")) << done.dump();
  EXPECT_EQ(done["model"].value("name", ""), "gbp_job");
  EXPECT_EQ(done["model"].value("version", 0), 1);
  EXPECT_GT(done.value("wall_seconds", 0.0), 0.0);
  ASSERT_TRUE(done.contains("metrics"));
  EXPECT_TRUE(done["metrics"].contains("validation")) << done["metrics"].dump();

  Result<ml::ModelRegistry> registry = ml::ModelRegistry::Open(Path("models"), false);
  ASSERT_TRUE(registry.ok()) << registry.status().ToString();
  Result<std::vector<ml::ModelRecord>> records = registry->List("gbp_job");
  ASSERT_TRUE(records.ok()) << records.status().ToString();
  int ensembles = 0;
  for (const ml::ModelRecord& record : *records) {
    if (record.kind != "ensemble") continue;
    ++ensembles;
    EXPECT_EQ(record.id, done["model"].value("id", int64_t{0}));
  }
  EXPECT_EQ(ensembles, 1);

  const std::vector<nlohmann::json> events = EventsOf("job-1");
  EXPECT_EQ(Count(events, "accepted"), 1) << "run once although ack_wait passed while it ran";
  EXPECT_GE(Count(events, "progress"), 1);
  EXPECT_EQ(Count(events, "done"), 1);
  EXPECT_EQ(events.front().value("event", ""), "accepted");
}

TEST_P(MlJobsTest, ADuplicateSubmissionRunsOnce) {
  Submit(Train("twice"));
  Result<bus::PublishAck> again = SubmitMlJob(*bus_, market_, Train("twice"));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->duplicate) << "the same job id is stored once";
  MlJobStats stats = Run(1);
  EXPECT_EQ(stats.done, 1u);
  Result<bus::PublishAck> after = SubmitMlJob(*bus_, market_, Train("twice"));
  EXPECT_EQ(after.status().code(), StatusCode::kFailedPrecondition) << after.status().ToString();
  EXPECT_NE(after.status().message().find("has run already"), std::string::npos);

  // A job delivered again with its result stored (the role died between the result and the ack,
  // or it was published again after the duplicate window) is not run again.
  const std::string subject = *MlEventsSubject(market_, "ran");
  ASSERT_TRUE(bus_->Publish(subject, "ran.result", R"({"job":"ran","event":"done"})").ok());
  ASSERT_TRUE(bus_->Publish(*MlJobsSubject(market_), "ran", EncodeMlJob(Train("ran"))).ok());
  stats = Run(1);
  EXPECT_EQ(stats.already_done, 1u);
  EXPECT_EQ(stats.done, 0u);
  const std::vector<nlohmann::json> events = EventsOf("ran");
  ASSERT_EQ(events.size(), 1u) << "nothing more published for it";
  EXPECT_EQ(Count(EventsOf("twice"), "accepted"), 1);
}

TEST_P(MlJobsTest, MalformedJobsAreDeadLetteredAndCounted) {
  const std::string jobs = *MlJobsSubject(market_);
  ASSERT_TRUE(bus_->Publish(jobs, "bad-1", "not json").ok());
  ASSERT_TRUE(bus_->Publish(jobs, "bad-2", R"({"command":"fly","args":[]})").ok());
  ASSERT_TRUE(
      bus_->Publish(jobs, "bad-3", R"({"command":"train","args":["--registry","/tmp/x"]})").ok());
  ASSERT_TRUE(bus_->Publish(jobs, "bad-4", R"({"command":"train","args":[1]})").ok());
  ASSERT_TRUE(bus_->Publish(jobs, "", R"({"command":"train","args":[]})").ok());
  Submit(MlJob{"after-bad", "evaluate", {"--data", Path("missing.csv")}});
  const MlJobStats stats = Run(6);
  EXPECT_EQ(stats.dead_lettered, 5u);
  EXPECT_EQ(stats.failed, 1u) << "the runner goes on after them";

  bus::ConsumerConfig dead;
  dead.stream = std::string(kDeadLetterStream);
  dead.filter_subject = "dead." + jobs;
  Result<std::unique_ptr<bus::Consumer>> consumer = bus_->Consume(dead);
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  std::vector<std::string> payloads;
  for (int attempt = 0; attempt < 10 && payloads.size() < 5; ++attempt) {
    Result<std::vector<bus::Delivery>> got = (*consumer)->Fetch(10, Duration::Millis(300));
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    for (const bus::Delivery& d : *got) {
      payloads.push_back(d.payload);
      ASSERT_TRUE((*consumer)->Ack(d.sequence).ok());
    }
  }
  ASSERT_EQ(payloads.size(), 5u);
  EXPECT_EQ(payloads[0], "not json");
  for (const char* never_run : {"bad-1", "bad-2", "bad-3", "bad-4"}) {
    EXPECT_TRUE(EventsOf(never_run).empty()) << never_run;
  }
}

TEST_P(MlJobsTest, AFailingJobReportsFailedWithTheReason) {
  const std::string missing = Path("no-such-file.csv");
  Submit(MlJob{"fails", "train", {"--config", Path("quick.yaml"), "--data", missing}});
  Submit(MlJob{"bad-flag", "train", {"--config", Path("quick.yaml"), "--epochs", "many"}});
  const MlJobStats stats = Run(2);
  EXPECT_EQ(stats.failed, 2u);
  EXPECT_EQ(stats.done, 0u);
  Result<std::optional<nlohmann::json>> last = LastMlEvent(*bus_, market_, "fails");
  ASSERT_TRUE(last.ok() && last->has_value());
  EXPECT_EQ((*last)->value("event", ""), "failed");
  const std::string error = (*last)->value("error", "");
  EXPECT_NE(error.find(missing), std::string::npos) << error;
  EXPECT_NE(error.find("does not exist"), std::string::npos) << error;
  EXPECT_NE(error.find("exit code 2"), std::string::npos) << error;
  last = LastMlEvent(*bus_, market_, "bad-flag");
  ASSERT_TRUE(last.ok() && last->has_value());
  EXPECT_EQ((*last)->value("event", ""), "failed");
  EXPECT_NE((*last)->value("error", "").find("many"), std::string::npos) << (*last)->dump();
}

// Traced: the job runs under an "ml.job" span, child of the span its message carried, and every
// event it publishes carries that span's traceparent.
TEST_P(MlJobsTest, ATracedJobRunsUnderItsSubmittersSpanAndItsEventsCarryIt) {
  auto tracer =
      trace::Tracer::Open({.service_name = "ml", .sample_ratio = 1, .file = Path("spans.jsonl")});
  ASSERT_TRUE(tracer.ok()) << tracer.status().ToString();
  trace::Span submitter = (*tracer)->StartRoot("submit", trace::SpanKind::kProducer);
  (*tracer)->End(submitter);
  const MlJob job{"traced", "train", {"--config", Path("quick.yaml"), "--data", Path("none.csv")}};
  ASSERT_TRUE(SubmitMlJob(*bus_, market_, job, submitter.traceparent()).ok());
  MlJobOptions options = options_;
  options.max_messages = 1;
  options.tracer = tracer->get();
  Result<MlJobStats> stats = RunMlJobs(*bus_, options);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->failed, 1u);
  (*tracer)->Flush();

  nlohmann::json job_span;
  std::ifstream in(Path("spans.jsonl"));
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json request = nlohmann::json::parse(line);
    for (const auto& span : request["resourceSpans"][0]["scopeSpans"][0]["spans"]) {
      if (span["name"] == "ml.job") job_span = span;
    }
  }
  ASSERT_TRUE(job_span.is_object()) << "no ml.job span";
  EXPECT_EQ(job_span.value("parentSpanId", ""), trace::HexSpanId(submitter.context.span_id));
  EXPECT_EQ(job_span.value("traceId", ""), trace::HexTraceId(submitter.context.trace_id));
  EXPECT_EQ(job_span["status"].value("code", 0), 2) << "a failed job's span is an error";

  bus::ConsumerConfig config;
  config.stream = std::string(kMlStream);
  config.filter_subject = MlEventsSubject(market_, job.id).value();
  config.start = bus::StartAt::kFirst;
  auto consumer = bus_->Consume(config);
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  auto events = (*consumer)->Fetch(16, Duration::Millis(500));
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->size(), 2u) << "accepted and failed";
  for (const bus::Delivery& event : *events) {
    auto context = trace::ParseTraceparent(event.traceparent);
    ASSERT_TRUE(context.ok()) << event.id << ": " << event.traceparent;
    EXPECT_EQ(trace::HexSpanId(context->span_id), job_span.value("spanId", "")) << event.id;
  }
}

// Asked to stop mid-job, the runner kills the training and gives the job back: the next runner
// runs it from scratch, and it completes once.
TEST_P(MlJobsTest, AStoppedRunnerGivesItsJobBackAndTheNextCompletesItOnce) {
  Submit(Train("cut", "slow"));
  std::atomic<bool> stop{false};
  MlJobStats first;
  std::thread runner([&] { first = Run(0, &stop); });
  EXPECT_TRUE(WaitFor("cut", "accepted") || WaitFor("cut", "progress"));
  stop = true;
  runner.join();
  EXPECT_EQ(first.interrupted, 1u);
  EXPECT_EQ(first.done, 0u);
  const MlJobStats second = Run(1);
  EXPECT_EQ(second.done, 1u);
  const std::vector<nlohmann::json> events = EventsOf("cut");
  EXPECT_EQ(Count(events, "interrupted"), 1);
  EXPECT_EQ(Count(events, "accepted"), 2);
  EXPECT_EQ(Count(events, "done"), 1);
  EXPECT_EQ(events.back().value("event", ""), "done");
}

// A runner that died with its job (no Nak, no result): the job comes again once its ack_wait
// passes, and runs to its result once.
TEST_P(MlJobsTest, AJobOfARunnerThatDiedComesAgainAfterAckWait) {
  Submit(Train("orphan"));
  bus::ConsumerConfig config;
  config.stream = std::string(kMlStream);
  config.durable = "ml-" + market_;
  config.filter_subject = *MlJobsSubject(market_);
  config.ack_wait = Duration::Seconds(1);
  config.max_ack_pending = 64;
  {
    Result<std::unique_ptr<bus::Consumer>> dying = bus_->Consume(config);
    ASSERT_TRUE(dying.ok()) << dying.status().ToString();
    Result<std::vector<bus::Delivery>> got = (*dying)->Fetch(1, Duration::Seconds(2));
    ASSERT_TRUE(got.ok() && got->size() == 1u);
  }  // gone without a word
  const MlJobStats stats = Run(1);
  EXPECT_EQ(stats.done, 1u);
  const std::vector<nlohmann::json> events = EventsOf("orphan");
  ASSERT_EQ(events.size() >= 2u, true);
  EXPECT_EQ(events.front().value("attempt", 0), 2) << "the second delivery ran it";
  EXPECT_EQ(Count(events, "done"), 1);
}

// A retrain job (issue 13): the role gives it its registry, where it finds the model a train job
// registered and registers the candidate, never promoted, its parent the model. One on too little
// data fails with the reason and registers nothing.
TEST_P(MlJobsTest, ARetrainJobRegistersACandidateOfTheModelInTheRolesRegistry) {
  Submit(Train("first"));
  ASSERT_EQ(Run(1).done, 1u);
  Result<std::optional<nlohmann::json>> trained = LastMlEvent(*bus_, market_, "first");
  ASSERT_TRUE(trained.ok() && trained->has_value());
  // Production or rejected, as its gate said: the retrain changes neither.
  const std::string source_status = (**trained)["model"].value("status", "");
  const std::vector<std::string> common = {"--config", Path("quick.yaml"), "--model", "gbp_job@1"};
  std::vector<std::string> update = common;
  update.insert(update.end(), {"--mode", "update", "--rows", "2000"});
  std::vector<std::string> too_much = common;
  too_much.insert(too_much.end(), {"--mode", "full", "--rows", "100000"});
  Submit(MlJob{"again", "retrain", update});
  Submit(MlJob{"too-much", "retrain", too_much});
  const MlJobStats stats = Run(2);
  EXPECT_EQ(stats.done, 1u);
  EXPECT_EQ(stats.failed, 1u);

  Result<std::optional<nlohmann::json>> last = LastMlEvent(*bus_, market_, "again");
  ASSERT_TRUE(last.ok() && last->has_value());
  const nlohmann::json& done = **last;
  EXPECT_EQ(done.value("event", ""), "done") << done.dump();
  EXPECT_EQ(done.value("command", ""), "retrain");
  EXPECT_EQ(done.value("mode", ""), "update");
  EXPECT_EQ(done.value("registry", ""), Path("models"));
  EXPECT_EQ(done["model"].value("name", ""), "gbp_job");
  EXPECT_EQ(done["model"].value("version", 0), 2);
  EXPECT_EQ(done["model"].value("status", ""), "candidate");
  EXPECT_EQ(done.value("parent", ""), "gbp_job@1");
  // The last 15 % of the window's rows (2,000 labelled ones, and any without a label among them).
  EXPECT_EQ(done["holdout"].value("rows", 0),
            static_cast<int>(done["window"].value("rows", 0) * 0.15));
  EXPECT_GE(done["holdout"].value("rows", 0), 300);
  EXPECT_TRUE(done["metrics"]["baseline"].contains("auc")) << done["metrics"].dump();

  last = LastMlEvent(*bus_, market_, "too-much");
  ASSERT_TRUE(last.ok() && last->has_value());
  EXPECT_EQ((*last)->value("event", ""), "failed");
  const std::string error = (*last)->value("error", "");
  EXPECT_NE(error.find("too little data to retrain"), std::string::npos) << error;
  EXPECT_NE(error.find("100000 needed"), std::string::npos) << error;

  Result<ml::ModelRegistry> registry = ml::ModelRegistry::Open(Path("models"), false);
  ASSERT_TRUE(registry.ok()) << registry.status().ToString();
  Result<std::vector<ml::ModelRecord>> records = registry->List("gbp_job");
  ASSERT_TRUE(records.ok()) << records.status().ToString();
  ASSERT_EQ(records->size(), 2u) << "the model and one candidate; the failed job added nothing";
  EXPECT_EQ(records->back().parent, "gbp_job@1");
  EXPECT_EQ(records->back().status, ml::ModelStatus::kCandidate);
  EXPECT_EQ(ml::ToString(records->front().status), source_status) << "left as it was";
}

TEST_P(MlJobsTest, JobsAreCheckedBeforeTheyArePublished) {
  const std::string trainer = AITS_TRAIN_BINARY;
  const Status good = CheckMlJob(trainer, Train("good"));
  EXPECT_TRUE(good.ok()) << good.ToString();
  Status unknown = CheckMlJob(trainer, MlJob{"x", "predict", {}});
  EXPECT_EQ(unknown.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.message().find("\"predict\""), std::string::npos) << unknown.ToString();
  Status missing = CheckMlJob(trainer, MlJob{"x", "train", {"--data", Path("nope.csv")}});
  EXPECT_EQ(missing.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.message().find(Path("nope.csv")), std::string::npos) << missing.ToString();
  Status bad_id = CheckMlJob(trainer, MlJob{"a.b", "train", {}});
  EXPECT_NE(bad_id.message().find("a.b"), std::string::npos) << bad_id.ToString();
  // A retrain's settings are checked where it is submitted; its model where it runs (the role's
  // registry).
  const Status retrain = CheckMlJob(
      trainer, MlJob{"x", "retrain", {"--config", Path("quick.yaml"), "--model", "elsewhere"}});
  EXPECT_TRUE(retrain.ok()) << retrain.ToString();
  Status mode = CheckMlJob(
      trainer,
      MlJob{
          "x", "retrain", {"--config", Path("quick.yaml"), "--model", "m", "--mode", "sideways"}});
  EXPECT_EQ(mode.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(mode.message().find("--mode 'sideways'"), std::string::npos) << mode.ToString();
  Status registry = ValidateMlJob(MlJob{"x", "train", {"--registry=/tmp/r"}});
  EXPECT_NE(registry.message().find("--registry=/tmp/r"), std::string::npos) << registry.ToString();
}

std::string BusName(const ::testing::TestParamInfo<Backend>& param) {
  return param.param == Backend::kInProcess ? "InProcess" : "Nats";
}

INSTANTIATE_TEST_SUITE_P(Buses, MlJobsTest, ::testing::Values(Backend::kInProcess, Backend::kNats),
                         BusName);

}  // namespace
}  // namespace aits::services
