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

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "aits/data/bar_aggregator.h"
#include "aits/data/source.h"
#include "aits/data/synthetic.h"
#include "aits/features/feature_engine.h"

namespace aits {
namespace {

std::vector<Tick> ReadTicks(data::TickSource& source) {
  std::vector<Tick> ticks;
  std::vector<Tick> batch(4096);
  while (true) {
    auto count = source.Read(batch);
    if (!count.ok() || *count == 0) break;
    ticks.insert(ticks.end(), batch.begin(), batch.begin() + static_cast<ptrdiff_t>(*count));
  }
  return ticks;
}

const std::vector<Tick>& SyntheticTicks() {
  static const std::vector<Tick> ticks = [] {
    data::SyntheticOptions options;
    options.count = 2'000'000;
    options.seed = 42;
    auto source = data::SyntheticTickSource::Create(options);
    return ReadTicks(**source);
  }();
  return ticks;
}

const std::vector<Tick>& RealTicks() {
  static const std::vector<Tick> ticks = [] {
    std::vector<Tick> out;
    const char* dir = std::getenv("AITS_SHARED_DATA_DIR");
    const std::string path =
        std::string(dir ? dir : "../shared/data") + "/eurusd-ticks-2020-01-01.csv";
    auto source = data::OpenTicks(path, {});
    if (!source.ok()) {
      std::fprintf(stderr, "bench: %s (set AITS_SHARED_DATA_DIR)\n",
                   source.status().ToString().c_str());
      return out;
    }
    const std::vector<Tick> day = ReadTicks(**source);
    for (int copy = 0; copy < 100; ++copy) {
      for (Tick tick : day) {
        tick.ts = tick.ts + Duration::Days(copy);
        out.push_back(tick);
      }
    }
    return out;
  }();
  return ticks;
}

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
