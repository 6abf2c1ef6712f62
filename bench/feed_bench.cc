// The feed (docs/feed.md): the streamer's tick batches and the collector's spill and resend.
//
//   BM_EncodeBatch/codec/ticks  ticks of real EUR/USD (../shared/data, one day, 9,500 ticks)
//                               encoded into batches of `ticks` (varint deltas, then LZ4 or gzip)
//   BM_DecodeBatch/codec/ticks  the same batches decoded and validated
//   BM_Lz4CompressPayload       LZ4 alone on the batches' varint payloads (the compressor's share)
//   BM_Collector/sync/resend:0  the collector with its uplink down: the day's quotes 20 times
//                               (a day apart) validated, sequenced and, as the ring overflows,
//                               written to the spill file, then Shutdown spills the ring; sync 1 =
//                               fdatasync per record (the default), 0 = none
//   BM_Collector/sync/resend:1  the uplink back: a new collector opens (recovers) that spill file
//                               and resends it to a DedupReceiver in the same process (which
//                               decodes and checks every batch), until the file is empty
// The collector figures count ticks/s of wall time (fdatasync waits count; target >= 200,000).
// The spill file is in $AITS_BENCH_DIR (default /tmp).
// Counters: raw_MBps counts raw 40-byte ticks (time, bid, ask as int64, two f32 volumes, u64
// sequence; feed::kRawTickBytes) per second, in 10^6 bytes; ticks/s; ratio = raw bytes / bytes on
// the wire (header included). One thread. Quote medians:
//   build/release/bench/aits_feed_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true   (one command line)
// Without the data file the benchmarks skip with a message (set AITS_SHARED_DATA_DIR).
#include <benchmark/benchmark.h>
#include <lz4.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "aits/data/source.h"
#include "aits/feed/collector.h"
#include "aits/feed/dedup.h"
#include "aits/feed/tick_batch.h"

