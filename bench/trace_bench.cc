// What tracing costs a role per message it handles (src/aits/trace; docs/performance.md,
// "Traces"):
//
//   BM_TraceparentFormat / BM_TraceparentParse   the header's 55 characters, out and in.
//   BM_SpanNoTracer       a stage's span without a tracer (tracing off): what every message
//                         pays when no --trace-file or --otlp-endpoint is given.
//   BM_SpanUnsampled      a child span of an unsampled trace, its traceparent made for the
//                         message it publishes, and ended: tracing on, this trace not kept.
//   BM_SpanSampled        the same sampled, with two attributes, queued for the export thread
//                         (which writes OTLP/JSON lines to a file in /tmp, every 4096 spans
//                         outside the timing): the caller's side; `dropped` must stay 0.
//
// Run: aits_trace_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdio>
#include <memory>
#include <string>

#include "aits/trace/tracer.h"

namespace aits::trace {
namespace {

constexpr std::string_view kSampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
constexpr std::string_view kUnsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";

std::unique_ptr<Tracer> MustOpen(double ratio, std::string file) {
  TracerOptions options;
  options.service_name = "bench";
  options.sample_ratio = ratio;
  options.file = std::move(file);
  auto tracer = Tracer::Open(options);
  if (!tracer.ok()) {
    std::fprintf(stderr, "%s\n", tracer.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(tracer).value();
}

void BM_TraceparentFormat(benchmark::State& state) {
  const SpanContext context = ParseTraceparent(kSampled).value();
  char out[kTraceparentSize];
  for (auto _ : state) {
    FormatTraceparent(context, out);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_TraceparentFormat);

void BM_TraceparentParse(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(ParseTraceparent(kSampled));
}
BENCHMARK(BM_TraceparentParse);

// As the stages do it (decision_stages.cc, StageSpan and EndSpan): nothing but a null check
// when there is no tracer.
void BM_SpanNoTracer(benchmark::State& state) {
  Tracer* tracer = nullptr;
  benchmark::DoNotOptimize(tracer);
  for (auto _ : state) {
    Span span;
    std::string traceparent;
    if (tracer != nullptr) {
      span = tracer->Start("features", SpanKind::kConsumer, kUnsampled);
      tracer->End(span);
      traceparent = span.traceparent();
    }
    benchmark::DoNotOptimize(traceparent);
  }
}
BENCHMARK(BM_SpanNoTracer);

void BM_SpanUnsampled(benchmark::State& state) {
  std::unique_ptr<Tracer> tracer = MustOpen(0, "");
  for (auto _ : state) {
    Span span = tracer->Start("features", SpanKind::kConsumer, kUnsampled);
    span.SetAttribute("aits.symbol", "EURUSD");
    tracer->End(span);
    benchmark::DoNotOptimize(span.traceparent());
  }
}
BENCHMARK(BM_SpanUnsampled);

void BM_SpanSampled(benchmark::State& state) {
  const std::string file = "/tmp/aits_trace_bench." + std::to_string(::getpid()) + ".jsonl";
  std::unique_ptr<Tracer> tracer = MustOpen(1, file);
  uint64_t spans = 0;
  for (auto _ : state) {
    Span span = tracer->Start("features", SpanKind::kConsumer, kSampled);
    span.SetAttribute("aits.symbol", "EURUSD");
    span.SetAttribute("aits.bar_open", "2024-01-08T00:01:00Z");
    tracer->End(span);
    benchmark::DoNotOptimize(span.traceparent());
    // A loop this tight outruns the export thread: the queue is emptied outside the timing, so
    // that what is timed is the caller's side, not the drop of a full queue.
    if (++spans % 4096 == 0) {
      state.PauseTiming();
      tracer->Flush();
      state.ResumeTiming();
    }
  }
  tracer->Flush();
  state.counters["dropped"] = static_cast<double>(tracer->counters().dropped);
  tracer.reset();
  std::remove(file.c_str());
}
BENCHMARK(BM_SpanSampled);

}  // namespace
}  // namespace aits::trace

BENCHMARK_MAIN();
