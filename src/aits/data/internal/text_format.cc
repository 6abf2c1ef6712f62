#include "aits/data/internal/text_format.h"

#include <cstring>

#include "aits/data/internal/text_parse.h"

namespace aits::data::internal {
namespace {

bool IsBlank(std::string_view line) {
  for (char ch : line) {
    if (ch != ' ' && ch != '\t') return false;
  }
  return true;
}

bool LooksNumericStart(std::string_view field) {
  if (field.empty()) return false;
  if (IsDigit(field[0])) return true;
  return field.size() > 1 && (field[0] == '-' || field[0] == '+' || field[0] == '.') &&
         IsDigit(field[1]);
}

// Lower-case letters and digits only: "<TICKVOL>" -> "tickvol", "Adj Close" -> "adjclose".
std::string NormalizeName(std::string_view name) {
  std::string out;
  for (char ch : name) {
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    if ((ch >= 'a' && ch <= 'z') || IsDigit(ch)) out.push_back(ch);
  }
  return out;
}

char PickDelimiter(std::string_view line) {
  if (line.find('\t') != std::string_view::npos) return '\t';
  if (line.find(',') != std::string_view::npos) return ',';
  if (line.find(';') != std::string_view::npos) return ';';
  return ',';
}

bool NeedsOhlc(DataFormat format) { return IsBarFormat(format); }

bool IsTickQuoteFormat(DataFormat format) {
  return format == DataFormat::kMt5Ticks || format == DataFormat::kCsvTicks ||
         format == DataFormat::kHistDataTicks;
}

}  // namespace

bool NextLine(std::string_view text, size_t* pos, uint64_t* line_no, std::string_view* line) {
  while (*pos < text.size()) {
    const char* start = text.data() + *pos;
    const size_t left = text.size() - *pos;
    const void* nl = std::memchr(start, '\n', left);
    size_t len = nl ? static_cast<size_t>(static_cast<const char*>(nl) - start) : left;
    *pos += nl ? len + 1 : len;
    ++*line_no;
    if (len > 0 && start[len - 1] == '\r') --len;
    std::string_view candidate(start, len);
    if (len == 0 || ((start[0] == ' ' || start[0] == '\t') && IsBlank(candidate))) continue;
    *line = candidate;
    return true;
  }
  return false;
}

std::string Quoted(std::string_view text) {
  std::string out = "'";
  if (text.size() > 64) {
    out.append(text.substr(0, 61));
    out.append("...");
  } else {
    out.append(text);
  }
  out.push_back('\'');
  return out;
}

Result<TextLayout> AnalyzeText(std::string_view text, DataFormat forced, const std::string& path) {
  size_t pos = 0;
  uint64_t line_no = 0;
  std::string_view first;
  if (!NextLine(text, &pos, &line_no, &first)) return InvalidArgument(path + ": empty file");
  for (char ch : first.substr(0, 512)) {
    const auto byte = static_cast<unsigned char>(ch);
    if (byte == 0 || (byte < 0x20 && ch != '\t')) {
      return InvalidArgument(path + ": not a text data file (binary bytes in the first line)");
    }
  }
  TextLayout layout;
  layout.delim = PickDelimiter(first);
  std::string_view fields[kMaxFields];
  const size_t count = SplitFields(first, layout.delim, fields, kMaxFields);
  layout.field_count = count;
  const std::string where = path + ": first line " + Quoted(first);
  if (count > kMaxFields) return InvalidArgument(where + ": too many columns");

  std::string_view data_line;
  const bool has_header = !LooksNumericStart(fields[0]);
  layout.has_header = has_header;
  if (has_header) {
    size_t data_pos = pos;
    uint64_t data_no = line_no;
    NextLine(text, &data_pos, &data_no, &data_line);
  } else {
    data_line = first;
  }

  if (has_header) {
    bool mt5 = false;
    int ts_named = -1, date_col = -1, time_col = -1;
    bool yahoo_names = false;
    bool ts_is_date = false;
    for (size_t col = 0; col < count; ++col) {
      if (!fields[col].empty() && fields[col][0] == '<') mt5 = true;
      const std::string name = NormalizeName(fields[col]);
      const int idx = static_cast<int>(col);
      if (name == "timestamp" || name == "datetime" || name == "xdate" || name == "gmttime" ||
          name == "localtime" || name == "dt" || name == "timestamputc") {
        if (ts_named < 0) ts_named = idx;
      } else if (name == "date") {
        if (date_col < 0) date_col = idx;
      } else if (name == "time") {
        if (time_col < 0) time_col = idx;
      } else if (name == "bid") {
        layout.bid_col = idx;
      } else if (name == "ask") {
        layout.ask_col = idx;
      } else if (name == "price" || name == "mid") {
        layout.price_col = idx;
      } else if (name == "open") {
        layout.open_col = idx;
      } else if (name == "high") {
        layout.high_col = idx;
      } else if (name == "low") {
        layout.low_col = idx;
      } else if (name == "close") {
        layout.close_col = idx;
      } else if (name == "volume" || name == "vol") {
        layout.volume_col = idx;
      } else if (name == "tickvol" || name == "tickvolume") {
        layout.tick_volume_col = idx;
      } else if (name == "bidvolume" || name == "bidvol" || name == "bidsize") {
        layout.bid_volume_col = idx;
      } else if (name == "askvolume" || name == "askvol" || name == "asksize") {
        layout.ask_volume_col = idx;
      } else if (name == "spread") {
        layout.spread_col = idx;
      } else if (name == "adjclose" || name == "openinterest") {
        yahoo_names = true;
      }
    }
    if (ts_named >= 0) {
      layout.ts_col = ts_named;
    } else if (date_col >= 0 && time_col >= 0) {
      layout.ts_col = date_col;
      layout.time_col = time_col;
    } else if (date_col >= 0) {
      layout.ts_col = date_col;
      ts_is_date = true;
    } else if (time_col >= 0) {
      layout.ts_col = time_col;
    } else if (count == 2) {
      // Two columns with no known names ("DateTime","USDCHF" style): a price series only if the
      // first data row really is a timestamp and a number.
      std::string_view data_fields[kMaxFields];
      int64_t ts = 0, price = 0;
      if (!data_line.empty() &&
          SplitFields(data_line, layout.delim, data_fields, kMaxFields) == 2 &&
          ParseTimestamp(data_fields[0], &ts) &&
          ParsePriceRaw(data_fields[1], kFixedDigits, &price) == ParseCode::kOk) {
        layout.ts_col = 0;
      }
    }
    if (layout.ts_col < 0) return InvalidArgument(where + ": no timestamp/date/time column");
    const bool has_quotes = layout.bid_col >= 0 && layout.ask_col >= 0;
    const bool has_ohlc = layout.open_col >= 0 && layout.high_col >= 0 && layout.low_col >= 0 &&
                          layout.close_col >= 0;
    if (layout.price_col < 0 && count == 2) layout.price_col = layout.ts_col == 0 ? 1 : 0;
    DataFormat format = forced;
    if (format == DataFormat::kAuto) {
      if (has_quotes) {
        format = mt5 ? DataFormat::kMt5Ticks : DataFormat::kCsvTicks;
      } else if (has_ohlc) {
        if (mt5) {
          format = DataFormat::kMt5Bars;
        } else {
          std::string_view data_fields[kMaxFields];
          const bool date_only = !data_line.empty() &&
                                 SplitFields(data_line, layout.delim, data_fields, kMaxFields) >
                                     size_t(layout.ts_col) &&
                                 data_fields[layout.ts_col].size() <= 10;
          format =
              yahoo_names || (ts_is_date && date_only) ? DataFormat::kYahoo : DataFormat::kCsvBars;
        }
      } else if (layout.price_col >= 0) {
        format = DataFormat::kPrice;
      } else {
        return InvalidArgument(where + ": unrecognised header (no bid/ask, OHLC or price columns)");
      }
    }
    if (IsTickQuoteFormat(format) && !has_quotes) {
      return InvalidArgument(where + ": " + std::string(ToString(format)) +
                             " needs bid and ask columns");
    }
    if (NeedsOhlc(format) && !has_ohlc) {
      return InvalidArgument(where + ": " + std::string(ToString(format)) +
                             " needs open, high, low and close columns");
    }
    if (format == DataFormat::kPrice && layout.price_col < 0) {
      return InvalidArgument(where + ": price needs a price column");
    }
    if (format == DataFormat::kBinary) {
      return InvalidArgument(where + ": not a binary tick store");
    }
    layout.format = format;
    layout.carry_forward = format == DataFormat::kMt5Ticks;
    return layout;
  }

  // No header: positional layouts.
  int64_t ts = 0;
  const bool ts_ok = ParseTimestamp(fields[0], &ts);
  DataFormat format = forced;
  const bool histdata_time = fields[0].size() >= 15 && fields[0][8] == ' ';
  if (histdata_time && count == 6 &&
      (format == DataFormat::kAuto || format == DataFormat::kCsvBars)) {
    // HistData one-minute bars: "YYYYMMDD HHMMSS;open;high;low;close;volume", no header.
    layout.ts_col = 0;
    layout.open_col = 1;
    layout.high_col = 2;
    layout.low_col = 3;
    layout.close_col = 4;
    layout.volume_col = 5;
    layout.format = DataFormat::kCsvBars;
    return layout;
  }
  if (format == DataFormat::kAuto) {
    if (!ts_ok) return InvalidArgument(where + ": first field is neither a header nor a timestamp");
    if (histdata_time && count >= 3 && count <= 4) {
      format = DataFormat::kHistDataTicks;
    } else if (count == 5) {
      // timestamp + four numbers is as likely OHLC as bid,ask,bid_volume,ask_volume: guessing
      // would silently read one as the other.
      return InvalidArgument(where +
                             ": 5 columns without a header are ambiguous; add a header line "
                             "(timestamp,bid,ask,bid_volume,ask_volume or "
                             "timestamp,open,high,low,close) or give --format csv-ticks");
    } else if (count >= 3 && count <= 4) {
      format = DataFormat::kCsvTicks;
    } else if (count == 2) {
      format = DataFormat::kPrice;
    } else {
      return InvalidArgument(where + ": " + std::to_string(count) +
                             " columns without a header fit no format");
    }
  }
  layout.ts_col = 0;
  if (format == DataFormat::kCsvTicks || format == DataFormat::kHistDataTicks) {
    if (count < 3) return InvalidArgument(where + ": tick rows need timestamp,bid,ask");
    layout.bid_col = 1;
    layout.ask_col = 2;
    if (count == 4) layout.volume_col = 3;
    if (count >= 5) {
      layout.bid_volume_col = 3;
      layout.ask_volume_col = 4;
    }
  } else if (format == DataFormat::kPrice) {
    if (count < 2) return InvalidArgument(where + ": price rows need timestamp,price");
    layout.price_col = 1;
  } else {
    return InvalidArgument(where + ": " + std::string(ToString(format)) + " needs a header line");
  }
  layout.format = format;
  return layout;
}

}  // namespace aits::data::internal
