// Streaming technical indicators: one input at a time, O(1) per update, never looking ahead.
//
// Values and warm-up lengths follow TA-Lib's definitions (default compatibility mode, no unstable
// period), so a strategy developed against TA-Lib output sees the same numbers here:
//   Sma       simple mean of the last N inputs.                           TA-Lib lookback N-1.
//   Ema       seeded with the SMA of the first N inputs, then
//             ema += (x - ema) * k with k = 2 / (N + 1).                  lookback N-1.
//   Rsi       Wilder: the first average gain/loss is the plain mean of the first N changes, then
//             avg = (avg * (N-1) + change) / N; RSI = 100 * gain / (gain + loss), and 0 when both
//             averages are 0 (TA-Lib's convention).                       lookback N.
//   Macd      fast EMA - slow EMA, both seeded so that the first MACD value is at input slow-1: the
//             slow EMA from the SMA of inputs [0, slow-1], the fast EMA from the SMA of the fast
//             window ENDING at slow-1 (inputs [slow-fast, slow-1]); the signal EMA is seeded with
//             the SMA of the first `signal` MACD values; histogram = MACD - signal. All three
//             outputs start together, as in TA-Lib.                      lookback slow+signal-2.
//   Bollinger middle = SMA(N), upper/lower = middle +- k * population stddev of the same window;
//             %b = (x - lower) / (upper - lower), defined as 0.5 when the band has zero width
//             (a flat window), where the ratio has no value.              lookback N-1.
//   Atr       Wilder: TR = max(high, prev close) - min(low, prev close), which needs the previous
//             close, so the first TR is at input 1; the first ATR is the mean of TR[1..N], then
//             atr = (atr * (N-1) + tr) / N.                               lookback N.
//   StdDev    population standard deviation of the last N inputs (TA-Lib STDDEV, nbdev 1).
//                                                                         lookback N-1.
//   Momentum  x - x[t-N].                                                 lookback N.
//   Roc       (x / x[t-N] - 1) * 100, and 0 when x[t-N] is 0 (TA-Lib's convention). lookback N.
//   Vwap      sum(price * volume) / sum(volume) since the start of the current UTC day; not a
//             TA-Lib function. Sessions reset whenever an update's UTC day differs from the
//             previous update's. When the session's volume sum is zero (feeds without volume,
//             e.g. FX quotes) every bar of the session weighs the same: the plain mean of the
//             prices. Non-finite or negative volume counts as zero.        lookback 0.
//   Crossover +1 on the update where a moves from below b to above it, -1 for the reverse, 0
//             otherwise. "Below/above" is remembered through updates where a == b, so touching b
//             and returning is not a cross (as backtrader's CrossOver). a and b within
//             kCrossoverTieTolerance of each other (relative) count as equal: two averages that
//             are mathematically equal differ by rounding noise (~1e-16), which must not decide
//             a cross. Needs a previous pair.                             lookback 1.
//
// Deliberate difference from the TA-Lib C code: TA-Lib treats values below 1e-8 as zero in RSI,
// STDDEV and BBANDS (TA_IS_ZERO / TA_IS_ZERO_OR_NEG in ta_utility.h; 1e-14 in newer releases).
// For FX prices a 20-bar variance is itself about 1e-8..1e-10, so that rule would report a zero
// standard deviation for ordinary quiet markets. Here only exact zero is zero.
//
// Common interface of every class:
//   Update(...)  feeds the next input. O(1); amortised O(1) for the windowed sums (see below);
//                never allocates.
//   Ready()      true once the indicator has an output, i.e. after WarmUp() inputs.
//   WarmUp()     the number of inputs needed before the first output = TA-Lib lookback + 1. The
//                first output therefore belongs to input index WarmUp() - 1 (= Lookback()).
//   Value()      the main output (MACD line for Macd, middle band for Bollinger, +1/-1/0 for
//                Crossover). NaN while !Ready().
//   Reset()      back to the freshly constructed state (keeps the allocated buffers).
//
// Periods: constructors take periods that must satisfy Validate() (TA-Lib's ranges, up to
// kMaxPeriod); passing an invalid one is a programmer error (asserted in debug builds; release
// builds clamp it into range so behaviour stays defined). For periods from configuration or a user,
// call Create(), which returns an error naming the parameter and the value.
//
// Windowed sums (Sma, StdDev, Bollinger) keep running sums of the window shifted by a reference
// value and recompute them exactly from the ring buffer once every N updates (moving the reference
// to the newest input). Rounding errors therefore cannot accumulate beyond N updates and the
// shift keeps the variance free of the cancellation in E[x^2] - E[x]^2; the recompute costs N
// operations every N updates (amortised O(1)). A window whose N values are all equal reports its
// mean and a standard deviation of exactly 0.
//
// Inputs that are NaN or infinite never crash anything; they make outputs NaN. Windowed
// indicators recover at the first exact recompute after the value has left the window (within
// 2N updates); recursive ones (EMA, RSI, ATR, MACD) stay NaN until Reset().
//
// Thread-compatible: distinct objects may be used from distinct threads.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "aits/core/status.h"
#include "aits/core/time.h"

