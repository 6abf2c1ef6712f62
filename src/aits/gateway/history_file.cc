#include "aits/gateway/history_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "aits/core/fixed_point.h"
#include "aits/core/time.h"
#include "aits/data/tick_store.h"

namespace aits::gateway {
namespace {

constexpr std::string_view kTickHeader = "timestamp,bid,ask,last,volume,flags,symbol";
constexpr std::string_view kBarHeader =
    "timestamp,open,high,low,close,tick_volume,spread,volume,symbol,period";
constexpr size_t kTickSymbolColumn = 6;
constexpr size_t kBarSymbolColumn = 8;
constexpr size_t kBarPeriodColumn = 9;

struct Timeframe {
  std::string_view name;
  uint32_t seconds;
};
// MT5's timeframes (ENUM_TIMEFRAMES; PeriodSeconds of each, MN1 as the protocol carries it).
constexpr Timeframe kTimeframes[] = {
    {"M1", 60},    {"M2", 120},    {"M3", 180},      {"M4", 240},   {"M5", 300},   {"M6", 360},
    {"M10", 600},  {"M12", 720},   {"M15", 900},     {"M20", 1200}, {"M30", 1800}, {"H1", 3600},
    {"H2", 7200},  {"H3", 10800},  {"H4", 14400},    {"H6", 21600}, {"H8", 28800}, {"H12", 43200},
    {"D1", 86400}, {"W1", 604800}, {"MN1", 2592000},
};

std::string_view KindName(HistoryKind kind) {
  return kind == HistoryKind::kTicks ? "ticks" : "bars";
}

bool ValidQuote(const mt5::TickData& tick) { return tick.bid > 0 && tick.ask >= tick.bid; }

int64_t RawOf(double value, int digits) {
  return std::llround(value * static_cast<double>(Pow10(digits))) * Pow10(kFixedDigits - digits);
}

std::string PriceText(double value, int digits) {
  return Price::FromRaw(RawOf(value, digits), digits).ToString();
}

std::string NumberText(double value) {
  char text[32];
  const auto done = std::to_chars(text, text + sizeof(text), value);
  return std::string(text, done.ptr);
}

// "2020-01-01 17:00:00.065": the terminal's server time, always with its milliseconds.
std::string TickTime(int64_t msc) {
  const CivilTime c = ToCivil(Timestamp{msc * 1'000'000});
  char text[40];
  std::snprintf(text, sizeof(text), "%04d-%02d-%02d %02d:%02d:%02d.%03d", c.year, c.month, c.day,
                c.hour, c.minute, c.second, static_cast<int>(c.nanos / 1'000'000));
  return text;
}

std::vector<std::string_view> Split(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  for (;;) {
    const size_t comma = line.find(',', start);
    fields.push_back(line.substr(start, comma == std::string_view::npos ? comma : comma - start));
    if (comma == std::string_view::npos) return fields;
    start = comma + 1;
  }
}

Result<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return IoError(path + ": read failed");
  return text.str();
}

bool Exists(const std::string& path, bool* is_dir) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  *is_dir = S_ISDIR(st.st_mode);
  return true;
}

// --- CSV ------------------------------------------------------------------------------------

// What a CSV of ours holds: its whole lines, the last one's time, and a torn tail.
struct CsvState {
  uint64_t records = 0;
  uint64_t whole_bytes = 0;  // up to and including the last newline
  uint64_t torn_bytes = 0;   // after it
  int64_t last_msc = 0;      // ticks: the last tick's time; bars: the last bar's open
  uint64_t trailing_same = 0;
};

