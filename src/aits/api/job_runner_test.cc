#include "aits/api/job_runner.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace aits::api {
namespace {

namespace fs = std::filesystem;

// A shell script as the job's program: the runner's mechanics without the real aits.
JobSpec Script(const std::string& script) {
  JobSpec spec;
  spec.kind = "test";
  spec.argv = {"/bin/sh", "-c", script};
  spec.request = {{"script", script}};
  spec.by = "tom";
  spec.chain_id = "c-1";
  return spec;
}

class JobRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = ::testing::TempDir() + "/aits_jobs_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  // Polls until the job has finished (or 30 s have passed: then the test fails on its state).
  static JobView Await(JobRunner& runner, uint64_t id) {
    for (int i = 0; i < 3000; ++i) {
      const JobView job = runner.Get(id).value();
      if (job.state != JobState::kQueued && job.state != JobState::kRunning) return job;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return runner.Get(id).value();
  }

  std::string root_;
  WallClock clock_;
};

TEST_F(JobRunnerTest, RunsAJobKeepsItsProgressAndResult) {
  auto runner = JobRunner::Open(root_, clock_).value();
  const JobView queued = runner
                             ->Submit(Script("echo 'progress: 0.5000 10' >&2; "
                                             "echo 'progress: 1.0000 20' >&2; "
                                             "echo hello > {job_dir}/out.txt; "
                                             "echo '{\"trades\": 3}'"))
                             .value();
  EXPECT_EQ(queued.state, JobState::kQueued);
  EXPECT_EQ(queued.id, 1u);
  const JobView done = Await(*runner, queued.id);
  ASSERT_EQ(done.state, JobState::kDone) << done.error;
  EXPECT_EQ(done.progress, 1.0);
  EXPECT_EQ(done.count, 20u);
  EXPECT_EQ(done.by, "tom");
  EXPECT_TRUE(done.has_result);
  EXPECT_EQ(runner->ResultOf(done.id).value()["trades"], 3);
  // {job_dir} named the job's own directory.
  std::ifstream out(runner->Dir(done.id) + "/out.txt");
  std::string word;
  out >> word;
  EXPECT_EQ(word, "hello");
  const nlohmann::json shown = done.ToJson();
  EXPECT_EQ(shown["state"], "done");
  EXPECT_EQ(shown["request"]["script"], queued.request["script"]);
}

TEST_F(JobRunnerTest, AFailedJobSaysWhyAndHasNoResult) {
  auto runner = JobRunner::Open(root_, clock_).value();
  const uint64_t id =
      runner->Submit(Script("echo 'aits: error: --data x.csv: no such file' >&2; exit 2"))
          .value()
          .id;
  const JobView failed = Await(*runner, id);
  EXPECT_EQ(failed.state, JobState::kFailed);
  EXPECT_EQ(failed.exit_code, 2);
  EXPECT_EQ(failed.error, "--data x.csv: no such file (exit code 2)");
  EXPECT_FALSE(failed.has_result);
  EXPECT_EQ(runner->ResultOf(id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(runner->Get(99).status().code(), StatusCode::kNotFound);
}

TEST_F(JobRunnerTest, JobsRunOneAtATimeAndCancelQueuedOrRunning) {
  JobRunnerOptions options;
  options.max_running = 1;
  options.max_queued = 2;
  auto runner = JobRunner::Open(root_, clock_, options).value();
  const uint64_t first = runner->Submit(Script("sleep 30")).value().id;
  // Waits for the first to start, so that the next two queue behind it.
  for (int i = 0; i < 3000 && runner->Get(first).value().state != JobState::kRunning; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(runner->Get(first).value().state, JobState::kRunning);
  const uint64_t second = runner->Submit(Script("echo '{}'")).value().id;
  const uint64_t third = runner->Submit(Script("echo '{}'")).value().id;
  EXPECT_EQ(runner->Submit(Script("echo '{}'")).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(runner->Get(second).value().state, JobState::kQueued);

  EXPECT_EQ(runner->Cancel(second).value().state, JobState::kCancelled);
  ASSERT_TRUE(runner->Cancel(first).ok());
  EXPECT_EQ(Await(*runner, first).state, JobState::kCancelled);
  EXPECT_EQ(Await(*runner, third).state, JobState::kDone);
  EXPECT_EQ(Await(*runner, second).state, JobState::kCancelled);
  EXPECT_EQ(runner->Cancel(third).status().code(), StatusCode::kFailedPrecondition);

  const std::vector<JobView> listed = runner->List(10, 0);
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_EQ(listed[0].id, third);
  EXPECT_EQ(runner->List(10, third).size(), 2u);
  EXPECT_EQ(runner->List(1, 0).size(), 1u);
}

TEST_F(JobRunnerTest, ARestartListsTheJobsAndMarksTheUnfinishedInterrupted) {
  uint64_t done = 0;
  uint64_t running = 0;
  uint64_t queued = 0;
  {
    auto runner = JobRunner::Open(root_, clock_).value();
    done = runner->Submit(Script("echo '{\"n\": 1}'")).value().id;
    Await(*runner, done);
    running = runner->Submit(Script("sleep 30")).value().id;
    for (int i = 0; i < 3000 && runner->Get(running).value().state != JobState::kRunning; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    queued = runner->Submit(Script("echo '{}'")).value().id;
  }  // the runner stops: its running child ends
  auto again = JobRunner::Open(root_, clock_).value();
  EXPECT_EQ(again->Get(done).value().state, JobState::kDone);
  EXPECT_EQ(again->ResultOf(done).value()["n"], 1);
  EXPECT_EQ(again->Get(running).value().state, JobState::kInterrupted);
  const JobView waited = again->Get(queued).value();
  EXPECT_EQ(waited.state, JobState::kInterrupted);
  EXPECT_NE(waited.error.find("stopped"), std::string::npos);
  // New jobs number on.
  EXPECT_EQ(again->Submit(Script("echo '{}'")).value().id, queued + 1);
}

TEST_F(JobRunnerTest, ANewJobNeverLandsInAnOldJobsDirectory) {
  // A crash left job 5's directory without a whole job.json: it is not listed, and not reused.
  fs::create_directories(root_ + "/5/state");
  std::ofstream(root_ + "/5/job.json") << "{\"id\": 5, \"st";
  auto runner = JobRunner::Open(root_, clock_).value();
  EXPECT_TRUE(runner->List(10, 0).empty());
  const JobView job = runner->Submit(Script("echo '{}'")).value();
  EXPECT_EQ(job.id, 6u);
  EXPECT_TRUE(fs::exists(root_ + "/5/state"));
}

TEST_F(JobRunnerTest, KeepsAtMostMaxKeptJobs) {
  JobRunnerOptions options;
  options.max_kept = 2;
  auto runner = JobRunner::Open(root_, clock_, options).value();
  uint64_t last = 0;
  for (int i = 0; i < 4; ++i) {
    last = runner->Submit(Script("echo '{}'")).value().id;
    Await(*runner, last);
  }
  const std::vector<JobView> kept = runner->List(10, 0);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept.front().id, last);
  EXPECT_FALSE(fs::exists(runner->Dir(1)));
  EXPECT_FALSE(fs::exists(runner->Dir(2)));
  EXPECT_TRUE(fs::exists(runner->Dir(3)));
}

}  // namespace
}  // namespace aits::api
