#include "aits/api/job_runner.h"

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "aits/core/time.h"
#include "aits/services/child_process.h"

namespace aits::api {

namespace fs = std::filesystem;

std::string_view ToString(JobState state) {
  switch (state) {
    case JobState::kQueued:
      return "queued";
    case JobState::kRunning:
      return "running";
    case JobState::kDone:
      return "done";
    case JobState::kFailed:
      return "failed";
    case JobState::kCancelled:
      return "cancelled";
    case JobState::kInterrupted:
      return "interrupted";
  }
  return "unknown";
}

namespace {

std::optional<JobState> ParseJobState(std::string_view text) {
  for (JobState s : {JobState::kQueued, JobState::kRunning, JobState::kDone, JobState::kFailed,
                     JobState::kCancelled, JobState::kInterrupted}) {
    if (ToString(s) == text) return s;
  }
  return std::nullopt;
}

bool Finished(JobState state) { return state != JobState::kQueued && state != JobState::kRunning; }

nlohmann::json TimeOrNull(Timestamp t) {
  return t.ns == 0 ? nlohmann::json(nullptr) : nlohmann::json(FormatIso8601(t));
}

Timestamp TimeOf(const nlohmann::json& j) {
  if (!j.is_string()) return Timestamp{};
  return ParseUtcTime(j.get<std::string>()).value_or(Timestamp{});
}

Status WriteWhole(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << text;
    if (!out.flush()) return IoError("cannot write " + temporary);
  }
  std::error_code ec;
  fs::rename(temporary, path, ec);
  if (ec) return IoError("cannot rename " + temporary + " to " + path + ": " + ec.message());
  return Status::Ok();
}

// "progress: 0.4213 123456" -> (0.4213, 123456).
bool ParseProgress(const std::string& line, double* fraction, uint64_t* count) {
  constexpr std::string_view kPrefix = "progress: ";
  if (!line.starts_with(kPrefix)) return false;
  std::istringstream in(line.substr(kPrefix.size()));
  double f = 0;
  unsigned long long n = 0;
  if (!(in >> f >> n) || !(f >= 0 && f <= 1)) return false;
  *fraction = f;
  *count = n;
  return true;
}

}  // namespace

nlohmann::json JobView::ToJson() const {
  nlohmann::json out = {{"id", id},
                        {"kind", kind},
                        {"state", std::string(ToString(state))},
                        {"progress", progress},
                        {"count", count},
                        {"submitted_at", TimeOrNull(submitted_at)},
                        {"started_at", TimeOrNull(started_at)},
                        {"finished_at", TimeOrNull(finished_at)},
                        {"by", by},
                        {"chain_id", chain_id},
                        {"request", request},
                        {"has_result", has_result}};
  if (state == JobState::kFailed) out["exit_code"] = exit_code;
  if (!error.empty()) out["error"] = error;
  return out;
}

JobRunner::JobRunner(std::string root, const Clock& clock, JobRunnerOptions options)
    : root_(std::move(root)), clock_(clock), options_(options) {}

Result<std::unique_ptr<JobRunner>> JobRunner::Open(std::string root, const Clock& clock,
                                                   JobRunnerOptions options) {
  if (options.max_running < 1 || options.max_queued < 0) {
    return InvalidArgument("job runner: max_running must be at least 1, max_queued at least 0");
  }
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec || !fs::is_directory(root)) {
    return IoError("jobs directory " + root + " cannot be made: " + ec.message());
  }
  std::unique_ptr<JobRunner> runner(new JobRunner(std::move(root), clock, options));
  AITS_RETURN_IF_ERROR(runner->Load());
  for (int i = 0; i < options.max_running; ++i) {
    runner->workers_.emplace_back([r = runner.get()] { r->Work(); });
  }
  return runner;
}

