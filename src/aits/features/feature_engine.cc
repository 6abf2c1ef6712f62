#include "aits/features/feature_engine.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "aits/core/hash.h"

namespace aits::features {
namespace {

constexpr int64_t kSecond = kNanosPerSecond;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;

// Price::AsDouble()'s conversion, so that values equal what any other code computes from a Price.
inline double ToDouble(int64_t raw) {
  return static_cast<double>(raw) / static_cast<double>(kFixedScale);
}

// Start of the period that holds t, aligned to the Unix epoch (floor, also before 1970).
inline int64_t PeriodStart(int64_t ts, int64_t period) {
  int64_t start = ts - ts % period;
  if (ts < 0 && ts % period != 0) start -= period;
  return start;
}

std::string Hex16(uint64_t value) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(value));
  return buf;
}

constexpr std::array<std::string_view, FeatureEngine::kFeaturesPerTimeframe> kFeatureNames = {
    "price_change",
    "price_volatility",
    "price_momentum",
    "volume_change",
    "volume_avg_ratio",
    "rsi",
    "macd_signal",
    "bollinger_position",
    "bid_ask_spread",
    "spread_volatility",
    "sma_20",
    "ema_12",
    "ema_26",
    "atr_14",
    "volatility_20",
    "rsi_14",
    "macd"};

// The canonical definition of every feature, in column order: what Hash() covers. Any change
// to a definition must change this text (and kVersion).
constexpr std::array<std::string_view, FeatureEngine::kFeaturesPerTimeframe> kDefinitions = {
    "price_change=mid.close/mid.close[1]-1",
    "price_volatility=stddev_pop(mid.close,20)/sma(mid.close,20)",
    "price_momentum=mid.close/mid.close[10]-1",
    "volume_change=v/v[1]-1|0 if v[1]==0;v=volume if >0 else tick_count",
    "volume_avg_ratio=v/sma(v,20)|1 if sma==0",
    "rsi=rsi_wilder(mid.close,7)/100",
    "macd_signal=macd_signal(mid.close,12,26,9)/mid.close",
    "bollinger_position=percent_b(mid.close,20,2)|0.5 if flat",
    "bid_ask_spread=(ask.close-bid.close)/mid.close",
    "spread_volatility=stddev_pop(bid_ask_spread,10)",
    "sma_20=sma(mid.close,20)/mid.close-1",
    "ema_12=ema_sma_seeded(mid.close,12)/mid.close-1",
    "ema_26=ema_sma_seeded(mid.close,26)/mid.close-1",
    "atr_14=atr_wilder(mid,14)/mid.close",
    "volatility_20=stddev_pop(ln(mid.close/mid.close[1]),20)",
    "rsi_14=rsi_wilder(mid.close,14)/100",
    "macd=macd_line(mid.close,12,26,9)/mid.close;from signal start"};

Status BadTimeframe(std::string_view text, std::string_view why) {
  return InvalidArgument("timeframe '" + std::string(text) + "' " + std::string(why) +
                         " (expected e.g. M1, M5, M15, M30, H1, H4, D1, or 90s, 2h)");
}

}  // namespace

std::string TimeframeName(Duration period) {
  const int64_t ns = period.ns;
  if (ns > 0 && ns % kDay == 0) return "D" + std::to_string(ns / kDay);
  if (ns > 0 && ns % kHour == 0) return "H" + std::to_string(ns / kHour);
  if (ns > 0 && ns % kMinute == 0) return "M" + std::to_string(ns / kMinute);
  if (ns > 0 && ns % kSecond == 0) return "S" + std::to_string(ns / kSecond);
  return std::to_string(ns) + "ns";
}

