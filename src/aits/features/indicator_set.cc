#include "aits/features/indicator_set.h"

#include <charconv>
#include <cmath>
#include <unordered_set>

namespace aits::features {
namespace {

constexpr std::string_view kKnownNames =
    "sma, ema, rsi, atr, macd, bbands, stddev, mom, roc, vwap, cross";

std::string_view Trim(std::string_view text) {
  const auto not_space = [](char c) { return c != ' ' && c != '\t' && c != '\n' && c != '\r'; };
  while (!text.empty() && !not_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && !not_space(text.back())) text.remove_suffix(1);
  return text;
}

std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t pos = text.find(sep, start);
    if (pos == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, pos - start));
    start = pos + 1;
  }
}

// Formats k in its shortest round-trip form ("2", "2.5").
std::string FormatNumber(double value) {
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof(buf), value);
  return std::string(buf, result.ptr);
}

// Parsing context of one spec item, for error messages that name the item and the value.
class ItemParser {
 public:
  ItemParser(size_t position, std::string_view text) : position_(position), text_(text) {
    const auto parts = Split(text, ':');
    name_ = parts[0];
    params_.assign(parts.begin() + 1, parts.end());
  }

  std::string_view name() const { return name_; }
  size_t param_count() const { return params_.size(); }

  Status Error(std::string_view what) const {
    return InvalidArgument("indicator spec item " + std::to_string(position_) + " \"" +
                           std::string(text_) + "\": " + std::string(what));
  }

  Status ExpectParams(size_t min, size_t max, std::string_view usage) const {
    if (params_.size() < min || params_.size() > max) {
      return Error("expected " + std::string(usage) + ", got " + std::to_string(params_.size()) +
                   " parameter(s)");
    }
    return Status::Ok();
  }

  Result<int> Int(size_t idx, std::string_view field) const {
    const std::string_view text = params_[idx];
    int value = 0;
    const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || result.ec != std::errc() || result.ptr != text.data() + text.size()) {
      return Error(std::string(field) + " \"" + std::string(text) + "\" is not an integer");
    }
    return value;
  }

  Result<double> Double(size_t idx, std::string_view field) const {
    const std::string_view text = params_[idx];
    double value = 0.0;
    const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || result.ec != std::errc() || result.ptr != text.data() + text.size() ||
        !std::isfinite(value)) {
      return Error(std::string(field) + " \"" + std::string(text) + "\" is not a number");
    }
    return value;
  }

  // Wraps an indicator's own validation error with the item context.
  Status Check(const Status& status) const {
    if (status.ok()) return status;
    return Error(status.message());
  }

 private:
  size_t position_;
  std::string_view text_;
  std::string_view name_;
  std::vector<std::string_view> params_;
};

}  // namespace

