// Runs every declarative scenario in tests/scenarios/ as its own test case.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "scenario_runner.h"

namespace aits::testing {
namespace {

std::vector<std::string> ScenarioFiles() {
  std::vector<std::string> files;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(AITS_SOURCE_DIR) + "/tests/scenarios")) {
    if (entry.path().extension() == ".scn") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

class ScenarioTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ScenarioTest, MeetsEveryExpectation) {
  auto failures = RunScenarioFile(GetParam());
  ASSERT_TRUE(failures.ok()) << failures.status().ToString();
  for (const auto& failure : *failures) {
    ADD_FAILURE() << GetParam() << ":" << failure.line << ": " << failure.message;
  }
}

std::string TestName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = std::filesystem::path(info.param).stem().string();
  std::replace_if(
      name.begin(), name.end(), [](char ch) { return !std::isalnum(ch); }, '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(Files, ScenarioTest, ::testing::ValuesIn(ScenarioFiles()), TestName);

// The runner itself must catch a wrong expectation, or every scenario above could pass vacuously.
TEST(ScenarioRunnerTest, ReportsAWrongExpectation) {
  auto failures = RunScenarioText("inline", R"(
instrument EURUSD
tick 0 1.10000 1.10010
submit o1 buy market 1
expect fill o1 buy 1 1.10000
expect position 2
)");
  ASSERT_TRUE(failures.ok()) << failures.status().ToString();
  ASSERT_EQ(failures->size(), 2u);
  EXPECT_EQ((*failures)[0].line, 5);
  EXPECT_NE((*failures)[0].message.find("1.10010"), std::string::npos);
  EXPECT_EQ((*failures)[1].line, 6);
}

// The same for the reconciliation lines: a wrong report line, action, outcome or count is caught.
TEST(ScenarioRunnerTest, ReportsAWrongReconciliation) {
  auto failures = RunScenarioText("inline", R"(
instrument EURUSD
tick 0 1.10000 1.10010
broker position 0.3 price=1.09500
broker order x buy limit 1 price=1.09000
reconcile adopt
expect refused
expect difference unknown position: EURUSD: log none, venue +0.40 lots
expect action adopt position EURUSD +0.30 @ 1.09500
expect action adopt order EURUSD 'y' ticket 1000
expect working 2
expect differences 2
)");
  ASSERT_TRUE(failures.ok()) << failures.status().ToString();
  std::vector<int> lines;
  for (const auto& failure : *failures) lines.push_back(failure.line);
  EXPECT_EQ(lines, (std::vector<int>{7, 8, 10, 11}));
}

TEST(ScenarioRunnerTest, MalformedFileIsAnErrorWithItsLine) {
  auto result = RunScenarioText("bad.scn", "instrument EURUSD\nfrobnicate 1 2\n");
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("bad.scn:2"), std::string::npos);
}

}  // namespace
}  // namespace aits::testing