Status JobRunner::Load() {
  for (const fs::directory_entry& entry : fs::directory_iterator(root_)) {
    const std::string name = entry.path().filename().string();
    uint64_t id = 0;
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
    if (ec != std::errc() || end != name.data() + name.size() || id == 0) continue;
    // Numbered on past every directory, also one whose job.json was never written whole: a new
    // job never lands in an old one's directory.
    next_id_ = std::max(next_id_, id + 1);
    std::ifstream in(entry.path() / "job.json");
    const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (!j.is_object()) continue;  // a directory whose job.json was never written whole
    auto job = std::make_unique<Job>();
    JobView& v = job->view;
    v.id = id;
    v.kind = j.value("kind", "");
    v.state = ParseJobState(j.value("state", "")).value_or(JobState::kInterrupted);
    v.progress = j.value("progress", 0.0);
    v.count = j.value("count", uint64_t{0});
    v.submitted_at = TimeOf(j.value("submitted_at", nlohmann::json()));
    v.started_at = TimeOf(j.value("started_at", nlohmann::json()));
    v.finished_at = TimeOf(j.value("finished_at", nlohmann::json()));
    v.by = j.value("by", "");
    v.chain_id = j.value("chain_id", "");
    v.request = j.value("request", nlohmann::json::object());
    v.exit_code = j.value("exit_code", 0);
    v.error = j.value("error", "");
    v.has_result = j.value("has_result", false);
    if (!Finished(v.state)) {
      // Its runner stopped while it waited or ran: it is not run again on its own.
      v.state = JobState::kInterrupted;
      v.error = "the API stopped before the job ended";
      v.finished_at = clock_.Now();
      AITS_RETURN_IF_ERROR(Save(v));
    }
    next_id_ = std::max(next_id_, id + 1);
    jobs_.emplace(id, std::move(job));
  }
  return Status::Ok();
}

Status JobRunner::Save(const JobView& view) const {
  return WriteWhole(Dir(view.id) + "/job.json", view.ToJson().dump(2) + "\n");
}

std::string JobRunner::Dir(uint64_t id) const { return root_ + "/" + std::to_string(id); }

Result<JobView> JobRunner::Submit(JobSpec spec) {
  if (spec.argv.empty()) return InvalidArgument("job: no program to run");
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopping_) return Unavailable("the job runner is stopping");
  if (queue_.size() + running_ >=
      static_cast<size_t>(options_.max_running) + static_cast<size_t>(options_.max_queued)) {
    return Unavailable(std::to_string(running_) + " jobs run and " + std::to_string(queue_.size()) +
                       " wait already; try again when one has ended");
  }
  auto job = std::make_unique<Job>();
  JobView& v = job->view;
  v.id = next_id_++;
  v.kind = std::move(spec.kind);
  v.state = JobState::kQueued;
  v.submitted_at = clock_.Now();
  v.by = std::move(spec.by);
  v.chain_id = std::move(spec.chain_id);
  v.request = std::move(spec.request);
  const std::string dir = Dir(v.id);
  std::error_code ec;
  if (!fs::create_directory(dir, ec) || ec) {
    return IoError("job directory " + dir + " cannot be made (or exists already): " + ec.message());
  }
  for (std::string& arg : spec.argv) {
    for (size_t at = arg.find("{job_dir}"); at != std::string::npos; at = arg.find("{job_dir}")) {
      arg.replace(at, 9, dir);
    }
  }
  job->argv = std::move(spec.argv);
  AITS_RETURN_IF_ERROR(Save(v));
  const JobView shown = v;
  queue_.push_back(v.id);
  jobs_.emplace(v.id, std::move(job));
  Prune();
  wake_.notify_one();
  return shown;
}

void JobRunner::Prune() {
  // The oldest finished jobs go when more are kept than allowed (their directories too).
  for (auto it = jobs_.begin(); jobs_.size() > options_.max_kept && it != jobs_.end();) {
    if (!Finished(it->second->view.state)) {
      ++it;
      continue;
    }
    std::error_code ec;
    fs::remove_all(Dir(it->first), ec);
    it = jobs_.erase(it);
  }
}

Result<JobView> JobRunner::Get(uint64_t id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = jobs_.find(id);
  if (found == jobs_.end()) return NotFound("job " + std::to_string(id) + " is not known");
  return found->second->view;
}

