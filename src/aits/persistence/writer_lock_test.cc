// The session owner's lock, for a file log and for a log on PostgreSQL (the binary's server,
// event_store_contract_test.cc): refused while held, free when released or when its holder is
// killed, and a standby that waits takes it then.
#include "aits/persistence/writer_lock.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>

#include "aits/testing/servers.h"

namespace aits::persistence {

test_servers::PostgresServer* SharedPostgres();  // event_store_contract_test.cc

namespace {

enum class Where { kFile, kPostgres };

class WriterLockTest : public ::testing::TestWithParam<Where> {
 protected:
  void SetUp() override {
    auto dir = test_servers::TempDir::Make("aits-writer-lock");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<test_servers::TempDir>(std::move(dir).value());
    static int counter = 0;
    if (GetParam() == Where::kFile) {
      location_ = dir_->path() + "/events.db";
    } else {
      ASSERT_NE(SharedPostgres(), nullptr);
      location_ = "postgresql://aits@127.0.0.1:" + std::to_string(SharedPostgres()->port()) +
                  "/postgres#lock-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    }
  }
  std::unique_ptr<test_servers::TempDir> dir_;
  std::string location_;
};

std::string WhereName(const ::testing::TestParamInfo<Where>& info) {
  return info.param == Where::kFile ? "File" : "Postgres";
}

INSTANTIATE_TEST_SUITE_P(Logs, WriterLockTest, ::testing::Values(Where::kFile, Where::kPostgres),
                         WhereName);

TEST_P(WriterLockTest, ASecondOwnerIsRefusedUntilTheFirstLetsGo) {
  auto first = WriterLock::TryAcquire(location_);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = WriterLock::TryAcquire(location_);
  ASSERT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find(location_ + " is open for writing by another process"),
            std::string::npos)
      << second.status().ToString();
  if (GetParam() == Where::kFile) {
    EXPECT_NE(second.status().message().find("(pid " + std::to_string(::getpid()) + ")"),
              std::string::npos)
        << second.status().ToString();
  }
  first->reset();
  EXPECT_TRUE(WriterLock::TryAcquire(location_).ok());
}

TEST_P(WriterLockTest, AStandbyTakesOverWhenTheOwnerIsKilled) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t owner = ::fork();
  ASSERT_GE(owner, 0);
  if (owner == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlives a failed test
    auto lock = WriterLock::TryAcquire(location_);
    const char answer = lock.ok() ? 'y' : 'n';
    (void)::write(ready[1], &answer, 1);
    for (;;) ::pause();
  }
  char answer = 0;
  ASSERT_EQ(::read(ready[0], &answer, 1), 1);
  ASSERT_EQ(answer, 'y');
  std::atomic<int> told{0};
  std::string reason;
  auto standby = std::async(std::launch::async, [&] {
    return WriterLock::Acquire(location_, nullptr, [&](const std::string& why) {
      reason = why;
      ++told;
    });
  });
  // Waits while the owner lives.
  EXPECT_EQ(standby.wait_for(std::chrono::milliseconds(500)), std::future_status::timeout);
  EXPECT_EQ(told.load(), 1);
  ::kill(owner, SIGKILL);
  int status = 0;
  ::waitpid(owner, &status, 0);
  ASSERT_EQ(standby.wait_for(std::chrono::seconds(10)), std::future_status::ready)
      << "the standby did not take over";
  auto lock = standby.get();
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  EXPECT_NE(reason.find("one owner per session"), std::string::npos) << reason;
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST_P(WriterLockTest, AStandbyStopsWhenAsked) {
  auto owner = WriterLock::TryAcquire(location_);
  ASSERT_TRUE(owner.ok());
  std::atomic<bool> stop{false};
  auto standby = std::async(std::launch::async, [&] {
    return WriterLock::Acquire(location_, &stop, {}, Duration::Millis(10));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop = true;
  auto lock = standby.get();
  EXPECT_EQ(lock.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(lock.status().message().find("stopped while waiting"), std::string::npos);
}

}  // namespace
}  // namespace aits::persistence
