// JobRunner: the API's long jobs (backtests), each a child process of its own, run a few at a
// time off the request threads (docs/api.md, "Backtests").
//
// Every job has a directory ROOT/<id>/ holding job.json (what was asked, by whom, its state) and
// what the child writes there; the child's JSON result (the last JSON line of its stdout) goes to
// result.json. The runner lists the jobs it finds under ROOT at start: a job that was queued or
// running when the last runner stopped is `interrupted`, never run twice on its own.
//
// A job's argv may name its directory as "{job_dir}" (in any argument); the child runs with
// AITS_PROGRESS_LINES=1 and reports "progress: FRACTION COUNT" lines on stderr (apps/aits/
// progress.h), which the runner keeps as the job's progress.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "aits/core/clock.h"
#include "aits/core/status.h"

namespace aits::api {

enum class JobState { kQueued, kRunning, kDone, kFailed, kCancelled, kInterrupted };
std::string_view ToString(JobState state);

struct JobSpec {
  std::string kind;               // "backtest"
  std::vector<std::string> argv;  // argv[0] is the program
  nlohmann::json request;         // what the caller asked, as shown back
  std::string by;                 // who asked
  std::string chain_id;
};

struct JobView {
  uint64_t id = 0;
  std::string kind;
  JobState state = JobState::kQueued;
  double progress = 0;  // 0..1, from the child's progress lines
  uint64_t count = 0;   // what the child counted (events read)
  Timestamp submitted_at, started_at, finished_at;
  std::string by;
  std::string chain_id;
  nlohmann::json request;
  int exit_code = 0;
  std::string error;  // why it failed, for people
  bool has_result = false;

  nlohmann::json ToJson() const;
};

struct JobRunnerOptions {
  int max_running = 1;     // children at once: the cores are the trading path's first
  int max_queued = 16;     // beyond this, Submit is Unavailable
  size_t max_kept = 1000;  // job directories kept; the oldest finished ones go first
};

class JobRunner {
 public:
  // Creates `root` when missing and reads the jobs it holds. `clock` must outlive the runner.
  static Result<std::unique_ptr<JobRunner>> Open(std::string root, const Clock& clock,
                                                 JobRunnerOptions options = {});
  ~JobRunner();  // stops the running children (their jobs: interrupted) and joins

  // Queues the job. Unavailable when max_running run and max_queued wait already; IoError when
  // its directory cannot be written.
  Result<JobView> Submit(JobSpec spec);
  // NotFound for an unknown id.
  Result<JobView> Get(uint64_t id) const;
  // Newest first: at most `limit` with an id below `before` (0: from the newest).
  std::vector<JobView> List(size_t limit, uint64_t before) const;
  // A queued job is cancelled at once; a running one is stopped (SIGTERM) and becomes cancelled
  // when its child has ended. FailedPrecondition for a job that has finished.
  Result<JobView> Cancel(uint64_t id);
  // The job's directory, and its result.json (NotFound until the job is done).
  std::string Dir(uint64_t id) const;
  Result<nlohmann::json> ResultOf(uint64_t id) const;

 private:
  struct Job {
    JobView view;
    std::vector<std::string> argv;
    std::atomic<bool> stop{false};
  };
  JobRunner(std::string root, const Clock& clock, JobRunnerOptions options);
  Status Load();
  Status Save(const JobView& view) const;  // job.json, written whole then renamed
  void Work();
  void Prune();  // holds mutex_

  const std::string root_;
  const Clock& clock_;
  const JobRunnerOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<uint64_t, std::unique_ptr<Job>> jobs_;
  std::deque<uint64_t> queue_;
  uint64_t next_id_ = 1;
  size_t running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace aits::api