std::vector<JobView> JobRunner::List(size_t limit, uint64_t before) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<JobView> out;
  for (auto it = jobs_.rbegin(); it != jobs_.rend() && out.size() < limit; ++it) {
    if (before != 0 && it->first >= before) continue;
    out.push_back(it->second->view);
  }
  return out;
}

Result<JobView> JobRunner::Cancel(uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = jobs_.find(id);
  if (found == jobs_.end()) return NotFound("job " + std::to_string(id) + " is not known");
  Job& job = *found->second;
  if (Finished(job.view.state)) {
    return FailedPrecondition("job " + std::to_string(id) + " is " +
                              std::string(ToString(job.view.state)) + ": nothing to cancel");
  }
  if (job.view.state == JobState::kQueued) {
    std::erase(queue_, id);
    job.view.state = JobState::kCancelled;
    job.view.finished_at = clock_.Now();
    AITS_RETURN_IF_ERROR(Save(job.view));
  } else {
    job.stop = true;  // the worker marks it cancelled when the child has ended
  }
  return job.view;
}

Result<nlohmann::json> JobRunner::ResultOf(uint64_t id) const {
  AITS_ASSIGN_OR_RETURN(const JobView view, Get(id));
  if (!view.has_result) {
    return NotFound("job " + std::to_string(id) + " has no result (" +
                    std::string(ToString(view.state)) + ")");
  }
  std::ifstream in(Dir(id) + "/result.json");
  nlohmann::json result = nlohmann::json::parse(in, nullptr, false);
  if (result.is_discarded()) return DataLoss(Dir(id) + "/result.json is not JSON");
  return result;
}

void JobRunner::Work() {
  for (;;) {
    Job* job = nullptr;
    std::vector<std::string> argv;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      const uint64_t id = queue_.front();
      queue_.pop_front();
      job = jobs_.at(id).get();
      job->view.state = JobState::kRunning;
      ++running_;
      job->view.started_at = clock_.Now();
      (void)Save(job->view);  // a failed write shows as a stale state after a restart only
      argv = job->argv;
    }
    Result<services::Child::Ended> ran = services::Child::Run(
        argv, &job->stop, Duration::Millis(250), [] {},
        [this, job](const std::string& line) {
          double fraction = 0;
          uint64_t count = 0;
          if (!ParseProgress(line, &fraction, &count)) return;
          std::lock_guard<std::mutex> lock(mutex_);
          job->view.progress = fraction;
          job->view.count = count;
        },
        {"AITS_PROGRESS_LINES=1"});
    std::optional<nlohmann::json> result;
    // A clean stop (SIGTERM, as Ctrl-C) prints its summary too.
    if (ran.ok() && ran->exit_code == 0) result = services::ResultOf(ran->out);
    bool result_written = false;
    if (result)
      result_written = WriteWhole(Dir(job->view.id) + "/result.json", result->dump()).ok();
    std::lock_guard<std::mutex> lock(mutex_);
    --running_;
    JobView& v = job->view;
    v.finished_at = clock_.Now();
    if (!ran.ok()) {
      v.state = JobState::kFailed;
      v.exit_code = -1;
      v.error = ran.status().message();
    } else if (ran->stopped) {
      v.state = stopping_ ? JobState::kInterrupted : JobState::kCancelled;
      if (stopping_) v.error = "the API stopped before the job ended";
      v.has_result = result_written;
    } else if (ran->exit_code != 0 || ran->signal != 0) {
      v.state = JobState::kFailed;
      v.exit_code = ran->exit_code;
      v.error = services::FailureText(*ran);
    } else {
      v.state = JobState::kDone;
      v.progress = 1;
      v.has_result = result_written;
      if (!result) v.error = "the job printed no JSON result";
    }
    (void)Save(v);
  }
}

JobRunner::~JobRunner() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    for (auto& [id, job] : jobs_) {
      if (job->view.state == JobState::kRunning) job->stop = true;
    }
  }
  wake_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

}  // namespace aits::api