Result<CsvState> ReadCsv(const HistoryFileSpec& spec) {
  AITS_ASSIGN_OR_RETURN(std::string text, ReadWhole(spec.path));
  CsvState state;
  const size_t last_newline = text.rfind('\n');
  const std::string_view expected = spec.kind == HistoryKind::kTicks ? kTickHeader : kBarHeader;
  const std::string_view other = spec.kind == HistoryKind::kTicks ? kBarHeader : kTickHeader;
  const size_t first_end = text.find('\n');
  const std::string_view first =
      std::string_view(text).substr(0, first_end == std::string::npos ? text.size() : first_end);
  if (first == other) {
    return InvalidArgument(
        spec.path + ": holds " +
        std::string(
            KindName(spec.kind == HistoryKind::kTicks ? HistoryKind::kBars : HistoryKind::kTicks)) +
        " (its header is '" + std::string(first) + "'), not " + std::string(KindName(spec.kind)) +
        "; not appended to");
  }
  if (first_end == std::string::npos && expected.substr(0, first.size()) == first) {
    // Only a torn header: nothing of the download is in it; it is written again.
    state.torn_bytes = text.size();
    return state;
  }
  if (first != expected) {
    return InvalidArgument(spec.path + ": exists and is not a history CSV of " +
                           std::string(KindName(spec.kind)) + " (its first line is '" +
                           std::string(first.substr(0, 120)) + "', expected '" +
                           std::string(expected) + "'); not overwritten");
  }
  state.whole_bytes = last_newline + 1;
  state.torn_bytes = text.size() - state.whole_bytes;
  // The records: the whole lines after the header.
  std::vector<std::string_view> lines;
  size_t pos = first_end + 1;
  while (pos < state.whole_bytes) {
    const size_t end = text.find('\n', pos);
    lines.emplace_back(text.data() + pos, end - pos);
    pos = end + 1;
  }
  state.records = lines.size();
  if (lines.empty()) return state;
  const size_t line_no = lines.size() + 1;  // the file's line number of the last record
  const std::vector<std::string_view> fields = Split(lines.back());
  const size_t want_fields = spec.kind == HistoryKind::kTicks ? 7 : 10;
  const std::string where = spec.path + ":" + std::to_string(line_no);
  if (fields.size() != want_fields) {
    return InvalidArgument(where + ": " + std::to_string(fields.size()) + " fields, expected " +
                           std::to_string(want_fields) + "; not appended to");
  }
  const size_t symbol_col = spec.kind == HistoryKind::kTicks ? kTickSymbolColumn : kBarSymbolColumn;
  if (fields[symbol_col] != spec.symbol) {
    return InvalidArgument(spec.path + ": holds " + std::string(KindName(spec.kind)) + " of " +
                           std::string(fields[symbol_col]) + ", not " + spec.symbol +
                           "; not appended to");
  }
  if (spec.kind == HistoryKind::kBars &&
      fields[kBarPeriodColumn] != TimeframeName(spec.period_sec)) {
    return InvalidArgument(spec.path + ": holds " + std::string(fields[kBarPeriodColumn]) +
                           " bars, not " + TimeframeName(spec.period_sec) + "; not appended to");
  }
  const std::optional<Timestamp> time = ParseUtcTime(fields[0]);
  if (!time) {
    return InvalidArgument(where + ": field 'timestamp' value '" + std::string(fields[0]) +
                           "' is not a time; not appended to");
  }
  state.last_msc = time->ns / 1'000'000;
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    if (it->substr(0, fields[0].size() + 1) != std::string(fields[0]) + ",") break;
    ++state.trailing_same;
  }
  return state;
}

