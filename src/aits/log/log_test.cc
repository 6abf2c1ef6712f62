#include "aits/log/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace aits {
namespace {

// Every test writes to its own file and puts the default configuration back afterwards.
class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = ::testing::TempDir() + "/aits_log_test_" + std::to_string(::getpid()) + "_" +
            info->name() + ".log";
    std::filesystem::remove(path_);
  }
  void TearDown() override {
    ASSERT_TRUE(ConfigureLogging(LogOptions{}).ok());
    std::filesystem::remove(path_);
  }

  void UseFile(LogLevel level, LogFormat format) {
    LogOptions options;
    options.level = level;
    options.file = path_;
    options.format = format;
    options.role = "test";
    ASSERT_TRUE(ConfigureLogging(options).ok());
  }

  std::vector<std::string> Lines() const {
    std::ifstream in(path_);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

  std::string path_;
};

TEST_F(LogTest, LevelNamesRoundTrip) {
  for (const LogLevel level : {LogLevel::kTrace, LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn,
                               LogLevel::kError, LogLevel::kOff}) {
    auto parsed = ParseLogLevel(ToString(level));
    ASSERT_TRUE(parsed.ok()) << ToString(level);
    EXPECT_EQ(*parsed, level);
  }
  EXPECT_EQ(*ParseLogLevel("warning"), LogLevel::kWarn);
  auto bad = ParseLogLevel("loud");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("'loud'"), std::string::npos);
}

TEST_F(LogTest, JsonLinesCarryTheFields) {
  UseFile(LogLevel::kInfo, LogFormat::kJsonLines);
  Log(LogLevel::kInfo, "session", "session started", {{"chain_id", "c-17"}, {"request_id", "r-4"}});
  Log(LogLevel::kError, "backtest", "second line");
  const auto lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  const auto first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["level"], "info");
  EXPECT_EQ(first["role"], "test");
  EXPECT_EQ(first["component"], "session");
  EXPECT_EQ(first["message"], "session started");
  EXPECT_EQ(first["chain_id"], "c-17");
  EXPECT_EQ(first["request_id"], "r-4");
  const std::regex iso_utc_micros(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)");
  EXPECT_TRUE(std::regex_match(first["time"].get<std::string>(), iso_utc_micros)) << first["time"];
  const auto second = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(second["level"], "error");
  EXPECT_EQ(second["component"], "backtest");
  EXPECT_FALSE(second.contains("chain_id"));
}

TEST_F(LogTest, JsonLinesEscapeEverything) {
  UseFile(LogLevel::kInfo, LogFormat::kJsonLines);
  const std::string tricky = "say \"hi\" \\ back\nslash\r\t\x01\x1f\x7f end";
  const std::string utf8 = "euro \xe2\x82\xac clef \xf0\x9d\x84\x9e";
  // A stray byte, a truncated sequence, an overlong '/', a surrogate, a code point > U+10FFFF.
  const std::string broken =
      std::string("a\xff") + "b\xe2\x82" + "c\xc0\xaf" + "d\xed\xa0\x80" + "e\xf4\x90\x80\x80";
  Log(LogLevel::kInfo, "comp\"onent", tricky, {{"key\n", std::string_view("nul\0!", 5)}});
  Log(LogLevel::kInfo, "utf8", utf8);
  Log(LogLevel::kInfo, "broken", broken, {{"k", "\xc3"}});
  const auto lines = Lines();
  ASSERT_EQ(lines.size(), 3u);
  for (const auto& line : lines) {
    EXPECT_TRUE(nlohmann::json::accept(line)) << line;
  }
  const auto first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["message"], tricky);
  EXPECT_EQ(first["component"], "comp\"onent");
  EXPECT_EQ(first["key\n"], std::string("nul\0!", 5));
  EXPECT_EQ(nlohmann::json::parse(lines[1])["message"], utf8);
  const std::string replacement = "\xef\xbf\xbd";
  const auto third = nlohmann::json::parse(lines[2]);
  const std::string message = third["message"];
  EXPECT_EQ(message.substr(0, 1 + replacement.size() + 1), "a" + replacement + "b");
  EXPECT_EQ(message.find('\xff'), std::string::npos);
  EXPECT_NE(message.find("c" + replacement + replacement + "d"), std::string::npos);
  EXPECT_EQ(third["k"], replacement);
}

