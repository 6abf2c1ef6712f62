// Event store throughput: durable appends per second with one commit per batch, the way a
// session writes its log (target >= 200,000 events/s with Sync::kFull).
//
//   BM_Append/ticks_{full,normal}/batch:N: tick-sized (39-byte) payloads, Commit() after each
//     batch of N, with Sync::kFull (fsync per commit) or Sync::kNormal.
//   BM_Append/mixed_{full,normal}/batch:N: the same with a 300-byte JSON event every 32nd append
//     (signals, decisions, order updates between ticks).
//
//   BM_Append/pg_{ticks,mixed}/batch:N: the same into a session on PostgreSQL 15 (the services'
//     store, pg_event_store.h) on loopback: the bench starts the server (aits::test_servers) with
//     fsync off, so the figure is the client, the protocol and the server's work without the
//     disk's flush (the SQLite kNormal figure is the comparable one).
//
// Each iteration is one whole batch (appends + commit, so the fsync is in the measurement);
// items_per_second is events/s. The database lives in a fresh directory under /tmp that is
// removed afterwards.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "aits/persistence/event_store.h"
#include "aits/persistence/pg_event_store.h"
#include "aits/testing/servers.h"

namespace {

using aits::Timestamp;
using aits::persistence::EventStore;
using aits::persistence::EventStoreOptions;
using aits::persistence::EventType;
using aits::persistence::Sync;

// One PostgreSQL server for the process, started at first use.
aits::test_servers::PostgresServer* Postgres() {
  static auto server = aits::test_servers::PostgresServer::Start();
  return server.ok() ? server->get() : nullptr;
}

void BM_Append(benchmark::State& state, Sync sync, bool mixed, bool postgres) {
  const auto batch = static_cast<size_t>(state.range(0));
  auto dir = aits::test_servers::TempDir::Make("aits-event-store-bench");
  if (!dir.ok() || (postgres && Postgres() == nullptr)) {
    state.SkipWithError("no temporary directory or PostgreSQL server");
    return;
  }
  static int sessions = 0;
  const std::string location =
      postgres ? "postgresql://aits@127.0.0.1:" + std::to_string(Postgres()->port()) +
                     "/postgres#bench-" + std::to_string(++sessions)
               : dir->path() + "/events.db";
  EventStoreOptions options;
  options.sync = sync;
  options.batch_events = batch;
  auto opened = aits::persistence::OpenEventStoreAt(location, options);
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

BENCHMARK_CAPTURE(BM_Append, ticks_full, Sync::kFull, false, false)
    ->ArgName("batch")
    ->Arg(1024)
    ->Arg(8192)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Append, ticks_normal, Sync::kNormal, false, false)
    ->ArgName("batch")
    ->Arg(1024)
    ->Arg(8192)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Append, mixed_full, Sync::kFull, true, false)
    ->ArgName("batch")
    ->Arg(1024)
    ->Arg(8192)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Append, mixed_normal, Sync::kNormal, true, false)
    ->ArgName("batch")
    ->Arg(8192)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_CAPTURE(BM_Append, pg_ticks, Sync::kFull, false, true)
    ->ArgName("batch")
    ->Arg(1024)
    ->Arg(8192)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Append, pg_mixed, Sync::kFull, true, true)
    ->ArgName("batch")
    ->Arg(8192)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
