// The text bar reader: csv-bars, yahoo and mt5-bars, with an optional ask-side file joined on
// timestamp.
#include <algorithm>
#include <memory>
#include <span>
#include <string>

#include "aits/data/internal/readers.h"
#include "aits/data/internal/text_parse.h"

namespace aits::data::internal {
namespace {

constexpr int64_t kMaxSpreadPoints = 1'000'000;

struct ParsedBar {
  int64_t ts = 0;
  int64_t ohlc[4] = {0, 0, 0, 0};  // open, high, low, close (raw 1e-9)
  double volume = 0;
  uint32_t tick_count = 0;
  int64_t spread_raw = -1;  // from an MT5 <SPREAD> column; -1 when the file has none
  uint64_t line = 0;
  std::string_view ts_text;
};

// One file of bars: parses and validates rows on their own (everything but the join). Each
// rejected row counts as one row of the source.
class BarSide {
 public:
  enum class Next : uint8_t { kRow, kEnd, kStop };

  BarSide(std::unique_ptr<MappedFile> file, const TextLayout& layout, const ReadOptions& options,
          ReadStats* stats, Rejecter* rejecter)
      : file_(std::move(file)),
        text_(file_->bytes()),
        layout_(layout),
        precision_(options.price_precision),
        stats_(stats),
        rejecter_(rejecter) {
    if (layout_.has_header) {
      std::string_view header;
      NextLine(text_, &pos_, &line_no_, &header);
    }
  }

  Next Read(ParsedBar* row) {
    std::string_view line;
    while (!rejecter_->failed()) {
      if (!NextLine(text_, &pos_, &line_no_, &line)) return Next::kEnd;
      if (ParseRow(line, row)) {
        if (pos_ >= released_ + kReleaseStride) {
          // Rows keep views of their timestamp text until the join consumes them; the pages are
          // file-backed, so a released page simply faults back in if read again.
          file_->ReleaseBefore(pos_);
          released_ = pos_;
        }
        return Next::kRow;
      }
      ++stats_->rows;
    }
    return Next::kStop;
  }

  const std::string& path() const { return file_->path(); }
  double Progress() const {
    return text_.empty() ? 1.0 : static_cast<double>(pos_) / static_cast<double>(text_.size());
  }

  // Smallest positive gap among the first `rows` timestamps, 0 when there is none. Reads
  // ahead without consuming.
  int64_t InferPeriod(size_t rows) const {
    size_t pos = pos_;
    uint64_t line_no = line_no_;
    std::string_view line;
    int64_t prev = 0, best = 0;
    bool has_prev = false;
    for (size_t seen = 0; seen < rows && NextLine(text_, &pos, &line_no, &line); ++seen) {
      std::string_view fields[kMaxFields];
      const size_t count = SplitFields(line, layout_.delim, fields, kMaxFields);
      if (count != layout_.field_count) continue;
      int64_t ts = 0;
      if (!ParseTs(fields, &ts)) continue;
      if (has_prev && ts > prev && (best == 0 || ts - prev < best)) best = ts - prev;
      prev = ts;
      has_prev = true;
    }
    return best;
  }

 private:
  bool ParseTs(const std::string_view* fields, int64_t* ts) const {
    if (layout_.time_col >= 0) {
      int64_t clock = 0;
      if (!ParseDate(fields[layout_.ts_col], ts)) return false;
      if (!ParseTimeOfDay(fields[layout_.time_col], &clock)) return false;
      *ts += clock;
      return true;
    }
    return ParseTimestamp(fields[layout_.ts_col], ts);
  }

  bool Reject(RowRejectReason reason, std::string_view field, std::string_view value) {
    rejecter_->Reject(reason, file_->path(), line_no_, field, value);
    return false;
  }

  bool Number(std::string_view text, std::string_view name, int digits, int64_t* raw) {
    const ParseCode code = ParsePriceRaw(text, digits, raw);
    if (code == ParseCode::kOk) return true;
    return Reject(
        code == ParseCode::kNonFinite ? RowRejectReason::kNonFinite : RowRejectReason::kMalformed,
        name, text);
  }

  bool Volume(std::string_view text, std::string_view name, double* out) {
    const ParseCode code = ParseVolume(text, out);
    if (code == ParseCode::kOk) return true;
    return Reject(
        code == ParseCode::kNonFinite ? RowRejectReason::kNonFinite : RowRejectReason::kMalformed,
        name, text);
  }

