// config::RetrainOnVerdict around a stand-in for aits-train (a shell script): the arguments it
// is given, its failures, a stop, and the timeout that ends a retrain that hangs. The real
// trainer's path (a candidate registered and tried) is the learning loop's end-to-end test's.
#include "aits/config/model_choice.h"

#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <string>

#include "aits/config/config_test_util.h"
#include "aits/session/session_spec.h"

namespace aits::config {
namespace {

using testing::TestDir;
using testing::WriteFile;

// An executable script in `dir` that runs `body` (sh).
std::string Trainer(const std::string& dir, const std::string& body) {
  const std::string path = WriteFile(dir, "aits-train", "#!/bin/sh\n" + body + "\n");
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

session::SessionSpec Spec(const std::string& dir) {
  session::SessionSpec spec;
  spec.registry = dir + "/registry";
  return spec;
}

const Timestamp kAt = Timestamp::FromNanos(1'700'000'000'000'000'000);

TEST(RetrainOnVerdictTest, GivesTheTrainerTheServedModelTheModeAndTheVerdictsTime) {
  const std::string dir = TestDir();
  const std::string args = dir + "/args";
  // A trainer that says what it was asked and then that it could not: too little data.
  const auto retrain = RetrainOnVerdict(
      {.trainer = Trainer(dir, "echo \"$@\" > " + args +
                                   "\necho 'aits: error: 812 rows up to the given time, fewer than "
                                   "--rows 3000' >&2\nexit 2"),
       .config = dir + "/ml.yaml",
       .rows = 3000});
  const Result<std::string> made =
      retrain(Spec(dir), "eur@2", kAt, R"({"verdict":"update"})", nullptr);
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(made.status().message().find("812 rows up to the given time"), std::string::npos)
      << made.status().ToString();
  EXPECT_NE(made.status().message().find("exit code 2"), std::string::npos);
  const std::string given = ReadAll(args);
  EXPECT_NE(
      given.find("retrain --registry " + dir + "/registry --config " + dir +
                 "/ml.yaml --model eur@2 --mode update --rows 3000 --to " + FormatIso8601(kAt)),
      std::string::npos)
      << given;
  EXPECT_NE(given.find("--json"), std::string::npos);

  // "auto" trains anew on a retrain verdict; a fixed mode is kept whatever the verdict.
  const auto full = RetrainOnVerdict(
      {.trainer = Trainer(dir, "echo \"$@\" > " + args + "\nexit 2"), .config = "c.yaml"});
  EXPECT_FALSE(full(Spec(dir), "eur@2", kAt, R"({"verdict":"retrain"})", nullptr).ok());
  EXPECT_NE(ReadAll(args).find("--mode full"), std::string::npos);
  const auto update =
      RetrainOnVerdict({.trainer = Trainer(dir, "echo \"$@\" > " + args + "\nexit 2"),
                        .config = "c.yaml",
                        .mode = "update"});
  EXPECT_FALSE(update(Spec(dir), "eur@2", kAt, R"({"verdict":"retrain"})", nullptr).ok());
  EXPECT_NE(ReadAll(args).find("--mode update"), std::string::npos);
}

TEST(RetrainOnVerdictTest, AResultThatNamesNoModelIsAnError) {
  const std::string dir = TestDir();
  const auto retrain =
      RetrainOnVerdict({.trainer = Trainer(dir, "echo '{\"command\":\"retrain\",\"rows\":3000}'"),
                        .config = "c.yaml"});
  const Result<std::string> made =
      retrain(Spec(dir), "eur@2", kAt, R"({"verdict":"update"})", nullptr);
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.status().code(), StatusCode::kInternal);
  EXPECT_NE(made.status().message().find("names no model"), std::string::npos);
}

TEST(RetrainOnVerdictTest, AHungRetrainIsEndedAtItsTimeoutAndFails) {
  const std::string dir = TestDir();
  const std::string pid_file = dir + "/pid";
  const auto retrain =
      RetrainOnVerdict({.trainer = Trainer(dir, "echo $$ > " + pid_file + "\nexec sleep 600"),
                        .config = "c.yaml",
                        .timeout = Duration::Seconds(1)});
  const Result<std::string> made =
      retrain(Spec(dir), "eur@2", kAt, R"({"verdict":"update"})", nullptr);
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(made.status().message().find("still running after 1 s (--retrain-timeout)"),
            std::string::npos)
      << made.status().ToString();
  // The child was ended and reaped, not left behind.
  const std::string pid = ReadAll(pid_file);
  ASSERT_FALSE(pid.empty());
  EXPECT_EQ(::kill(std::stoi(pid), 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

TEST(RetrainOnVerdictTest, AStopEndsTheRetrainAsStoppedNotTimedOut) {
  const std::string dir = TestDir();
  const std::atomic<bool> stop{true};
  const auto retrain = RetrainOnVerdict({.trainer = Trainer(dir, "exec sleep 600"),
                                         .config = "c.yaml",
                                         .timeout = Duration::Seconds(600)});
  const Result<std::string> made =
      retrain(Spec(dir), "eur@2", kAt, R"({"verdict":"update"})", &stop);
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(made.status().message().find("stopped"), std::string::npos);
}

}  // namespace
}  // namespace aits::config
