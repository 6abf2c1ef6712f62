// The files `aits history` writes (docs/metatrader.md, "History"), and how a download is resumed
// from one.
//
//   - ticks, binary: the tick store `aits import` writes and `aits backtest` reads
//     (data/tick_store.h), appended to through data::TickStoreAppender;
//   - ticks, CSV: `timestamp,bid,ask,last,volume,flags,symbol`, the timestamp as
//     `2020-01-01 17:00:00.065` (the terminal's server time, read as UTC), prices at the symbol's
//     digits: the csv-ticks format every `aits` command reads (the extra columns are ignored);
//   - bars, CSV: `timestamp,open,high,low,close,tick_volume,spread,volume,symbol,period`
//     (MqlRates: bid prices, the spread in points, the real volume; period as M1 .. MN1): the
//     csv-bars format, whose reader takes ask = bid + spread points. Bars have no binary form.
//
// Every file names its symbol (the store's header, the CSV's symbol column) and its kind (the
// store holds ticks; the CSV's header, and the bars' period column), so that a resume into a file
// of another symbol, kind or period is refused naming the file and both values. A file that
// exists is continued after its last record: a torn last record (a binary record cut short, a CSV
// line without its newline) is cut back, and the opening says so. Quotes that are not (bid <= 0,
// ask < bid) are not written, and counted.
//
// Threads: one thread uses a HistoryWriter.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "aits/core/status.h"
#include "aits/gateway/history.h"
#include "aits/mt5/messages.h"

namespace aits::gateway {

enum class HistoryFormat : uint8_t { kBinary, kCsv };

// "bin" or "csv". InvalidArgument naming the flag's value otherwise.
Result<HistoryFormat> ParseHistoryFormat(std::string_view text);
// From the file's extension: .bin binary, .csv CSV; InvalidArgument naming the path otherwise.
Result<HistoryFormat> HistoryFormatOf(const std::string& path);
// An MT5 timeframe's name (M1, M5, H1, D1, W1, MN1 ...) in seconds, and back.
Result<uint32_t> ParseTimeframe(std::string_view name);
std::string TimeframeName(uint32_t period_sec);

struct HistoryFileSpec {
  std::string path;
  HistoryFormat format = HistoryFormat::kBinary;
  HistoryKind kind = HistoryKind::kTicks;
  std::string symbol;       // the node's name of it, written into the file
  uint32_t period_sec = 0;  // bars
  int digits = 5;           // prices are written at these (the terminal's SYMBOL_DIGITS)
};

// What opening an existing file found.
struct HistoryOpening {
  bool resumed = false;  // the file held records: the download continues after them
  uint64_t records = 0;  // records in the file when it was opened
  std::string repaired;  // what was cut or adopted, in words (empty: nothing)
  HistoryResume resume;  // where to continue (meaningful when resumed)
};

// Checks, without changing anything, that `spec.path` is absent or a file of this symbol, kind
// (and period) that can be continued: for an early error before the EA is waited for.
Status CheckHistoryFile(const HistoryFileSpec& spec);

class HistoryWriter {
 public:
  // Creates the file, or opens it for continuing (see above). Errors name the file.
  static Result<std::unique_ptr<HistoryWriter>> Open(const HistoryFileSpec& spec,
                                                     HistoryOpening* opening);
  virtual ~HistoryWriter() = default;
  // Appends records in time order (the downloader's). IoError when the disk refuses.
  virtual Status Append(std::span<const mt5::TickData> ticks);
  virtual Status Append(std::span<const mt5::BarData> bars);
  // Flushes to the disk.
  virtual Status Finish() = 0;
  uint64_t records() const { return records_; }
  uint64_t refused() const { return refused_; }

 protected:
  HistoryWriter() = default;
  uint64_t records_ = 0;
  uint64_t refused_ = 0;
};

}  // namespace aits::gateway
