#include "aits/testing/hang_watch.h"

#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

namespace aits::test_hang_watch {
namespace {

using Clock = std::chrono::steady_clock;

class Watchdog final : public ::testing::EmptyTestEventListener {
 public:
  explicit Watchdog(std::chrono::seconds limit) : limit_(limit) {}

  void Limit(std::chrono::seconds limit) {
    const std::lock_guard lock(mu_);
    limit_ = std::min(limit_, limit);
  }

  void OnTestStart(const ::testing::TestInfo& test) override {
    const std::lock_guard lock(mu_);
    running_ = std::string(test.test_suite_name()) + "." + test.name();
    started_ = Clock::now();
    if (!thread_started_) {
      thread_started_ = true;
      std::thread([this] { Run(); }).detach();  // lives as long as the process
    }
  }
  void OnTestEnd(const ::testing::TestInfo&) override {
    const std::lock_guard lock(mu_);
    running_.clear();
  }
  // After the last test: the suites' teardowns and the static destructors (a shared server's
  // stop) may hang too.
  void OnTestProgramEnd(const ::testing::UnitTest&) override {
    const std::lock_guard lock(mu_);
    running_ = "the end of the program (after its last test)";
    started_ = Clock::now();
  }

 private:
  void Run() {
    for (;;) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      std::string test;
      std::chrono::seconds ran{};
      {
        const std::lock_guard lock(mu_);
        if (running_.empty()) continue;
        ran = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started_);
        if (ran < limit_) continue;
        test = running_;
      }
      std::fprintf(stderr, "\nHANG: %s has run for %lld s; every thread's stack follows.\n",
                   test.c_str(), static_cast<long long>(ran.count()));
      std::fflush(stdout);
      std::fflush(stderr);
      DumpStacks();
      std::fprintf(stderr, "HANG: %s: the process ends here (exit code 124).\n", test.c_str());
      std::fflush(stderr);
      std::_Exit(124);
    }
  }

  // gdb attached to this process. Yama's ptrace_scope 1 lets only an ancestor attach unless
  // the process names its tracer: any, for this moment.
  static void DumpStacks() {
    (void)prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
    const std::string pid = std::to_string(::getpid());
    const pid_t child = ::fork();
    if (child == 0) {
      ::dup2(STDERR_FILENO, STDOUT_FILENO);
      ::execlp("gdb", "gdb", "-p", pid.c_str(), "-batch", "-nx", "-ex", "thread apply all bt",
               static_cast<char*>(nullptr));
      std::fprintf(stderr, "HANG: gdb could not be run (not installed?): no stacks\n");
      std::_Exit(127);
    }
    if (child > 0) {
      int status = 0;
      ::waitpid(child, &status, 0);
    }
  }

  std::mutex mu_;
  std::chrono::seconds limit_;
  std::string running_;
  Clock::time_point started_{};
  bool thread_started_ = false;
};

}  // namespace

bool Watch(std::chrono::seconds limit) {
  static Watchdog* watchdog = [&] {
    auto* made = new Watchdog(limit);
    ::testing::UnitTest::GetInstance()->listeners().Append(made);  // googletest owns it
    return made;
  }();
  watchdog->Limit(limit);
  return true;
}

}  // namespace aits::test_hang_watch
