#include "aits/services/ml_jobs.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <utility>

#include "aits/bus/consumer_metrics.h"
#include "aits/core/clock.h"
#include "aits/core/resilience.h"
#include "aits/services/child_process.h"
#include "aits/services/market_stream.h"

namespace aits::services {
namespace {

using Steady = std::chrono::steady_clock;

// An event over this loses its metrics (they are in the registry): the bus caps a message at
// 1 MiB.
constexpr size_t kMaxEvent = 512 * 1024;

bool IsCommand(std::string_view command) {
  return command == "train" || command == "evaluate" || command == "retrain";
}

// The commands that read or write the registry, and so are given the role's.
bool UsesRegistry(std::string_view command) { return command == "train" || command == "retrain"; }

std::string WallNow() { return FormatIso8601(WallClock().Now()); }

class Runner {
 public:
  Runner(bus::MessageBus& bus, const MlJobOptions& options, std::string jobs_subject)
      : bus_(bus),
        options_(options),
        jobs_subject_(std::move(jobs_subject)),
        breaker_("nats ML stream", {}, SystemWallClock()) {}

  Result<MlJobStats> Run() {
    bus::ConsumerConfig config;
    config.stream = std::string(kMlStream);
    config.durable = "ml-" + options_.market;
    config.filter_subject = jobs_subject_;
    config.ack_wait = options_.ack_wait;
    // Each runner holds one job at a time (it fetches the next after settling this one); more may
    // be out at once for replicas sharing the durable.
    config.max_ack_pending = 64;
    AITS_ASSIGN_OR_RETURN(std::unique_ptr<bus::Consumer> consumer,
                          bus::ConsumeMetered(bus_, config, options_.metrics, "ml"));
    uint64_t handled = 0;
    while (!Stopped() && (options_.max_messages == 0 || handled < options_.max_messages)) {
      AITS_ASSIGN_OR_RETURN(std::vector<bus::Delivery> got,
                            consumer->Fetch(1, Duration::Millis(250)));
      if (got.empty()) continue;
      const bus::Delivery& delivery = got.front();
      AITS_ASSIGN_OR_RETURN(const bool settled, Handle(*consumer, delivery));
      if (settled) ++handled;
    }
    return stats_;
  }

 private:
  bool Stopped() const { return options_.stop != nullptr && options_.stop->load(); }