Result<IndicatorSet> IndicatorSet::Parse(std::string_view spec) {
  IndicatorSet set;
  if (Trim(spec).empty()) {
    return InvalidArgument("indicator spec is empty; expected e.g. \"sma:30,rsi:14\" (known: " +
                           std::string(kKnownNames) + ")");
  }
  std::unordered_set<std::string> seen;
  const auto items = Split(spec, ',');
  for (size_t item_idx = 0; item_idx < items.size(); ++item_idx) {
    const std::string_view text = Trim(items[item_idx]);
    const ItemParser item(item_idx + 1, text);
    if (text.empty()) return item.Error("empty item");

    const size_t column = set.columns_.size();
    std::vector<std::string> names;
    Kind kind = Kind::kSma;
    size_t index = 0;
    const std::string_view name = item.name();
    if (name == "sma" || name == "ema" || name == "rsi" || name == "atr" || name == "stddev" ||
        name == "mom" || name == "roc") {
      AITS_RETURN_IF_ERROR(item.ExpectParams(1, 1, std::string(name) + ":period"));
      AITS_ASSIGN_OR_RETURN(const int period, item.Int(0, "period"));
      const std::string col = std::string(name) + "_" + std::to_string(period);
      names.push_back(col);
      if (name == "sma") {
        AITS_RETURN_IF_ERROR(item.Check(Sma::Validate(period)));
        kind = Kind::kSma;
        index = set.sma_.size();
        set.sma_.emplace_back(period);
      } else if (name == "ema") {
        AITS_RETURN_IF_ERROR(item.Check(Ema::Validate(period)));
        kind = Kind::kEma;
        index = set.ema_.size();
        set.ema_.emplace_back(period);
      } else if (name == "rsi") {
        AITS_RETURN_IF_ERROR(item.Check(Rsi::Validate(period)));
        kind = Kind::kRsi;
        index = set.rsi_.size();
        set.rsi_.emplace_back(period);
      } else if (name == "atr") {
        AITS_RETURN_IF_ERROR(item.Check(Atr::Validate(period)));
        kind = Kind::kAtr;
        index = set.atr_.size();
        set.atr_.emplace_back(period);
      } else if (name == "stddev") {
        AITS_RETURN_IF_ERROR(item.Check(StdDev::Validate(period)));
        kind = Kind::kStdDev;
        index = set.stddev_.size();
        set.stddev_.emplace_back(period);
      } else if (name == "mom") {
        AITS_RETURN_IF_ERROR(item.Check(Momentum::Validate(period)));
        kind = Kind::kMom;
        index = set.mom_.size();
        set.mom_.emplace_back(period);
      } else {
        AITS_RETURN_IF_ERROR(item.Check(Roc::Validate(period)));
        kind = Kind::kRoc;
        index = set.roc_.size();
        set.roc_.emplace_back(period);
      }
    } else if (name == "macd") {
      int fast = 12;
      int slow = 26;
      int signal = 9;
      if (item.param_count() != 0) {
        AITS_RETURN_IF_ERROR(item.ExpectParams(3, 3, "macd or macd:fast:slow:signal"));
        AITS_ASSIGN_OR_RETURN(fast, item.Int(0, "fast period"));
        AITS_ASSIGN_OR_RETURN(slow, item.Int(1, "slow period"));
        AITS_ASSIGN_OR_RETURN(signal, item.Int(2, "signal period"));
      }
      AITS_RETURN_IF_ERROR(item.Check(Macd::Validate(fast, slow, signal)));
      const std::string suffix =
          std::to_string(fast) + "_" + std::to_string(slow) + "_" + std::to_string(signal);
      names = {"macd_" + suffix, "macd_signal_" + suffix, "macd_hist_" + suffix};
      kind = Kind::kMacd;
      index = set.macd_.size();
      set.macd_.emplace_back(fast, slow, signal);
    } else if (name == "bbands") {
      AITS_RETURN_IF_ERROR(item.ExpectParams(0, 2, "bbands, bbands:period or bbands:period:k"));
      int period = 20;
      double k = 2.0;
      if (item.param_count() >= 1) {
        AITS_ASSIGN_OR_RETURN(period, item.Int(0, "period"));
      }
      if (item.param_count() == 2) {
        AITS_ASSIGN_OR_RETURN(k, item.Double(1, "deviation multiplier"));
      }
      AITS_RETURN_IF_ERROR(item.Check(Bollinger::Validate(period, k)));
      const std::string suffix = std::to_string(period) + "_" + FormatNumber(k);
      names = {"bb_upper_" + suffix, "bb_middle_" + suffix, "bb_lower_" + suffix,
               "bb_pctb_" + suffix};
      kind = Kind::kBbands;
      index = set.bbands_.size();
      set.bbands_.emplace_back(period, k);
    } else if (name == "vwap") {
      AITS_RETURN_IF_ERROR(item.ExpectParams(0, 0, "vwap without parameters"));
      names = {"vwap"};
      kind = Kind::kVwap;
      index = set.vwap_.size();
      set.vwap_.emplace_back();
    } else if (name == "cross") {
      AITS_RETURN_IF_ERROR(item.ExpectParams(2, 2, "cross:fast:slow"));
      AITS_ASSIGN_OR_RETURN(const int fast, item.Int(0, "fast period"));
      AITS_ASSIGN_OR_RETURN(const int slow, item.Int(1, "slow period"));
      AITS_RETURN_IF_ERROR(item.Check(Sma::Validate(fast)));
      AITS_RETURN_IF_ERROR(item.Check(Sma::Validate(slow)));
      if (fast >= slow) {
        return item.Error("fast period " + std::to_string(fast) +
                          " must be less than slow period " + std::to_string(slow));
      }
      names = {"cross_" + std::to_string(fast) + "_" + std::to_string(slow)};
      kind = Kind::kCross;
      index = set.cross_.size();
      set.cross_.push_back(CrossItem{Sma(fast), Sma(slow), Crossover()});
    } else {
      return item.Error("unknown indicator \"" + std::string(name) +
                        "\" (known: " + std::string(kKnownNames) + ")");
    }
    for (const std::string& col : names) {
      if (!seen.insert(col).second) return item.Error("duplicate column \"" + col + "\"");
      set.columns_.push_back(col);
    }
    set.items_.push_back(Item{kind, index, column});
  }
  return set;
}

