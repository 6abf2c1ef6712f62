// A deterministic synthetic FX tick generator: histories of any length for benchmarks (10M and
// 100M ticks through ImportTicks) and a live-like feed for paper trading.
//
// The same options (seed included) give bit-identical ticks on the same platform. The model:
//   - log-price random walk with a very weak pull back to the start price (so 100M ticks stay in
//     a plausible range), Gaussian steps scaled by the regime;
//   - three volatility regimes (calm, normal, volatile) with Markov switching, each regime with
//     its own step size, spread and tick rate;
//   - spread 0.5..2 pips (a pip is 10 points for 3- and 5-digit quotes, else 1 point), wider in
//     volatile regimes, never below one point;
//   - gaps between ticks 50 ms..2 s (log-uniform, shorter when volatile), strictly increasing;
//   - no ticks from Friday 22:00 to Sunday 22:00 UTC (the FX weekend).
// Every tick passes the validation of source.h (bid > 0, ask > bid, volumes >= 0, time strictly
// increasing), so ReadStats never shows a rejection.
//
// Single-threaded like every TickSource; Read() does not allocate.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/data/source.h"

namespace aits::data {

struct SyntheticOptions {
  uint64_t seed = 1;
  uint64_t count = 1'000'000;               // ticks to produce, then Read() returns 0
  Timestamp start = FromCivil(2020, 1, 6);  // first tick (moved to Sunday 22:00 if a weekend)
  int digits = 5;                           // price precision, 0..9
  double start_price = 1.10000;             // mid price of the first tick, in (0, 1e6]
  double volatility = 1.0;                  // multiplies every step size; 1 ~ EUR/USD
  InstrumentId instrument;                  // stamped on every tick
  // false: one regime (normal) throughout, a steady market (for a test that must see one
  // change only: the switch below).
  bool regime_switching = true;
  // A change of market (docs/ml.md, "The loop": the test of a model that keeps learning): from
  // the tick numbered `switch_at` (0-based; 0: never) on, every step is `switch_volatility` times
  // as large. The ticks before it are those of the same options without a switch.
  uint64_t switch_at = 0;
  double switch_volatility = 1.0;
};

class SyntheticTickSource final : public TickSource {
 public:
  // InvalidArgument for digits outside 0..9, a non-positive or non-finite start price or
  // volatility.
  static Result<std::unique_ptr<SyntheticTickSource>> Create(const SyntheticOptions& options);

  Result<size_t> Read(std::span<Tick> out) override;
  const ReadStats& stats() const override { return stats_; }
  double Progress() const override;

 private:
  explicit SyntheticTickSource(const SyntheticOptions& options);

  uint64_t NextRandom();
  double Uniform();  // [0, 1)
  double Gaussian();
  void NextTick(Tick* tick);

  SyntheticOptions options_;
  ReadStats stats_;
  uint64_t state_[4] = {0, 0, 0, 0};  // xoshiro256**
  double spare_gaussian_ = 0;
  bool has_spare_ = false;
  uint64_t produced_ = 0;
  int regime_ = 1;
  double log_price_ = 0;
  double log_anchor_ = 0;
  int64_t ts_ = 0;
  int64_t point_raw_ = 0;  // one point in 1e-9 units
  double points_per_unit_ = 0;
  int64_t pip_points_ = 10;
};

}  // namespace aits::data
