#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "aits/trading/decision_scenario_test_util.h"

namespace aits::decision::testing {
namespace {

std::vector<std::string> ScenarioFiles() {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(AITS_DECISION_SCENARIOS_DIR)) {
    if (entry.is_regular_file() && entry.path().extension() == ".dsc") {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(DecisionScenarioTest, EveryScenarioFilePasses) {
  const std::vector<std::string> files = ScenarioFiles();
  ASSERT_GE(files.size(), 6u) << "scenario files in " << AITS_DECISION_SCENARIOS_DIR;
  for (const std::string& file : files) {
    SCOPED_TRACE(file);
    auto result = RunScenarioFile(file);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_GT(result->cases, 0) << file << ": no cases";
    EXPECT_GE(result->expectations, result->cases) << file << ": cases without expectations";
    for (const ScenarioFailure& failure : result->failures) ADD_FAILURE() << failure.message;
  }
}

constexpr char kGoodScenario[] = R"(# a strong buy in session
instrument EURUSD
config sizing=fixed_fraction risk_fraction=0.01 stop_atr=2 take_profit_atr=3
config sessions="mon-fri 07:00-20:00"
case "strong buy" time=2024-03-04T10:00 bid=1.10000 ask=1.10010 atr=0.0010 s=0.8
expect action=BUY lots=5.00 sl=1.09810 tp=1.10310 reason="buy threshold"
expect_filter session=pass spread=pass
)";

TEST(DecisionScenarioTest, RunnerPassesACorrectScenario) {
  auto result = RunScenarioText(kGoodScenario, "good.dsc", ".");
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->cases, 1);
  EXPECT_EQ(result->expectations, 7);
  EXPECT_TRUE(result->failures.empty()) << result->failures[0].message;
}

TEST(DecisionScenarioTest, RunnerCatchesAWrongExpectation) {
  // Same scenario, but expecting 4.99 lots and a failed session filter: both must be reported
  // with file:line, expected and actual.
  std::string text = kGoodScenario;
  text.replace(text.find("lots=5.00"), 9, "lots=4.99");
  text.replace(text.find("session=pass"), 12, "session=fail");
  auto result = RunScenarioText(text, "wrong.dsc", ".");
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->failures.size(), 2u);
  EXPECT_EQ(result->failures[0].line, 6);
  EXPECT_EQ(result->failures[0].message,
            "wrong.dsc:6: case \"strong buy\": lots: expected 4.99, actual 5.00");
  EXPECT_EQ(result->failures[1].line, 7);
  EXPECT_NE(result->failures[1].message.find("wrong.dsc:7:"), std::string::npos);
  EXPECT_NE(result->failures[1].message.find("expected fail, actual pass"), std::string::npos);
}

TEST(DecisionScenarioTest, RunnerCatchesAWrongAction) {
  auto result = RunScenarioText(
      "instrument EURUSD\ncase \"weak\" bid=1.1 ask=1.1001 s=0.5\nexpect action=BUY\n", "a.dsc",
      ".");
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result->failures.size(), 1u);
  EXPECT_EQ(result->failures[0].message,
            "a.dsc:3: case \"weak\": action: expected BUY, actual HOLD");
}

TEST(DecisionScenarioTest, MalformedScenariosNameFileAndLine) {
  struct Bad {
    const char* text;
    const char* message;
  };
  const Bad cases[] = {
      {"instrument EURUSD\nexpect action=BUY\n", "bad.dsc:2: expect before any case"},
      {"frobnicate\n", "bad.dsc:1: unknown command 'frobnicate'"},
      {"config buy_threshold=abc\n", "bad.dsc:1: decision config: buy_threshold: bad value 'abc'"},
      {"case \"x\" bid=1.1 ask=oops\n", "bad.dsc:1: ask: bad value 'oops'"},
      {"case \"x\" bid=1.1\n", "bad.dsc:1: case: bid= and ask= are required"},
      {"calendar\ntime,currency\n", "bad.dsc:2: calendar block without 'end'"},
      {"calendar\ntime,currency\n2024-13-01 00:00,USD\nend\n", "field time: bad value '2024-13-01"},
      {"config close_threshold=0.9\ncase \"x\" bid=1.1 ask=1.1\n",
       "bad.dsc:2: config does not validate: decision config: close_threshold 0.9 is above"},
  };
  for (const Bad& bad : cases) {
    auto result = RunScenarioText(bad.text, "bad.dsc", ".");
    ASSERT_FALSE(result.ok()) << bad.text;
    EXPECT_NE(result.status().message().find(bad.message), std::string::npos)
        << result.status().message();
  }
}

TEST(DecisionScenarioTest, MissingFileIsNotFound) {
  auto result = RunScenarioFile("/nonexistent/x.dsc");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace aits::decision::testing
