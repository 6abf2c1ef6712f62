// Training and evaluation jobs over the message bus: the ml role (docs/services.md, "Training
// jobs: the ml role").
//
//   ML  ml.<market>.jobs          a job: {"command": "train"|"evaluate"|"retrain", "args": [...]},
//   its
//                                 publish id the job id ([A-Za-z0-9_-], at most 64 characters)
//       ml.<market>.events.<job>  what became of it, JSON: accepted, progress, interrupted, and
//                                 one result, done or failed (id "<job>.result")
//
// A job resubmitted is stored once (the stream's duplicate window is a day), and the runner
// acts on a job at most once to completion: before it runs one it reads the job's last event,
// and a job whose result is there is acknowledged without running again. A job is kept while it
// runs by in-progress acknowledgements (every third of ack_wait), not acknowledged at accept: if
// the role dies, nothing extends it and the job comes again one ack_wait later, to this role
// restarted or to another replica, and runs again from scratch (the child that was training died
// with the role: it runs with PR_SET_PDEATHSIG). A training cut off between its registration and
// its result leaves that version in the registry; the run again registers the next one, and the
// result names the version it registered. The result is published before the job is
// acknowledged, so a job is never acknowledged without its result.
//
// Each job runs as a child process, `aits-train COMMAND ARGS --json` (train and retrain jobs with
// the role's --registry: a retrain finds its model and registers its candidate there), so that
// LibTorch stays out of the role's process and a crash in training fails the
// job, not the role. A child that fails is reported `failed` with its error text (its last
// "aits: error:" line, else the end of its stderr) and its exit code or signal. A role asked to
// stop kills the child, publishes `interrupted` and gives the job back (Nak): the next role to
// start runs it at once. A message that is no job (not JSON, an unknown command, arguments that
// are not strings, a --registry of its own, no job id) is copied to DEAD
// (dead.ml.<market>.jobs), counted and acknowledged: never run, never a crash.
//
// Thread-compatible: one RunMlJobs per consumer; the other functions are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "aits/bus/message_bus.h"
#include "aits/core/metrics.h"
#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/trace/tracer.h"

namespace aits::services {

inline constexpr std::string_view kMlStream = "ML";
inline constexpr size_t kMaxJobIdLength = 64;

// Creates the ML stream (ml.>) and the DEAD stream, or checks the existing ones.
Status EnsureMlStreams(bus::MessageBus& bus, int replicas = 1);

// "ml.<market>.jobs" and "ml.<market>.events.<job>"; InvalidArgument naming a market or job id
// that is not one subject token.
Result<std::string> MlJobsSubject(std::string_view market);
Result<std::string> MlEventsSubject(std::string_view market, std::string_view job);

struct MlJob {
  std::string id;       // the publish id
  std::string command;  // "train", "evaluate" or "retrain"
  std::vector<std::string> args;
};

// The job's id, command and arguments as a job must have them: InvalidArgument naming the field
// and its value otherwise.
Status ValidateMlJob(const MlJob& job);
std::string EncodeMlJob(const MlJob& job);
// The job a delivery carries (its id the publish id), or InvalidArgument saying why it is none.
Result<MlJob> DecodeMlJob(const bus::Delivery& delivery);

// Runs `trainer COMMAND ARGS --check`: the settings resolved and the data files found, nothing
// trained. InvalidArgument with aits-train's error text when it refuses them.
Status CheckMlJob(const std::string& trainer, const MlJob& job);

// Publishes a valid job. FailedPrecondition naming the job when it has a result already (a job id
// is run once: give another); a job stored already and not finished is the ack's `duplicate`.
// `traceparent`: the submitter's span (docs/monitoring.md, "Traces"), or empty.
Result<bus::PublishAck> SubmitMlJob(bus::MessageBus& bus, std::string_view market, const MlJob& job,
                                    std::string_view traceparent = {});

// The job's last event (accepted, progress, interrupted, done or failed), or nullopt if it has
// none yet.
Result<std::optional<nlohmann::json>> LastMlEvent(bus::MessageBus& bus, std::string_view market,
                                                  std::string_view job);
// Whether an event ends its job: done or failed.
bool IsMlResult(const nlohmann::json& event);
// Every event of the market's jobs, in the order stored.
Result<std::vector<nlohmann::json>> MlEvents(bus::MessageBus& bus, std::string_view market);

struct MlJobOptions {
  std::string market = "default";
  std::string trainer;  // the path of aits-train
  // Passed to every train and retrain job as --registry (a directory or postgresql://...).
  std::string registry = "models";
  // The durable consumer's, when it is created (an existing one keeps its own). A job is said to
  // be in progress every third of it; a role that died gives its job up after it.
  Duration ack_wait = Duration::Seconds(60);
  const std::atomic<bool>* stop = nullptr;  // set: kill the running job, give it back, return
  // The role's metrics registry (not owned), or none: the jobs' consumer's lag (jobs waiting)
  // and redeliveries (jobs given back or abandoned; bus/consumer_metrics.h).
  Registry* metrics = nullptr;
  // Return after this many job messages (run, found done, or dead-lettered); 0: until stopped.
  uint64_t max_messages = 0;
  // Every event as it is published (the role prints them).
  std::function<void(const nlohmann::json& event)> on_event;
  // Spans (not owned), or none: each job run under an "ml.job" span (consumer), child of the
  // job message's traceparent (a root without one), whose traceparent its events carry.
  trace::Tracer* tracer = nullptr;
};

struct MlJobStats {
  uint64_t done = 0;
  uint64_t failed = 0;
  uint64_t already_done = 0;  // delivered again with its result stored: not run
  uint64_t interrupted = 0;   // given back when the role stopped
  uint64_t dead_lettered = 0;
};

// Consumes the market's jobs with the durable consumer "ml-<market>", one at a time, until
// stopped (or max_messages). Errors: the bus (publishing an event, acknowledging, after retries),
// the trainer not found; a job that fails is no error of the role.
Result<MlJobStats> RunMlJobs(bus::MessageBus& bus, const MlJobOptions& options);

}  // namespace aits::services
