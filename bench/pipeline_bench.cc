// Throughput of the data path and of the whole backtest pipeline.
//
//   BM_CsvTickParse     CSV tick lines parsed and validated per second (1M-line file)
//   BM_HistDataParse    the same for HistData lines ("YYYYMMDD HHMMSSmmm,bid,ask,vol")
//   BM_BinaryReplay     binary-store ticks replayed with validation per second
//   BM_Backtest         ticks per second through ticks -> M1 bars -> two SMAs -> crossover
//                       strategy -> simulated fills -> portfolio, over a binary store
//   BM_BacktestFourSymbols  the same with four symbols' stores merged in time order, one
//                       sma_cross per symbol, one account (ticks of all four per second)
//   BM_IndicatorSet     bars per second through sma, ema, rsi, atr, macd, bbands
// Inputs are synthetic (data/synthetic.h) and written once to $AITS_BENCH_DIR (default
// /tmp/aits-bench); AITS_BENCH_TICKS sets the backtest history length (default 10,000,000).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "aits/backtest/backtest.h"
#include "aits/data/source.h"
#include "aits/data/synthetic.h"
#include "aits/data/tick_store.h"
#include "aits/features/indicator_set.h"

namespace aits {
namespace {

std::string BenchDir() {
  const char* dir = std::getenv("AITS_BENCH_DIR");
  std::string path = dir ? dir : "/tmp/aits-bench";
  std::filesystem::create_directories(path);
  return path;
}

uint64_t BacktestTicks() {
  const char* text = std::getenv("AITS_BENCH_TICKS");
  return text ? std::strtoull(text, nullptr, 10) : 10'000'000;
}

std::unique_ptr<data::TickSource> Synthetic(uint64_t count) {
  data::SyntheticOptions options;
  options.count = count;
  options.seed = 42;
  auto source = data::SyntheticTickSource::Create(options);
  return std::move(source).value();
}

// A binary store of `count` synthetic ticks, made once.
std::string StoreOf(uint64_t count) {
  const std::string path = BenchDir() + "/synthetic-" + std::to_string(count) + ".aitsbin";
  if (!std::filesystem::exists(path)) {
    auto source = Synthetic(count);
    auto report = data::ImportTicks(*source, "EURUSD", 5, path);
    if (!report.ok()) {
      std::fprintf(stderr, "bench: %s\n", report.status().ToString().c_str());
      std::exit(1);
    }
  }
  return path;
}

// A text file of `count` ticks in the given layout, made once.
std::string TextOf(uint64_t count, bool histdata) {
  const std::string path =
      BenchDir() + (histdata ? "/histdata-" : "/csv-") + std::to_string(count) + ".csv";
  if (std::filesystem::exists(path)) return path;
  auto source = Synthetic(count);
  std::ofstream out(path);
  if (!histdata) out << "timestamp,bid,ask\n";
  std::vector<Tick> batch(4096);
  while (true) {
    const size_t n = *source->Read(batch);
    if (n == 0) break;
    for (size_t idx = 0; idx < n; ++idx) {
      const Tick& tick = batch[idx];
      const CivilTime c = ToCivil(tick.ts);
      char line[96];
      if (histdata) {
        std::snprintf(line, sizeof(line), "%04d%02d%02d %02d%02d%02d%03lld,%s,%s,0\n", c.year,
                      c.month, c.day, c.hour, c.minute, c.second,
                      static_cast<long long>(c.nanos / 1'000'000), tick.bid.ToString().c_str(),
                      tick.ask.ToString().c_str());
      } else {
        std::snprintf(line, sizeof(line), "%04d-%02d-%02d %02d:%02d:%02d.%03lld,%s,%s\n", c.year,
                      c.month, c.day, c.hour, c.minute, c.second,
                      static_cast<long long>(c.nanos / 1'000'000), tick.bid.ToString().c_str(),
                      tick.ask.ToString().c_str());
      }
      out << line;
    }
  }
  return path;
}

void ReadAll(benchmark::State& state, const std::string& path, data::DataFormat format) {
  data::ReadOptions options;
  options.format = format;
  std::vector<Tick> batch(4096);
  uint64_t total = 0;
  for (auto _ : state) {
    auto source = data::OpenTicks(path, options);
    if (!source.ok()) {
      state.SkipWithError(source.status().ToString().c_str());
      return;
    }
    while (true) {
      const size_t n = *(*source)->Read(batch);
      if (n == 0) break;
      total += n;
    }
    benchmark::DoNotOptimize(batch.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(total));
}

void BM_CsvTickParse(benchmark::State& state) {
  ReadAll(state, TextOf(1'000'000, false), data::DataFormat::kCsvTicks);
}
BENCHMARK(BM_CsvTickParse)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_HistDataParse(benchmark::State& state) {
  ReadAll(state, TextOf(1'000'000, true), data::DataFormat::kHistDataTicks);
}
BENCHMARK(BM_HistDataParse)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_BinaryReplay(benchmark::State& state) {
  ReadAll(state, StoreOf(BacktestTicks()), data::DataFormat::kBinary);
}
BENCHMARK(BM_BinaryReplay)->Unit(benchmark::kMillisecond)->UseRealTime();

// One backtest per iteration; items are the ticks replayed.
void RunBacktests(benchmark::State& state, const backtest::BacktestConfig& config) {
  uint64_t ticks = 0;
  int64_t trades = 0;
  for (auto _ : state) {
    auto result = backtest::RunBacktest(config);
    if (!result.ok()) {
      state.SkipWithError(result.status().ToString().c_str());
      return;
    }
    ticks += result->ticks;
    trades = result->stats.trades;
  }
  state.SetItemsProcessed(static_cast<int64_t>(ticks));
  state.counters["trades"] = static_cast<double>(trades);
}

void BM_Backtest(benchmark::State& state) {
  backtest::BacktestConfig config;
  config.data_path = StoreOf(BacktestTicks());
  config.format = data::DataFormat::kBinary;
  config.instrument = Instrument::Infer("EURUSD");
  config.strategy = "sma_cross";
  config.params = *strategy::StrategyParams::Parse("fast=10,slow=30");
  RunBacktests(state, config);
}
BENCHMARK(BM_Backtest)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

// Four symbols of AITS_BENCH_TICKS synthetic ticks each (EUR/USD, GBP/USD, USD/JPY, AUD/USD
// from different seeds, so their times interleave), merged in time order into one backtest with
// an sma_cross per symbol on one account. Items are the ticks of all four (target >= 15 M/s).
void BM_BacktestFourSymbols(benchmark::State& state) {
  struct Spec {
    const char* symbol;
    int digits;
    double price;
    uint64_t seed;
  };
  const Spec specs[] = {{"EURUSD", 5, 1.10, 42},
                        {"GBPUSD", 5, 1.30, 43},
                        {"USDJPY", 3, 110.0, 44},
                        {"AUDUSD", 5, 0.70, 45}};
  backtest::BacktestConfig config;
  config.format = data::DataFormat::kBinary;
  config.strategy = "sma_cross";
  config.params = *strategy::StrategyParams::Parse("fast=10,slow=30");
  const uint64_t count = BacktestTicks();
  for (const Spec& spec : specs) {
    const std::string path =
        BenchDir() + "/synthetic-" + spec.symbol + "-" + std::to_string(count) + ".aitsbin";
    if (!std::filesystem::exists(path)) {
      data::SyntheticOptions options;
      options.count = count;
      options.seed = spec.seed;
      options.digits = spec.digits;
      options.start_price = spec.price;
      auto source = data::SyntheticTickSource::Create(options);
      if (!source.ok()) {
        state.SkipWithError(source.status().ToString().c_str());
        return;
      }
      auto report = data::ImportTicks(**source, spec.symbol, spec.digits, path);
      if (!report.ok()) {
        state.SkipWithError(report.status().ToString().c_str());
        return;
      }
    }
    backtest::FeedConfig feed;
    feed.instrument = Instrument::Infer(spec.symbol);
    feed.data_path = path;
    config.feeds.push_back(feed);
  }
  RunBacktests(state, config);
}
BENCHMARK(BM_BacktestFourSymbols)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

void BM_IndicatorSet(benchmark::State& state) {
  auto set = features::IndicatorSet::Parse("sma:30,ema:30,rsi:14,atr:14,macd:12:26:9,bbands:20:2");
  Bar bar;
  double price = 1.1;
  std::vector<std::optional<double>> values;
  for (auto _ : state) {
    price += (state.iterations() % 7 < 3 ? 1e-5 : -1e-5);
    const Price p = Price::FromRaw(static_cast<int64_t>(price * 1e9), 5);
    bar.mid = bar.bid = bar.ask = Ohlc{p, p, p, p};
    set->Update(bar);
    set->Values(&values);
    benchmark::DoNotOptimize(values.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_IndicatorSet);

}  // namespace
}  // namespace aits

BENCHMARK_MAIN();
