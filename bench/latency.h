// Per-call latency samples for the tail-latency benchmarks: timed one call at a time into a
// buffer sized up front (no allocation while timing), then reported as Google Benchmark counters
// [prefix]p50_<unit>, p90_<unit>, p99_<unit>, p999_<unit> and max_<unit>.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace aits::bench {

class LatencySamples {
 public:
  // Keeps the first `capacity` samples; later ones are timed by the caller but not stored.
  explicit LatencySamples(size_t capacity) { nanos_.reserve(capacity); }

  void Add(std::chrono::steady_clock::duration elapsed) {
    if (nanos_.size() < nanos_.capacity()) {
      nanos_.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count());
    }
  }

  size_t size() const { return nanos_.size(); }

  // unit: "ns" or "us"; `prefix` names the counters of one of several series ("handoff_").
  void Report(benchmark::State& state, const std::string& unit, const std::string& prefix = "") {
    if (nanos_.empty()) return;
    std::sort(nanos_.begin(), nanos_.end());
    const double scale = unit == "us" ? 1e-3 : 1.0;
    const auto at = [&](double q) {
      const size_t idx =
          std::min(nanos_.size() - 1, static_cast<size_t>(q * static_cast<double>(nanos_.size())));
      return static_cast<double>(nanos_[idx]) * scale;
    };
    state.counters[prefix + "p50_" + unit] = at(0.50);
    state.counters[prefix + "p90_" + unit] = at(0.90);
    state.counters[prefix + "p99_" + unit] = at(0.99);
    state.counters[prefix + "p999_" + unit] = at(0.999);
    state.counters[prefix + "max_" + unit] = static_cast<double>(nanos_.back()) * scale;
  }

 private:
  std::vector<int64_t> nanos_;
};

}  // namespace aits::bench
