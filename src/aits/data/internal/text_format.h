// Format detection and column mapping for the text formats. Internal.
//
// One reader serves every text format: a TextLayout says which column holds what, built from the
// header names when there is a header (timestamp/time/date/datetime/xdate, bid, ask, price, open,
// high, low, close, volume, tickvol, vol, spread, MT5's <DATE> style) or from the positional
// layout of a header-less format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "aits/core/status.h"
#include "aits/data/source.h"

namespace aits::data::internal {

inline constexpr size_t kMaxFields = 32;

struct TextLayout {
  DataFormat format = DataFormat::kAuto;
  char delim = ',';
  bool has_header = false;
  size_t field_count = 0;  // every data row must have exactly this many fields
  int ts_col = -1;         // timestamp, or the date when time_col is set
  int time_col = -1;       // separate time-of-day column (MT5 <DATE> <TIME>)
  int bid_col = -1;
  int ask_col = -1;
  int price_col = -1;  // single-price series: bid = price
  int bid_volume_col = -1;
  int ask_volume_col = -1;
  int volume_col = -1;  // total volume (ticks: goes to bid_volume; bars: Bar::volume)
  int open_col = -1;
  int high_col = -1;
  int low_col = -1;
  int close_col = -1;
  int tick_volume_col = -1;    // MT5 <TICKVOL>
  int spread_col = -1;         // MT5 <SPREAD>, in points
  bool carry_forward = false;  // MT5 ticks: an empty bid/ask repeats the previous one
};

// Skips blank lines; returns the next line (without "\r\n") starting at *pos, advances *pos past
// it and sets *line_no to its 1-based number (*line_no counts the lines consumed so far).
// Returns false at the end of `text`.
bool NextLine(std::string_view text, size_t* pos, uint64_t* line_no, std::string_view* line);

// Works out the layout from the first lines of `text`. `forced` kAuto means detect. Errors are
// InvalidArgument naming `path` and quoting the first line.
Result<TextLayout> AnalyzeText(std::string_view text, DataFormat forced, const std::string& path);

// "'text'" truncated to 64 characters, for messages.
std::string Quoted(std::string_view text);

}  // namespace aits::data::internal