namespace aits::feed {
namespace {

// The real ticks as batches of `per_batch`, sequences per symbol from 1.
const std::vector<SequencedTick>& RealTicks() {
  static const std::vector<SequencedTick> ticks = [] {
    std::vector<SequencedTick> out;
    const char* dir = std::getenv("AITS_SHARED_DATA_DIR");
    const std::string path =
        std::string(dir ? dir : "../shared/data") + "/eurusd-ticks-2020-01-01.csv";
    auto source = data::OpenTicks(path, {});
    if (!source.ok()) {
      std::fprintf(stderr, "feed_bench: %s (set AITS_SHARED_DATA_DIR)\n",
                   source.status().ToString().c_str());
      return out;
    }
    std::vector<Tick> chunk(4096);
    uint64_t sequence = 0;
    while (true) {
      auto count = (*source)->Read(chunk);
      if (!count.ok() || *count == 0) break;
      for (size_t idx = 0; idx < *count; ++idx) {
        SequencedTick st{chunk[idx], ++sequence};
        st.tick.instrument = InstrumentId{0};
        out.push_back(st);
      }
    }
    return out;
  }();
  return ticks;
}

std::vector<TickBatch> Batches(size_t per_batch) {
  std::vector<TickBatch> batches;
  const auto& ticks = RealTicks();
  for (size_t start = 0; start < ticks.size(); start += per_batch) {
    TickBatch batch;
    batch.symbols = {{"EURUSD", 5}};
    const size_t end = std::min(ticks.size(), start + per_batch);
    batch.ticks.assign(ticks.begin() + static_cast<ptrdiff_t>(start),
                       ticks.begin() + static_cast<ptrdiff_t>(end));
    batches.push_back(std::move(batch));
  }
  return batches;
}

// The batches encoded: the bytes of each, and the totals the counters need.
struct Encoded {
  std::vector<std::vector<uint8_t>> wires;
  std::vector<std::vector<uint8_t>> payloads;  // the varint payloads before compression
  size_t ticks = 0;
  size_t wire_bytes = 0;
  size_t payload_bytes = 0;
};

bool EncodeAll(const std::vector<TickBatch>& batches, Compression compression, Encoded& out) {
  TickBatchCodec codec;
  for (const TickBatch& batch : batches) {
    std::vector<uint8_t> bytes;
    if (!codec.Encode(batch, compression, bytes).ok()) return false;
    out.payloads.emplace_back(codec.last_payload().begin(), codec.last_payload().end());
    out.payload_bytes += out.payloads.back().size();
    out.wire_bytes += bytes.size();
    out.ticks += batch.ticks.size();
    out.wires.push_back(std::move(bytes));
  }
  return !batches.empty();
}

void SetCounters(benchmark::State& state, size_t ticks_per_pass, size_t wire_per_pass) {
  const double passes = static_cast<double>(state.iterations());
  const double raw = static_cast<double>(ticks_per_pass * kRawTickBytes);
  state.counters["raw_MBps"] = benchmark::Counter(raw * passes / 1e6, benchmark::Counter::kIsRate);
  state.counters["ticks/s"] =
      benchmark::Counter(static_cast<double>(ticks_per_pass) * passes, benchmark::Counter::kIsRate);
  state.counters["ratio"] = raw / static_cast<double>(wire_per_pass);
}

// Args: codec (1 lz4, 2 gzip), ticks per batch.
void CodecArgs(benchmark::internal::Benchmark* bench) {
  bench->ArgNames({"codec", "ticks"})->Unit(benchmark::kMicrosecond);
  for (int64_t codec : {1, 2}) {
    for (int64_t ticks : {1'000, 10'000}) bench->Args({codec, ticks});
  }
}

// The batches of the benchmark's arguments, and their encoding; false (the benchmark skipped
// with a message) without the data file.
bool Prepare(benchmark::State& state, std::vector<TickBatch>& batches, Encoded& encoded) {
  batches = Batches(static_cast<size_t>(state.range(1)));
  if (!EncodeAll(batches, static_cast<Compression>(state.range(0)), encoded)) {
    state.SkipWithError("no ticks (eurusd-ticks-2020-01-01.csv missing) or encode failed");
    return false;
  }
  return true;
}

void BM_EncodeBatch(benchmark::State& state) {
  const auto codec_id = static_cast<Compression>(state.range(0));
  std::vector<TickBatch> batches;
  Encoded encoded;
  if (!Prepare(state, batches, encoded)) return;
  TickBatchCodec codec;
  std::vector<uint8_t> out;
  for (auto _ : state) {
    for (const TickBatch& batch : batches) {
      Status status = codec.Encode(batch, codec_id, out);
      benchmark::DoNotOptimize(status);
      benchmark::DoNotOptimize(out.data());
    }
  }
  SetCounters(state, encoded.ticks, encoded.wire_bytes);
}
BENCHMARK(BM_EncodeBatch)->Apply(CodecArgs);

void BM_DecodeBatch(benchmark::State& state) {
  std::vector<TickBatch> batches;
  Encoded encoded;
  if (!Prepare(state, batches, encoded)) return;
  TickBatchCodec codec;
  TickBatch decoded;
  for (auto _ : state) {
    for (const auto& bytes : encoded.wires) {
      Status status = codec.Decode(bytes, decoded);
      if (!status.ok()) {
        state.SkipWithError(status.ToString().c_str());
        return;
      }
      benchmark::DoNotOptimize(decoded.ticks.data());
    }
  }
  SetCounters(state, encoded.ticks, encoded.wire_bytes);
}
BENCHMARK(BM_DecodeBatch)->Apply(CodecArgs);

// LZ4 alone on the varint payloads of 1,000-tick batches: payload_MBps is what LZ4 itself
// compresses per second; raw_MBps the raw tick bytes those payloads stand for.
void BM_Lz4CompressPayload(benchmark::State& state) {
  Encoded encoded;
  if (!EncodeAll(Batches(1'000), Compression::kLz4, encoded)) {
    state.SkipWithError("no ticks (eurusd-ticks-2020-01-01.csv missing) or encode failed");
    return;
  }
  std::vector<char> out(static_cast<size_t>(LZ4_compressBound(1 << 20)));
  for (auto _ : state) {
    for (const auto& payload : encoded.payloads) {
      const int written =
          LZ4_compress_default(reinterpret_cast<const char*>(payload.data()), out.data(),
                               static_cast<int>(payload.size()), static_cast<int>(out.size()));
      benchmark::DoNotOptimize(written);
    }
  }
  SetCounters(state, encoded.ticks, encoded.wire_bytes);
  state.counters["payload_MBps"] = benchmark::Counter(
      static_cast<double>(encoded.payload_bytes) * static_cast<double>(state.iterations()) / 1e6,
      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Lz4CompressPayload)->Unit(benchmark::kMicrosecond);

// The real day 20 times over, a day apart, as the terminal would report it.
const std::vector<Quote>& CollectorQuotes() {
  static const std::vector<Quote> quotes = [] {
    std::vector<Quote> out;
    for (int day = 0; day < 20; ++day) {
      for (const SequencedTick& st : RealTicks()) {
        Quote quote;
        quote.symbol = "EURUSD";
        quote.time = st.tick.ts + Duration::Days(day);
        quote.bid = st.tick.bid.AsDouble();
        quote.ask = st.tick.ask.AsDouble();
        quote.volume = 0.0;
        out.push_back(quote);
      }
    }
    return out;
  }();
  return quotes;
}

class SwitchUplink final : public Uplink {
 public:
  Status Send(std::span<const uint8_t> batch) override {
    if (down) return IoError("down");
    return receiver.Receive(batch, delivered);
  }
  bool down = true;
  DedupReceiver receiver;
  std::vector<SequencedTick> delivered;
};

CollectorOptions BenchCollectorOptions(bool sync) {
  const char* dir = std::getenv("AITS_BENCH_DIR");
  CollectorOptions options;
  options.symbols = {{"EURUSD", 5}};
  options.spill_path = std::string(dir ? dir : "/tmp") + "/aits_feed_bench.spill";
  options.spill.sync = sync ? SpillSync::kEveryRecord : SpillSync::kNone;
  return options;
}

// Accepts every quote with the uplink down, then spills the ring: the whole day in the spill.
bool FillSpill(const CollectorOptions& options, SwitchUplink& uplink, SimulatedClock& clock) {
  auto collector = Collector::Open(options, uplink, clock);
  if (!collector.ok()) return false;
  for (const Quote& quote : CollectorQuotes()) {
    if (!(*collector)->Accept(quote).ok()) return false;
  }
  return (*collector)->Shutdown().ok();
}

// One pass: the spill filled with the uplink down, then (resend) a new collector resends it.
// Only the spill, or only the resend, is timed.
bool CollectorPass(benchmark::State& state, const CollectorOptions& options, bool resend) {
  state.PauseTiming();
  std::filesystem::remove(options.spill_path);
  SwitchUplink uplink;
  SimulatedClock clock;
  SimulatedSleeper sleeper(clock);
  if (!resend) state.ResumeTiming();
  if (!FillSpill(options, uplink, clock)) {
    state.SkipWithError("spill failed");
    return false;
  }
  if (!resend) return true;
  uplink.down = false;
  uplink.delivered.reserve(CollectorQuotes().size());
  state.ResumeTiming();
  auto collector = Collector::Open(options, uplink, clock);
  if (!collector.ok() || !(*collector)->Drain(sleeper, clock.Now()).ok() ||
      uplink.delivered.size() != CollectorQuotes().size()) {
    state.SkipWithError("resend failed or lost ticks");
    return false;
  }
  return true;
}

// Args: sync (1: fdatasync per record), resend (0: time the spill, 1: time the resend).
void BM_Collector(benchmark::State& state) {
  const CollectorOptions options = BenchCollectorOptions(state.range(0) != 0);
  if (CollectorQuotes().empty()) {
    state.SkipWithError("no ticks: eurusd-ticks-2020-01-01.csv missing");
    return;
  }
  for (auto _ : state) {
    if (!CollectorPass(state, options, state.range(1) != 0)) return;
  }
  std::filesystem::remove(options.spill_path);
  state.counters["ticks/s"] = benchmark::Counter(
      static_cast<double>(CollectorQuotes().size()) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Collector)
    ->ArgNames({"sync", "resend"})
    ->Args({1, 0})
    ->Args({0, 0})
    ->Args({1, 1})
    ->Args({0, 1})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace aits::feed

BENCHMARK_MAIN();
