// The kernel's inbox (src/aits/node/inbox.h): hand-off latency from a producer thread to the
// consumer (kernel) thread, and throughput (issue 9 target: hand-off p99 <= 2 us).
//
// Latency is measured from just before Push (a steady_clock stamp carried in the event) to just
// after the consumer popped it (a second stamp on the consumer thread), into a log-linear
// histogram (1.6 % resolution); counters p50_ns, p90_ns, p99_ns, p999_ns and max_ns. The producer
// sends one event at a time and waits until the consumer has recorded it, so every sample is one
// hand-off into an empty inbox, not an event queued behind others. The two clock reads add
// ~20-40 ns to every sample.
//
//   BM_HandOffBusy       the consumer polls TryPop in a loop: a busy event loop.
//   BM_HandOffSpinPhase  the consumer waits in WaitPop and the producer pushes 2 us after the
//                        previous pop: the event lands in WaitPop's spin phase, unless a
//                        thread was descheduled for longer than the spin phase (then the
//                        consumer parked: parks_per_event > 0). spun_p99_ns / spun_p999_ns: the
//                        samples whose WaitPop did not park.
//   BM_HandOffParked     the consumer waits in WaitPop; the producer pushes only once the
//                        consumer has parked (and 50 us later, so it is asleep in the futex):
//                        the wake-up of an idle event loop. Counter parks_per_event ~1 shows
//                        that every sample went through a sleep.
//   BM_SpinPhaseLength   how long WaitPop's spin phase lasts on this CPU before it parks.
//   BM_Throughput/N      N producers push 1M events in all with Push (waiting when full) into a
//                        4,096-slot inbox; the consumer pops them with Drain (batches of 256) and
//                        WaitPop when empty. items_per_second = events/s; full_per_event = how
//                        often producers found it full.
//   BM_LoopHandOff       the same hand-off through the EventLoop (a tick from a producer thread
//                        to the loop's thread), gap_us after the previous tick was handled;
//                        busy:1 = the loop's WaitPop never parks (spins to its idle deadline).
//   BM_LoopReportHandOff the same for an execution client's fill report (ExecutionReportEvent,
//                        boxed: built before the stamp, as the threaded venue does, and freed on
//                        the loop's thread after the target has it).
//
// On a 2-core machine the producer and the consumer each need a core: any other load shows in
// the tail. Run: aits_inbox_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "aits/core/latency_histogram.h"
#include "aits/node/event_loop.h"
#include "aits/node/inbox.h"

namespace aits {
namespace {

using SteadyClock = std::chrono::steady_clock;
using node::Inbox;
using node::PopResult;
using node::PushResult;

constexpr uint64_t kStop = ~uint64_t{0};

struct Stamped {
  int64_t sent_ns = 0;  // steady_clock, taken just before Push
  uint64_t seq = 0;
};

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch())
      .count();
}

void BusyWaitNs(int64_t nanos) {
  const int64_t until = NowNs() + nanos;
  while (NowNs() < until) node::internal::CpuRelax();
}

enum class ConsumerMode { kBusy, kWaitPop };
enum class ProducerPacing { kAtOnce, kAfter2us, kAfterPark };

