// What a session's metrics cost (docs/monitoring.md; issue 13: at most 2 % of the tick path's
// throughput, a scrape under 10 ms).
//
//   BM_PaperSession/metrics:0|1  a whole paper session at --speed max (RunPaper: 200,000
//                                synthetic ticks, a busy SMA strategy, every event logged with
//                                synchronous=NORMAL), without and with a registry. CPU time is
//                                the kernel thread's (this one), the figure to compare; the feed
//                                runs on a thread of its own.
//   BM_OnTick                    SessionMetrics::OnTick alone, with Publish every 256 ticks as
//                                the paper driver calls it (its interval set to 0, so each call
//                                publishes: the worst case).
//   BM_Scrape/symbols:1|4        what GET /metrics renders for a session of 1 or 4 instruments
//                                after a run: Registry::RenderText plus the process's figures
//                                from /proc (ReadProcessStats, RenderProcessMetrics).
//
// Run: aits_session_metrics_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "aits/core/metrics.h"
#include "aits/core/process_metrics.h"
#include "aits/session/busy_spec.h"
#include "aits/session/paper.h"
#include "aits/session/session_metrics.h"

namespace aits::session {
namespace {

SessionSpec Busy(uint64_t ticks, int symbols) {
  SessionSpec spec = BusySpec(ticks);
  spec.session_id = "bench";
  if (symbols > 1) {
    const char* const names[] = {"EURUSD", "GBPUSD", "USDJPY", "AUDUSD"};
    for (int k = 0; k < symbols && k < 4; ++k) {
      FeedSpec feed;
      feed.feed = "synthetic";
      feed.instrument = Instrument::Infer(names[k]);
      feed.instrument.symbol = names[k];
      feed.instrument.id = InstrumentId{static_cast<uint32_t>(k)};
      feed.seed = 7 + static_cast<uint64_t>(k);
      feed.start_price = k == 2 ? 150.0 : 1.1;
      spec.feeds.push_back(feed);
    }
    spec.instrument = spec.feeds[0].instrument;
  }
  return spec;
}

std::string Dir(const char* name) {
  return (std::filesystem::temp_directory_path() /
          ("aits_session_metrics_bench_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

void BM_PaperSession(benchmark::State& state) {
  const bool with_metrics = state.range(0) != 0;
  const uint64_t ticks = 200'000;
  const std::string dir = Dir("paper");
  uint64_t total = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::filesystem::remove_all(dir);
    Registry registry;
    PaperOptions options;
    options.spec = Busy(ticks, 1);
    options.state_dir = dir;
    options.speed = 0;
    options.store.sync = persistence::Sync::kNormal;
    options.metrics = with_metrics ? &registry : nullptr;
    state.ResumeTiming();
    auto result = RunPaper(options);
    if (!result.ok()) {
      state.SkipWithError(result.status().message().c_str());
      break;
    }
    total += result->ticks;
  }
  std::filesystem::remove_all(dir);
  state.SetItemsProcessed(static_cast<int64_t>(total));
}
BENCHMARK(BM_PaperSession)->ArgName("metrics")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_OnTick(benchmark::State& state) {
  auto session = Session::Create(Busy(10, 1));
  if (!session.ok()) {
    state.SkipWithError(session.status().message().c_str());
    return;
  }
  Registry registry;
  auto metrics = SessionMetrics::Create(registry, **session, std::chrono::milliseconds(0));
  if (!metrics.ok()) {
    state.SkipWithError(metrics.status().message().c_str());
    return;
  }
  uint64_t n = 0;
  for (auto _ : state) {
    ++n;
    // Latencies spread over the buckets, an order on one tick in sixteen.
    (*metrics)->OnTick(0, (n & 63) == 0, static_cast<int64_t>(800 + (n & 1023) * 37),
                       (n & 15) == 0 ? static_cast<int64_t>(2000 + (n & 255) * 91) : -1);
    if ((n & 255) == 0) (*metrics)->Publish(**session);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_OnTick);

void BM_Scrape(benchmark::State& state) {
  const int symbols = static_cast<int>(state.range(0));
  const std::string dir = Dir("scrape");
  std::filesystem::remove_all(dir);
  Registry registry;
  PaperOptions options;
  options.spec = Busy(20'000, symbols);
  options.state_dir = dir;
  options.speed = 0;
  options.store.sync = persistence::Sync::kNormal;
  options.metrics = &registry;
  auto result = RunPaper(options);
  std::filesystem::remove_all(dir);
  if (!result.ok()) {
    state.SkipWithError(result.status().message().c_str());
    return;
  }
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = registry.RenderText();
    Result<ProcessStats> process = ReadProcessStats();
    if (process.ok()) text += RenderProcessMetrics(*process);
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_Scrape)->ArgName("symbols")->Arg(1)->Arg(4)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace aits::session

BENCHMARK_MAIN();
