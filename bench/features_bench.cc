// Throughput of the ML feature engine (features/feature_engine.h), default timeframes
// M1, M5, M15, H1 (68 features). Target: >= 2 million ticks/s through OnTick.
//
//   BM_FeatureEngineSyntheticTicks  ticks/s through OnTick over 2M synthetic ticks (~3 weeks of
//                                   an EUR/USD-like feed, data/synthetic.h)
//   BM_FeatureEngineRealTicks       ticks/s over the real EUR/USD ticks of ../shared/data,
//                                   replicated day after day to 950k ticks
//   BM_FeatureEngineBars            bars/s through OnBar over synthetic ticks' M1 bars
// Inputs are held in memory, so the figures are the engine's own cost (no parsing). Quote the
// median: --benchmark_repetitions=5 --benchmark_report_aggregates_only=true.
#include <benchmark/benchmark.h>

#include <vector>

#include "aits/data/bar_aggregator.h"
#include "aits/features/feature_engine.h"
#include "tick_data.h"

namespace aits {
namespace {

using bench::RealTicks;
using bench::SyntheticTicks;

features::FeatureEngine MakeEngine() {
  return features::FeatureEngine::Create(features::FeatureEngineConfig{}).value();
}

void RunTicks(benchmark::State& state, const std::vector<Tick>& ticks) {
  if (ticks.empty()) {
    state.SkipWithError("no ticks");
    return;
  }
  features::FeatureEngine engine = MakeEngine();
  uint64_t rows = 0;
  for (auto _ : state) {
    engine.Reset();
    for (const Tick& tick : ticks) rows += engine.OnTick(tick) ? 1 : 0;
    benchmark::DoNotOptimize(engine.Values().data());
  }
  benchmark::DoNotOptimize(rows);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(ticks.size()));
  state.counters["ticks/s"] = benchmark::Counter(
      static_cast<double>(ticks.size()) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
}

void BM_FeatureEngineSyntheticTicks(benchmark::State& state) { RunTicks(state, SyntheticTicks()); }
BENCHMARK(BM_FeatureEngineSyntheticTicks)->Unit(benchmark::kMillisecond);

void BM_FeatureEngineRealTicks(benchmark::State& state) { RunTicks(state, RealTicks()); }
BENCHMARK(BM_FeatureEngineRealTicks)->Unit(benchmark::kMillisecond);

void BM_FeatureEngineBars(benchmark::State& state) {
  std::vector<Bar> bars;
  data::BarAggregator aggregator(Duration::Minutes(1));
  Bar bar;
  for (const Tick& tick : SyntheticTicks()) {
    if (aggregator.Update(tick, &bar)) bars.push_back(bar);
  }
  features::FeatureEngine engine = MakeEngine();
  for (auto _ : state) {
    engine.Reset();
    for (const Bar& b : bars) engine.OnBar(b);
    benchmark::DoNotOptimize(engine.Values().data());
  }
  state.counters["bars/s"] =
      benchmark::Counter(static_cast<double>(bars.size()) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_FeatureEngineBars)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace aits

BENCHMARK_MAIN();
