// Drift statistics per bar (src/aits/ml/drift.h; issue 13's target: 70 features over a
// 10,000-bar window updated per bar in under 50 µs).
//
//   BM_DriftBar/features:70   one bar: DriftMonitor::Add of 70 values into a full 10,000-bar
//                             window (the oldest bar taken out), then PSI, KS and the KS p-value
//                             of every feature (Statistics) — what a per-bar update of the drift
//                             metrics does.
//   BM_DriftAdd/features:70   the Add alone.
//   BM_WatchBar/features:70   what a watched model costs a session per bar (ml/model_watch.h):
//                             ModelWatch::OnBar (the 70 inputs and the score into a full
//                             2,000-bar window, a call opened and one settled) and
//                             WatchPolicy::Observe (every input's PSI read for the verdict).
//   BM_MemberWeightsBar/members:7  adaptive member weights per bar (ml/member_weights.h): seven
//                             members' calls opened, seven settled, the weights set.
//
// Run: aits_drift_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "aits/ml/drift.h"
#include "aits/ml/member_weights.h"
#include "aits/ml/model_watch.h"

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

void BM_WatchBar(benchmark::State& state) {
  const auto features = static_cast<size_t>(state.range(0));
  std::mt19937_64 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Matrix training(20'000, features);
  std::vector<double> scores(5'000);
  for (size_t r = 0; r < training.rows(); ++r) {
    for (float& value : training.Row(r)) value = normal(rng);
  }
  for (double& score : scores) score = std::tanh(static_cast<double>(normal(rng)));
  std::vector<std::string> names;
  for (size_t f = 0; f < features; ++f) names.push_back("f" + std::to_string(f));
  WatchReference reference =
      BuildWatchReference(training, names, 0, training.rows(), scores, Duration::Minutes(15), 0.55)
          .value();
  ModelWatch watch = ModelWatch::Create(std::move(reference)).value();
  WatchPolicy policy;
  // 4,096 live bars, a little off the training data, cycled through; the window full first.
  Matrix live(4'096, features);
  for (size_t r = 0; r < live.rows(); ++r) {
    for (float& value : live.Row(r)) value = normal(rng) * 1.2f + 0.3f;
  }
  Timestamp t = Timestamp::FromNanos(Duration::Days(1).ns);
  double close = 1.1;
  size_t bar = 0;
  const auto step = [&] {
    watch.OnBar(t, close, live.Row(bar % live.rows()), std::tanh(live.Row(bar % live.rows())[0]));
    t = t + Duration::Minutes(5);
    close *= bar % 2 == 0 ? 1.0002 : 0.9999;
    ++bar;
  };
  for (size_t k = 0; k < 2'000; ++k) step();
  uint64_t changes = 0;
  for (auto _ : state) {
    step();
    changes += policy.Observe(watch).has_value();
  }
  benchmark::DoNotOptimize(changes);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WatchBar)->ArgName("features")->Arg(70)->Unit(benchmark::kMicrosecond);

void BM_MemberWeightsBar(benchmark::State& state) {
  const size_t members = static_cast<size_t>(state.range(0));
  auto made = MemberWeights::Create(members, Duration::Minutes(1), {});
  if (!made.ok()) {
    state.SkipWithError(made.status().ToString().c_str());
    return;
  }
  MemberWeights weights = std::move(*made);
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<float> p(0.2f, 0.8f);
  std::normal_distribution<double> step(0, 1e-4);
  std::vector<float> outputs(members);
  double close = 1.1;
  int64_t bar = 0;
  const auto one = [&] {
    for (float& out : outputs) out = p(rng);
    close += step(rng);
    weights.OnBar(Timestamp{} + Duration::Minutes(bar++), close, outputs);
  };
  for (int idx = 0; idx < 2'000; ++idx) one();  // windows full, weights active
  for (auto _ : state) {
    one();
    benchmark::DoNotOptimize(weights.weights().data());
  }
}
BENCHMARK(BM_MemberWeightsBar)->ArgName("members")->Arg(7)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace aits::ml

BENCHMARK_MAIN();
