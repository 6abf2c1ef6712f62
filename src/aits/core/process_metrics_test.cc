#include "aits/core/process_metrics.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <string>

namespace aits {
namespace {

// A command with spaces and parentheses, as a process may name itself.
constexpr std::string_view kStat =
    "4242 (aits (serve) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 7 0 12345 "
    "104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";

TEST(ProcessMetricsTest, ParsesTheFieldsAfterTheCommand) {
  Result<ProcessStats> stats = ParseProcStat(kStat, 100.0, 4096, 1'700'000'000);
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  EXPECT_DOUBLE_EQ(stats->cpu_seconds, 3.0);  // (250 + 50) / 100
  EXPECT_EQ(stats->threads, 7u);
  EXPECT_DOUBLE_EQ(stats->start_time_seconds, 1'700'000'000 + 123.45);
  EXPECT_EQ(stats->virtual_bytes, 104'857'600u);
  EXPECT_EQ(stats->resident_bytes, 2560u * 4096u);
}

TEST(ProcessMetricsTest, RefusesATruncatedOrGarbledLineNamingTheField) {
  Result<ProcessStats> no_paren = ParseProcStat("4242 aits S 1", 100, 4096, 0);
  EXPECT_FALSE(no_paren.ok());
  EXPECT_NE(no_paren.status().message().find("')'"), std::string::npos);
  Result<ProcessStats> short_line = ParseProcStat("4242 (aits) S 1 2 3", 100, 4096, 0);
  EXPECT_FALSE(short_line.ok());
  EXPECT_NE(short_line.status().message().find("fewer than 24"), std::string::npos);
  std::string garbled(kStat);
  garbled.replace(garbled.find(" 250 "), 5, " 2x0 ");
  Result<ProcessStats> bad = ParseProcStat(garbled, 100, 4096, 0);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("field 14 (utime) is not a number: '2x0'"),
            std::string::npos)
      << bad.status().message();
}

TEST(ProcessMetricsTest, ThisProcessCountsTheDescriptorItOpens) {
  Result<ProcessStats> before = ReadProcessStats();
  ASSERT_TRUE(before.ok()) << before.status().message();
  EXPECT_GT(before->resident_bytes, 0u);
  EXPECT_GE(before->threads, 1u);
  EXPECT_GT(before->max_fds, 0u);
  EXPECT_GT(before->start_time_seconds, 1e9);
  const int fd = open("/dev/null", O_RDONLY);
  ASSERT_GE(fd, 0);
  Result<ProcessStats> after = ReadProcessStats();
  close(fd);
  ASSERT_TRUE(after.ok()) << after.status().message();
  EXPECT_EQ(after->open_fds, before->open_fds + 1);
}

TEST(ProcessMetricsTest, RendersTheUsualNames) {
  ProcessStats stats;
  stats.cpu_seconds = 1.5;
  stats.resident_bytes = 1024;
  stats.open_fds = 12;
  const std::string text = RenderProcessMetrics(stats);
  EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 1.5\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\nprocess_resident_memory_bytes 1024\n"), std::string::npos);
  EXPECT_NE(text.find("\nprocess_open_fds 12\n"), std::string::npos);
  for (const char* name : {"process_max_fds", "process_start_time_seconds", "process_threads",
                           "process_virtual_memory_bytes"}) {
    EXPECT_NE(text.find(std::string("# TYPE ") + name + " gauge\n"), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace aits
