// FeatureEngine: the ML feature set (docs/ml.md), computed streaming from ticks or bars, one row
// per closed base bar. The same object serves training (`aits features`, ml::BuildFeatureDataset)
// and live inference, so there is no train/serve skew.
//
// Timeframes. FeatureEngineConfig::timeframes lists the bar periods, ascending, the first being
// the base timeframe; every other one must be a multiple of the base. All bars are aligned to
// multiples of their period since the Unix epoch (UTC), like data::BarAggregator.
//   - Base bars come either from ticks (OnTick aggregates them with data::BarAggregator's
//     semantics, ADR 0002: a bar closes when the first tick of a later period arrives; periods
//     without ticks give no bar) or from a bar file (OnBar).
//   - A higher-timeframe bar is built from base bars and closes as soon as the base bar whose
//     close time is the higher bar's boundary (open + period) arrives, or, when that base bar is
//     missing (a gap), when the first base bar of a later period arrives.
//   - Every row is produced by one base bar; its time is that bar's close time t. A row holds,
//     for every timeframe, the features of that timeframe's LAST CLOSED bar; between closes a
//     higher timeframe's values stay as they were. No value at row time t depends on any bar
//     whose close time is after t (the no-lookahead invariant; tested on real data).
//
// Features, per timeframe, computed on closed bars from mid prices unless stated. c is the mid
// close, h/l the mid high/low, c[k] the close k bars ago. All are scale-free (ratios, returns,
// oscillators in 0..1) so that one model works across price levels. Indicators are those of
// indicators.h (TA-Lib definitions, population standard deviations):
//   price_change        c / c[1] - 1
//   price_volatility    StdDev(c, 20) / SMA(c, 20)
//   price_momentum      c / c[10] - 1
//   volume_change       v / v[1] - 1, and 0 when v[1] == 0
//   volume_avg_ratio    v / SMA(v, 20) (the window includes v), and 1 when that mean is 0
//                       where v is the bar's volume if > 0, else its tick count (FX bar files
//                       carry neither, which makes both volume features constant: harmless)
//   rsi                 RSI(c, 7) / 100
//   macd_signal         MACD signal line (12, 26, 9) / c
//   bollinger_position  %b of Bollinger(c, 20, 2): (c - lower) / (upper - lower); 0.5 if flat
//   bid_ask_spread      s = (ask close - bid close) / c
//   spread_volatility   StdDev(s, 10)
//   sma_20              SMA(c, 20) / c - 1
//   ema_12              EMA(c, 12) / c - 1
//   ema_26              EMA(c, 26) / c - 1
//   atr_14              ATR(h, l, c, 14) / c
//   volatility_20       StdDev(ln(c / c[1]), 20)
//   rsi_14              RSI(c, 14) / 100
//   macd                MACD line (12, 26, 9) / c (reported from the bar where the signal line
//                       starts, as TA-Lib does)
// A feature is NaN until its indicator has warmed up; the longest warm-up is MACD's 34 bars of
// its timeframe, so a row is Ready() once the highest timeframe has closed 34 bars.
//
// Columns are named "{feature}_{TF}" and ordered timeframe by timeframe (all features of the base
// timeframe first), features in the order above. TF is TimeframeName(): M1 M5 M15 M30 H1 H4 D1,
// generally S<n>, M<n>, H<n> or D<n> in the largest unit that divides the period.
//
// Versioning: Hash() identifies the definitions. It is the FNV-1a 64-bit hash (16 lower-case hex
// digits) of a canonical text holding kVersion, the timeframes in seconds and every feature's
// definition and parameters. A model trained on one hash must not be served features of another.
// kVersion is bumped whenever any definition above changes.
//
// Performance: OnTick and OnBar never allocate (everything is sized by Create) and do O(1) work
// per timeframe. The final, incomplete base bar of tick data is never turned into a row (its close
// is unknown), exactly as the kernel never trades on it.
//
// Thread-compatible: one engine per symbol and thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/features/indicators.h"
#include "aits/model/market.h"

namespace aits::features {

// Timeframe periods must be whole seconds, between one second and kMaxTimeframe.
inline constexpr Duration kMaxTimeframe = Duration::Days(366);
// At most this many timeframes in one engine.
inline constexpr size_t kMaxTimeframes = 16;

struct FeatureEngineConfig {
  std::vector<Duration> timeframes = {Duration::Minutes(1), Duration::Minutes(5),
                                      Duration::Minutes(15), Duration::Hours(1)};
};

// "M1", "M5", "M15", "M30", "H1", "H4", "D1"; "S30", "M2", "H12", "D7" in general (the largest of
// D, H, M, S that divides the period); sub-second periods as "<n>ns".
std::string TimeframeName(Duration period);

// Parses one timeframe: a letter S, M, H or D (any case) followed by a count ("M15", "h4"), or a
// count followed by s, m, h or d ("90s", "2h"). Errors quote the text.
Result<Duration> ParseTimeframe(std::string_view text);
// A comma-separated list of timeframes ("M1,M5,M15,H1"; spaces around items are ignored). Only
// the syntax is checked here; FeatureEngine::Create checks order and multiples.
Result<std::vector<Duration>> ParseTimeframes(std::string_view text);

class FeatureEngine {
 public:
  static constexpr std::string_view kVersion = "1";
  // Features per timeframe, and their names in column order.
  static constexpr size_t kFeaturesPerTimeframe = 17;
  static const std::array<std::string_view, kFeaturesPerTimeframe>& FeatureNames();

