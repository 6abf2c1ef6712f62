// The row learners: training time, batched throughput and single-row latency.
//
//   BM_XgbTrain1M          XGBoost training, 1,000,000 rows x 70 features, 100 rounds, depth 6,
//                          hist, 2 threads (target < 60 s)
//   BM_XgbContinue50k      continued boosting (XgbModel::Continue, issue 13's incremental update)
//                          of a 300-round model on the last 50,000 rows x 70 features: 100 more
//                          rounds, depth 6, hist, 2 threads (target < 10 s)
//   BM_XgbInplaceBatch/n   XGBoost's own inplace prediction on n rows, nthread 1 (rows/s)
//   BM_FlatTreesBatch/n    the same model through FlatTrees::SumBatch, one core (rows/s); the
//                          faster one is what XgbModel::PredictBatch uses
//   BM_XgbPredictRow       XgbModel::Predict on one row (FlatTrees)
//   BM_RfPredictRow        RandomForest::Predict, 100 trees of depth <= 10
//   BM_LogisticPredictRow  LogisticRegression::Predict
//   BM_RfTrain/n           random forest training, n rows x 70, 100 trees, 2 threads
//   BM_LogisticTrain/n     logistic regression (IRLS) training, n rows x 70
// Single-row benchmarks time every call and report p50_ns / p99_ns from the per-call
// histogram as counters. Repeated benchmarks report medians over 5 repetitions.
// Inputs are synthetic: standard normal features, label 1 when
// 2 x0 - x1 + 0.5 x2 x3 + noise > 0 (the regressor variants are not benchmarked separately:
// same trees, no sigmoid).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include "aits/models/logistic_regression.h"
#include "aits/models/random_forest.h"
#include "aits/models/xgboost_model.h"
#include "latency.h"

