// History downloads through the gateway (docs/metatrader.md, "History"): the ticks or bars of a
// symbol over [from, to), asked of the terminal in slices (a day of ticks, or N bars, per slice),
// so that no answer is unbounded and a failure costs one slice. Each slice is one or more requests
// (Gateway::RequestTicks / RequestBars: an id and a deadline each), every request tried up to
// `attempts` times when the failure is one that asking again may mend (IoError: no answer in time,
// the link lost, the terminal busy); what cannot be mended ends the download at once.
//
// Edges: get_ticks and get_bars take both ends of a range (CopyTicksRange and CopyRates by dates,
// proto/mt5/protocol.schema), so a slice [a, b) is asked as [a, b - 1 ms] (bars: [a, b - 1 s]) and
// no tick or bar lies in two slices. A get_ticks answer of exactly `max_ticks_per_request` ticks
// may have left some out: the slice is asked again from its last tick's time (with twice the count
// when the whole answer was that one millisecond, so that a burst of ticks in one millisecond is
// read past), and the ticks of that millisecond already delivered are skipped (counted as edge
// duplicates), as are those of a resumed download's last millisecond (HistoryResume). Ticks or
// bars outside the slice asked, or earlier than the last one delivered, are counted and dropped;
// nothing is delivered twice or out of time order.
//
// Threads: DownloadHistory runs on the caller's thread (not the gateway's) and blocks; the sink is
// called on that thread, in time order.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "aits/core/status.h"
#include "aits/gateway/gateway.h"
#include "aits/mt5/messages.h"

namespace aits::gateway {

enum class HistoryKind : uint8_t { kTicks, kBars };

struct HistoryRange {
  std::string mt5_symbol;  // as the terminal names it
  HistoryKind kind = HistoryKind::kTicks;
  uint32_t period_sec = 0;  // bars: an MT5 timeframe (60 = M1 ... 2592000 = MN1)
  int64_t from_msc = 0;     // [from, to), the terminal's server time in ms since 1970
  int64_t to_msc = 0;
};

struct HistoryOptions {
  // Ticks: slices are the cells of a grid of this length from 1970 (a day: UTC days), cut to the
  // range.
  int64_t tick_slice_ms = 86'400'000;
  // Bars: a slice spans this many periods.
  uint32_t bars_per_slice = 10'000;
  // The count of every get_ticks; a full answer is continued from its last tick.
  uint32_t max_ticks_per_request = 1'000'000;
  // Tries of one request (1: no retry) and the pause before each retry.
  int attempts = 3;
  std::chrono::milliseconds retry_pause{250};
  // Each request's deadline.
  std::chrono::milliseconds request_timeout{60'000};

  // Positive sizes and timeouts, attempts in 1..100. InvalidArgument naming the field.
  Status Validate() const;
};

// A download continued after what a file already holds: from `from_msc` on, the first
// `skip_at_from` ticks of that millisecond being already there (ticks; bars resume at the second
// after the last bar, skipping none).
struct HistoryResume {
  int64_t from_msc = 0;
  uint64_t skip_at_from = 0;
};

struct HistoryStats {
  uint64_t slices_total = 0;
  uint64_t slices_done = 0;
  uint64_t requests = 0;  // requests sent, retries included
  uint64_t retries = 0;
  uint64_t delivered = 0;        // ticks or bars handed to the sink
  uint64_t edge_duplicates = 0;  // ticks of a continued millisecond already delivered, skipped
  uint64_t out_of_order = 0;     // outside the slice asked, or before the last delivered: dropped
  double seconds = 0;            // wall time of the download so far
};

// What receives the data, in time order, slice by slice. A failed status ends the download with
// it (what was delivered before stays delivered).
struct HistorySink {
  std::function<Status(std::span<const mt5::TickData>)> ticks;
  std::function<Status(std::span<const mt5::BarData>)> bars;
  // After each slice (and once before the first, with slices_done = 0); may be empty.
  std::function<void(const HistoryStats&)> progress;
};

// The slices of [from, to) as DownloadHistory asks them (for progress and tests): [start, end)
// pairs in ms.
std::vector<std::pair<int64_t, int64_t>> HistorySlices(const HistoryRange& range,
                                                       const HistoryOptions& options);

// Downloads `range` through `gateway` (listening; the EA connects when it will: the first request
// waits for it up to request_timeout) into `sink`, continuing after `resume` when given. Returns
// the stats when every slice is done. Errors: the range or options (InvalidArgument), a request
// that failed `attempts` times (IoError naming the slice, the request and the last failure, and
// how many records were delivered), a failure the terminal says asking again will not mend
// (InvalidArgument with its words), the sink's own.
Result<HistoryStats> DownloadHistory(Gateway& gateway, const HistoryRange& range,
                                     const HistoryOptions& options, const HistorySink& sink,
                                     std::optional<HistoryResume> resume = std::nullopt);

}  // namespace aits::gateway
