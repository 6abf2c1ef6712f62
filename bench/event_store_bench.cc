// Event store throughput: durable appends per second with one commit per batch, the way a
// session writes its log (target >= 200,000 events/s with Sync::kFull).
//
//   BM_Append/ticks_{full,normal}/batch:N: tick-sized (39-byte) payloads, Commit() after each
//     batch of N, with Sync::kFull (fsync per commit) or Sync::kNormal.
//   BM_Append/mixed_{full,normal}/batch:N: the same with a 300-byte JSON event every 32nd append
//     (signals, decisions, order updates between ticks).
//
// Each iteration is one whole batch (appends + commit, so the fsync is in the measurement);
// items_per_second is events/s. The database lives in a fresh directory under /tmp that is
// removed afterwards.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "aits/persistence/event_store.h"

namespace {

using aits::Timestamp;
using aits::persistence::EventStore;
using aits::persistence::EventStoreOptions;
using aits::persistence::EventType;
using aits::persistence::Sync;

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/aits_event_store_bench_XXXXXX";
    if (::mkdtemp(pattern) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void BM_Append(benchmark::State& state, Sync sync, bool mixed) {
  const auto batch = static_cast<size_t>(state.range(0));
  TempDir dir;
  EventStoreOptions options;
  options.sync = sync;
  options.batch_events = batch;
  auto opened = EventStore::Open(dir.path() + "/events.db", options);
  if (!opened.ok()) {
    state.SkipWithError(opened.status().ToString().c_str());
    return;
  }
  std::unique_ptr<EventStore> store = std::move(opened).value();

  // 39 bytes: the size of an encoded Tick (codec.h).
  const std::string tick(39, '\x5a');
  std::string json = "{\"strategy\":\"momentum\",\"symbol\":\"EURUSD\",\"signal\":0.42,";
  json.resize(300, ' ');
  json.back() = '}';

  int64_t ts = 1'328'054'400'000'000'000;
  int64_t events = 0;
  for (auto _ : state) {
    for (size_t idx = 0; idx < batch; ++idx) {
      const bool big = mixed && (idx & 31) == 31;
      auto seq = store->Append(big ? EventType::kDecision : EventType::kTick, Timestamp{ts},
                               big ? json : tick);
      if (!seq.ok()) [[unlikely]] {
        state.SkipWithError(seq.status().ToString().c_str());
        return;
      }
      ts += 1'000'000;
    }
    const aits::Status committed = store->Commit();
    if (!committed.ok()) [[unlikely]] {
      state.SkipWithError(committed.ToString().c_str());
      return;
    }
    events += static_cast<int64_t>(batch);
  }
  state.SetItemsProcessed(events);
  state.counters["batch"] = static_cast<double>(batch);
  if (!store->Close().ok()) state.SkipWithError("close failed");
}

BENCHMARK_CAPTURE(BM_Append, ticks_full, Sync::kFull, false)
    ->ArgName("batch")
    ->Arg(1024)
    ->Arg(8192)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Append, ticks_normal, Sync::kNormal, false)
    ->ArgName("batch")
    ->Arg(1024)
    ->Arg(8192)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Append, mixed_full, Sync::kFull, true)
    ->ArgName("batch")
    ->Arg(1024)
    ->Arg(8192)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Append, mixed_normal, Sync::kNormal, true)
    ->ArgName("batch")
    ->Arg(8192)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