TEST_F(LogTest, TextLinesAreOneLineEach) {
  UseFile(LogLevel::kDebug, LogFormat::kText);
  Log(LogLevel::kInfo, "session", "two\nlines",
      {{"state", "dir"}, {"why", "two words"}, {"quote", "a \"b\""}, {"empty", ""}});
  Log(LogLevel::kError, "x", "y");
  const auto lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  const std::regex text(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z info  session  two\\nlines )"
                        R"(state=dir why="two words" quote="a \\"b\\"" empty="")");
  EXPECT_TRUE(std::regex_match(lines[0], text)) << lines[0];
  EXPECT_NE(lines[1].find("Z error x  y"), std::string::npos) << lines[1];
}

TEST_F(LogTest, DisabledLevelWritesNothingAndBuildsNothing) {
  UseFile(LogLevel::kWarn, LogFormat::kJsonLines);
  int built = 0;
  const auto message = [&built] {
    ++built;
    return std::string("built");
  };
  AITS_LOG_DEBUG("test", message());
  AITS_LOG_INFO("test", message(), {{"k", message()}});
  EXPECT_FALSE(LogEnabled(LogLevel::kInfo));
  EXPECT_EQ(built, 0);
  EXPECT_TRUE(Lines().empty());
  AITS_LOG_WARN("test", message());
  EXPECT_EQ(built, 1);
  ASSERT_EQ(Lines().size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(Lines()[0])["message"], "built");
}

TEST_F(LogTest, OffWritesNothingAtAnyLevel) {
  UseFile(LogLevel::kOff, LogFormat::kText);
  int built = 0;
  AITS_LOG_ERROR("test", std::to_string(++built));
  Log(LogLevel::kError, "test", "direct");
  Log(LogLevel::kOff, "test", "off is not a level to write at");
  EXPECT_EQ(built, 0);
  EXPECT_TRUE(Lines().empty());
}

TEST_F(LogTest, FileIsAppendedTo) {
  {
    std::ofstream existing(path_);
    existing << "earlier\n";
  }
  UseFile(LogLevel::kInfo, LogFormat::kText);
  for (int idx = 0; idx < 3; ++idx) AITS_LOG_INFO("test", "line " + std::to_string(idx));
  const auto lines = Lines();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "earlier");
  EXPECT_NE(lines[3].find("line 2"), std::string::npos);
}

TEST_F(LogTest, UnopenableFileIsAnErrorNamingItAndKeepsTheOldDestination) {
  UseFile(LogLevel::kInfo, LogFormat::kText);
  LogOptions options;
  options.level = LogLevel::kDebug;
  options.file = path_ + ".missing-dir/aits.log";
  const Status status = ConfigureLogging(options);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kIoError);
  EXPECT_NE(status.message().find("'" + options.file + "'"), std::string::npos) << status.message();
  EXPECT_FALSE(std::filesystem::exists(path_ + ".missing-dir"));
  EXPECT_FALSE(LogEnabled(LogLevel::kDebug));
  AITS_LOG_INFO("test", "still here");
  ASSERT_EQ(Lines().size(), 1u);

  options.file = ::testing::TempDir();  // a directory
  EXPECT_FALSE(ConfigureLogging(options).ok());
}

TEST_F(LogTest, DefaultIsWarnToStderr) {
  ::testing::internal::CaptureStderr();
  AITS_LOG_INFO("test", "not shown");
  AITS_LOG_WARN("test", "shown");
  const std::string captured = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(captured.find("not shown"), std::string::npos);
  EXPECT_NE(captured.find(" warn  test  shown\n"), std::string::npos) << captured;
}

}  // namespace
}  // namespace aits