Result<Duration> ParseTimeframe(std::string_view text) {
  if (text.size() < 2) return BadTimeframe(text, "is too short");
  const auto unit_of = [](char ch) -> int64_t {
    switch (std::tolower(static_cast<unsigned char>(ch))) {
      case 's':
        return kSecond;
      case 'm':
        return kMinute;
      case 'h':
        return kHour;
      case 'd':
        return kDay;
      default:
        return 0;
    }
  };
  std::string_view digits;
  int64_t unit = 0;
  if (std::isalpha(static_cast<unsigned char>(text.front()))) {
    unit = unit_of(text.front());
    digits = text.substr(1);
  } else {
    unit = unit_of(text.back());
    digits = text.substr(0, text.size() - 1);
  }
  if (unit == 0) return BadTimeframe(text, "has no unit S, M, H or D");
  if (digits.empty()) return BadTimeframe(text, "has no count");
  int64_t count = 0;
  for (char ch : digits) {
    if (!std::isdigit(static_cast<unsigned char>(ch))) return BadTimeframe(text, "is not a count");
    count = count * 10 + (ch - '0');
    if (count > 100'000'000) return BadTimeframe(text, "is too long");
  }
  if (count == 0) return BadTimeframe(text, "is zero");
  const Duration period{count * unit};
  if (period > kMaxTimeframe) return BadTimeframe(text, "is longer than 366 days");
  return period;
}

Result<std::vector<Duration>> ParseTimeframes(std::string_view text) {
  std::vector<Duration> periods;
  size_t pos = 0;
  while (true) {
    const size_t comma = text.find(',', pos);
    std::string_view item =
        text.substr(pos, comma == std::string_view::npos ? text.npos : comma - pos);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) {
      item.remove_prefix(1);
    }
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) {
      item.remove_suffix(1);
    }
    if (item.empty()) {
      return InvalidArgument("timeframe list '" + std::string(text) + "' has an empty item " +
                             std::to_string(periods.size() + 1));
    }
    AITS_ASSIGN_OR_RETURN(Duration period, ParseTimeframe(item));
    periods.push_back(period);
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return periods;
}

const std::array<std::string_view, FeatureEngine::kFeaturesPerTimeframe>&
FeatureEngine::FeatureNames() {
  return kFeatureNames;
}

Result<FeatureEngine> FeatureEngine::Create(const FeatureEngineConfig& config) {
  const std::vector<Duration>& tfs = config.timeframes;
  if (tfs.empty()) return InvalidArgument("no timeframes given");
  if (tfs.size() > kMaxTimeframes) {
    return InvalidArgument(std::to_string(tfs.size()) + " timeframes given; at most " +
                           std::to_string(kMaxTimeframes) + " are supported");
  }
  for (size_t idx = 0; idx < tfs.size(); ++idx) {
    const Duration tf = tfs[idx];
    const std::string name = TimeframeName(tf);
    if (tf.ns <= 0) return InvalidArgument("timeframe " + name + " is not positive");
    if (tf.ns % kSecond != 0) {
      return InvalidArgument("timeframe " + name + " is not a whole number of seconds");
    }
    if (tf > kMaxTimeframe) {
      return InvalidArgument("timeframe " + name + " is longer than 366 days");
    }
    if (idx > 0 && tf <= tfs[idx - 1]) {
      return InvalidArgument("timeframes must be strictly ascending: " + name + " comes after " +
                             TimeframeName(tfs[idx - 1]));
    }
    if (idx > 0 && tf.ns % tfs[0].ns != 0) {
      return InvalidArgument("timeframe " + name + " is not a multiple of the base timeframe " +
                             TimeframeName(tfs[0]));
    }
  }

  FeatureEngine engine;
  engine.config_ = config;
  std::string canonical = "aits-features\nversion=" + std::string(kVersion) + "\ntimeframes_s=";
  for (size_t idx = 0; idx < tfs.size(); ++idx) {
    if (idx > 0) canonical += ',';
    canonical += std::to_string(tfs[idx].ns / kSecond);
  }
  canonical += '\n';
  for (std::string_view definition : kDefinitions) {
    canonical += definition;
    canonical += '\n';
  }
  engine.hash_ = Hex16(Fnv1a64(canonical));
  engine.timeframes_.reserve(tfs.size());
  for (const Duration tf : tfs) {
    const std::string suffix = "_" + TimeframeName(tf);
    for (std::string_view feature : kFeatureNames) {
      engine.names_.push_back(std::string(feature) + suffix);
    }
    engine.timeframes_.emplace_back(tf.ns);
  }
  const Timeframe& probe = engine.timeframes_.front();
  // Bars needed before the last feature gets a value; inputs needing a previous bar add one.
  engine.warm_up_bars_ =
      std::max({probe.bollinger.WarmUp(), probe.closes.capacity(), probe.volume_mean.WarmUp(),
                probe.rsi7.WarmUp(), probe.macd.WarmUp(), probe.spread_sd.WarmUp(),
                probe.ema12.WarmUp(), probe.ema26.WarmUp(), probe.atr.WarmUp(),
                probe.return_sd.WarmUp() + 1, probe.rsi14.WarmUp()});
  engine.values_.assign(engine.names_.size(), internal::kNaN);
  return engine;
}

