// The message bus between processes (src/aits/bus/message_bus.h; docs/services.md): what one
// publisher and one consumer get through the in-process bus and through NATS JetStream on a real
// nats-server on loopback (file storage, started by the benchmark with test_servers::NatsServer).
//
//   BM_Publish/<backend>/<bytes>      synchronous publishes with an id (each waits for the
//                                     stream's acknowledgement): items_per_second.
//   BM_PublishBatch/<backend>/<n>     batches of n messages of 256 bytes with ids (PublishBatch:
//   sent
//                                     without waiting, the acks awaited together):
//                                     items_per_second.
//   BM_RoundTrip/<backend>/<bytes>    publish one message, fetch it, acknowledge it: the latency
//                                     one hop between roles adds; p50_ns, p99_ns, p999_ns from a
//                                     histogram. Backend 2: push consumers.
//   BM_Consume/<backend>/<batch>/<ack_all>  a consumer draining a stream of 20,000 stored
//                                     messages of 256 bytes in fetches of <batch>, acknowledging
//                                     each (ack_all 0) or the last of each fetch (1):
//                                     items_per_second.
//
// Run: aits_message_bus_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>

#include "aits/bus/message_bus.h"
#include "aits/bus/nats_bus.h"
#include "aits/core/latency_histogram.h"
#include "aits/testing/servers.h"