namespace aits::ml {
namespace {

constexpr size_t kFeatures = 70;

struct Data {
  Matrix x;
  std::vector<float> y;
};

Data MakeData(size_t rows, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Data data{Matrix(rows, kFeatures), std::vector<float>(rows)};
  for (size_t r = 0; r < rows; ++r) {
    float* row = data.x.Row(r).data();
    for (size_t c = 0; c < kFeatures; ++c) row[c] = normal(rng);
    const float latent = 2 * row[0] - row[1] + 0.5f * row[2] * row[3] + normal(rng);
    data.y[r] = latent > 0 ? 1.0f : 0.0f;
  }
  return data;
}

const Data& Train1M() {
  static const Data data = MakeData(1'000'000, 1);
  return data;
}
const Data& Test() {
  static const Data data = MakeData(100'000, 2);
  return data;
}

template <typename T>
T Check(Result<T> result) {
  if (!result.ok()) {
    std::fprintf(stderr, "ml_bench: %s\n", result.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(result).value();
}

// The inference benchmarks' model: the benchmark configuration on 200k rows (the trees are as
// deep and as many as the 1M model's, which is what inference cost depends on).
const XgbModel& Xgb() {
  static const std::unique_ptr<XgbModel> model = [] {
    const Data data = MakeData(200'000, 3);
    XgbConfig config;
    config.rounds = 100;
    config.max_depth = 6;
    config.early_stopping_rounds = 0;
    return Check(XgbModel::Train(data.x, data.y, config));
  }();
  return *model;
}

const RandomForest& Forest() {
  static const std::unique_ptr<RandomForest> model = [] {
    const Data data = MakeData(100'000, 4);
    return Check(RandomForest::Train(data.x, data.y, RandomForestConfig{}));
  }();
  return *model;
}

const LogisticRegression& Logistic() {
  static const std::unique_ptr<LogisticRegression> model = [] {
    const Data data = MakeData(100'000, 5);
    return Check(LogisticRegression::Train(data.x, data.y, LogisticConfig{}));
  }();
  return *model;
}

void BM_XgbTrain1M(benchmark::State& state) {
  const Data& data = Train1M();
  XgbConfig config;
  config.rounds = 100;
  config.max_depth = 6;
  config.tree_method = "hist";
  config.threads = 2;
  config.early_stopping_rounds = 0;
  for (auto _ : state) {
    auto model = Check(XgbModel::Train(data.x, data.y, config));
    benchmark::DoNotOptimize(model.get());
  }
  state.counters["rows"] = static_cast<double>(data.x.rows());
}
BENCHMARK(BM_XgbTrain1M)->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);

void BM_XgbContinue50k(benchmark::State& state) {
  const Data old_rows = MakeData(200'000, 11);
  XgbConfig config;
  config.rounds = 300;
  config.max_depth = 6;
  config.threads = 2;
  config.early_stopping_rounds = 0;
  const auto model = Check(XgbModel::Train(old_rows.x, old_rows.y, config));
  const Data recent = MakeData(50'000, 12);
  config.rounds = 100;
  for (auto _ : state) {
    auto continued = Check(model->Continue(recent.x, recent.y, config));
    benchmark::DoNotOptimize(continued.get());
  }
  state.counters["rows"] = static_cast<double>(recent.x.rows());
}
BENCHMARK(BM_XgbContinue50k)
    ->Iterations(1)
    ->Repetitions(3)
    ->UseRealTime()
    ->Unit(benchmark::kSecond);

Matrix TestRows(size_t rows) { return Test().x.SliceRows(0, rows); }

void BM_XgbInplaceBatch(benchmark::State& state) {
  const XgbModel& model = Xgb();
  const Matrix x = TestRows(static_cast<size_t>(state.range(0)));
  std::vector<float> out(x.rows());
  for (auto _ : state) {
    if (!model.XgbPredict(x, out).ok()) state.SkipWithError("XgbPredict failed");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_XgbInplaceBatch)
    ->RangeMultiplier(8)
    ->Range(1, 1 << 15)
    ->Arg(100'000)
    ->Repetitions(5)
    ->ReportAggregatesOnly(true);

void BM_FlatTreesBatch(benchmark::State& state) {
  const XgbModel& model = Xgb();
  const Matrix x = TestRows(static_cast<size_t>(state.range(0)));
  std::vector<float> out(x.rows());
  for (auto _ : state) {
    model.trees().SumBatch(x.data(), x.rows(), x.cols(), out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_FlatTreesBatch)
    ->RangeMultiplier(8)
    ->Range(1, 1 << 15)
    ->Arg(100'000)
    ->Repetitions(5)
    ->ReportAggregatesOnly(true);

// Times every Predict call; p50/p99 from the sorted per-call latencies.
void SingleRow(benchmark::State& state, const RowModel& model) {
  const Matrix& x = Test().x;
  bench::LatencySamples samples(1 << 20);
  size_t row = 0;
  float sink = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    sink += model.Predict(x.Row(row));
    samples.Add(std::chrono::steady_clock::now() - start);
    row = row + 1 == x.rows() ? 0 : row + 1;
  }
  benchmark::DoNotOptimize(sink);
  samples.Report(state, "ns");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_XgbPredictRow(benchmark::State& state) { SingleRow(state, Xgb()); }
void BM_RfPredictRow(benchmark::State& state) { SingleRow(state, Forest()); }
void BM_LogisticPredictRow(benchmark::State& state) { SingleRow(state, Logistic()); }
BENCHMARK(BM_XgbPredictRow)->Repetitions(5)->ReportAggregatesOnly(true);
BENCHMARK(BM_RfPredictRow)->Repetitions(5)->ReportAggregatesOnly(true);
BENCHMARK(BM_LogisticPredictRow)->Repetitions(5)->ReportAggregatesOnly(true);

void BM_RfTrain(benchmark::State& state) {
  const Data data = MakeData(static_cast<size_t>(state.range(0)), 6);
  for (auto _ : state) {
    auto model = Check(RandomForest::Train(data.x, data.y, RandomForestConfig{}));
    benchmark::DoNotOptimize(model.get());
  }
}
BENCHMARK(BM_RfTrain)
    ->Arg(200'000)
    ->Arg(1'000'000)
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kSecond);

void BM_LogisticTrain(benchmark::State& state) {
  const Data& data = Train1M();
  const size_t rows = static_cast<size_t>(state.range(0));
  const Matrix x = data.x.SliceRows(0, rows);
  for (auto _ : state) {
    auto model =
        Check(LogisticRegression::Train(x, std::span(data.y).first(rows), LogisticConfig{}));
    benchmark::DoNotOptimize(model.get());
  }
}
BENCHMARK(BM_LogisticTrain)->Arg(1'000'000)->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);

}  // namespace
}  // namespace aits::ml

BENCHMARK_MAIN();
