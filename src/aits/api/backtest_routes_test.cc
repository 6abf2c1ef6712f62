#include "aits/api/backtest_routes.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace aits::api {
namespace {

namespace fs = std::filesystem;

class BacktestArgumentsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = ::testing::TempDir() + "/aits_bt_" + std::to_string(::getpid());
    fs::remove_all(base_);
    fs::create_directories(base_ + "/data/sub");
    fs::create_directories(base_ + "/outside");
    std::ofstream(base_ + "/data/eurusd.csv") << "x\n";
    std::ofstream(base_ + "/data/sub/ask.csv") << "x\n";
    std::ofstream(base_ + "/outside/secret.csv") << "x\n";
    fs::create_symlink(base_ + "/outside/secret.csv", base_ + "/data/link.csv");
    options_.aits = "/usr/bin/aits";
    options_.data_dir = base_ + "/data";
  }
  void TearDown() override { fs::remove_all(base_); }

  Result<std::vector<std::string>> Args(const std::string& body) {
    return BacktestArguments(nlohmann::json::parse(body, nullptr, false), options_);
  }

  std::string base_;
  BacktestOptions options_;
};

TEST_F(BacktestArgumentsTest, EveryFieldBecomesOneFlagArgument) {
  Result<std::vector<std::string>> args = Args(R"({
      "data": "eurusd.csv", "ask_data": "sub/ask.csv", "symbol": "EURUSD",
      "strategy": "sma_cross", "params": {"fast": 10, "slow": 30.5, "mode": "x_y"},
      "from": "2020-01-01", "to": "2020-01-02T12:00", "cash": 5000, "leverage": 30,
      "account_mode": "hedging", "commission": "per_lot:3.5", "slippage": 2, "spread": 0,
      "bar": "M5", "fill_mode": "touch", "reason": "check"})");
  ASSERT_TRUE(args.ok()) << args.status().message();
  const std::string data = fs::canonical(base_ + "/data/eurusd.csv").string();
  const std::string ask = fs::canonical(base_ + "/data/sub/ask.csv").string();
  EXPECT_EQ(*args, (std::vector<std::string>{"backtest",
                                             "--data=" + data,
                                             "--ask-data=" + ask,
                                             "--symbol=EURUSD",
                                             "--strategy=sma_cross",
                                             "--param=fast=10",
                                             "--param=mode=x_y",
                                             "--param=slow=30.5",
                                             "--from=2020-01-01",
                                             "--to=2020-01-02T12:00",
                                             "--cash=5000",
                                             "--leverage=30",
                                             "--commission=per_lot:3.5",
                                             "--account-mode=hedging",
                                             "--bar=M5",
                                             "--slippage=2",
                                             "--spread=0",
                                             "--fill-mode=touch",
                                             "--out={job_dir}/out",
                                             "--json",
                                             "--no-progress"}));
}

TEST_F(BacktestArgumentsTest, RefusesWhatIsNotAllowedNamingTheField) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {R"([])", "not a JSON object"},
      {R"({})", "data"},
      {R"({"data": "../outside/secret.csv"})", "not inside the data directory"},
      {R"({"data": "link.csv"})", "not inside the data directory"},
      {"{\"data\": \"" + base_ + "/data/eurusd.csv\"}", "relative"},
      {R"({"data": "missing.csv"})", "no such file"},
      {R"({"data": "sub"})", "no such file"},
      {R"({"data": "eurusd.csv", "symbol": "--out=/etc"})", "symbol"},
      {R"({"data": "eurusd.csv", "strategy": "rm -rf /"})", "strategy"},
      {R"({"data": "eurusd.csv", "strategy": "sma_cross", "signal": "rsi"})", "one of them"},
      {R"({"data": "eurusd.csv", "params": {"Fast": 1}})", "params: name"},
      {R"({"data": "eurusd.csv", "params": {"fast": "1; ls"}})", "params.fast"},
      {R"({"data": "eurusd.csv", "params": [1]})", "params"},
      {R"({"data": "eurusd.csv", "model": "latest"})", "only with"},
      {R"({"data": "eurusd.csv", "signal": "ml_ensemble"})", "--registry"},
      {R"({"data": "eurusd.csv", "from": "yesterday"})", "from"},
      {R"({"data": "eurusd.csv", "cash": -5})", "cash"},
      {R"({"data": "eurusd.csv", "cash": "5000"})", "cash"},
      {R"({"data": "eurusd.csv", "leverage": 1e9})", "leverage"},
      {R"({"data": "eurusd.csv", "slippage": 1.5})", "whole number"},
      {R"({"data": "eurusd.csv", "commission": "per_lot:1;x"})", "commission"},
      {R"({"data": "eurusd.csv", "account_mode": "cross"})", "account_mode"},
      {R"({"data": "eurusd.csv", "bar": "1m"})", "bar"},
      {R"({"data": "eurusd.csv", "fill_mode": "magic"})", "fill_mode"},
      {R"({"data": "eurusd.csv", "out": "/tmp"})", "unknown field"}};
  for (const auto& [body, says] : bad) {
    Result<std::vector<std::string>> args = Args(body);
    ASSERT_FALSE(args.ok()) << body;
    EXPECT_NE(args.status().message().find(says), std::string::npos)
        << body << " -> " << args.status().message();
  }
  options_.registry = "/srv/models";
  Result<std::vector<std::string>> ml =
      Args(R"({"data": "eurusd.csv", "signal": "ml_ensemble", "model": "gbp@2"})");
  ASSERT_TRUE(ml.ok()) << ml.status().message();
  EXPECT_EQ((*ml)[3], "--model=gbp@2");
  EXPECT_EQ((*ml)[4], "--registry=/srv/models");
}

}  // namespace
}  // namespace aits::api
