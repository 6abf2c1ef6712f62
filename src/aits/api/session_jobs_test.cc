#include "aits/api/session_jobs.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace aits::api {
namespace {

namespace fs = std::filesystem;

Result<std::vector<std::string>> Args(const std::string& body,
                                      const SessionJobOptions& options = {}) {
  return SessionArguments(nlohmann::json::parse(body, nullptr, false), options);
}

TEST(SessionArgumentsTest, ASyntheticSessionByDefaultAndEveryFieldAsOneFlag) {
  Result<std::vector<std::string>> plain = Args("{}");
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  EXPECT_EQ(*plain, (std::vector<std::string>{"paper", "--state={job_dir}/state", "--json"}));

  Result<std::vector<std::string>> full = Args(R"({
      "synthetic": ["EURUSD", "USDJPY"], "seed": 7, "ticks": 20000, "speed": "max",
      "start": "2024-01-08", "signal": "rsi", "params": {"period": 14, "low": 30},
      "balance": 50000, "leverage": 50, "commission": "per_million:35",
      "account_mode": "netting", "bar": "M5", "reason": "try rsi"})");
  ASSERT_TRUE(full.ok()) << full.status().message();
  EXPECT_EQ(*full,
            (std::vector<std::string>{
                "paper", "--state={job_dir}/state", "--synthetic=EURUSD,USDJPY", "--seed=7",
                "--ticks=20000", "--speed=max", "--start=2024-01-08", "--signal=rsi",
                "--params=low=30,period=14", "--balance=50000", "--leverage=50",
                "--commission=per_million:35", "--account-mode=netting", "--bar=M5", "--json"}));
  Result<std::vector<std::string>> speed = Args(R"({"speed": 60})");
  ASSERT_TRUE(speed.ok());
  EXPECT_EQ((*speed)[2], "--speed=60");
}

TEST(SessionArgumentsTest, RefusesWhatIsNotAllowedNamingTheField) {
  const std::string base = ::testing::TempDir() + "/aits_sessions_" + std::to_string(::getpid());
  fs::remove_all(base);
  fs::create_directories(base + "/data");
  std::ofstream(base + "/data/ticks.csv") << "x\n";
  SessionJobOptions with_data;
  with_data.data_dir = base + "/data";
  Result<std::vector<std::string>> file = Args(R"({"feed": "ticks.csv"})", with_data);
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ((*file)[2], "--feed=" + fs::canonical(base + "/data/ticks.csv").string());

  const std::vector<std::pair<std::string, std::string>> bad = {
      {R"("x")", "not a JSON object"},
      {R"({"feed": "ticks.csv"})", "--data-dir"},
      {R"({"state": "/etc"})", "unknown field"},
      {R"({"synthetic": []})", "synthetic"},
      {R"({"synthetic": ["EURUSD", "--out"]})", "synthetic"},
      {R"({"speed": "fast"})", "speed"},
      {R"({"speed": 0})", "speed"},
      {R"({"ticks": -1})", "ticks"},
      {R"({"start": "soon"})", "start"},
      {R"({"signal": "sma_cross;reboot"})", "signal"},
      {R"({"params": {}})", "params"},
      {R"({"signal": "ml_ensemble"})", "--registry"},
      {R"({"model": "x"})", "only with"},
      {R"({"balance": 0})", "balance"},
      {R"({"reason": 5})", "reason"}};
  for (const auto& [body, says] : bad) {
    Result<std::vector<std::string>> args = Args(body);
    ASSERT_FALSE(args.ok()) << body;
    EXPECT_NE(args.status().message().find(says), std::string::npos)
        << body << " -> " << args.status().message();
  }
  Result<std::vector<std::string>> outside = Args(R"({"feed": "../../etc/passwd"})", with_data);
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.status().message().find("not inside"), std::string::npos);
  fs::remove_all(base);
}

}  // namespace
}  // namespace aits::api
