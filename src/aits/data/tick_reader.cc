// The text tick reader: csv-ticks, histdata-ticks, mt5-ticks and price files, one code path
// driven by a TextLayout.
#include <memory>
#include <span>
#include <string>

#include "aits/data/internal/readers.h"
#include "aits/data/internal/text_parse.h"

namespace aits::data::internal {

void Rejecter::Reject(RowRejectReason reason, const std::string& file, uint64_t line,
                      std::string_view field, std::string_view value) {
  if (stats_->samples.size() < max_samples_ || (strict_ && error_.ok())) {
    RejectSample sample;
    sample.file = file;
    sample.line = line;
    sample.field = std::string(field);
    sample.value = std::string(value.substr(0, 64));
    sample.reason = reason;
    if (strict_ && error_.ok()) error_ = InvalidArgument("strict: " + sample.ToString());
    stats_->Reject(std::move(sample), max_samples_);
  } else {
    ++stats_->rejected[static_cast<size_t>(reason)];
  }
}

namespace {

class TextTickSource final : public TickSource {
 public:
  TextTickSource(std::unique_ptr<MappedFile> file, const TextLayout& layout,
                 const ReadOptions& options)
      : file_(std::move(file)),
        text_(file_->bytes()),
        layout_(layout),
        precision_(options.price_precision),
        instrument_(options.instrument),
        spread_raw_(options.spread_points * Pow10(kFixedDigits - options.price_precision)),
        rejecter_(&stats_, options) {
    if (layout_.has_header) {
      std::string_view header;
      NextLine(text_, &pos_, &line_no_, &header);
    }
  }

  Result<size_t> Read(std::span<Tick> out) override {
    // In strict mode the ticks accepted before the rejection go out first, the error next call.
    if (rejecter_.failed()) return rejecter_.error();
    size_t count = 0;
    std::string_view line;
    while (count < out.size() && !rejecter_.failed() && NextLine(text_, &pos_, &line_no_, &line)) {
      ++stats_.rows;
      if (ParseRow(line, &out[count])) {
        ++count;
        ++stats_.accepted;
      }
    }
    if (pos_ >= released_ + kReleaseStride) {
      file_->ReleaseBefore(pos_);
      released_ = pos_;
    }
    if (count == 0 && rejecter_.failed()) return rejecter_.error();
    return count;
  }

  const ReadStats& stats() const override { return stats_; }
  double Progress() const override {
    return text_.empty() ? 1.0 : static_cast<double>(pos_) / static_cast<double>(text_.size());
  }

 private:
  bool Reject(RowRejectReason reason, std::string_view field, std::string_view value) {
    rejecter_.Reject(reason, file_->path(), line_no_, field, value);
    return false;
  }

  // Parses a price field; on failure records the rejection and returns false.
  bool Price(std::string_view text, std::string_view name, int64_t* raw) {
    // Full precision here; rounding to the instrument's digits happens after validation.
    const ParseCode code = ParsePriceRaw(text, kFixedDigits, raw);
    if (code == ParseCode::kOk) return true;
    return Reject(
        code == ParseCode::kNonFinite ? RowRejectReason::kNonFinite : RowRejectReason::kMalformed,
        name, text);
  }

  bool Volume(const std::string_view* fields, int col, std::string_view name, float* out) {
    if (col < 0) return true;
    double value = 0;
    const ParseCode code = ParseVolume(fields[col], &value);
    if (code != ParseCode::kOk) {
      return Reject(
          code == ParseCode::kNonFinite ? RowRejectReason::kNonFinite : RowRejectReason::kMalformed,
          name, fields[col]);
    }
    if (value < 0) return Reject(RowRejectReason::kNegativeVolume, name, fields[col]);
    *out = static_cast<float>(value);
    return true;
  }

