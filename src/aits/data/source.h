// Market data sources: every supported file format behind two small interfaces, one validation
// policy and one rejection report.
//
// Formats (detected from the file's first lines unless ReadOptions::format says otherwise):
//   mt5-ticks      MetaTrader 5 tick export, tab-separated, header
//                  <DATE> <TIME> <BID> <ASK> <LAST> <VOLUME> <FLAGS>; "2020.01.02" "00:00:00.123";
//                  an empty BID or ASK means "unchanged" (carried forward from the previous row).
//   mt5-bars       MetaTrader 5 bar export <DATE> <TIME> <OPEN> <HIGH> <LOW> <CLOSE> <TICKVOL>
//                  <VOL> <SPREAD>; prices are bid, ask = bid + SPREAD points.
//   csv-ticks      timestamp,bid,ask[,bid_volume,ask_volume] with or without a header; timestamp as
//                  ISO-8601 ("2013-01-01 22:00:00.295000+00:00", "...T...Z"), or epoch s/ms/us/ns.
//   histdata-ticks "YYYYMMDD HHMMSSmmm,bid,ask,volume" without a header.
//   csv-bars       timestamp,open,high,low,close[,volume] (header required). Bid bars; an ask file
//                  (ReadOptions::ask_path) is joined on timestamp; without one ask = bid + spread.
//   yahoo          Date,Open,High,Low,Close,Adj Close,Volume daily bars (also the backtrader
//                  Date,Open,High,Low,Close,Volume,OpenInterest layout).
//   price          timestamp,price single-price series (e.g. "DateTime","USDCHF"); each row a
//                  quote with bid = price and ask = price + ReadOptions::spread_points.
//   binary         the AITS tick store written by `aits import` (see tick_store.h).
//
// Validation (every format, docs/data-formats.md): required fields present and parseable;
// numbers finite; bid > 0, ask > 0, ask >= bid, volume >= 0; for bars also
// low <= open,close <= high; time never goes backwards per symbol; an exact duplicate of the
// previous row is dropped. A rejected row is counted under its reason, the first
// ReadOptions::max_samples are kept with file:line, field and value, and reading goes on. With
// ReadOptions::strict the first rejection ends the read with an InvalidArgument Status carrying
// that sample.
//
// Sources are single-threaded objects; Read() is the hot path and does not allocate.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/status.h"
#include "aits/model/instrument.h"
#include "aits/model/market.h"

namespace aits::data {

enum class DataFormat : uint8_t {
  kAuto,
  kMt5Ticks,
  kMt5Bars,
  kCsvTicks,
  kHistDataTicks,
  kCsvBars,
  kYahoo,
  kPrice,
  kBinary,
};

std::string_view ToString(DataFormat format);               // "mt5-ticks", ...
Result<DataFormat> ParseDataFormat(std::string_view name);  // inverse; "auto" -> kAuto
bool IsBarFormat(DataFormat format);                        // mt5-bars, csv-bars, yahoo

enum class RowRejectReason : uint8_t {
  kMalformed,         // wrong number of fields, unparseable number or timestamp
  kNonFinite,         // NaN or infinity
  kNonPositivePrice,  // bid <= 0 or ask <= 0 (or any bar price <= 0)
  kCrossed,           // ask < bid
  kNegativeVolume,
  kBadBar,         // high < low, or open/close outside [low, high]
  kTimeBackwards,  // earlier than the previous accepted row
  kDuplicate,      // identical to the previous accepted row
  kUnmatched,      // bid bar without an ask bar of the same time (or the reverse)
  kCount,
};
std::string_view ToString(RowRejectReason reason);  // "malformed", "non_finite", ...

struct RejectSample {
  std::string file;
  uint64_t line = 0;  // 1-based
  std::string field;  // "bid", "timestamp", ...
  std::string value;  // the offending text, truncated to 64 characters
  RowRejectReason reason = RowRejectReason::kMalformed;

  // "data.csv:17: field 'ask' value '-1.2': non_positive_price"
  std::string ToString() const;
};

struct ReadStats {
  // Data rows seen (header and blank lines excluded); rows == accepted + TotalRejected(). With an
  // ask file a matched bid/ask pair is one row, and every rejected or unmatched line is one row.
  uint64_t rows = 0;
  uint64_t accepted = 0;
  std::array<uint64_t, static_cast<size_t>(RowRejectReason::kCount)> rejected{};
  std::vector<RejectSample> samples;  // the first ReadOptions::max_samples rejections
  // csv-bars joined with an ask file: accepted bars whose ask side was below the bid side and was
  // lifted to it (zero spread). The two files are sampled independently, so a bar's ask close can
  // sit below its bid close although no single quote crossed; the bar is kept, not rejected.
  uint64_t repaired = 0;
  // Accepted ticks (or bars) whose prices had more decimals than the instrument's digits and
  // changed when rounded to them. Validation (crossed, duplicate) judges the prices as written,
  // before rounding, so rounding never turns a good row into a rejected one or a bad one into a
  // good one.
  uint64_t rounded = 0;

  uint64_t TotalRejected() const;
  // Adds a rejection: counts it, keeps the sample if there is room.
  void Reject(RejectSample sample, size_t max_samples);
  // Multi-line human summary: accepted/rejected counts per reason and the samples.
  std::string Summary() const;
};

struct ReadOptions {
  DataFormat format = DataFormat::kAuto;
  bool strict = false;  // stop at the first rejected row
  size_t max_samples = 5;
  int price_precision = 5;    // the instrument's digits; prices are rounded to it
  InstrumentId instrument;    // stamped on every tick/bar
  std::string ask_path;       // csv-bars: the matching ask-side file, joined on timestamp
  int64_t spread_points = 0;  // price/csv-bars without ask: ask = bid + points * 10^-digits
  Duration bar_period{};      // period of bar files; zero (the default): inferred from the data
};

class TickSource {
 public:
  virtual ~TickSource() = default;
  // Fills up to out.size() validated ticks; returns how many, 0 at the end of the data. Returns an
  // error Status on I/O failure, a corrupt binary file, or the first rejection in strict mode.
  virtual Result<size_t> Read(std::span<Tick> out) = 0;
  virtual const ReadStats& stats() const = 0;
  // Fraction of the input consumed, 0..1 (for progress bars).
  virtual double Progress() const = 0;
};

class BarSource {
 public:
  virtual ~BarSource() = default;
  virtual Result<size_t> Read(std::span<Bar> out) = 0;
  virtual const ReadStats& stats() const = 0;
  virtual double Progress() const = 0;
  // Period of the bars (from options or inferred from the first timestamps).
  virtual Duration period() const = 0;
};

// Reads the first lines of `path` and names its format. NotFound if the file is missing,
// InvalidArgument (naming the file and its first line) if no format fits, or it is empty.
Result<DataFormat> DetectFormat(const std::string& path);

// Opens a tick file (any tick format, or binary). Errors name the file.
Result<std::unique_ptr<TickSource>> OpenTicks(const std::string& path, const ReadOptions& options);
// Opens a bar file (mt5-bars, csv-bars with optional ask file, yahoo).
Result<std::unique_ptr<BarSource>> OpenBars(const std::string& path, const ReadOptions& options);

}  // namespace aits::data