namespace aits::bus {
namespace {

// kNatsPush: NATS with push consumers (ConsumerConfig::push); publishing is the same as kNats.
enum Backend : int64_t { kInProcess = 0, kNats = 1, kNatsPush = 2 };

test_servers::NatsServer& Server() {
  static std::unique_ptr<test_servers::NatsServer> server = [] {
    auto started = test_servers::NatsServer::Start();
    if (!started.ok()) {
      std::fprintf(stderr, "%s\n", started.status().ToString().c_str());
      std::exit(1);
    }
    return std::move(started).value();
  }();
  return *server;
}

std::unique_ptr<MessageBus> Open(int64_t backend) {
  if (backend == kInProcess) return MakeInProcessBus();
  NatsOptions options;
  options.servers = {Server().url()};
  auto bus = ConnectNats(options);
  if (!bus.ok()) {
    std::fprintf(stderr, "%s\n", bus.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(bus).value();
}

// A fresh stream per run, so that one run's messages do not weigh on the next.
std::string FreshStream(MessageBus& bus) {
  static int n = 0;
  const std::string name = "B" + std::to_string(++n);
  if (!bus.AddStream(StreamConfig{name, {name + ".>"}}).ok()) std::exit(1);
  return name;
}

const char* BackendName(int64_t backend) {
  return backend == kNatsPush ? "nats_push" : backend == kNats ? "nats" : "in_process";
}

ConsumerConfig Consumer(int64_t backend, const std::string& stream, const std::string& durable) {
  ConsumerConfig config{stream, durable};
  config.push = backend == kNatsPush;
  return config;
}

void BM_Publish(benchmark::State& state) {
  std::unique_ptr<MessageBus> bus = Open(state.range(0));
  const std::string stream = FreshStream(*bus);
  const std::string subject = stream + ".EURUSD";
  const std::string payload(static_cast<size_t>(state.range(1)), 'x');
  uint64_t id = 0;
  for (auto _ : state) {
    auto ack = bus->Publish(subject, std::to_string(++id), payload);
    if (!ack.ok()) state.SkipWithError(ack.status().ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(BackendName(state.range(0)));
}
BENCHMARK(BM_Publish)->ArgsProduct({{kInProcess, kNats}, {256, 4096}})->UseRealTime();

void BM_PublishBatch(benchmark::State& state) {
  std::unique_ptr<MessageBus> bus = Open(state.range(0));
  const std::string stream = FreshStream(*bus);
  const std::string subject = stream + ".EURUSD";
  const std::string payload(256, 'x');
  const size_t size = static_cast<size_t>(state.range(1));
  std::vector<std::string> ids(size);
  std::vector<OutgoingMessage> batch(size);
  uint64_t id = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < size; ++i) {
      ids[i] = std::to_string(++id);
      batch[i] = OutgoingMessage{subject, ids[i], payload};
    }
    auto acks = bus->PublishBatch(batch);
    if (!acks.ok()) state.SkipWithError(acks.status().ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations() * state.range(1));
  state.SetLabel(BackendName(state.range(0)));
}
BENCHMARK(BM_PublishBatch)->ArgsProduct({{kInProcess, kNats}, {1, 100, 1000}})->UseRealTime();

void BM_RoundTrip(benchmark::State& state) {
  std::unique_ptr<MessageBus> bus = Open(state.range(0));
  const std::string stream = FreshStream(*bus);
  const std::string subject = stream + ".EURUSD";
  auto consumer = bus->Consume(Consumer(state.range(0), stream, "rt"));
  if (!consumer.ok()) std::exit(1);
  const std::string payload(static_cast<size_t>(state.range(1)), 'x');
  LatencyHistogram histogram;
  uint64_t id = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    if (!bus->Publish(subject, std::to_string(++id), payload).ok()) std::exit(1);
    auto got = (*consumer)->Fetch(1, Duration::Seconds(5));
    if (!got.ok() || got->size() != 1) std::exit(1);
    if (!(*consumer)->Ack(got->front().sequence).ok()) std::exit(1);
    histogram.Record(std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::steady_clock::now() - start)
                         .count());
  }
  state.counters["p50_ns"] = static_cast<double>(histogram.Quantile(0.5));
  state.counters["p99_ns"] = static_cast<double>(histogram.Quantile(0.99));
  state.counters["p999_ns"] = static_cast<double>(histogram.Quantile(0.999));
  state.SetLabel(BackendName(state.range(0)));
}
BENCHMARK(BM_RoundTrip)->ArgsProduct({{kInProcess, kNats, kNatsPush}, {256}})->UseRealTime();

void BM_Consume(benchmark::State& state) {
  constexpr int kMessages = 20'000;
  std::unique_ptr<MessageBus> bus = Open(state.range(0));
  const std::string payload(256, 'x');
  const int batch = static_cast<int>(state.range(1));
  const bool ack_all = state.range(2) != 0;
  int64_t consumed = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const std::string stream = FreshStream(*bus);
    for (int i = 0; i < kMessages; ++i) {
      if (!bus->Publish(stream + ".EURUSD", "", payload).ok()) std::exit(1);
    }
    ConsumerConfig config = Consumer(state.range(0), stream, "drain");
    config.max_ack_pending = 4 * batch;
    config.ack_all = ack_all;
    auto consumer = bus->Consume(config);
    if (!consumer.ok()) std::exit(1);
    state.ResumeTiming();
    int left = kMessages;
    while (left > 0) {
      auto got = (*consumer)->Fetch(batch, Duration::Seconds(5));
      if (!got.ok() || got->empty()) {
        state.SkipWithError("fetch failed or came back empty");
        return;
      }
      if (ack_all) {
        if (!(*consumer)->Ack(got->back().sequence).ok()) std::exit(1);
      } else {
        for (const Delivery& d : *got) {
          if (!(*consumer)->Ack(d.sequence).ok()) std::exit(1);
        }
      }
      left -= static_cast<int>(got->size());
    }
    consumed += kMessages;
    state.PauseTiming();
    (void)bus->DeleteStream(stream);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(consumed);
  state.SetLabel(BackendName(state.range(0)));
}
BENCHMARK(BM_Consume)
    ->Args({kInProcess, 1, 0})
    ->Args({kInProcess, 256, 0})
    ->Args({kNats, 1, 0})
    ->Args({kNats, 256, 0})
    ->Args({kNats, 256, 1})
    ->Args({kNatsPush, 1, 0})
    ->Args({kNatsPush, 256, 1})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace aits::bus

BENCHMARK_MAIN();
