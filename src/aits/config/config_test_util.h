// Files for the settings tests: a fresh directory per test and small text files in it.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace aits::config::testing {

// A fresh, empty directory for the running test, so that files of one test never satisfy another.
inline std::string TestDir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "config_test" /
                                    info->test_suite_name() / info->name();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

// Writes `text` to dir/name and returns the path.
inline std::string WriteFile(const std::string& dir, const std::string& name,
                             const std::string& text) {
  const std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

}  // namespace aits::config::testing