  bool ParseRow(std::string_view line, ParsedBar* row) {
    static constexpr std::string_view kNames[4] = {"open", "high", "low", "close"};
    std::string_view fields[kMaxFields];
    const size_t count = SplitFields(line, layout_.delim, fields, kMaxFields);
    if (count != layout_.field_count) {
      const std::string value =
          std::to_string(count) + " (expected " + std::to_string(layout_.field_count) + ")";
      return Reject(RowRejectReason::kMalformed, "field_count", value);
    }
    const std::string_view ts_text = fields[layout_.ts_col];
    int64_t ts = 0;
    if (!ParseTs(fields, &ts)) {
      if (layout_.time_col >= 0) {
        int64_t ignored = 0;
        if (ParseDate(ts_text, &ignored)) {
          return Reject(RowRejectReason::kMalformed, "time", fields[layout_.time_col]);
        }
        return Reject(RowRejectReason::kMalformed, "date", ts_text);
      }
      return Reject(RowRejectReason::kMalformed, "timestamp", ts_text);
    }
    const int cols[4] = {layout_.open_col, layout_.high_col, layout_.low_col, layout_.close_col};
    int64_t ohlc[4];
    for (int idx = 0; idx < 4; ++idx) {
      // Full precision: validation judges the prices as written; rounding comes after.
      if (!Number(fields[cols[idx]], kNames[idx], kFixedDigits, &ohlc[idx])) return false;
    }
    double volume = 0, tick_volume = 0;
    if (layout_.volume_col >= 0 && !Volume(fields[layout_.volume_col], "volume", &volume)) {
      return false;
    }
    if (layout_.tick_volume_col >= 0 &&
        !Volume(fields[layout_.tick_volume_col], "tick_volume", &tick_volume)) {
      return false;
    }
    int64_t spread_raw = -1;
    if (layout_.spread_col >= 0) {
      int64_t points = 0;
      if (!Number(fields[layout_.spread_col], "spread", 0, &points)) return false;
      if (points / kFixedScale > kMaxSpreadPoints) {
        return Reject(RowRejectReason::kMalformed, "spread", fields[layout_.spread_col]);
      }
      spread_raw = points / kFixedScale * Pow10(kFixedDigits - precision_);
      if (spread_raw < 0)
        return Reject(RowRejectReason::kCrossed, "spread", fields[layout_.spread_col]);
    }
    for (int idx = 0; idx < 4; ++idx) {
      if (ohlc[idx] <= 0) {
        return Reject(RowRejectReason::kNonPositivePrice, kNames[idx], fields[cols[idx]]);
      }
    }
    const int64_t open = ohlc[0], high = ohlc[1], low = ohlc[2], close = ohlc[3];
    if (high < low) return Reject(RowRejectReason::kBadBar, "high", fields[cols[1]]);
    if (open < low || open > high) return Reject(RowRejectReason::kBadBar, "open", fields[cols[0]]);
    if (close < low || close > high) {
      return Reject(RowRejectReason::kBadBar, "close", fields[cols[3]]);
    }
    if (volume < 0)
      return Reject(RowRejectReason::kNegativeVolume, "volume", fields[layout_.volume_col]);
    if (tick_volume < 0) {
      return Reject(RowRejectReason::kNegativeVolume, "tick_volume",
                    fields[layout_.tick_volume_col]);
    }
    if (has_last_) {
      if (ts < last_.ts) return Reject(RowRejectReason::kTimeBackwards, "timestamp", ts_text);
      // A repeated bar time is a duplicate whether or not the values agree: a period has one bar.
      if (ts == last_.ts) return Reject(RowRejectReason::kDuplicate, "timestamp", ts_text);
    }
    if (precision_ < kFixedDigits) {
      bool changed = false;
      for (int idx = 0; idx < 4; ++idx) {
        const int64_t rounded = fixed_internal::RoundToPrecision(ohlc[idx], precision_);
        changed |= rounded != ohlc[idx];
        ohlc[idx] = rounded;
      }
      if (changed) ++stats_->rounded;
    }
    row->ts = ts;
    std::copy(ohlc, ohlc + 4, row->ohlc);
    // MT5: real volume when the broker reports it, else the tick volume.
    row->volume = volume > 0 ? volume : tick_volume;
    row->tick_count = static_cast<uint32_t>(std::min(tick_volume, 4.0e9));
    row->spread_raw = spread_raw;
    row->line = line_no_;
    row->ts_text = ts_text;
    last_ = *row;
    has_last_ = true;
    return true;
  }

  std::unique_ptr<MappedFile> file_;
  std::string_view text_;
  TextLayout layout_;
  int precision_;
  ReadStats* stats_;
  Rejecter* rejecter_;
  size_t pos_ = 0;
  size_t released_ = 0;
  uint64_t line_no_ = 0;
  ParsedBar last_{};
  bool has_last_ = false;
};

Ohlc ToOhlc(const int64_t* raw, int precision) {
  return Ohlc{Price::FromRaw(raw[0], precision), Price::FromRaw(raw[1], precision),
              Price::FromRaw(raw[2], precision), Price::FromRaw(raw[3], precision)};
}

class TextBarSource final : public BarSource {
 public:
  TextBarSource(std::unique_ptr<MappedFile> bid_file, const TextLayout& bid_layout,
                std::unique_ptr<MappedFile> ask_file, const TextLayout& ask_layout,
                const ReadOptions& options)
      : precision_(options.price_precision),
        instrument_(options.instrument),
        spread_raw_(options.spread_points * Pow10(kFixedDigits - options.price_precision)),
        rejecter_(&stats_, options),
        bid_(std::move(bid_file), bid_layout, options, &stats_, &rejecter_) {
    if (ask_file) {
      ask_ =
          std::make_unique<BarSide>(std::move(ask_file), ask_layout, options, &stats_, &rejecter_);
    }
    period_ = options.bar_period;
    if (period_.ns <= 0) {
      const int64_t inferred = bid_.InferPeriod(100);
      period_ = inferred > 0 ? Duration{inferred} : Duration::Minutes(1);
    }
  }

