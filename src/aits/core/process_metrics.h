// The process's own metrics under the names every Prometheus client library uses, so that the
// usual dashboards and rules apply to an AITS role as to any other process (docs/monitoring.md):
//   process_cpu_seconds_total      counter  user + system CPU time
//   process_resident_memory_bytes  gauge
//   process_virtual_memory_bytes   gauge
//   process_start_time_seconds     gauge    since the Unix epoch
//   process_open_fds               gauge
//   process_max_fds                gauge    the soft limit on open files
//   process_threads                gauge
// Read from /proc at each call (Linux): a scrape's cost, never the kernel thread's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "aits/core/status.h"

namespace aits {

struct ProcessStats {
  double cpu_seconds = 0;
  uint64_t resident_bytes = 0;
  uint64_t virtual_bytes = 0;
  double start_time_seconds = 0;
  uint64_t open_fds = 0;
  uint64_t max_fds = 0;
  uint64_t threads = 0;
};

// This process's figures now. IoError naming the /proc file that could not be read or parsed.
Result<ProcessStats> ReadProcessStats();

// Parses the text of /proc/<pid>/stat (whose second field, the command in parentheses, may hold
// spaces and parentheses itself) given the clock ticks per second, the page size and the boot
// time (/proc/stat's btime). InvalidArgument naming what is missing.
Result<ProcessStats> ParseProcStat(std::string_view stat, double ticks_per_second,
                                   uint64_t page_bytes, uint64_t boot_time_seconds);

// The families above in the Prometheus text format 0.0.4, to append to a registry's render.
std::string RenderProcessMetrics(const ProcessStats& stats);

}  // namespace aits
