// Cost of the market monitor (feed/monitor.h) per tick: it runs on every tick of the live feed,
// so its target is well under 100 ns a tick.
//
//   BM_MonitorSynthetic     OnTick over 2M synthetic EUR/USD-like ticks (data/synthetic.h), one
//                           symbol, alerts drained every 4,096 ticks
//   BM_MonitorFourSymbols   the same ticks dealt round-robin to four symbols
//   BM_MonitorReal          the real EUR/USD ticks of ../shared/data, replicated day after day to
//                           950k ticks
//   BM_MonitorWithPoll      OnTick plus Poll() before every tick (what a replay does; a live node
//                           polls on a timer instead)
// Inputs are held in memory, so the figures are the monitor's own cost. "per_tick" is the
// counter's CPU time per tick. Quote the median: --benchmark_repetitions=5
// --benchmark_report_aggregates_only=true.
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "aits/feed/monitor.h"
#include "tick_data.h"

namespace aits {
namespace {

using bench::RealTicks;
using bench::SyntheticTicks;

void Run(benchmark::State& state, const std::vector<Tick>& ticks, int symbols, bool poll) {
  if (ticks.empty()) {
    state.SkipWithError("no ticks");
    return;
  }
  uint64_t alerts = 0;
  for (auto _ : state) {
    state.PauseTiming();
    SimulatedClock clock;
    clock.AdvanceTo(ticks.front().ts);
    auto monitor = std::move(feed::MarketMonitor::Create(feed::MonitorConfig{}, clock).value());
    auto windows = ParseTradingSessions("Sun 22:00-Fri 22:00").value();
    for (int id = 0; id < symbols; ++id) {
      Instrument inst = Instrument::Infer("EURUSD");
      inst.id = InstrumentId{static_cast<uint32_t>(id)};
      (void)monitor->AddSymbol(inst, windows);
    }
    state.ResumeTiming();
    for (size_t i = 0; i < ticks.size(); ++i) {
      Tick tick = ticks[i];
      tick.instrument = InstrumentId{static_cast<uint32_t>(i % static_cast<size_t>(symbols))};
      if (poll) {
        clock.AdvanceTo(tick.ts);
        monitor->Poll();
      }
      monitor->OnTick(tick);
      if ((i & 4095) == 0) alerts += monitor->TakeAlerts().size();
    }
    alerts += monitor->TakeAlerts().size();
  }
  state.counters["alerts"] = static_cast<double>(alerts) / static_cast<double>(state.iterations());
  // CPU seconds per tick, printed with an SI prefix ("38.1n" = 38.1 ns).
  state.counters["per_tick"] = benchmark::Counter(
      static_cast<double>(ticks.size()) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_MonitorSynthetic(benchmark::State& state) { Run(state, SyntheticTicks(), 1, false); }
BENCHMARK(BM_MonitorSynthetic)->Unit(benchmark::kMillisecond);

void BM_MonitorFourSymbols(benchmark::State& state) { Run(state, SyntheticTicks(), 4, false); }
BENCHMARK(BM_MonitorFourSymbols)->Unit(benchmark::kMillisecond);

void BM_MonitorReal(benchmark::State& state) { Run(state, RealTicks(), 1, false); }
BENCHMARK(BM_MonitorReal)->Unit(benchmark::kMillisecond);

void BM_MonitorWithPoll(benchmark::State& state) { Run(state, SyntheticTicks(), 1, true); }
BENCHMARK(BM_MonitorWithPoll)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace aits

BENCHMARK_MAIN();
