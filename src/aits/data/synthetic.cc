#include "aits/data/synthetic.h"

#include <algorithm>
#include <cmath>

namespace aits::data {
namespace {

struct Regime {
  double step;        // standard deviation of one log-price step
  double spread_low;  // spread range, in pips
  double spread_high;
  int gap_bias;  // -1 shorter gaps, 0 neutral, +1 longer gaps
};

// Calm, normal, volatile. Steps are relative: 2.5e-5 is ~0.3 pip on EUR/USD.
constexpr Regime kRegimes[3] = {
    {1.2e-5, 0.5, 0.9, +1},
    {2.5e-5, 0.6, 1.3, 0},
    {6.0e-5, 1.1, 2.0, -1},
};
constexpr double kSwitchProbability = 1.0 / 25'000;  // per tick: regimes last ~25k ticks
constexpr double kPullBack = 2e-6;                   // per tick, toward the start price
constexpr int64_t kMinGapNs = 50'000'000;
constexpr int64_t kMaxGapNs = 2'000'000'000;
constexpr int64_t kHour = 3'600 * kNanosPerSecond;
constexpr int64_t kWeek = 7 * kNanosPerDay;
// 1970-01-04 was a Sunday: week offsets count from a Sunday 00:00 UTC.
constexpr int64_t kSundayOrigin = 3 * kNanosPerDay;
constexpr int64_t kWeekendStart = 5 * kNanosPerDay + 22 * kHour;  // Friday 22:00
constexpr int64_t kWeekendEnd = 22 * kHour;                       // Sunday 22:00

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// Moves ts out of the FX weekend to the Sunday 22:00 that ends it.
int64_t SkipWeekend(int64_t ts) {
  int64_t in_week = (ts - kSundayOrigin) % kWeek;
  if (in_week < 0) in_week += kWeek;
  if (in_week >= kWeekendStart) return ts - in_week + kWeek + kWeekendEnd;
  if (in_week < kWeekendEnd) return ts - in_week + kWeekendEnd;
  return ts;
}

}  // namespace

Result<std::unique_ptr<SyntheticTickSource>> SyntheticTickSource::Create(
    const SyntheticOptions& options) {
  if (options.digits < 0 || options.digits > kFixedDigits) {
    return InvalidArgument("synthetic ticks: digits " + std::to_string(options.digits) +
                           " is outside 0..9");
  }
  if (!std::isfinite(options.start_price) || options.start_price <= 0 ||
      options.start_price > 1e6) {
    return InvalidArgument("synthetic ticks: start_price " + std::to_string(options.start_price) +
                           " must be positive");
  }
  if (!std::isfinite(options.volatility) || options.volatility <= 0) {
    return InvalidArgument("synthetic ticks: volatility " + std::to_string(options.volatility) +
                           " must be positive");
  }
  if (!std::isfinite(options.switch_volatility) || options.switch_volatility <= 0) {
    return InvalidArgument("synthetic ticks: switch_volatility " +
                           std::to_string(options.switch_volatility) + " must be positive");
  }
  return std::unique_ptr<SyntheticTickSource>(new SyntheticTickSource(options));
}

SyntheticTickSource::SyntheticTickSource(const SyntheticOptions& options) : options_(options) {
  uint64_t seed = options.seed;
  for (uint64_t& word : state_) word = SplitMix64(&seed);
  point_raw_ = Pow10(kFixedDigits - options.digits);
  points_per_unit_ = static_cast<double>(Pow10(options.digits));
  pip_points_ = options.digits % 2 == 1 ? 10 : 1;
  log_price_ = log_anchor_ = std::log(options.start_price);
  ts_ = SkipWeekend(options.start.ns);
}

uint64_t SyntheticTickSource::NextRandom() {
  const uint64_t result = Rotl(state_[1] * 5, 7) * 9;
  const uint64_t shifted = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= shifted;
  state_[3] = Rotl(state_[3], 45);
  return result;
}

double SyntheticTickSource::Uniform() {
  return static_cast<double>(NextRandom() >> 11) * 0x1.0p-53;
}

double SyntheticTickSource::Gaussian() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_gaussian_;
  }
  // Marsaglia's polar method: no trigonometry, two values per accepted pair.
  double u, v, s;
  do {
    u = 2 * Uniform() - 1;
    v = 2 * Uniform() - 1;
    s = u * u + v * v;
  } while (s >= 1 || s == 0);
  const double factor = std::sqrt(-2 * std::log(s) / s);
  spare_gaussian_ = v * factor;
  has_spare_ = true;
  return u * factor;
}

void SyntheticTickSource::NextTick(Tick* tick) {
  if (produced_ > 0) {
    if (options_.regime_switching && Uniform() < kSwitchProbability)
      regime_ = (regime_ + 1 + static_cast<int>(NextRandom() % 2)) % 3;
    const Regime& regime = kRegimes[regime_];
    // Log-uniform gap in [50 ms, 2 s]; the regime keeps the longer or the shorter of two draws.
    const double log_min = std::log(static_cast<double>(kMinGapNs)), log_span = std::log(40.0);
    double draw = Uniform();
    if (regime.gap_bias != 0) {
      const double other = Uniform();
      draw = regime.gap_bias > 0 ? std::max(draw, other) : std::min(draw, other);
    }
    int64_t gap = static_cast<int64_t>(std::exp(log_min + draw * log_span));
    gap = std::clamp(gap, kMinGapNs, kMaxGapNs);
    ts_ = SkipWeekend(ts_ + gap);
    const double volatility = options_.switch_at > 0 && produced_ >= options_.switch_at
                                  ? options_.volatility * options_.switch_volatility
                                  : options_.volatility;
    log_price_ += kPullBack * (log_anchor_ - log_price_) + regime.step * volatility * Gaussian();
  }
  const Regime& regime = kRegimes[regime_];
  const double pips = regime.spread_low + (regime.spread_high - regime.spread_low) * Uniform();
  const int64_t spread =
      std::max<int64_t>(1, std::llround(pips * static_cast<double>(pip_points_)));
  const int64_t mid = std::llround(std::exp(log_price_) * points_per_unit_);
  const int64_t bid = std::max<int64_t>(1, mid - spread / 2);
  tick->ts = Timestamp{ts_};
  tick->bid = Price::FromRaw(bid * point_raw_, options_.digits);
  tick->ask = Price::FromRaw((bid + spread) * point_raw_, options_.digits);
  tick->bid_volume = static_cast<float>(1 + NextRandom() % 50);
  tick->ask_volume = static_cast<float>(1 + NextRandom() % 50);
  tick->instrument = options_.instrument;
}

Result<size_t> SyntheticTickSource::Read(std::span<Tick> out) {
  const uint64_t left = options_.count - produced_;
  const size_t count = static_cast<size_t>(std::min<uint64_t>(left, out.size()));
  for (size_t idx = 0; idx < count; ++idx) {
    NextTick(&out[idx]);
    ++produced_;
  }
  stats_.rows += count;
  stats_.accepted += count;
  return count;
}

double SyntheticTickSource::Progress() const {
  return options_.count == 0 ? 1.0
                             : static_cast<double>(produced_) / static_cast<double>(options_.count);
}

}  // namespace aits::data
