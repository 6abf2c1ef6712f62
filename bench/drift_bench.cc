// Drift statistics per bar (src/aits/ml/drift.h; issue 13's target: 70 features over a
// 10,000-bar window updated per bar in under 50 µs).
//
//   BM_DriftBar/features:70   one bar: DriftMonitor::Add of 70 values into a full 10,000-bar
//                             window (the oldest bar taken out), then PSI, KS and the KS p-value
//                             of every feature (Statistics) — what a per-bar update of the drift
//                             metrics does.
//   BM_DriftAdd/features:70   the Add alone.
//
// Run: aits_drift_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "aits/ml/drift.h"

namespace aits::ml {
namespace {

constexpr size_t kWindow = 10'000;

struct Setup {
  DriftMonitor monitor;
  std::vector<double> stream;  // bars x features, cycled through
};

Setup Make(size_t features) {
  std::mt19937_64 rng(42);
  std::vector<FeatureReference> references;
  for (size_t f = 0; f < features; ++f) {
    std::normal_distribution<double> draw(static_cast<double>(f), 1.0 + static_cast<double>(f % 5));
    std::vector<double> training(20'000);
    for (double& value : training) value = draw(rng);
    references.push_back(BuildReference("f" + std::to_string(f), training).value());
  }
  Setup setup{DriftMonitor::Create(std::move(references), kWindow).value(), {}};
  // Live values drawn a little off the training data, 4,096 bars of them.
  setup.stream.resize(4'096 * features);
  for (size_t k = 0; k < setup.stream.size(); ++k) {
    const size_t f = k % features;
    std::normal_distribution<double> draw(static_cast<double>(f) + 0.3,
                                          1.2 + static_cast<double>(f % 5));
    setup.stream[k] = draw(rng);
  }
  for (size_t bar = 0; bar < kWindow; ++bar) {
    setup.monitor.Add(std::span(setup.stream).subspan((bar % 4'096) * features, features));
  }
  return setup;
}

void BM_DriftBar(benchmark::State& state) {
  const auto features = static_cast<size_t>(state.range(0));
  Setup setup = Make(features);
  size_t bar = 0;
  double sink = 0;
  for (auto _ : state) {
    setup.monitor.Add(std::span(setup.stream).subspan((bar++ % 4'096) * features, features));
    for (size_t f = 0; f < features; ++f) {
      const DriftMonitor::Stats stats = setup.monitor.Statistics(f);
      sink += stats.psi + stats.ks + stats.ks_p_value;
    }
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DriftBar)->ArgName("features")->Arg(70)->Unit(benchmark::kMicrosecond);

void BM_DriftAdd(benchmark::State& state) {
  const auto features = static_cast<size_t>(state.range(0));
  Setup setup = Make(features);
  size_t bar = 0;
  for (auto _ : state) {
    setup.monitor.Add(std::span(setup.stream).subspan((bar++ % 4'096) * features, features));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DriftAdd)->ArgName("features")->Arg(70)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace aits::ml

BENCHMARK_MAIN();