void IndicatorSet::Update(const Bar& bar) {
  const double high = bar.mid.high.AsDouble();
  const double low = bar.mid.low.AsDouble();
  const double close = bar.mid.close.AsDouble();
  for (const Item& item : items_) {
    switch (item.kind) {
      case Kind::kSma:
        sma_[item.index].Update(close);
        break;
      case Kind::kEma:
        ema_[item.index].Update(close);
        break;
      case Kind::kRsi:
        rsi_[item.index].Update(close);
        break;
      case Kind::kAtr:
        atr_[item.index].Update(high, low, close);
        break;
      case Kind::kMacd:
        macd_[item.index].Update(close);
        break;
      case Kind::kBbands:
        bbands_[item.index].Update(close);
        break;
      case Kind::kStdDev:
        stddev_[item.index].Update(close);
        break;
      case Kind::kMom:
        mom_[item.index].Update(close);
        break;
      case Kind::kRoc:
        roc_[item.index].Update(close);
        break;
      case Kind::kVwap:
        vwap_[item.index].Update(bar.open_time, (high + low + close) / 3.0, bar.volume);
        break;
      case Kind::kCross: {
        CrossItem& cross = cross_[item.index];
        cross.fast.Update(close);
        cross.slow.Update(close);
        if (cross.fast.Ready() && cross.slow.Ready()) {
          cross.cross.Update(cross.fast.Value(), cross.slow.Value());
        }
        break;
      }
    }
  }
}

namespace {
template <typename Indicator>
std::optional<double> ValueOf(const Indicator& indicator) {
  return indicator.Ready() ? std::optional<double>(indicator.Value()) : std::nullopt;
}
}  // namespace

void IndicatorSet::Values(std::vector<std::optional<double>>* out) const {
  out->resize(columns_.size());
  std::vector<std::optional<double>>& values = *out;
  for (const Item& item : items_) {
    const size_t col = item.column;
    switch (item.kind) {
      case Kind::kSma:
        values[col] = ValueOf(sma_[item.index]);
        break;
      case Kind::kEma:
        values[col] = ValueOf(ema_[item.index]);
        break;
      case Kind::kRsi:
        values[col] = ValueOf(rsi_[item.index]);
        break;
      case Kind::kAtr:
        values[col] = ValueOf(atr_[item.index]);
        break;
      case Kind::kMacd: {
        const Macd& macd = macd_[item.index];
        const bool ready = macd.Ready();
        values[col] = ready ? std::optional<double>(macd.Value()) : std::nullopt;
        values[col + 1] = ready ? std::optional<double>(macd.Signal()) : std::nullopt;
        values[col + 2] = ready ? std::optional<double>(macd.Histogram()) : std::nullopt;
        break;
      }
      case Kind::kBbands: {
        const Bollinger& bb = bbands_[item.index];
        const bool ready = bb.Ready();
        values[col] = ready ? std::optional<double>(bb.Upper()) : std::nullopt;
        values[col + 1] = ready ? std::optional<double>(bb.Middle()) : std::nullopt;
        values[col + 2] = ready ? std::optional<double>(bb.Lower()) : std::nullopt;
        values[col + 3] = ready ? std::optional<double>(bb.PercentB()) : std::nullopt;
        break;
      }
      case Kind::kStdDev:
        values[col] = ValueOf(stddev_[item.index]);
        break;
      case Kind::kMom:
        values[col] = ValueOf(mom_[item.index]);
        break;
      case Kind::kRoc:
        values[col] = ValueOf(roc_[item.index]);
        break;
      case Kind::kVwap:
        values[col] = ValueOf(vwap_[item.index]);
        break;
      case Kind::kCross:
        values[col] = ValueOf(cross_[item.index].cross);
        break;
    }
  }
}

void IndicatorSet::Reset() {
  for (auto& x : sma_) x.Reset();
  for (auto& x : ema_) x.Reset();
  for (auto& x : rsi_) x.Reset();
  for (auto& x : atr_) x.Reset();
  for (auto& x : macd_) x.Reset();
  for (auto& x : bbands_) x.Reset();
  for (auto& x : stddev_) x.Reset();
  for (auto& x : mom_) x.Reset();
  for (auto& x : roc_) x.Reset();
  for (auto& x : vwap_) x.Reset();
  for (auto& cross : cross_) {
    cross.fast.Reset();
    cross.slow.Reset();
    cross.cross.Reset();
  }
}

}  // namespace aits::features