namespace aits::features {

// TA-Lib's upper limit for every period.
inline constexpr int kMaxPeriod = 100'000;

// Crossover treats |a - b| <= kCrossoverTieTolerance * max(|a|, |b|) as a tie.
inline constexpr double kCrossoverTieTolerance = 1e-12;

namespace internal {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Fixed-capacity ring of doubles allocated once at construction.
class RingBuffer {
 public:
  explicit RingBuffer(int capacity);

  // Appends x, dropping the oldest value when full.
  void Push(double x);
  // idx 0 is the oldest held value; precondition idx < size().
  double At(int idx) const {
    int pos = head_ + idx;
    if (pos >= capacity_) pos -= capacity_;
    return data_[static_cast<size_t>(pos)];
  }
  double Oldest() const { return At(0); }
  double Newest() const { return At(size_ - 1); }
  int size() const { return size_; }
  int capacity() const { return capacity_; }
  bool Full() const { return size_ == capacity_; }
  void Clear() {
    head_ = 0;
    size_ = 0;
  }

 private:
  std::vector<double> data_;
  int capacity_;
  int head_ = 0;  // position of the oldest value
  int size_ = 0;
};

// Mean and population variance of the last N inputs; see "Windowed sums" above.
class RollingMoments {
 public:
  explicit RollingMoments(int period);

  void Add(double x);
  bool Full() const { return window_.Full(); }
  double Mean() const;
  double Variance() const;
  void Reset();

 private:
  void Recompute();

  RingBuffer window_;
  int period_;
  double shift_ = 0.0;   // reference value subtracted from every input
  double sum_ = 0.0;     // sum of (x - shift_) over the window
  double sum_sq_ = 0.0;  // sum of (x - shift_)^2 over the window
  int since_recompute_ = 0;
  int equal_run_ = 0;  // how many of the latest inputs equal the newest one
};

}  // namespace internal

class Sma {
 public:
  explicit Sma(int period);
  // OK if 2 <= period <= kMaxPeriod (TA-Lib's range).
  static Status Validate(int period);
  static Result<Sma> Create(int period);

  void Update(double value);
  bool Ready() const { return moments_.Full(); }
  double Value() const { return Ready() ? moments_.Mean() : internal::kNaN; }
  int WarmUp() const { return period_; }
  int Lookback() const { return WarmUp() - 1; }
  int period() const { return period_; }
  void Reset() { moments_.Reset(); }

 private:
  int period_;
  internal::RollingMoments moments_;
};

class Ema {
 public:
  explicit Ema(int period);
  // OK if 2 <= period <= kMaxPeriod.
  static Status Validate(int period);
  static Result<Ema> Create(int period);

