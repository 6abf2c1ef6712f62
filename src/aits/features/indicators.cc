#include "aits/features/indicators.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <string>

namespace aits::features {
namespace {

Status CheckPeriod(std::string_view indicator, std::string_view name, int value, int min) {
  if (value < min || value > kMaxPeriod) {
    return InvalidArgument(std::string(indicator) + " " + std::string(name) + " " +
                           std::to_string(value) + " is outside " + std::to_string(min) + ".." +
                           std::to_string(kMaxPeriod));
  }
  return Status::Ok();
}

// Release builds clamp an invalid period so that a programmer error cannot index out of bounds.
int Clamp(int period, int min) { return std::clamp(period, min, kMaxPeriod); }

double PerToK(int period) { return 2.0 / (static_cast<double>(period) + 1.0); }

}  // namespace

namespace internal {

RingBuffer::RingBuffer(int capacity)
    : data_(static_cast<size_t>(std::max(capacity, 1))), capacity_(std::max(capacity, 1)) {}

void RingBuffer::Push(double x) {
  if (size_ < capacity_) {
    int pos = head_ + size_;
    if (pos >= capacity_) pos -= capacity_;
    data_[static_cast<size_t>(pos)] = x;
    ++size_;
    return;
  }
  data_[static_cast<size_t>(head_)] = x;  // overwrite the oldest
  if (++head_ == capacity_) head_ = 0;
}

RollingMoments::RollingMoments(int period) : window_(period), period_(window_.capacity()) {}

void RollingMoments::Add(double x) {
  if (window_.size() == 0) shift_ = x;
  if (window_.size() > 0 && x == window_.Newest()) {
    if (equal_run_ < period_) ++equal_run_;
  } else {
    equal_run_ = 1;
  }
  if (window_.Full()) {
    const double old = window_.Oldest() - shift_;
    sum_ -= old;
    sum_sq_ -= old * old;
  }
  window_.Push(x);
  const double d = x - shift_;
  sum_ += d;
  sum_sq_ += d * d;
  if (++since_recompute_ >= period_) Recompute();
}

void RollingMoments::Recompute() {
  since_recompute_ = 0;
  shift_ = window_.Newest();
  double sum = 0.0;
  double sum_sq = 0.0;
  for (int idx = 0; idx < window_.size(); ++idx) {
    const double d = window_.At(idx) - shift_;
    sum += d;
    sum_sq += d * d;
  }
  sum_ = sum;
  sum_sq_ = sum_sq;
}

double RollingMoments::Mean() const {
  if (equal_run_ >= window_.size()) return window_.Newest();
  return shift_ + sum_ / static_cast<double>(window_.size());
}

double RollingMoments::Variance() const {
  if (equal_run_ >= window_.size()) return 0.0;
  const double n = static_cast<double>(window_.size());
  const double mean_d = sum_ / n;
  const double variance = sum_sq_ / n - mean_d * mean_d;
  return variance > 0.0 ? variance : (std::isnan(variance) ? variance : 0.0);
}

void RollingMoments::Reset() {
  window_.Clear();
  shift_ = 0.0;
  sum_ = 0.0;
  sum_sq_ = 0.0;
  since_recompute_ = 0;
  equal_run_ = 0;
}

}  // namespace internal

// ---- Sma ----

Sma::Sma(int period) : period_(Clamp(period, 2)), moments_(period_) {
  assert(Validate(period).ok());
}
Status Sma::Validate(int period) { return CheckPeriod("SMA", "period", period, 2); }
Result<Sma> Sma::Create(int period) {
  AITS_RETURN_IF_ERROR(Validate(period));
  return Sma(period);
}
void Sma::Update(double value) { moments_.Add(value); }

// ---- Ema ----

Ema::Ema(int period) : period_(Clamp(period, 2)), k_(PerToK(period_)) {
  assert(Validate(period).ok());
}
Status Ema::Validate(int period) { return CheckPeriod("EMA", "period", period, 2); }
Result<Ema> Ema::Create(int period) {
  AITS_RETURN_IF_ERROR(Validate(period));
  return Ema(period);
}

void Ema::Update(double value) {
  if (count_ < period_) {
    seed_sum_ += value;
    if (++count_ == period_) ema_ = seed_sum_ / static_cast<double>(period_);
    return;
  }
  ema_ = (value - ema_) * k_ + ema_;  // TA-Lib's operation order
}

void Ema::Reset() {
  count_ = 0;
  seed_sum_ = 0.0;
  ema_ = 0.0;
}

// ---- Rsi ----

Rsi::Rsi(int period) : period_(Clamp(period, 2)) { assert(Validate(period).ok()); }
Status Rsi::Validate(int period) { return CheckPeriod("RSI", "period", period, 2); }
Result<Rsi> Rsi::Create(int period) {
  AITS_RETURN_IF_ERROR(Validate(period));
  return Rsi(period);
}

void Rsi::Update(double value) {
  if (count_ == 0) {
    prev_ = value;
    count_ = 1;
    return;
  }
  const double change = value - prev_;
  prev_ = value;
  const double n = static_cast<double>(period_);
  if (count_ <= period_) {
    if (change < 0.0) {
      avg_loss_ -= change;
    } else {
      avg_gain_ += change;
    }
    if (++count_ > period_) {
      avg_gain_ /= n;
      avg_loss_ /= n;
    }
    return;
  }
  avg_loss_ *= n - 1.0;
  avg_gain_ *= n - 1.0;
  if (change < 0.0) {
    avg_loss_ -= change;
  } else {
    avg_gain_ += change;
  }
  avg_loss_ /= n;
  avg_gain_ /= n;
}

double Rsi::Value() const {
  if (!Ready()) return internal::kNaN;
  const double total = avg_gain_ + avg_loss_;
  return total != 0.0 ? 100.0 * (avg_gain_ / total) : 0.0;
}

void Rsi::Reset() {
  count_ = 0;
  prev_ = 0.0;
  avg_gain_ = 0.0;
  avg_loss_ = 0.0;
}

// ---- Macd ----

Macd::Macd(int fast, int slow, int signal)
    : fast_period_(Clamp(fast, 2)),
      slow_period_(std::max(Clamp(slow, 2), fast_period_ + 1)),
      signal_period_(Clamp(signal, 1)),
      fast_k_(PerToK(fast_period_)),
      slow_k_(PerToK(slow_period_)),
      signal_k_(PerToK(signal_period_)) {
  assert(Validate(fast, slow, signal).ok());
}

Status Macd::Validate(int fast, int slow, int signal) {
  AITS_RETURN_IF_ERROR(CheckPeriod("MACD", "fast period", fast, 2));
  AITS_RETURN_IF_ERROR(CheckPeriod("MACD", "slow period", slow, 2));
  AITS_RETURN_IF_ERROR(CheckPeriod("MACD", "signal period", signal, 1));
  if (fast >= slow) {
    return InvalidArgument("MACD fast period " + std::to_string(fast) +
                           " must be less than slow period " + std::to_string(slow));
  }
  return Status::Ok();
}

Result<Macd> Macd::Create(int fast, int slow, int signal) {
  AITS_RETURN_IF_ERROR(Validate(fast, slow, signal));
  return Macd(fast, slow, signal);
}

void Macd::Update(double value) {
  if (count_ < slow_period_) {
    // Seeding: the slow EMA averages inputs [0, slow-1]; the fast EMA only the last `fast` of them.
    slow_ema_ += value;
    if (count_ >= slow_period_ - fast_period_) fast_ema_ += value;
    if (++count_ < slow_period_) return;
    slow_ema_ /= static_cast<double>(slow_period_);
    fast_ema_ /= static_cast<double>(fast_period_);
  } else {
    fast_ema_ = (value - fast_ema_) * fast_k_ + fast_ema_;
    slow_ema_ = (value - slow_ema_) * slow_k_ + slow_ema_;
  }
  macd_ = fast_ema_ - slow_ema_;
  if (signal_count_ < signal_period_) {
    signal_ += macd_;
    if (++signal_count_ == signal_period_) signal_ /= static_cast<double>(signal_period_);
    return;
  }
  signal_ = (macd_ - signal_) * signal_k_ + signal_;
}

void Macd::Reset() {
  count_ = 0;
  signal_count_ = 0;
  fast_ema_ = 0.0;
  slow_ema_ = 0.0;
  macd_ = 0.0;
  signal_ = 0.0;
}

// ---- Bollinger ----

Bollinger::Bollinger(int period, double k)
    : period_(Clamp(period, 2)), k_(std::isfinite(k) && k > 0.0 ? k : 2.0), moments_(period_) {
  assert(Validate(period, k).ok());
}

Status Bollinger::Validate(int period, double k) {
  AITS_RETURN_IF_ERROR(CheckPeriod("BBANDS", "period", period, 2));
  if (!std::isfinite(k) || k <= 0.0) {
    return InvalidArgument("BBANDS deviation multiplier " + std::to_string(k) +
                           " must be finite and > 0");
  }
  return Status::Ok();
}

Result<Bollinger> Bollinger::Create(int period, double k) {
  AITS_RETURN_IF_ERROR(Validate(period, k));
  return Bollinger(period, k);
}

void Bollinger::Update(double value) {
  moments_.Add(value);
  last_ = value;
  if (moments_.Full()) {
    middle_ = moments_.Mean();
    stddev_ = std::sqrt(moments_.Variance());
  }
}

double Bollinger::PercentB() const {
  if (!Ready()) return internal::kNaN;
  const double upper = Upper();
  const double lower = Lower();
  const double width = upper - lower;
  if (width == 0.0) return 0.5;
  return (last_ - lower) / width;
}

void Bollinger::Reset() {
  moments_.Reset();
  last_ = 0.0;
  middle_ = 0.0;
  stddev_ = 0.0;
}

// ---- Atr ----

Atr::Atr(int period) : period_(Clamp(period, 1)) { assert(Validate(period).ok()); }
Status Atr::Validate(int period) { return CheckPeriod("ATR", "period", period, 1); }
Result<Atr> Atr::Create(int period) {
  AITS_RETURN_IF_ERROR(Validate(period));
  return Atr(period);
}

void Atr::Update(double high, double low, double close) {
  if (count_ == 0) {
    prev_close_ = close;
    count_ = 1;
    return;
  }
  // TA-Lib's TRANGE, written the same way.
  double true_range = high - low;
  const double to_high = std::fabs(prev_close_ - high);
  if (to_high > true_range) true_range = to_high;
  const double to_low = std::fabs(prev_close_ - low);
  if (to_low > true_range) true_range = to_low;
  prev_close_ = close;

  const double n = static_cast<double>(period_);
  if (count_ <= period_) {
    atr_ += true_range;
    if (++count_ > period_) atr_ /= n;
    return;
  }
  atr_ = (atr_ * (n - 1.0) + true_range) / n;
}

void Atr::Reset() {
  count_ = 0;
  prev_close_ = 0.0;
  atr_ = 0.0;
}

// ---- StdDev ----

StdDev::StdDev(int period) : period_(Clamp(period, 2)), moments_(period_) {
  assert(Validate(period).ok());
}
Status StdDev::Validate(int period) { return CheckPeriod("STDDEV", "period", period, 2); }
Result<StdDev> StdDev::Create(int period) {
  AITS_RETURN_IF_ERROR(Validate(period));
  return StdDev(period);
}
void StdDev::Update(double value) { moments_.Add(value); }
double StdDev::Value() const { return Ready() ? std::sqrt(moments_.Variance()) : internal::kNaN; }

// ---- Momentum, Roc ----

Momentum::Momentum(int period) : period_(Clamp(period, 1)), window_(period_ + 1) {
  assert(Validate(period).ok());
}
Status Momentum::Validate(int period) { return CheckPeriod("MOM", "period", period, 1); }
Result<Momentum> Momentum::Create(int period) {
  AITS_RETURN_IF_ERROR(Validate(period));
  return Momentum(period);
}

Roc::Roc(int period) : period_(Clamp(period, 1)), window_(period_ + 1) {
  assert(Validate(period).ok());
}
Status Roc::Validate(int period) { return CheckPeriod("ROC", "period", period, 1); }
Result<Roc> Roc::Create(int period) {
  AITS_RETURN_IF_ERROR(Validate(period));
  return Roc(period);
}
double Roc::Value() const {
  if (!Ready()) return internal::kNaN;
  const double base = window_.Oldest();
  return base != 0.0 ? (window_.Newest() / base - 1.0) * 100.0 : 0.0;
}

// ---- Vwap ----

void Vwap::CompensatedSum::Add(double x) {
  const double t = sum + x;
  if (std::fabs(sum) >= std::fabs(x)) {
    compensation += (sum - t) + x;
  } else {
    compensation += (x - t) + sum;
  }
  sum = t;
}

void Vwap::Update(Timestamp ts, double price, double volume) {
  const int64_t day = FloorToDay(ts).ns / kNanosPerDay;
  if (count_ == 0 || day != day_) {
    Reset();
    day_ = day;
  }
  if (!std::isfinite(volume) || volume < 0.0) volume = 0.0;
  ++count_;
  price_.Add(price);
  if (volume > 0.0) {
    price_volume_.Add(price * volume);
    volume_.Add(volume);
  }
}

double Vwap::Value() const {
  if (!Ready()) return internal::kNaN;
  const double volume = volume_.Get();
  if (volume > 0.0) return price_volume_.Get() / volume;
  return price_.Get() / static_cast<double>(count_);
}

void Vwap::Reset() {
  day_ = 0;
  count_ = 0;
  price_volume_ = {};
  volume_ = {};
  price_ = {};
}

// ---- Crossover ----

void Crossover::Update(double a, double b) {
  const double tolerance = kCrossoverTieTolerance * std::max(std::fabs(a), std::fabs(b));
  const double diff = a - b;
  const int side = diff > tolerance ? 1 : (diff < -tolerance ? -1 : 0);  // NaN: a tie
  value_ = 0;
  if (count_ > 0 && side != 0 && last_side_ != 0 && side != last_side_) value_ = side;
  if (side != 0) last_side_ = side;
  if (count_ < 2) ++count_;
}

void Crossover::Reset() {
  count_ = 0;
  last_side_ = 0;
  value_ = 0;
}

}  // namespace aits::features