  bool ParseRow(std::string_view line, Tick* tick) {
    std::string_view fields[kMaxFields];
    const size_t count = SplitFields(line, layout_.delim, fields, kMaxFields);
    if (count != layout_.field_count) {
      const std::string value =
          std::to_string(count) + " (expected " + std::to_string(layout_.field_count) + ")";
      return Reject(RowRejectReason::kMalformed, "field_count", value);
    }
    int64_t ts = 0;
    const std::string_view ts_text = fields[layout_.ts_col];
    if (layout_.time_col >= 0) {
      int64_t clock = 0;
      if (!ParseDate(ts_text, &ts)) return Reject(RowRejectReason::kMalformed, "date", ts_text);
      if (!ParseTimeOfDay(fields[layout_.time_col], &clock)) {
        return Reject(RowRejectReason::kMalformed, "time", fields[layout_.time_col]);
      }
      ts += clock;
    } else if (!ParseTimestamp(ts_text, &ts)) {
      return Reject(RowRejectReason::kMalformed, "timestamp", ts_text);
    }

    int64_t bid = 0, ask = 0;
    std::string_view bid_text, ask_text;
    if (layout_.price_col >= 0) {
      bid_text = fields[layout_.price_col];
      if (!Price(bid_text, "price", &bid)) return false;
      ask = bid + spread_raw_;
      ask_text = bid_text;
    } else {
      bid_text = fields[layout_.bid_col];
      ask_text = fields[layout_.ask_col];
      // An empty side means "unchanged": it carries the last *accepted* tick's value, so a
      // rejected row never leaks into the rows after it.
      if (layout_.carry_forward && bid_text.empty()) {
        if (!has_last_) return Reject(RowRejectReason::kMalformed, "bid", bid_text);
        bid = last_bid_written_;
      } else {
        if (!Price(bid_text, "bid", &bid)) return false;
      }
      if (layout_.carry_forward && ask_text.empty()) {
        if (!has_last_) return Reject(RowRejectReason::kMalformed, "ask", ask_text);
        ask = last_ask_written_;
      } else {
        if (!Price(ask_text, "ask", &ask)) return false;
      }
    }
    float bid_volume = 0, ask_volume = 0;
    if (!Volume(fields, layout_.volume_col, "volume", &bid_volume) ||
        !Volume(fields, layout_.bid_volume_col, "bid_volume", &bid_volume) ||
        !Volume(fields, layout_.ask_volume_col, "ask_volume", &ask_volume)) {
      return false;
    }
    const std::string_view bid_name = layout_.price_col >= 0 ? "price" : "bid";
    if (bid <= 0) return Reject(RowRejectReason::kNonPositivePrice, bid_name, bid_text);
    if (ask <= 0) return Reject(RowRejectReason::kNonPositivePrice, "ask", ask_text);
    if (ask < bid) return Reject(RowRejectReason::kCrossed, "ask", ask_text);
    if (has_last_) {
      if (ts < last_.ts.ns) return Reject(RowRejectReason::kTimeBackwards, "timestamp", ts_text);
      if (ts == last_.ts.ns && bid == last_bid_written_ && ask == last_ask_written_ &&
          bid_volume == last_.bid_volume && ask_volume == last_.ask_volume) {
        return Reject(RowRejectReason::kDuplicate, "timestamp", ts_text);
      }
    }
    last_bid_written_ = bid;
    last_ask_written_ = ask;
    if (precision_ < kFixedDigits) {
      const int64_t bid_rounded = fixed_internal::RoundToPrecision(bid, precision_);
      const int64_t ask_rounded = fixed_internal::RoundToPrecision(ask, precision_);
      if (bid_rounded != bid || ask_rounded != ask) ++stats_.rounded;
      bid = bid_rounded;
      ask = ask_rounded;
    }
    tick->ts = Timestamp{ts};
    tick->bid = aits::Price::FromRaw(bid, precision_);
    tick->ask = aits::Price::FromRaw(ask, precision_);
    tick->bid_volume = bid_volume;
    tick->ask_volume = ask_volume;
    tick->instrument = instrument_;
    last_ = *tick;
    has_last_ = true;
    return true;
  }

  std::unique_ptr<MappedFile> file_;
  std::string_view text_;
  TextLayout layout_;
  int precision_;
  InstrumentId instrument_;
  int64_t spread_raw_;
  ReadStats stats_;
  Rejecter rejecter_;
  size_t pos_ = 0;
  size_t released_ = 0;
  uint64_t line_no_ = 0;
  Tick last_{};
  bool has_last_ = false;
  // The last accepted prices as written in the file (before rounding): carried forward by MT5
  // rows with an empty side, and compared for exact duplicates.
  int64_t last_bid_written_ = 0;
  int64_t last_ask_written_ = 0;
};

}  // namespace

Result<std::unique_ptr<TickSource>> OpenTextTicks(std::unique_ptr<MappedFile> file,
                                                  const TextLayout& layout,
                                                  const ReadOptions& options) {
  return std::unique_ptr<TickSource>(new TextTickSource(std::move(file), layout, options));
}

}  // namespace aits::data::internal
