// Test helpers of the feed's tests.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace aits::feed {

// A file path unique to the running test (TempDir, the process id and the test's name), removed
// when made and when destroyed.
class ScopedTestPath {
 public:
  ScopedTestPath()
      : path_(::testing::TempDir() + "/aits_feed_" + std::to_string(::getpid()) + "_" +
              ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name() + "_" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name()) {
    std::filesystem::remove(path_);
  }
  ~ScopedTestPath() { std::filesystem::remove(path_); }
  ScopedTestPath(const ScopedTestPath&) = delete;
  ScopedTestPath& operator=(const ScopedTestPath&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace aits::feed
