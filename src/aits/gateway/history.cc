#include "aits/gateway/history.h"

#include <algorithm>
#include <limits>
#include <thread>
#include <utility>
#include <vector>

#include "aits/core/time.h"

namespace aits::gateway {
namespace {

using Steady = std::chrono::steady_clock;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
int64_t CeilDiv(int64_t a, int64_t b) { return -FloorDiv(-a, b); }

std::string Ms(int64_t msc) { return FormatIso8601(Timestamp{msc * 1'000'000}); }

std::string SliceName(size_t index, size_t total, const std::pair<int64_t, int64_t>& slice) {
  return "slice " + std::to_string(index + 1) + "/" + std::to_string(total) + " (" +
         Ms(slice.first) + " .. " + Ms(slice.second) + ")";
}

// One request, tried up to options.attempts times while its failures are retryable (IoError).
template <typename Ask>
auto WithRetries(const HistoryOptions& options, HistoryStats& stats, const std::string& what,
                 Ask&& ask) -> decltype(ask()) {
  Status last;
  for (int attempt = 1; attempt <= options.attempts; ++attempt) {
    if (attempt > 1) {
      ++stats.retries;
      std::this_thread::sleep_for(options.retry_pause);
    }
    ++stats.requests;
    auto got = ask();
    if (got.ok()) return got;
    last = got.status();
    if (last.code() != StatusCode::kIoError) break;
  }
  if (last.code() != StatusCode::kIoError) return last.WithContext(what);
  return IoError(what + ": failed " + std::to_string(options.attempts) +
                 " time(s); the last: " + last.message());
}

}  // namespace

Status HistoryOptions::Validate() const {
  if (tick_slice_ms <= 0) {
    return InvalidArgument("history: tick_slice_ms " + std::to_string(tick_slice_ms) +
                           " must be positive");
  }
  if (bars_per_slice == 0) return InvalidArgument("history: bars_per_slice must be positive");
  if (max_ticks_per_request == 0) {
    return InvalidArgument("history: max_ticks_per_request must be positive");
  }
  if (attempts < 1 || attempts > 100) {
    return InvalidArgument("history: attempts " + std::to_string(attempts) + " is outside 1..100");
  }
  if (request_timeout.count() <= 0 || retry_pause.count() < 0) {
    return InvalidArgument("history: request_timeout must be positive, retry_pause not negative");
  }
  return Status::Ok();
}

std::vector<std::pair<int64_t, int64_t>> HistorySlices(const HistoryRange& range,
                                                       const HistoryOptions& options) {
  std::vector<std::pair<int64_t, int64_t>> slices;
  if (range.to_msc <= range.from_msc) return slices;
  if (range.kind == HistoryKind::kTicks) {
    const int64_t cell = options.tick_slice_ms;
    for (int64_t start = FloorDiv(range.from_msc, cell) * cell; start < range.to_msc;
         start += cell) {
      slices.emplace_back(std::max(start, range.from_msc), std::min(start + cell, range.to_msc));
    }
    return slices;
  }
  // Bars open on whole seconds: the range in seconds, then spans of bars_per_slice periods.
  const int64_t span = static_cast<int64_t>(options.bars_per_slice) * range.period_sec * 1000;
  for (int64_t start = CeilDiv(range.from_msc, 1000) * 1000; start < range.to_msc; start += span) {
    slices.emplace_back(start, std::min(start + span, CeilDiv(range.to_msc, 1000) * 1000));
  }
  return slices;
}

Result<HistoryStats> DownloadHistory(Gateway& gateway, const HistoryRange& range,
                                     const HistoryOptions& options, const HistorySink& sink,
                                     std::optional<HistoryResume> resume) {
  AITS_RETURN_IF_ERROR(options.Validate());
  if (range.mt5_symbol.empty()) return InvalidArgument("history: no symbol");
  if (range.to_msc <= range.from_msc) {
    return InvalidArgument("history: the range " + Ms(range.from_msc) + " .. " + Ms(range.to_msc) +
                           " is empty (from must be before to)");
  }
  const bool ticks = range.kind == HistoryKind::kTicks;
  if (!ticks && range.period_sec == 0) return InvalidArgument("history: bars need a period");
  if (ticks && !sink.ticks) return InvalidArgument("history: no sink for ticks");
  if (!ticks && !sink.bars) return InvalidArgument("history: no sink for bars");

  HistoryRange todo = range;
  uint64_t skip = 0;
  if (resume) {
    if (resume->from_msc >= range.to_msc) {
      HistoryStats done;
      if (sink.progress) sink.progress(done);
      return done;  // the file already holds the whole range
    }
    if (resume->from_msc > todo.from_msc) {
      todo.from_msc = resume->from_msc;
      skip = ticks ? resume->skip_at_from : 0;
    }
  }
  const auto slices = HistorySlices(todo, options);
  HistoryStats stats;
  stats.slices_total = slices.size();
  const Steady::time_point started = Steady::now();
  if (sink.progress) sink.progress(stats);
  // The last time delivered, for the order check (ticks: ms; bars: s).
  std::optional<int64_t> last;
  if (resume && resume->from_msc > range.from_msc) {
    last = ticks ? resume->from_msc : FloorDiv(resume->from_msc, 1000) - 1;
  }

  for (size_t index = 0; index < slices.size(); ++index) {
    const auto& slice = slices[index];
    const std::string name = SliceName(index, slices.size(), slice);
    if (ticks) {
      int64_t cursor = slice.first;
      uint64_t skip_at_cursor = cursor == todo.from_msc ? skip : 0;
      uint32_t count = options.max_ticks_per_request;
      for (;;) {
        mt5::GetTicks request;
        request.symbol = range.mt5_symbol;
        request.from_msc = cursor;
        request.to_msc = slice.second - 1;  // both ends are included
        request.count = count;
        AITS_ASSIGN_OR_RETURN(
            std::vector<mt5::TickData> got,
            WithRetries(options, stats,
                        name + ": get_ticks from " + Ms(cursor) + " (" +
                            std::to_string(stats.delivered) + " ticks delivered before it)",
                        [&] { return gateway.RequestTicks(request, options.request_timeout); }));
        const bool full = got.size() >= count;
        std::vector<mt5::TickData> keep;
        keep.reserve(got.size());
        uint64_t at_cursor = 0;
        for (const mt5::TickData& tick : got) {
          if (tick.time_msc == cursor && at_cursor < skip_at_cursor) {
            ++at_cursor;
            ++stats.edge_duplicates;
            continue;
          }
          if (tick.time_msc < cursor || tick.time_msc >= slice.second ||
              (last && tick.time_msc < *last)) {
            ++stats.out_of_order;
            continue;
          }
          last = tick.time_msc;
          keep.push_back(tick);
        }
        if (!keep.empty()) {
          AITS_RETURN_IF_ERROR(sink.ticks(keep));
          stats.delivered += keep.size();
        }
        if (!full) break;
        // A full answer may have left ticks out: continue from its last tick's millisecond,
        // skipping the ticks of it this answer holds.
        const int64_t next = got.back().time_msc;
        uint64_t same = 0;
        for (auto it = got.rbegin(); it != got.rend() && it->time_msc == next; ++it) ++same;
        if (next < cursor || next >= slice.second) break;  // counted above as out of order
        if (next == cursor) {
          // The whole answer is one millisecond: only a larger count can read past it.
          if (count > std::numeric_limits<uint32_t>::max() / 2) {
            return IoError(name + ": more than " + std::to_string(count) + " ticks at " +
                           Ms(cursor) + "; the terminal cannot be read past them");
          }
          count *= 2;
        } else {
          count = options.max_ticks_per_request;
        }
        cursor = next;
        skip_at_cursor = same;
      }
    } else {
      mt5::GetBars request;
      request.symbol = range.mt5_symbol;
      request.period_sec = range.period_sec;
      request.from = slice.first / 1000;
      request.to = slice.second / 1000 - 1;  // both ends are included
      request.count = 0;
      AITS_ASSIGN_OR_RETURN(
          std::vector<mt5::BarData> got,
          WithRetries(options, stats,
                      name + ": get_bars (" + std::to_string(stats.delivered) +
                          " bars delivered before it)",
                      [&] { return gateway.RequestBars(request, options.request_timeout); }));
      std::vector<mt5::BarData> keep;
      keep.reserve(got.size());
      for (const mt5::BarData& bar : got) {
        if (bar.time < request.from || bar.time > request.to || (last && bar.time <= *last)) {
          ++stats.out_of_order;
          continue;
        }
        last = bar.time;
        keep.push_back(bar);
      }
      if (!keep.empty()) {
        AITS_RETURN_IF_ERROR(sink.bars(keep));
        stats.delivered += keep.size();
      }
    }
    ++stats.slices_done;
    stats.seconds = std::chrono::duration<double>(Steady::now() - started).count();
    if (sink.progress) sink.progress(stats);
  }
  stats.seconds = std::chrono::duration<double>(Steady::now() - started).count();
  return stats;
}

}  // namespace aits::gateway