FeatureEngine::Timeframe::Timeframe(int64_t period) : period_ns(period) {}

void FeatureEngine::Timeframe::Reset() {
  building = false;
  current = BarInput{};
  closed = 0;
  prev_close = 0;
  prev_volume = 0;
  bollinger.Reset();
  closes.Clear();
  volume_mean.Reset();
  rsi7.Reset();
  macd.Reset();
  spread_sd.Reset();
  ema12.Reset();
  ema26.Reset();
  atr.Reset();
  return_sd.Reset();
  rsi14.Reset();
}

void FeatureEngine::Timeframe::Update(const BarInput& bar, double* out) {
  constexpr double kNaN = internal::kNaN;
  const double c = ToDouble(bar.mid_close);
  const double h = ToDouble(bar.mid_high);
  const double l = ToDouble(bar.mid_low);
  const double v = bar.volume > 0 ? bar.volume : static_cast<double>(bar.tick_count);
  const double spread = ToDouble(bar.ask_close - bar.bid_close) / c;
  const bool has_prev = closed > 0;

  bollinger.Update(c);
  closes.Push(c);
  volume_mean.Update(v);
  rsi7.Update(c);
  macd.Update(c);
  spread_sd.Update(spread);
  ema12.Update(c);
  ema26.Update(c);
  atr.Update(h, l, c);
  if (has_prev) return_sd.Update(std::log(c / prev_close));
  rsi14.Update(c);

  out[0] = has_prev ? c / prev_close - 1.0 : kNaN;
  out[1] = bollinger.StdDev() / bollinger.Middle();
  out[2] = closes.Full() ? c / closes.Oldest() - 1.0 : kNaN;
  out[3] = has_prev ? (prev_volume != 0.0 ? v / prev_volume - 1.0 : 0.0) : kNaN;
  if (volume_mean.Ready()) {
    const double mean = volume_mean.Value();
    out[4] = mean != 0.0 ? v / mean : 1.0;
  } else {
    out[4] = kNaN;
  }
  out[5] = rsi7.Value() / 100.0;
  out[6] = macd.Signal() / c;
  out[7] = bollinger.PercentB();
  out[8] = spread;
  out[9] = spread_sd.Value();
  out[10] = bollinger.Middle() / c - 1.0;
  out[11] = ema12.Value() / c - 1.0;
  out[12] = ema26.Value() / c - 1.0;
  out[13] = atr.Value() / c;
  out[14] = return_sd.Value();
  out[15] = rsi14.Value() / 100.0;
  out[16] = macd.Value() / c;

  prev_close = c;
  prev_volume = v;
  if (closed < (int64_t{1} << 62)) ++closed;
}

