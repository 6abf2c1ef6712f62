#include "aits/core/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <vector>

namespace aits {
namespace {

Result<std::string> ReadWhole(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError(std::string("cannot read ") + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Result<uint64_t> BootTime() {
  AITS_ASSIGN_OR_RETURN(const std::string stat, ReadWhole("/proc/stat"));
  const size_t at = stat.find("\nbtime ");
  if (at == std::string::npos) return IoError("/proc/stat: no btime line");
  uint64_t btime = 0;
  const char* begin = stat.data() + at + 7;
  const auto [end, error] = std::from_chars(begin, stat.data() + stat.size(), btime);
  if (error != std::errc() || end == begin) return IoError("/proc/stat: btime is not a number");
  return btime;
}

void Family(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            double value) {
  char number[64];
  // %.17g: a double read back as the same double; integers print without a fraction.
  std::snprintf(number, sizeof number, "%.17g", value);
  for (std::string_view part : std::initializer_list<std::string_view>{
           "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n", name, " "}) {
    out += part;
  }
  out += number;
  out += '\n';
}

}  // namespace

Result<ProcessStats> ParseProcStat(std::string_view stat, double ticks_per_second,
                                   uint64_t page_bytes, uint64_t boot_time_seconds) {
  // "pid (comm) state ppid ...": the command may hold anything, so fields count from the last ')'.
  const size_t close = stat.rfind(')');
  if (close == std::string_view::npos) {
    return InvalidArgument("/proc/self/stat: no ')' after the command");
  }
  std::vector<std::string_view> fields;  // fields[0] is field 3 (state)
  std::string_view rest = stat.substr(close + 1);
  while (!rest.empty()) {
    const size_t start = rest.find_first_not_of(" \n");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    const size_t end = rest.find_first_of(" \n");
    fields.push_back(rest.substr(0, end));
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  }
  // proc(5) numbers fields from 1: utime 14, stime 15, num_threads 20, starttime 22, vsize 23,
  // rss 24; fields[k] is field k + 3.
  constexpr size_t kRss = 24 - 3;
  if (fields.size() <= kRss) {
    return InvalidArgument("/proc/self/stat: " + std::to_string(fields.size() + 2) +
                           " fields, fewer than 24");
  }
  const auto number = [&](size_t field, const char* what) -> Result<uint64_t> {
    uint64_t value = 0;
    const std::string_view text = fields[field - 3];
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) {
      return InvalidArgument("/proc/self/stat: field " + std::to_string(field) + " (" + what +
                             ") is not a number: '" + std::string(text) + "'");
    }
    return value;
  };
  ProcessStats stats;
  AITS_ASSIGN_OR_RETURN(const uint64_t utime, number(14, "utime"));
  AITS_ASSIGN_OR_RETURN(const uint64_t stime, number(15, "stime"));
  AITS_ASSIGN_OR_RETURN(stats.threads, number(20, "num_threads"));
  AITS_ASSIGN_OR_RETURN(const uint64_t start, number(22, "starttime"));
  AITS_ASSIGN_OR_RETURN(stats.virtual_bytes, number(23, "vsize"));
  AITS_ASSIGN_OR_RETURN(const uint64_t rss_pages, number(24, "rss"));
  stats.cpu_seconds = static_cast<double>(utime + stime) / ticks_per_second;
  stats.start_time_seconds =
      static_cast<double>(boot_time_seconds) + static_cast<double>(start) / ticks_per_second;
  stats.resident_bytes = rss_pages * page_bytes;
  return stats;
}

Result<ProcessStats> ReadProcessStats() {
  AITS_ASSIGN_OR_RETURN(const std::string stat, ReadWhole("/proc/self/stat"));
  AITS_ASSIGN_OR_RETURN(const uint64_t boot, BootTime());
  const long ticks = sysconf(_SC_CLK_TCK);
  const long page = sysconf(_SC_PAGESIZE);
  Result<ProcessStats> parsed = ParseProcStat(stat, ticks > 0 ? static_cast<double>(ticks) : 100.0,
                                              page > 0 ? static_cast<uint64_t>(page) : 4096, boot);
  if (!parsed.ok()) return IoError(parsed.status().message());
  ProcessStats stats = *parsed;
  std::error_code error;
  for (std::filesystem::directory_iterator fd("/proc/self/fd", error), end; !error && fd != end;
       fd.increment(error)) {
    ++stats.open_fds;
  }
  if (error) return IoError("/proc/self/fd: " + error.message());
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) stats.max_fds = limit.rlim_cur;
  return stats;
}

std::string RenderProcessMetrics(const ProcessStats& stats) {
  std::string out;
  out.reserve(1024);
  const struct {
    const char* name;
    const char* type;
    const char* help;
    double value;
  } families[] = {
      {"process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
       stats.cpu_seconds},
      {"process_max_fds", "gauge", "Maximum number of open file descriptors.",
       static_cast<double>(stats.max_fds)},
      {"process_open_fds", "gauge", "Number of open file descriptors.",
       static_cast<double>(stats.open_fds)},
      {"process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
       static_cast<double>(stats.resident_bytes)},
      {"process_start_time_seconds", "gauge",
       "Start time of the process since unix epoch in seconds.", stats.start_time_seconds},
      {"process_threads", "gauge", "Number of OS threads in the process.",
       static_cast<double>(stats.threads)},
      {"process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
       static_cast<double>(stats.virtual_bytes)},
  };
  for (const auto& family : families) {
    Family(out, family.name, family.type, family.help, family.value);
  }
  return out;
}

}  // namespace aits