class CsvWriter final : public HistoryWriter {
 public:
  static Result<std::unique_ptr<HistoryWriter>> Open(const HistoryFileSpec& spec,
                                                     HistoryOpening* opening) {
    HistoryOpening found;
    bool is_dir = false;
    CsvState state;
    if (Exists(spec.path, &is_dir)) {
      if (is_dir) return InvalidArgument(spec.path + ": is a directory");
      AITS_ASSIGN_OR_RETURN(state, ReadCsv(spec));
    }
    const int fd = ::open(spec.path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return IoError(spec.path + ": cannot open for writing: " + std::strerror(errno));
    std::unique_ptr<CsvWriter> writer(new CsvWriter(fd, spec));
    if (state.torn_bytes > 0) {
      found.repaired = "cut a torn last line (" + std::to_string(state.torn_bytes) + " bytes)";
    }
    if (::ftruncate(fd, static_cast<off_t>(state.whole_bytes)) != 0 ||
        ::lseek(fd, 0, SEEK_END) < 0) {
      return IoError(spec.path +
                     ": cannot cut back to its last whole line: " + std::strerror(errno));
    }
    if (state.whole_bytes == 0) {
      const std::string_view header = spec.kind == HistoryKind::kTicks ? kTickHeader : kBarHeader;
      AITS_RETURN_IF_ERROR(writer->Write(std::string(header) + "\n"));
    }
    found.records = state.records;
    found.resumed = state.records > 0;
    if (found.resumed) {
      found.resume.from_msc =
          spec.kind == HistoryKind::kTicks ? state.last_msc : state.last_msc + 1000;
      found.resume.skip_at_from = spec.kind == HistoryKind::kTicks ? state.trailing_same : 0;
    }
    writer->records_ = state.records;
    if (opening != nullptr) *opening = found;
    return std::unique_ptr<HistoryWriter>(std::move(writer));
  }

  ~CsvWriter() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status Append(std::span<const mt5::TickData> ticks) override {
    std::string out;
    out.reserve(ticks.size() * 64);
    for (const mt5::TickData& tick : ticks) {
      if (!ValidQuote(tick)) {
        ++refused_;
        continue;
      }
      out += TickTime(tick.time_msc);
      out += ',';
      out += PriceText(tick.bid, spec_.digits);
      out += ',';
      out += PriceText(tick.ask, spec_.digits);
      out += ',';
      out += tick.last > 0 ? PriceText(tick.last, spec_.digits) : std::string("0");
      out += ',';
      out += NumberText(tick.volume);
      out += ',';
      out += std::to_string(tick.flags);
      out += ',';
      out += spec_.symbol;
      out += '\n';
      ++records_;
    }
    return Write(out);
  }

  Status Append(std::span<const mt5::BarData> bars) override {
    std::string out;
    const std::string period = TimeframeName(spec_.period_sec);
    for (const mt5::BarData& bar : bars) {
      if (!(bar.low > 0) || bar.high < bar.low || bar.spread < 0) {
        ++refused_;
        continue;
      }
      out += FormatDateTime(Timestamp{bar.time * kNanosPerSecond});
      for (double price : {bar.open, bar.high, bar.low, bar.close}) {
        out += ',';
        out += PriceText(price, spec_.digits);
      }
      out += ',' + std::to_string(bar.tick_volume) + ',' + std::to_string(bar.spread) + ',' +
             std::to_string(bar.real_volume) + ',' + spec_.symbol + ',' + period + '\n';
      ++records_;
    }
    return Write(out);
  }

  Status Finish() override {
    if (::fsync(fd_) != 0) return IoError(spec_.path + ": flush failed: " + std::strerror(errno));
    return Status::Ok();
  }

 private:
  CsvWriter(int fd, HistoryFileSpec spec) : fd_(fd), spec_(std::move(spec)) {}

  // Whole lines at once, straight to the file (no buffer a kill would lose).
  Status Write(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t done = ::write(fd_, bytes.data(), bytes.size());
      if (done < 0) {
        if (errno == EINTR) continue;
        return IoError(spec_.path + ": write failed: " + std::strerror(errno));
      }
      bytes.remove_prefix(static_cast<size_t>(done));
    }
    return Status::Ok();
  }

  int fd_;
  HistoryFileSpec spec_;
};

// --- the binary tick store -------------------------------------------------------------------

class StoreWriter final : public HistoryWriter {
 public:
  static Result<std::unique_ptr<HistoryWriter>> Open(const HistoryFileSpec& spec,
                                                     HistoryOpening* opening) {
    data::AppendOpening opened;
    AITS_ASSIGN_OR_RETURN(
        std::unique_ptr<data::TickStoreAppender> store,
        data::TickStoreAppender::Open(spec.path, spec.symbol, spec.digits, &opened));
    HistoryOpening found;
    found.records = store->info().count;
    found.resumed = found.records > 0;
    if (found.resumed) {
      found.resume.from_msc = store->info().last.ns / 1'000'000;
      found.resume.skip_at_from = opened.trailing_same;
    }
    if (opened.cut_bytes > 0) {
      found.repaired =
          "cut a torn last record (" + std::to_string(opened.cut_bytes) + " of 32 bytes)";
    }
    if (opened.adopted > 0) {
      found.repaired += std::string(found.repaired.empty() ? "" : "; ") + "counted in " +
                        std::to_string(opened.adopted) +
                        " whole record(s) written after the header's last update";
    }
    std::unique_ptr<StoreWriter> writer(new StoreWriter(std::move(store), spec.digits));
    writer->records_ = found.records;
    if (opening != nullptr) *opening = found;
    return std::unique_ptr<HistoryWriter>(std::move(writer));
  }

  using HistoryWriter::Append;  // bars: the base's refusal
  Status Append(std::span<const mt5::TickData> ticks) override {
    std::vector<Tick> out;
    out.reserve(ticks.size());
    for (const mt5::TickData& data : ticks) {
      if (!ValidQuote(data)) {
        ++refused_;
        continue;
      }
      Tick tick;
      tick.ts = Timestamp{data.time_msc * 1'000'000};
      tick.bid = Price::FromRaw(RawOf(data.bid, digits_), digits_);
      tick.ask = Price::FromRaw(RawOf(data.ask, digits_), digits_);
      tick.bid_volume = static_cast<float>(data.volume);
      out.push_back(tick);
    }
    AITS_RETURN_IF_ERROR(store_->Append(out));
    records_ += out.size();
    return Status::Ok();
  }