  // Runs (or skips, or dead-letters) one job. False when the role was stopped mid-job and gave
  // it back.
  Result<bool> Handle(bus::Consumer& consumer, const bus::Delivery& delivery) {
    Result<MlJob> decoded = DecodeMlJob(delivery);
    if (!decoded.ok()) {
      AITS_RETURN_IF_ERROR(DeadLetter(bus_, jobs_subject_, delivery, decoded.status()));
      ++stats_.dead_lettered;
      AITS_RETURN_IF_ERROR(consumer.Ack(delivery.sequence));
      return true;
    }
    const MlJob& job = *decoded;
    AITS_ASSIGN_OR_RETURN(const std::string subject, MlEventsSubject(options_.market, job.id));
    std::optional<nlohmann::json> last;
    AITS_RETURN_IF_ERROR(Retried([&]() -> Status {
      AITS_ASSIGN_OR_RETURN(last, LastMlEvent(bus_, options_.market, job.id));
      return Status::Ok();
    }));
    if (last && IsMlResult(*last)) {
      // Delivered again with its result stored (the role died between the two, or the job was
      // published again after the duplicate window): it ran once; not again.
      ++stats_.already_done;
      AITS_RETURN_IF_ERROR(consumer.Ack(delivery.sequence));
      return true;
    }
    std::optional<trace::Span> span;
    traceparent_.clear();
    if (options_.tracer != nullptr) {
      span = options_.tracer->Start("ml.job", trace::SpanKind::kConsumer, delivery.traceparent);
      if (span->recording()) {
        span->SetAttribute("aits.job", job.id);
        span->SetAttribute("aits.command", job.command);
        span->SetAttribute("aits.attempt", static_cast<int64_t>(delivery.delivered));
      }
      traceparent_ = span->traceparent();
    }
    // The span ends with the job, however it ends here.
    const trace::EndOnExit end_span(options_.tracer, span);
    const std::string attempt = std::to_string(delivery.delivered);
    nlohmann::json accepted = Event(job, "accepted", delivery.delivered);
    accepted["command"] = job.command;
    accepted["args"] = job.args;
    AITS_RETURN_IF_ERROR(Publish(subject, job.id + ".accepted." + attempt, accepted));

    std::vector<std::string> argv = {options_.trainer, job.command};
    argv.insert(argv.end(), job.args.begin(), job.args.end());
    if (UsesRegistry(job.command)) {
      argv.push_back("--registry");
      argv.push_back(options_.registry);
    }
    argv.push_back("--json");
    const Steady::time_point started = Steady::now();
    const auto elapsed = [&started] {
      return std::chrono::duration<double>(Steady::now() - started).count();
    };
    int stage = 0;
    Status progress_failed = Status::Ok();
    const Duration tick_every = Duration::Nanos(std::max<int64_t>(options_.ack_wait.ns / 3, 1));
    Result<Child::Ended> ran = Child::Run(
        argv, options_.stop, tick_every,
        [&] {
          // Keeps the job: without it the bus would hand it to another runner after ack_wait.
          // A failure (the bus away) is tried again at the next tick.
          if (Status kept = consumer.InProgress(delivery.sequence);
              !kept.ok() && progress_failed.ok()) {
            progress_failed = kept;
          }
        },
        [&](const std::string& line) {
          if (!line.starts_with("== ")) return;
          nlohmann::json progress = Event(job, "progress", delivery.delivered);
          progress["stage"] = line.substr(3);
          progress["elapsed_seconds"] = elapsed();
          // Progress is for people following the job; a lost one costs nothing.
          if (Status sent =
                  Publish(subject, job.id + ".progress." + attempt + "." + std::to_string(++stage),
                          progress);
              !sent.ok() && progress_failed.ok()) {
            progress_failed = sent;
          }
        });
    if (!ran.ok()) return ran.status().WithContext("job " + job.id);
    const Child::Ended& ended = *ran;
    if (ended.stopped) {
      nlohmann::json interrupted = Event(job, "interrupted", delivery.delivered);
      interrupted["elapsed_seconds"] = elapsed();
      AITS_RETURN_IF_ERROR(Publish(subject, job.id + ".interrupted." + attempt, interrupted));
      ++stats_.interrupted;
      // Given back at once, so that the next runner need not wait out ack_wait.
      AITS_RETURN_IF_ERROR(consumer.Nak(delivery.sequence));
      return false;
    }
    nlohmann::json result;
    const std::optional<nlohmann::json> printed =
        ended.exit_code == 0 ? ResultOf(ended.out) : std::nullopt;
    if (printed) {
      result = Event(job, "done", delivery.delivered);
      for (const auto& [key, value] : printed->items()) {
        if (!result.contains(key)) result[key] = value;
      }
      if (result.dump().size() > kMaxEvent) {
        result.erase("metrics");
        result["metrics_dropped"] = "over " + std::to_string(kMaxEvent) + " bytes";
      }
      ++stats_.done;
    } else {
      result = Event(job, "failed", delivery.delivered);
      result["command"] = job.command;
      result["error"] = ended.exit_code == 0 ? "aits-train printed no result" : FailureText(ended);
      result["exit_code"] = ended.exit_code;
      if (ended.signal != 0) result["signal"] = ended.signal;
      ++stats_.failed;
    }
    result["wall_seconds"] = elapsed();
    if (span && result.value("event", std::string()) == "failed") {
      span->SetError(result.value("error", std::string()));
    }
    // The result before the ack: a job is never acknowledged without it.
    AITS_RETURN_IF_ERROR(Publish(subject, job.id + ".result", result));
    AITS_RETURN_IF_ERROR(consumer.Ack(delivery.sequence));
    return true;
  }

  nlohmann::json Event(const MlJob& job, const char* kind, uint64_t attempt) const {
    return {{"job", job.id},
            {"event", kind},
            {"market", options_.market},
            {"attempt", attempt},
            {"at", WallNow()}};
  }

  Status Retried(const std::function<Status()>& call) { return bus::Retried(breaker_, call); }