  // InvalidArgument, naming the offending timeframe, when the list is empty, longer than
  // kMaxTimeframes, not strictly ascending, holds a period that is not a positive whole number of
  // seconds up to kMaxTimeframe, or a period that is not a multiple of the first (base) one.
  static Result<FeatureEngine> Create(const FeatureEngineConfig& config);

  const FeatureEngineConfig& config() const { return config_; }
  Duration BaseTimeframe() const { return config_.timeframes.front(); }
  const std::string& Hash() const { return hash_; }
  // One name per column, "{feature}_{TF}", in the order of Values().
  const std::vector<std::string>& Names() const { return names_; }
  size_t size() const { return names_.size(); }

  // Feeds one tick (ticks must not go backwards; one from an earlier base period folds into the
  // current bar, as in BarAggregator). Returns true when the tick completed a base bar, i.e. a new
  // row is available in Values(). Never allocates.
  bool OnTick(const Tick& tick);
  // Feeds one base bar, for bar data. Precondition: bar.period == BaseTimeframe() and bars come in
  // time order (a bar that does not start after the previous one is a precondition breach: it is
  // ignored and false returned). Returns true: every bar is a new row.
  bool OnBar(const Bar& base_bar);

  // Every feature of every timeframe has a value (each timeframe has closed at least
  // WarmUpBars() bars).
  bool Ready() const;
  // Bars of each timeframe needed before all its features have values (34, MACD's warm-up).
  int WarmUpBars() const { return warm_up_bars_; }

  // The latest row, size() values; NaN where a feature is still warming up. Valid until the next
  // OnTick/OnBar/Reset.
  std::span<const double> Values() const { return values_; }
  // Writes the latest row narrowed to float. Precondition: out.size() == size().
  void CopyTo(std::span<float> out) const;
  // Close time of the base bar that produced the latest row.
  Timestamp RowTime() const { return row_time_; }
  // Mid close and ask - bid (price units) at the close of that base bar.
  double RowClose() const { return row_close_; }
  double RowSpread() const { return row_spread_; }
  // Base bars turned into rows since Create or Reset.
  uint64_t rows() const { return rows_; }

  // Back to the freshly created state (keeps the allocated buffers).
  void Reset();

 private:
  // A bar as the features see it: raw fixed-point prices (1e-9 units), converted to double
  // only when a bar closes.
  struct BarInput {
    int64_t open_ns = 0;
    int64_t close_ns = 0;
    int64_t mid_high = 0;  // raw fixed point
    int64_t mid_low = 0;
    int64_t mid_close = 0;
    int64_t bid_close = 0;
    int64_t ask_close = 0;
    double volume = 0;
    uint32_t tick_count = 0;
  };

  // Indicator state of one timeframe.
  struct Timeframe {
    explicit Timeframe(int64_t period);
    void Update(const BarInput& bar, double* out);
    void Reset();

    int64_t period_ns;
    // Higher timeframes: the bar being built from base bars.
    bool building = false;
    BarInput current;
    // Closed bars so far (saturates at a large number).
    int64_t closed = 0;
    double prev_close = 0;
    double prev_volume = 0;
    Bollinger bollinger{20, 2.0};     // price_volatility, bollinger_position, sma_20
    internal::RingBuffer closes{11};  // price_momentum: c and c[10]
    Sma volume_mean{20};
    Rsi rsi7{7};
    Macd macd{12, 26, 9};
    StdDev spread_sd{10};
    Ema ema12{12};
    Ema ema26{26};
    Atr atr{14};
    StdDev return_sd{20};
    Rsi rsi14{14};
  };

  FeatureEngine() = default;
  void ProcessBaseBar(const BarInput& bar);

  FeatureEngineConfig config_;
  std::string hash_;
  std::vector<std::string> names_;
  std::vector<Timeframe> timeframes_;
  std::vector<double> values_;
  int warm_up_bars_ = 0;

  // Base bar being aggregated from ticks.
  bool tick_bar_open_ = false;
  BarInput tick_bar_;
  int64_t last_bar_open_ns_ = 0;  // OnBar order check
  bool has_last_bar_ = false;

  Timestamp row_time_{};
  double row_close_ = internal::kNaN;
  double row_spread_ = internal::kNaN;
  uint64_t rows_ = 0;
};

}  // namespace aits::features