  void Update(double value);
  bool Ready() const { return count_ >= period_; }
  double Value() const { return Ready() ? ema_ : internal::kNaN; }
  int WarmUp() const { return period_; }
  int Lookback() const { return WarmUp() - 1; }
  int period() const { return period_; }
  void Reset();

 private:
  int period_;
  double k_;
  int count_ = 0;  // saturates at period_
  double seed_sum_ = 0.0;
  double ema_ = 0.0;
};

class Rsi {
 public:
  explicit Rsi(int period);
  // OK if 2 <= period <= kMaxPeriod.
  static Status Validate(int period);
  static Result<Rsi> Create(int period);

  void Update(double value);
  bool Ready() const { return count_ > period_; }
  double Value() const;
  int WarmUp() const { return period_ + 1; }
  int Lookback() const { return WarmUp() - 1; }
  int period() const { return period_; }
  void Reset();

 private:
  int period_;
  int count_ = 0;  // inputs seen, saturates at period_ + 1
  double prev_ = 0.0;
  double avg_gain_ = 0.0;  // a plain sum until the first output
  double avg_loss_ = 0.0;
};

class Macd {
 public:
  explicit Macd(int fast = 12, int slow = 26, int signal = 9);
  // OK if 2 <= fast < slow <= kMaxPeriod and 1 <= signal <= kMaxPeriod. (TA-Lib swaps fast and
  // slow when given in the wrong order; here that is an error, since it is almost surely a typo.)
  static Status Validate(int fast, int slow, int signal);
  static Result<Macd> Create(int fast = 12, int slow = 26, int signal = 9);

  void Update(double value);
  bool Ready() const { return signal_count_ >= signal_period_; }
  // The MACD line alone is known signal-1 inputs earlier than the rest.
  bool LineReady() const { return count_ >= slow_period_; }
  double Value() const { return Ready() ? macd_ : internal::kNaN; }
  double Signal() const { return Ready() ? signal_ : internal::kNaN; }
  double Histogram() const { return Ready() ? macd_ - signal_ : internal::kNaN; }
  int WarmUp() const { return slow_period_ + signal_period_ - 1; }
  int Lookback() const { return WarmUp() - 1; }
  void Reset();

 private:
  int fast_period_;
  int slow_period_;
  int signal_period_;
  double fast_k_;
  double slow_k_;
  double signal_k_;
  int count_ = 0;          // inputs seen, saturates at slow_period_
  int signal_count_ = 0;   // MACD values seen, saturates at signal_period_
  double fast_ema_ = 0.0;  // a plain sum until input slow-1
  double slow_ema_ = 0.0;
  double macd_ = 0.0;
  double signal_ = 0.0;  // a plain sum until the signal is seeded
};

class Bollinger {
 public:
  explicit Bollinger(int period = 20, double k = 2.0);
  // OK if 2 <= period <= kMaxPeriod and k is finite and > 0.
  static Status Validate(int period, double k);
  static Result<Bollinger> Create(int period = 20, double k = 2.0);

  void Update(double value);
  bool Ready() const { return moments_.Full(); }
  double Value() const { return Middle(); }
  double Middle() const { return Ready() ? middle_ : internal::kNaN; }
  double Upper() const { return Ready() ? middle_ + k_ * stddev_ : internal::kNaN; }
  double Lower() const { return Ready() ? middle_ - k_ * stddev_ : internal::kNaN; }
  double PercentB() const;
  double StdDev() const { return Ready() ? stddev_ : internal::kNaN; }
  int WarmUp() const { return period_; }
  int Lookback() const { return WarmUp() - 1; }
  void Reset();