void HandOff(benchmark::State& state, ConsumerMode mode, ProducerPacing pacing) {
  Inbox<Stamped> inbox(1024);
  LatencyHistogram histogram;
  LatencyHistogram spun;  // the samples whose WaitPop did not park
  std::atomic<uint64_t> recorded{0};

  std::thread consumer([&] {
    Stamped event;
    for (;;) {
      const uint64_t parks_before = inbox.park_count();
      if (mode == ConsumerMode::kBusy) {
        while (!inbox.TryPop(event)) {
        }
      } else if (inbox.WaitPop(event, Inbox<Stamped>::Deadline::max()) != PopResult::kEvent) {
        return;
      }
      const int64_t received_ns = NowNs();
      if (event.seq == kStop) return;
      histogram.Record(received_ns - event.sent_ns);
      if (inbox.park_count() == parks_before) spun.Record(received_ns - event.sent_ns);
      recorded.store(event.seq + 1, std::memory_order_release);
    }
  });

  uint64_t seq = 0;
  bool failed = false;
  for (auto _ : state) {
    if (pacing == ProducerPacing::kAfter2us) {
      BusyWaitNs(2'000);
    } else if (pacing == ProducerPacing::kAfterPark) {
      // The consumer announces that it parks only after its spin phase, with the inbox empty.
      while (!inbox.consumer_parked()) node::internal::CpuRelax();
      BusyWaitNs(50'000);
    }
    if (inbox.Push(Stamped{NowNs(), seq}) != PushResult::kAccepted) {
      failed = true;
      break;
    }
    ++seq;
    while (recorded.load(std::memory_order_acquire) != seq) node::internal::CpuRelax();
  }
  if (inbox.Push(Stamped{0, kStop}) != PushResult::kAccepted) failed = true;
  consumer.join();
  if (failed) {
    state.SkipWithError("the inbox refused a push");
    return;
  }
  state.counters["p50_ns"] = static_cast<double>(histogram.Quantile(0.50));
  state.counters["p90_ns"] = static_cast<double>(histogram.Quantile(0.90));
  state.counters["p99_ns"] = static_cast<double>(histogram.Quantile(0.99));
  state.counters["p999_ns"] = static_cast<double>(histogram.Quantile(0.999));
  state.counters["max_ns"] = static_cast<double>(histogram.max());
  if (mode == ConsumerMode::kWaitPop && spun.count() > 0) {
    state.counters["spun_p99_ns"] = static_cast<double>(spun.Quantile(0.99));
    state.counters["spun_p999_ns"] = static_cast<double>(spun.Quantile(0.999));
  }
  state.counters["parks_per_event"] =
      static_cast<double>(inbox.park_count()) / static_cast<double>(histogram.count());
}

void BM_HandOffBusy(benchmark::State& state) {
  HandOff(state, ConsumerMode::kBusy, ProducerPacing::kAtOnce);
}
void BM_HandOffSpinPhase(benchmark::State& state) {
  HandOff(state, ConsumerMode::kWaitPop, ProducerPacing::kAfter2us);
}
void BM_HandOffParked(benchmark::State& state) {
  HandOff(state, ConsumerMode::kWaitPop, ProducerPacing::kAfterPark);
}
BENCHMARK(BM_HandOffBusy)->Iterations(200'000)->UseRealTime();
BENCHMARK(BM_HandOffSpinPhase)->Iterations(50'000)->UseRealTime();
BENCHMARK(BM_HandOffParked)->Iterations(5'000)->UseRealTime();

// How long WaitPop spins before it parks: kDefaultSpinIterations looks at an empty slot and CPU
// pauses, as WaitPop's spin phase does (its clock read every 64 spins aside).
void BM_SpinPhaseLength(benchmark::State& state) {
  Inbox<Stamped> inbox(1024);
  Stamped event;
  for (auto _ : state) {
    for (uint32_t spin = 0; spin < Inbox<Stamped>::kDefaultSpinIterations; ++spin) {
      benchmark::DoNotOptimize(inbox.TryPop(event));
      node::internal::CpuRelax();
    }
  }
}
BENCHMARK(BM_SpinPhaseLength)->Unit(benchmark::kMicrosecond);

void BM_Throughput(benchmark::State& state) {
  constexpr uint64_t kEvents = 1'000'000;
  const auto producers = static_cast<uint64_t>(state.range(0));
  const uint64_t per_producer = kEvents / producers;
  uint64_t full = 0;
  for (auto _ : state) {
    Inbox<Stamped> inbox(4096);
    std::vector<std::thread> threads;
    for (uint64_t producer = 0; producer < producers; ++producer) {
      threads.emplace_back([&inbox, per_producer] {
        for (uint64_t seq = 0; seq < per_producer; ++seq) {
          if (inbox.Push(Stamped{0, seq}) != PushResult::kAccepted) return;
        }
      });
    }
    uint64_t received = 0;
    uint64_t checksum = 0;
    const auto take = [&](Stamped&& event) { checksum += event.seq; };
    while (received < per_producer * producers) {
      const size_t drained = inbox.Drain(take, 256);
      received += drained;
      if (drained == 0) {
        Stamped event;
        if (inbox.WaitPop(event, Inbox<Stamped>::Deadline::max()) != PopResult::kEvent) break;
        take(std::move(event));
        ++received;
      }
    }
    for (std::thread& thread : threads) thread.join();
    benchmark::DoNotOptimize(checksum);
    full += inbox.full_count();
  }
  const double events = static_cast<double>(state.iterations() * per_producer * producers);
  state.SetItemsProcessed(static_cast<int64_t>(events));
  state.counters["full_per_event"] = static_cast<double>(full) / events;
}
BENCHMARK(BM_Throughput)->Arg(1)->Arg(3)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same hand-off through the event loop (src/aits/node/event_loop.h): a tick pushed by a
// producer thread through its ProducerLink, as a data client does, to the moment the loop's
// thread popped it (the loop's own hand_off histogram: MarketData::pushed_ns -> popped, before
// the target runs). The loop runs its whole iteration between events: stop checks, the target's
// done(), the timer look, then WaitPop. The producer sends one tick at a time and waits until the
// target has it, then `gap_us` more (0: at once, the loop still in WaitPop's spin phase).
class CountingTarget final : public node::LoopTarget {
 public:
  Status OnMarketData(const node::MarketData& /*data*/) override {
    handled.fetch_add(1, std::memory_order_release);
    return Status::Ok();
  }
  Status OnCommand(const node::OperatorCommand& /*command*/, Status* /*outcome*/) override {
    return Status::Ok();
  }
  Status OnProducerStatus(const node::ProducerStatus& /*status*/,
                          std::string_view /*name*/) override {
    return Status::Ok();
  }
  std::optional<Timestamp> NextTimer() const override { return std::nullopt; }
  Status AdvanceTo(Timestamp /*time*/) override { return Status::Ok(); }
  Status OnIdle() override { return Status::Ok(); }
  bool done() const override { return false; }
  Status OnExecutionReport(const node::ExecutionReportEvent& /*event*/) override {
    handled.fetch_add(1, std::memory_order_release);
    return Status::Ok();
  }
  std::atomic<uint64_t> handled{0};
};

// A fill as a venue reports it (the strings short enough to stay in place, as a client id is).
ExecutionReport SampleFill() {
  ExecutionReport report;
  report.kind = ExecKind::kFilled;
  report.order_id = OrderId{12};
  report.client_order_id = "node-1:12";
  report.venue_order_id = 987'654'321;
  report.position_ticket = 987'654'321;
  report.quantity = Quantity::FromRaw(100, 2);
  report.price = Price::FromRaw(109'501, 5);
  report.exec_id = 55;
  return report;
}

// One event at a time from this thread into a running loop (see above); `reports` sends fill
// reports instead of ticks. Fills the state's counters from the loop's histogram of that kind.
void LoopHandOff(benchmark::State& state, bool reports) {
  const int64_t gap_ns = state.range(0) * 1'000;
  CountingTarget target;
  node::LoopOptions options;
  // 1: a kernel thread that never parks (WaitPop spins until its idle deadline), the loop's
  // counterpart of BM_HandOffBusy; 0: the default, which parks after ~0.1 ms without events.
  if (state.range(1) == 1) options.spin_iterations = std::numeric_limits<uint32_t>::max();
  node::EventLoop loop(target, options);
  std::optional<Result<node::LoopExit>> exit;
  std::thread kernel([&] { exit = loop.Run(); });
  node::ProducerLink link(&loop.inbox(), 0);
  const std::atomic<bool> never{false};
  Tick tick;
  uint64_t sent = 0;
  bool failed = false;
  const ExecutionReport fill = SampleFill();
  for (auto _ : state) {
    if (gap_ns > 0) BusyWaitNs(gap_ns);
    bool accepted = false;
    if (reports) {
      auto report = std::make_unique<ExecutionReport>(fill);
      accepted =
          link.Send(node::ExecutionReportEvent{0, std::move(report), node::SteadyNowNs()}, never);
    } else {
      accepted = link.SendTick(tick, never);
    }
    if (!accepted) {
      failed = true;
      break;
    }
    ++sent;
    while (target.handled.load(std::memory_order_acquire) != sent) node::internal::CpuRelax();
  }
  loop.RequestStop();
  kernel.join();
  if (failed || !exit || !exit->ok()) {
    state.SkipWithError("the event loop refused a tick or failed");
    return;
  }
  const LatencyHistogram& histogram =
      reports ? loop.stats().report_hand_off : loop.stats().hand_off;
  state.counters["p50_ns"] = static_cast<double>(histogram.Quantile(0.50));
  state.counters["p90_ns"] = static_cast<double>(histogram.Quantile(0.90));
  state.counters["p99_ns"] = static_cast<double>(histogram.Quantile(0.99));
  state.counters["p999_ns"] = static_cast<double>(histogram.Quantile(0.999));
  state.counters["max_ns"] = static_cast<double>(histogram.max());
  state.counters["parks_per_event"] =
      static_cast<double>(loop.inbox().park_count()) / static_cast<double>(histogram.count());
}
void LoopHandOffCases(benchmark::internal::Benchmark* bench) {
  bench->ArgNames({"gap_us", "busy"})
      ->Args({0, 1})
      ->Args({0, 0})
      ->Args({2, 0})
      ->Iterations(100'000)
      ->UseRealTime();
}

void BM_LoopHandOff(benchmark::State& state) { LoopHandOff(state, /*reports=*/false); }
BENCHMARK(BM_LoopHandOff)->Apply(LoopHandOffCases);

void BM_LoopReportHandOff(benchmark::State& state) { LoopHandOff(state, /*reports=*/true); }
BENCHMARK(BM_LoopReportHandOff)->Apply(LoopHandOffCases);

}  // namespace
}  // namespace aits

BENCHMARK_MAIN();