  Status Publish(const std::string& subject, const std::string& id, const nlohmann::json& event) {
    const std::string payload = event.dump();
    const bus::OutgoingMessage message{subject, id, payload, traceparent_};
    AITS_RETURN_IF_ERROR(
        Retried([&] { return bus_.Publish(message).status(); }).WithContext(subject));
    if (options_.on_event) options_.on_event(event);
    return Status::Ok();
  }

  bus::MessageBus& bus_;
  const MlJobOptions& options_;
  const std::string jobs_subject_;
  CircuitBreaker breaker_;
  MlJobStats stats_;
  std::string traceparent_;  // the running job's span's, which its events carry; empty: none
};

}  // namespace

Status EnsureMlStreams(bus::MessageBus& bus, int replicas) {
  bus::StreamConfig config;
  config.name = std::string(kMlStream);
  config.subjects = {"ml.>"};
  config.replicas = replicas;
  // A job resubmitted within a day is stored once; after that the runner still finds its result.
  config.duplicate_window = Duration::Hours(24);
  AITS_RETURN_IF_ERROR(bus.AddStream(config));
  return EnsureDeadLetterStream(bus, replicas);
}

Result<std::string> MlJobsSubject(std::string_view market) {
  AITS_RETURN_IF_ERROR(bus::ValidateName("market", market));
  return "ml." + std::string(market) + ".jobs";
}

Result<std::string> MlEventsSubject(std::string_view market, std::string_view job) {
  AITS_RETURN_IF_ERROR(bus::ValidateName("market", market));
  AITS_RETURN_IF_ERROR(bus::ValidateName("job id", job));
  return "ml." + std::string(market) + ".events." + std::string(job);
}

Status ValidateMlJob(const MlJob& job) {
  if (job.id.empty()) return InvalidArgument("job id: empty (every job has an id)");
  if (job.id.size() > kMaxJobIdLength) {
    return InvalidArgument("job id \"" + job.id + "\": longer than " +
                           std::to_string(kMaxJobIdLength) + " characters");
  }
  AITS_RETURN_IF_ERROR(bus::ValidateName("job id", job.id));
  if (!IsCommand(job.command)) {
    return InvalidArgument("command \"" + job.command + "\": unknown (train, evaluate or retrain)");
  }
  for (const std::string& arg : job.args) {
    // The role's registry is where its models go: a job naming its own would put them where
    // the role's readers do not look.
    if (arg == "--registry" || arg.starts_with("--registry=")) {
      return InvalidArgument(
          "args: \"" + arg +
          "\": a job does not choose the registry (the ml role's --registry holds its models)");
    }
    if (arg == "--json" || arg == "--check") {
      return InvalidArgument("args: \"" + arg + "\": the ml role adds it itself");
    }
  }
  return Status::Ok();
}

std::string EncodeMlJob(const MlJob& job) {
  return nlohmann::json{{"command", job.command}, {"args", job.args}}.dump();
}

Result<MlJob> DecodeMlJob(const bus::Delivery& delivery) {
  const nlohmann::json parsed =
      nlohmann::json::parse(delivery.payload, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return InvalidArgument("job " + delivery.id + ": not a JSON object");
  }
  MlJob job;
  job.id = delivery.id;
  const auto command = parsed.find("command");
  if (command == parsed.end() || !command->is_string()) {
    return InvalidArgument("job " + delivery.id + ": command: missing or not a string");
  }
  job.command = command->get<std::string>();
  const auto args = parsed.find("args");
  if (args != parsed.end()) {
    if (!args->is_array()) return InvalidArgument("job " + delivery.id + ": args: not an array");
    for (const nlohmann::json& arg : *args) {
      if (!arg.is_string()) {
        return InvalidArgument("job " + delivery.id + ": args: " + arg.dump() + " is not a string");
      }
      job.args.push_back(arg.get<std::string>());
    }
  }
  AITS_RETURN_IF_ERROR(ValidateMlJob(job));
  return job;
}

Status CheckMlJob(const std::string& trainer, const MlJob& job) {
  AITS_RETURN_IF_ERROR(ValidateMlJob(job));
  std::vector<std::string> argv = {trainer, job.command};
  argv.insert(argv.end(), job.args.begin(), job.args.end());
  argv.push_back("--check");
  AITS_ASSIGN_OR_RETURN(const Child::Ended ended, Child::Run(
                                                      argv, nullptr, Duration::Seconds(3600), [] {},
                                                      [](const std::string&) {}));
  if (ended.exit_code == 0) return Status::Ok();
  return InvalidArgument("job " + job.id + ": aits-train " + job.command +
                         " refuses its arguments: " + FailureText(ended));
}

Result<bus::PublishAck> SubmitMlJob(bus::MessageBus& bus, std::string_view market, const MlJob& job,
                                    std::string_view traceparent) {
  AITS_RETURN_IF_ERROR(ValidateMlJob(job));
  AITS_ASSIGN_OR_RETURN(const std::string subject, MlJobsSubject(market));
  AITS_ASSIGN_OR_RETURN(const std::optional<nlohmann::json> last, LastMlEvent(bus, market, job.id));
  if (last && IsMlResult(*last)) {
    return FailedPrecondition(
        "job " + job.id + " has run already (" + last->value("event", std::string()) + " at " +
        last->value("at", std::string()) + "): a job id runs once; give another --job-id");
  }
  const std::string payload = EncodeMlJob(job);
  return bus.Publish(bus::OutgoingMessage{subject, job.id, payload, traceparent});
}

Result<std::optional<nlohmann::json>> LastMlEvent(bus::MessageBus& bus, std::string_view market,
                                                  std::string_view job) {
  AITS_ASSIGN_OR_RETURN(const std::string subject, MlEventsSubject(market, job));
  AITS_ASSIGN_OR_RETURN(const std::optional<bus::Delivery> last,
                        bus.LastMessage(kMlStream, subject));
  if (!last) return std::optional<nlohmann::json>();
  nlohmann::json event = nlohmann::json::parse(last->payload, nullptr, /*allow_exceptions=*/false);
  if (event.is_discarded() || !event.is_object()) {
    return DataLoss(subject + " message " + std::to_string(last->sequence) +
                    ": not a JSON object (written by something else than the ml role?)");
  }
  return std::optional<nlohmann::json>(std::move(event));
}

bool IsMlResult(const nlohmann::json& event) {
  const auto kind = event.find("event");
  return kind != event.end() && kind->is_string() &&
         (kind->get<std::string>() == "done" || kind->get<std::string>() == "failed");
}

Result<std::vector<nlohmann::json>> MlEvents(bus::MessageBus& bus, std::string_view market) {
  AITS_RETURN_IF_ERROR(bus::ValidateName("market", market));
  bus::ConsumerConfig config;
  config.stream = std::string(kMlStream);
  config.filter_subject = "ml." + std::string(market) + ".events.>";
  config.ack_all = true;
  AITS_ASSIGN_OR_RETURN(std::unique_ptr<bus::Consumer> consumer, bus.Consume(config));
  std::vector<nlohmann::json> events;
  while (true) {
    AITS_ASSIGN_OR_RETURN(std::vector<bus::Delivery> got,
                          consumer->Fetch(256, Duration::Millis(300)));
    if (got.empty()) break;
    for (const bus::Delivery& delivery : got) {
      nlohmann::json event =
          nlohmann::json::parse(delivery.payload, nullptr, /*allow_exceptions=*/false);
      if (!event.is_discarded() && event.is_object()) events.push_back(std::move(event));
    }
    AITS_RETURN_IF_ERROR(consumer->Ack(got.back().sequence));
    if (got.back().pending == 0) break;
  }
  return events;
}

Result<MlJobStats> RunMlJobs(bus::MessageBus& bus, const MlJobOptions& options) {
  AITS_ASSIGN_OR_RETURN(const std::string subject, MlJobsSubject(options.market));
  if (options.trainer.empty() || ::access(options.trainer.c_str(), X_OK) != 0) {
    return FailedPrecondition("the ml role runs aits-train, and '" + options.trainer +
                              "' is no program it can run");
  }
  if (options.ack_wait.ns < Duration::Seconds(1).ns) {
    return InvalidArgument("ml jobs: ack_wait must be at least 1 s");
  }
  Runner runner(bus, options, subject);
  return runner.Run();
}

}  // namespace aits::services
