// The metrics registry (src/aits/core/metrics.h): the cost of one update on the hot path, single
// thread, uncontended (the kernel thread is the only writer; a scraper only reads).
//
//   BM_CounterIncrement    Counter::Increment through a kept pointer (a relaxed fetch_add).
//   BM_GaugeSet            Gauge::Set (a relaxed store).
//   BM_GaugeAdd            Gauge::Add (a compare-exchange loop on a double).
//   BM_HistogramObserve    Histogram::Observe with 11 bounds (the scan, the bucket's fetch_add
//                          and the sum's compare-exchange); values cycle through 64 precomputed
//                          latencies spread over every bucket, so the scan length varies.
//   BM_CounterWithLookup   Family::With({{"reason", ...}}) then Increment on every update: what
//                          keeping the pointer saves (label copy, mutex, map lookup).
//   BM_RenderText          Registry::RenderText of 20 counters, 20 gauges and 5 histograms with
//                          11 bounds (115 series): the scraper's side, for scale.
//
// Run: aits_metrics_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "aits/core/metrics.h"

namespace aits {
namespace {

const std::vector<double> kLatencyBounds = {0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025,
                                            0.0005,   0.001,   0.0025,   0.005,   0.01};

void BM_CounterIncrement(benchmark::State& state) {
  Registry registry;
  Counter* counter = registry.AddCounter("aits_ticks_total", "Ticks.", {"symbol"})
                         .value()
                         ->With({{"symbol", "X"}})
                         .value();
  for (auto _ : state) counter->Increment();
  benchmark::DoNotOptimize(counter->value());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CounterIncrement);

void BM_GaugeSet(benchmark::State& state) {
  Registry registry;
  Gauge* gauge = registry.AddGauge("aits_equity", "Equity.").value()->With({}).value();
  double value = 0.0;
  for (auto _ : state) {
    gauge->Set(value);
    value += 1.0;
  }
  benchmark::DoNotOptimize(gauge->value());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GaugeSet);

void BM_GaugeAdd(benchmark::State& state) {
  Registry registry;
  Gauge* gauge = registry.AddGauge("aits_open_orders", "Open orders.").value()->With({}).value();
  for (auto _ : state) gauge->Add(1.0);
  benchmark::DoNotOptimize(gauge->value());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GaugeAdd);

void BM_HistogramObserve(benchmark::State& state) {
  Registry registry;
  Histogram* histogram = registry.AddHistogram("aits_latency_seconds", "Latency.", kLatencyBounds)
                             .value()
                             ->With({})
                             .value();
  std::array<double, 64> values{};
  for (size_t value_idx = 0; value_idx < values.size(); ++value_idx) {
    // 1 us to ~20 ms on a geometric scale: every bucket, +Inf included, gets some.
    values[value_idx] = 0.000001 * static_cast<double>(1u << (value_idx % 15));
  }
  size_t next = 0;
  for (auto _ : state) {
    histogram->Observe(values[next]);
    next = (next + 1) & (values.size() - 1);
  }
  benchmark::DoNotOptimize(histogram->Read().count);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HistogramObserve);

void BM_CounterWithLookup(benchmark::State& state) {
  Registry registry;
  Family<Counter>* family =
      registry.AddCounter("aits_orders_denied_total", "Denied.", {"reason"}).value();
  const std::array<const char*, 4> reasons = {"risk_halted", "margin", "max_position", "rate"};
  for (const char* reason : reasons) (void)family->With({{"reason", reason}});
  size_t next = 0;
  for (auto _ : state) {
    family->With({{"reason", reasons[next]}}).value()->Increment();
    next = (next + 1) & 3;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CounterWithLookup);

void BM_RenderText(benchmark::State& state) {
  Registry registry;
  char name[64];
  for (int metric_idx = 0; metric_idx < 20; ++metric_idx) {
    std::snprintf(name, sizeof(name), "aits_counter_%d_total", metric_idx);
    registry.AddCounter(name, "A counter.").value()->With({}).value()->Increment(12345);
    std::snprintf(name, sizeof(name), "aits_gauge_%d", metric_idx);
    registry.AddGauge(name, "A gauge.").value()->With({}).value()->Set(1.25 * metric_idx);
  }
  for (int metric_idx = 0; metric_idx < 5; ++metric_idx) {
    std::snprintf(name, sizeof(name), "aits_histogram_%d_seconds", metric_idx);
    Histogram* histogram =
        registry.AddHistogram(name, "A histogram.", kLatencyBounds).value()->With({}).value();
    for (int observation = 0; observation < 100; ++observation)
      histogram->Observe(0.0001 * observation);
  }
  size_t bytes = 0;
  for (auto _ : state) {
    const std::string text = registry.RenderText();
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RenderText);

}  // namespace
}  // namespace aits

BENCHMARK_MAIN();
