// One feature row through the whole ensemble, on real GBP/USD M1 features (68 columns):
//   BM_EnsembleRowNoNet   k-means regime + PCA + isolation forest + XGBoost (300 rounds) +
//                         random forest (100 trees) + logistic: the issue's "one row through the
//                         ensemble without the neural net", target p99 <= 20 us;
//   BM_EnsembleRowWithNet the same plus one stateful LSTM and one GRU step (hidden 64);
//   BM_FeaturesAndEnsemble FeatureEngine::OnBar for the four timeframes + the ensemble without
//                         the net: what a bar close costs the ml_ensemble strategy.
// Latency is timed call by call into a histogram and reported as p50_us / p99_us / p999_us
// counters (medians of the repetitions are what docs/performance.md quotes).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include "aits/data/source.h"
#include "aits/features/feature_engine.h"
#include "aits/ml/pipeline.h"
#include "latency.h"

namespace aits::ml {
namespace {

struct Fixture {
  Dataset data;
  std::unique_ptr<Ensemble> no_net;
  std::unique_ptr<Ensemble> with_net;
};

Fixture& Shared() {
  static Fixture* fixture = [] {
    auto* f = new Fixture;
    const std::string dir = AITS_SHARED_DATA_DIR;
    FeatureBuildOptions options;
    options.read.ask_path = dir + "/gbpusd-m1-ask-2012.csv";
    auto data = BuildFeatureDataset(dir + "/gbpusd-m1-bid-2012.csv", options, nullptr);
    if (!data.ok()) {
      std::fprintf(stderr, "%s\n", data.status().ToString().c_str());
      std::abort();
    }
    f->data = std::move(*data);
    auto labels = MakeLabels(f->data, LabelConfig{});
    MlConfig config;
    config.data_path = "bench";
    config.use_lstm = config.use_gru = false;
    config.use_xgboost_regressor = false;
    config.xgboost.early_stopping_rounds = 0;  // all 300 rounds: the cost of a full booster
    const size_t n = f->data.rows();
    const RowRange train{0, n * 7 / 10};
    const RowRange validation{n * 7 / 10 + 30, n * 85 / 100};
    auto models = TrainModels(f->data, *labels, train, validation, config, {});
    if (!models.ok()) {
      std::fprintf(stderr, "%s\n", models.status().ToString().c_str());
      std::abort();
    }
    f->no_net = std::make_unique<Ensemble>(std::move(models->ensemble));
    config.use_xgboost = config.use_random_forest = config.use_logistic = false;
    config.use_lstm = config.use_gru = true;
    config.lstm.hidden = config.gru.hidden = 64;
    config.lstm.epochs = config.gru.epochs = 1;
    auto nets = TrainModels(f->data, *labels, {0, 5000}, {5100, 6000}, config, {});
    if (!nets.ok()) {
      std::fprintf(stderr, "%s\n", nets.status().ToString().c_str());
      std::abort();
    }
    // The full ensemble: the row models of the first run plus the two nets.
    auto copy = Ensemble::Deserialize(f->no_net->Serialize(), "copy");
    Ensemble::Parts parts = std::move(*copy).ReleaseParts();
    Ensemble::Parts net_parts = std::move(nets->ensemble).ReleaseParts();
    for (auto& net : net_parts.sequence_models) parts.sequence_models.push_back(std::move(net));
    auto full = Ensemble::Create(std::move(parts));
    if (!full.ok()) {
      std::fprintf(stderr, "%s\n", full.status().ToString().c_str());
      std::abort();
    }
    f->with_net = std::make_unique<Ensemble>(std::move(*full));
    return f;
  }();
  return *fixture;
}

void RunRows(benchmark::State& state, Ensemble& ensemble) {
  const Dataset& data = Shared().data;
  bench::LatencySamples samples(1 << 20);
  size_t row = 0;
  double sink = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    const EnsembleScore s = ensemble.Step(data.x.Row(row));
    samples.Add(std::chrono::steady_clock::now() - start);
    sink += s.p_up;
    if (++row == data.rows()) {
      row = 0;
      ensemble.ResetState();
    }
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  samples.Report(state, "us");
}

void BM_EnsembleRowNoNet(benchmark::State& state) { RunRows(state, *Shared().no_net); }
BENCHMARK(BM_EnsembleRowNoNet)->MinTime(2.0)->UseRealTime();

void BM_EnsembleRowWithNet(benchmark::State& state) { RunRows(state, *Shared().with_net); }
BENCHMARK(BM_EnsembleRowWithNet)->MinTime(2.0)->UseRealTime();

// Feature engine + ensemble per bar close, over the real bars.
void BM_FeaturesAndEnsemble(benchmark::State& state) {
  Fixture& f = Shared();
  const std::string dir = AITS_SHARED_DATA_DIR;
  data::ReadOptions read;
  read.ask_path = dir + "/gbpusd-m1-ask-2012.csv";
  auto source = data::OpenBars(dir + "/gbpusd-m1-bid-2012.csv", read);
  std::vector<Bar> bars(40'000);
  const size_t count = *(*source)->Read(bars);
  bars.resize(count);
  auto engine = features::FeatureEngine::Create({});
  std::vector<float> row(engine->size());
  bench::LatencySamples samples(1 << 20);
  size_t idx = 0;
  double sink = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    if (engine->OnBar(bars[idx]) && engine->Ready()) {
      engine->CopyTo(row);
      sink += f.no_net->Step(row).p_up;
    }
    samples.Add(std::chrono::steady_clock::now() - start);
    if (++idx == bars.size()) {
      idx = 0;
      engine->Reset();
    }
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  samples.Report(state, "us");
}
BENCHMARK(BM_FeaturesAndEnsemble)->MinTime(2.0)->UseRealTime();

}  // namespace
}  // namespace aits::ml

BENCHMARK_MAIN();
