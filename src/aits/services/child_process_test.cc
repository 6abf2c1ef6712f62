#include "aits/services/child_process.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace aits::services {
namespace {

Result<Child::Ended> Shell(const std::string& script, const std::atomic<bool>* stop = nullptr,
                           std::vector<std::string>* lines = nullptr,
                           const std::vector<std::string>& env = {}) {
  return Child::Run(
      {"/bin/sh", "-c", script}, stop, Duration::Millis(20), [] {},
      [lines](const std::string& line) {
        if (lines != nullptr) lines->push_back(line);
      },
      env);
}

TEST(ChildProcessTest, KeepsStdoutSeesEachStderrLineAndTheExitCode) {
  std::vector<std::string> lines;
  Result<Child::Ended> ended = Shell(
      "echo '{\"a\": 1}'; echo one >&2; printf 'two\\r\\n' >&2; echo x; exit 3", nullptr, &lines);
  ASSERT_TRUE(ended.ok()) << ended.status().message();
  EXPECT_EQ(ended->exit_code, 3);
  EXPECT_EQ(ended->signal, 0);
  EXPECT_EQ(ended->out, "{\"a\": 1}\nx\n");
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two"}));
  // The last JSON object line of stdout, even with text after it.
  ASSERT_TRUE(ResultOf(ended->out).has_value());
  EXPECT_EQ((*ResultOf(ended->out))["a"], 1);
  EXPECT_FALSE(ResultOf("no json\n").has_value());
  ASSERT_TRUE(ResultOf("{\n  \"b\": 2\n}\n").has_value());
  EXPECT_EQ((*ResultOf("{\n  \"b\": 2\n}\n"))["b"], 2);
}

TEST(ChildProcessTest, NamesItsOwnErrorLineElseTheEndOfStderr) {
  Result<Child::Ended> own = Shell("echo 'aits: error: --data x.csv: no such file' >&2; exit 2");
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(own->error, "--data x.csv: no such file");
  EXPECT_EQ(FailureText(*own), "--data x.csv: no such file (exit code 2)");
  Result<Child::Ended> other = Shell("echo 'something broke' >&2; exit 1");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(FailureText(*other), "something broke (exit code 1)");
}

TEST(ChildProcessTest, PassesTheEnvironmentItAdds) {
  Result<Child::Ended> ended =
      Shell("echo \"$AITS_CHILD_TEST\"", nullptr, nullptr, {"AITS_CHILD_TEST=given"});
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(ended->out, "given\n");
}

TEST(ChildProcessTest, AProgramThatCannotRunExits127SayingWhich) {
  Result<Child::Ended> ended = Child::Run(
      {"/nonexistent/aits"}, nullptr, Duration::Millis(20), [] {}, [](const std::string&) {});
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(ended->exit_code, 127);
  EXPECT_EQ(ended->error, "cannot run /nonexistent/aits");
}

TEST(ChildProcessTest, StopEndsTheChildWithSigterm) {
  std::atomic<bool> stop{false};
  std::thread stopper([&stop] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop = true;
  });
  const auto started = std::chrono::steady_clock::now();
  Result<Child::Ended> ended = Shell("sleep 30", &stop);
  stopper.join();
  ASSERT_TRUE(ended.ok());
  EXPECT_TRUE(ended->stopped);
  EXPECT_EQ(ended->signal, SIGTERM);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}

}  // namespace
}  // namespace aits::services