  Status Finish() override { return store_->Sync(); }

 private:
  StoreWriter(std::unique_ptr<data::TickStoreAppender> store, int digits)
      : store_(std::move(store)), digits_(digits) {}
  std::unique_ptr<data::TickStoreAppender> store_;
  int digits_;
};

Status CheckSpec(const HistoryFileSpec& spec) {
  if (spec.path.empty()) return InvalidArgument("history: no output file");
  if (spec.symbol.empty()) return InvalidArgument("history: no symbol");
  if (spec.format == HistoryFormat::kBinary && spec.kind == HistoryKind::kBars) {
    return InvalidArgument(spec.path +
                           ": the binary store holds ticks only; write bars as CSV (--format csv "
                           "or a .csv file)");
  }
  if (spec.kind == HistoryKind::kBars && TimeframeName(spec.period_sec).empty()) {
    return InvalidArgument("history: " + std::to_string(spec.period_sec) +
                           " s is not an MT5 timeframe");
  }
  if (spec.digits < 0 || spec.digits > kFixedDigits) {
    return InvalidArgument(spec.path + ": digits " + std::to_string(spec.digits) +
                           " is outside 0..9");
  }
  return Status::Ok();
}

}  // namespace

Result<HistoryFormat> ParseHistoryFormat(std::string_view text) {
  if (text == "bin") return HistoryFormat::kBinary;
  if (text == "csv") return HistoryFormat::kCsv;
  return InvalidArgument("--format '" + std::string(text) + "': expected bin or csv");
}

Result<HistoryFormat> HistoryFormatOf(const std::string& path) {
  const size_t dot = path.rfind('.');
  const std::string ext = dot == std::string::npos ? "" : path.substr(dot + 1);
  if (ext == "bin") return HistoryFormat::kBinary;
  if (ext == "csv") return HistoryFormat::kCsv;
  return InvalidArgument("--out '" + path +
                         "': the format cannot be told from its extension (.bin or .csv); give "
                         "--format bin or --format csv");
}

Result<uint32_t> ParseTimeframe(std::string_view name) {
  for (const Timeframe& timeframe : kTimeframes) {
    if (timeframe.name == name) return timeframe.seconds;
  }
  return InvalidArgument("--bars '" + std::string(name) +
                         "': not an MT5 timeframe (M1 M2 M3 M4 M5 M6 M10 M12 M15 M20 M30 H1 H2 "
                         "H3 H4 H6 H8 H12 D1 W1 MN1)");
}

std::string TimeframeName(uint32_t period_sec) {
  for (const Timeframe& timeframe : kTimeframes) {
    if (timeframe.seconds == period_sec) return std::string(timeframe.name);
  }
  return "";
}

Status HistoryWriter::Append(std::span<const mt5::TickData> /*ticks*/) {
  return Internal("history: this file does not hold ticks");
}

Status HistoryWriter::Append(std::span<const mt5::BarData> /*bars*/) {
  return Internal("history: this file does not hold bars");
}

Status CheckHistoryFile(const HistoryFileSpec& spec) {
  AITS_RETURN_IF_ERROR(CheckSpec(spec));
  bool is_dir = false;
  if (!Exists(spec.path, &is_dir)) return Status::Ok();
  if (is_dir) return InvalidArgument(spec.path + ": is a directory");
  if (spec.format == HistoryFormat::kCsv) return ReadCsv(spec).status();
  // The store's header names its symbol; the rest (digits, a torn record) is the appender's, once
  // the terminal has said the symbol's digits.
  auto info = data::ReadTickStoreInfo(spec.path);
  if (info.ok()) {
    if (info->symbol != spec.symbol) {
      return InvalidArgument(spec.path + ": holds ticks of " + info->symbol + ", not " +
                             spec.symbol + "; not appended to");
    }
    return Status::Ok();
  }
  // DataLoss (a torn last record, a header behind its records) is what a resume repairs.
  if (info.status().code() == StatusCode::kDataLoss) return Status::Ok();
  return info.status();
}

Result<std::unique_ptr<HistoryWriter>> HistoryWriter::Open(const HistoryFileSpec& spec,
                                                           HistoryOpening* opening) {
  AITS_RETURN_IF_ERROR(CheckSpec(spec));
  if (spec.format == HistoryFormat::kCsv) return CsvWriter::Open(spec, opening);
  return StoreWriter::Open(spec, opening);
}

}  // namespace aits::gateway