 private:
  int period_;
  double k_;
  internal::RollingMoments moments_;
  double last_ = 0.0;
  double middle_ = 0.0;
  double stddev_ = 0.0;
};

class Atr {
 public:
  explicit Atr(int period);
  // OK if 1 <= period <= kMaxPeriod (TA-Lib's range; period 1 is the true range itself).
  static Status Validate(int period);
  static Result<Atr> Create(int period);

  void Update(double high, double low, double close);
  bool Ready() const { return count_ > period_; }
  double Value() const { return Ready() ? atr_ : internal::kNaN; }
  int WarmUp() const { return period_ + 1; }
  int Lookback() const { return WarmUp() - 1; }
  int period() const { return period_; }
  void Reset();

 private:
  int period_;
  int count_ = 0;  // inputs seen, saturates at period_ + 1
  double prev_close_ = 0.0;
  double atr_ = 0.0;  // a plain sum of TRs until the first output
};

class StdDev {
 public:
  explicit StdDev(int period);
  // OK if 2 <= period <= kMaxPeriod.
  static Status Validate(int period);
  static Result<StdDev> Create(int period);

  void Update(double value);
  bool Ready() const { return moments_.Full(); }
  double Value() const;
  int WarmUp() const { return period_; }
  int Lookback() const { return WarmUp() - 1; }
  int period() const { return period_; }
  void Reset() { moments_.Reset(); }

 private:
  int period_;
  internal::RollingMoments moments_;
};

class Momentum {
 public:
  explicit Momentum(int period);
  // OK if 1 <= period <= kMaxPeriod.
  static Status Validate(int period);
  static Result<Momentum> Create(int period);

  void Update(double value) { window_.Push(value); }
  bool Ready() const { return window_.Full(); }
  double Value() const { return Ready() ? window_.Newest() - window_.Oldest() : internal::kNaN; }
  int WarmUp() const { return period_ + 1; }
  int Lookback() const { return WarmUp() - 1; }
  int period() const { return period_; }
  void Reset() { window_.Clear(); }

 private:
  int period_;
  internal::RingBuffer window_;  // the last period+1 inputs
};

class Roc {
 public:
  explicit Roc(int period);
  // OK if 1 <= period <= kMaxPeriod.
  static Status Validate(int period);
  static Result<Roc> Create(int period);

  void Update(double value) { window_.Push(value); }
  bool Ready() const { return window_.Full(); }
  double Value() const;
  int WarmUp() const { return period_ + 1; }
  int Lookback() const { return WarmUp() - 1; }
  int period() const { return period_; }
  void Reset() { window_.Clear(); }

 private:
  int period_;
  internal::RingBuffer window_;  // the last period+1 inputs
};

class Vwap {
 public:
  Vwap() = default;

  // `price` is what the caller weighs, usually the typical price (high + low + close) / 3.
  void Update(Timestamp ts, double price, double volume);
  bool Ready() const { return count_ > 0; }
  double Value() const;
  int WarmUp() const { return 1; }
  int Lookback() const { return 0; }
  void Reset();

 private:
  // Neumaier-compensated running sum: a session can hold many bars of large price*volume.
  struct CompensatedSum {
    double sum = 0.0;
    double compensation = 0.0;
    void Add(double x);
    double Get() const { return sum + compensation; }
  };

  int64_t day_ = 0;    // UTC day number of the current session
  int64_t count_ = 0;  // bars in the current session
  CompensatedSum price_volume_;
  CompensatedSum volume_;
  CompensatedSum price_;  // for the equal-weight fallback
};

class Crossover {
 public:
  Crossover() = default;

  void Update(double a, double b);
  bool Ready() const { return count_ >= 2; }
  double Value() const { return Ready() ? static_cast<double>(value_) : internal::kNaN; }
  int WarmUp() const { return 2; }
  int Lookback() const { return 1; }
  void Reset();

 private:
  int count_ = 0;      // saturates at 2
  int last_side_ = 0;  // sign of a - b at the last update where it was not zero (0: never)
  int value_ = 0;
};

}  // namespace aits::features