void FeatureEngine::ProcessBaseBar(const BarInput& bar) {
  double* values = values_.data();
  timeframes_[0].Update(bar, values);
  for (size_t tf_idx = 1; tf_idx < timeframes_.size(); ++tf_idx) {
    Timeframe& tf = timeframes_[tf_idx];
    double* out = values + tf_idx * kFeaturesPerTimeframe;
    const int64_t open = PeriodStart(bar.open_ns, tf.period_ns);
    // A base bar of a later period closes a bar whose boundary bar never came (a gap).
    if (tf.building && open > tf.current.open_ns) {
      tf.Update(tf.current, out);
      tf.building = false;
    }
    if (tf.building) {
      BarInput& cur = tf.current;
      cur.mid_high = std::max(cur.mid_high, bar.mid_high);
      cur.mid_low = std::min(cur.mid_low, bar.mid_low);
      cur.mid_close = bar.mid_close;
      cur.bid_close = bar.bid_close;
      cur.ask_close = bar.ask_close;
      cur.volume += bar.volume;
      cur.tick_count += bar.tick_count;
    } else {
      tf.current = bar;
      tf.current.open_ns = open;
      tf.current.close_ns = open + tf.period_ns;
      tf.building = true;
    }
    // The base bar that ends on the boundary completes the bar: its close is known now.
    if (bar.close_ns >= tf.current.close_ns) {
      tf.Update(tf.current, out);
      tf.building = false;
    }
  }
  row_time_ = Timestamp{bar.close_ns};
  row_close_ = ToDouble(bar.mid_close);
  row_spread_ = ToDouble(bar.ask_close - bar.bid_close);
  ++rows_;
}

bool FeatureEngine::OnTick(const Tick& tick) {
  const int64_t base = timeframes_[0].period_ns;
  const int64_t open = PeriodStart(tick.ts.ns, base);
  // Tick::Mid(), as BarAggregator computes it.
  const int64_t mid = (tick.bid.raw() + tick.ask.raw()) / 2;
  const double volume = static_cast<double>(tick.bid_volume) + tick.ask_volume;
  if (tick_bar_open_ && open <= tick_bar_.open_ns) {
    tick_bar_.mid_high = std::max(tick_bar_.mid_high, mid);
    tick_bar_.mid_low = std::min(tick_bar_.mid_low, mid);
    tick_bar_.mid_close = mid;
    tick_bar_.bid_close = tick.bid.raw();
    tick_bar_.ask_close = tick.ask.raw();
    tick_bar_.volume += volume;
    ++tick_bar_.tick_count;
    return false;
  }
  const bool completed = tick_bar_open_;
  const BarInput finished = tick_bar_;
  tick_bar_.open_ns = open;
  tick_bar_.close_ns = open + base;
  tick_bar_.mid_high = tick_bar_.mid_low = tick_bar_.mid_close = mid;
  tick_bar_.bid_close = tick.bid.raw();
  tick_bar_.ask_close = tick.ask.raw();
  tick_bar_.volume = volume;
  tick_bar_.tick_count = 1;
  tick_bar_open_ = true;
  if (completed) ProcessBaseBar(finished);
  return completed;
}

bool FeatureEngine::OnBar(const Bar& base_bar) {
  const int64_t open = base_bar.open_time.ns;
  if (has_last_bar_ && open <= last_bar_open_ns_) return false;
  has_last_bar_ = true;
  last_bar_open_ns_ = open;
  BarInput input;
  input.open_ns = open;
  input.close_ns = open + timeframes_[0].period_ns;
  input.mid_high = base_bar.mid.high.raw();
  input.mid_low = base_bar.mid.low.raw();
  input.mid_close = base_bar.mid.close.raw();
  input.bid_close = base_bar.bid.close.raw();
  input.ask_close = base_bar.ask.close.raw();
  input.volume = base_bar.volume;
  input.tick_count = base_bar.tick_count;
  ProcessBaseBar(input);
  return true;
}

bool FeatureEngine::Ready() const {
  for (const Timeframe& tf : timeframes_) {
    if (tf.closed < warm_up_bars_) return false;
  }
  return true;
}

void FeatureEngine::CopyTo(std::span<float> out) const {
  const size_t count = std::min(out.size(), values_.size());
  for (size_t idx = 0; idx < count; ++idx) out[idx] = static_cast<float>(values_[idx]);
}

void FeatureEngine::Reset() {
  for (Timeframe& tf : timeframes_) tf.Reset();
  std::fill(values_.begin(), values_.end(), internal::kNaN);
  tick_bar_open_ = false;
  tick_bar_ = BarInput{};
  has_last_bar_ = false;
  last_bar_open_ns_ = 0;
  row_time_ = Timestamp{};
  row_close_ = internal::kNaN;
  row_spread_ = internal::kNaN;
  rows_ = 0;
}

}  // namespace aits::features