  Result<size_t> Read(std::span<Bar> out) override {
    if (rejecter_.failed()) return rejecter_.error();
    size_t count = 0;
    while (count < out.size() && !rejecter_.failed()) {
      if (!(ask_ ? NextJoined(&out[count]) : NextSingle(&out[count]))) break;
      ++count;
      ++stats_.rows;
      ++stats_.accepted;
    }
    if (count == 0 && rejecter_.failed()) return rejecter_.error();
    return count;
  }

  const ReadStats& stats() const override { return stats_; }
  double Progress() const override { return bid_.Progress(); }
  Duration period() const override { return period_; }

 private:
  void Fill(const ParsedBar& bid, const int64_t* ask, Bar* bar) const {
    int64_t mid[4];
    // ask >= bid here, so the difference cannot overflow.
    for (int idx = 0; idx < 4; ++idx) mid[idx] = bid.ohlc[idx] + (ask[idx] - bid.ohlc[idx]) / 2;
    bar->instrument = instrument_;
    bar->period = period_;
    bar->open_time = Timestamp{bid.ts};
    bar->bid = ToOhlc(bid.ohlc, precision_);
    bar->ask = ToOhlc(ask, precision_);
    bar->mid = ToOhlc(mid, precision_);
    bar->tick_count = bid.tick_count;
    bar->volume = bid.volume;
  }

  bool NextSingle(Bar* bar) {
    ParsedBar row;
    if (bid_.Read(&row) != BarSide::Next::kRow) return false;
    const int64_t spread = row.spread_raw >= 0 ? row.spread_raw : spread_raw_;
    int64_t ask[4];
    for (int idx = 0; idx < 4; ++idx) ask[idx] = row.ohlc[idx] + spread;
    Fill(row, ask, bar);
    return true;
  }

  bool NextJoined(Bar* bar) {
    while (!rejecter_.failed()) {
      if (!has_bid_ && !bid_end_) {
        const BarSide::Next next = bid_.Read(&bid_row_);
        if (next == BarSide::Next::kStop) return false;
        has_bid_ = next == BarSide::Next::kRow;
        bid_end_ = !has_bid_;
      }
      if (!has_ask_ && !ask_end_) {
        const BarSide::Next next = ask_->Read(&ask_row_);
        if (next == BarSide::Next::kStop) return false;
        has_ask_ = next == BarSide::Next::kRow;
        ask_end_ = !has_ask_;
      }
      if (!has_bid_ && !has_ask_) return false;
      if (has_bid_ && has_ask_ && bid_row_.ts == ask_row_.ts) {
        int64_t ask[4];
        bool lifted = false;
        // The two files are sampled independently, so a bar's ask close can sit below its bid
        // close although no single quote was crossed. Lift each crossed ask price to the bid
        // (zero spread) rather than lose the bar; the component-wise max keeps low <= o,c <= high.
        for (int idx = 0; idx < 4; ++idx) {
          ask[idx] = std::max(ask_row_.ohlc[idx], bid_row_.ohlc[idx]);
          lifted |= ask[idx] != ask_row_.ohlc[idx];
        }
        if (lifted) ++stats_.repaired;
        Fill(bid_row_, ask, bar);
        has_bid_ = has_ask_ = false;
        return true;
      }
      ++stats_.rows;
      if (has_bid_ && (!has_ask_ || bid_row_.ts < ask_row_.ts)) {
        rejecter_.Reject(RowRejectReason::kUnmatched, bid_.path(), bid_row_.line, "timestamp",
                         bid_row_.ts_text);
        has_bid_ = false;
      } else {
        rejecter_.Reject(RowRejectReason::kUnmatched, ask_->path(), ask_row_.line, "timestamp",
                         ask_row_.ts_text);
        has_ask_ = false;
      }
    }
    return false;
  }

  int precision_;
  InstrumentId instrument_;
  int64_t spread_raw_;
  ReadStats stats_;
  Rejecter rejecter_;
  BarSide bid_;
  std::unique_ptr<BarSide> ask_;
  Duration period_;
  ParsedBar bid_row_, ask_row_;
  bool has_bid_ = false, has_ask_ = false, bid_end_ = false, ask_end_ = false;
};

}  // namespace

Result<std::unique_ptr<BarSource>> OpenTextBars(std::unique_ptr<MappedFile> bid_file,
                                                const TextLayout& bid_layout,
                                                std::unique_ptr<MappedFile> ask_file,
                                                const TextLayout& ask_layout,
                                                const ReadOptions& options) {
  return std::unique_ptr<BarSource>(
      new TextBarSource(std::move(bid_file), bid_layout, std::move(ask_file), ask_layout, options));
}

}  // namespace aits::data::internal
