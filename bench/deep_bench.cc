// LSTM / GRU inference cost: the stateful Eigen step the live path uses, against LibTorch.
//
//   BM_EigenStep/<cell>       one RecurrentModel::Step (hidden 64, 68 inputs, 1 layer)
//   BM_EigenStepLatency/...   the same, >= 100k steps timed one by one: p50/p99/p99.9 in µs
//   BM_TorchCellStep          one torch::nn::LSTMCell step + head (what stepping through LibTorch
//                             would cost; for the record)
//   BM_EigenWindow            RecurrentModel::PredictWindow over 60 rows
//   BM_TorchWindow/<n>        TorchSequenceReference::PredictWindows, n windows of 60 rows in one
//                             batch (includes standardizing the rows)
// Run with --benchmark_repetitions=5 --benchmark_report_aggregates_only=true and quote medians.
// LibTorch runs with one intra-op thread, as the kernel thread would.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <vector>

#include "aits/ml/sequence_trainer.h"
#include "aits/models/recurrent_model.h"
#include "latency.h"

namespace aits::ml {
namespace {

constexpr size_t kInputs = 68;
constexpr size_t kHidden = 64;
constexpr size_t kWindow = 60;
constexpr size_t kStreamRows = 4096;

class BenchRng {
 public:
  explicit BenchRng(uint64_t seed) : state_(seed) {}
  float Uniform() {  // [-1, 1)
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return static_cast<float>(static_cast<double>(z >> 11) * 0x1.0p-53 * 2.0 - 1.0);
  }

 private:
  uint64_t state_;
};

Matrix RandomRows(size_t rows, uint64_t seed) {
  BenchRng rng(seed);
  Matrix m(rows, kInputs);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < kInputs; ++c) m(r, c) = 5.0f + 2.0f * rng.Uniform();
  }
  return m;
}

std::unique_ptr<RecurrentModel> MakeModel(RecurrentCell cell) {
  BenchRng rng(17);
  const float scale = 1.0f / std::sqrt(static_cast<float>(kHidden));
  auto fill = [&](size_t n) {
    std::vector<float> v(n);
    for (float& x : v) x = scale * rng.Uniform();
    return v;
  };
  RecurrentWeights w;
  w.cell = cell;
  w.input_size = kInputs;
  w.hidden = kHidden;
  const size_t gate_rows = RecurrentGateCount(cell) * kHidden;
  RecurrentLayerWeights layer;
  layer.w_ih = fill(gate_rows * kInputs);
  layer.w_hh = fill(gate_rows * kHidden);
  layer.b_ih = fill(gate_rows);
  layer.b_hh = fill(gate_rows);
  w.layers.push_back(std::move(layer));
  w.head_w = fill(kHidden);
  return std::move(
             RecurrentModel::Create(std::move(w), Standardizer::Fit(RandomRows(512, 3)), kWindow))
      .value();
}

RecurrentCell CellArg(const benchmark::State& state) {
  return state.range(0) == 0 ? RecurrentCell::kLstm : RecurrentCell::kGru;
}

void BM_EigenStep(benchmark::State& state) {
  std::unique_ptr<RecurrentModel> model = MakeModel(CellArg(state));
  const Matrix rows = RandomRows(kStreamRows, 5);
  size_t row = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(model->Step(rows.Row(row)));
    row = (row + 1) % kStreamRows;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(std::string(RecurrentCellName(CellArg(state))));
}
BENCHMARK(BM_EigenStep)->Arg(0)->Arg(1);

// Tail latency of single steps, timed one by one (the clock read adds ~20 ns to each).
void BM_EigenStepLatency(benchmark::State& state) {
  std::unique_ptr<RecurrentModel> model = MakeModel(CellArg(state));
  const Matrix rows = RandomRows(kStreamRows, 5);
  constexpr size_t kSteps = 200000;
  bench::LatencySamples samples(kSteps);
  for (auto _ : state) {
    for (size_t step = 0; step < kSteps; ++step) {
      const auto start = std::chrono::steady_clock::now();
      benchmark::DoNotOptimize(model->Step(rows.Row(step % kStreamRows)));
      samples.Add(std::chrono::steady_clock::now() - start);
    }
  }
  samples.Report(state, "us");
  state.SetLabel(std::string(RecurrentCellName(CellArg(state))));
}
BENCHMARK(BM_EigenStepLatency)->Arg(0)->Arg(1)->Iterations(1)->Unit(benchmark::kMillisecond);

void BM_TorchCellStep(benchmark::State& state) {
  at::set_num_threads(1);
  std::unique_ptr<RecurrentModel> model = MakeModel(RecurrentCell::kLstm);
  const RecurrentWeights& w = model->weights();
  torch::NoGradGuard no_grad;
  torch::nn::LSTMCell cell(torch::nn::LSTMCellOptions(kInputs, kHidden));
  torch::nn::Linear head(kHidden, 1);
  auto copy = [](torch::Tensor param, const std::vector<float>& values) {
    param.copy_(torch::from_blob(const_cast<float*>(values.data()), param.sizes()));
  };
  copy(cell->weight_ih, w.layers[0].w_ih);
  copy(cell->weight_hh, w.layers[0].w_hh);
  copy(cell->bias_ih, w.layers[0].b_ih);
  copy(cell->bias_hh, w.layers[0].b_hh);
  copy(head->weight, w.head_w);
  head->bias.fill_(w.head_b);
  const Matrix rows = RandomRows(kStreamRows, 5);
  std::vector<float> scaled(kInputs);
  torch::Tensor h = torch::zeros({1, static_cast<int64_t>(kHidden)});
  torch::Tensor c = torch::zeros({1, static_cast<int64_t>(kHidden)});
  size_t row = 0;
  for (auto _ : state) {
    model->standardizer().Apply(rows.Row(row), scaled);
    torch::Tensor x = torch::from_blob(scaled.data(), {1, static_cast<int64_t>(kInputs)});
    std::tie(h, c) = cell->forward(x, std::make_tuple(h, c));
    benchmark::DoNotOptimize(torch::sigmoid(head->forward(h)).item<float>());
    row = (row + 1) % kStreamRows;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TorchCellStep);

void BM_EigenWindow(benchmark::State& state) {
  std::unique_ptr<RecurrentModel> model = MakeModel(RecurrentCell::kLstm);
  const Matrix window = RandomRows(kWindow, 9);
  for (auto _ : state) benchmark::DoNotOptimize(model->PredictWindow(window));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EigenWindow)->Unit(benchmark::kMicrosecond);

void BM_TorchWindow(benchmark::State& state) {
  std::unique_ptr<RecurrentModel> model = MakeModel(RecurrentCell::kLstm);
  std::unique_ptr<TorchSequenceReference> reference =
      std::move(TorchSequenceReference::Create(*model, 1)).value();
  const size_t windows = static_cast<size_t>(state.range(0));
  const Matrix rows = RandomRows(kWindow + windows, 9);
  std::vector<size_t> ends(windows);
  for (size_t k = 0; k < windows; ++k) ends[k] = kWindow - 1 + k;
  for (auto _ : state) {
    Result<std::vector<float>> out = reference->PredictWindows(rows, ends, kWindow);
    benchmark::DoNotOptimize(out.ok());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(windows));
}
BENCHMARK(BM_TorchWindow)->Arg(1)->Arg(256)->Unit(benchmark::kMicrosecond);

// The Eigen model over the same 256 windows, one after the other, for the batched comparison.
void BM_EigenWindowBatch(benchmark::State& state) {
  std::unique_ptr<RecurrentModel> model = MakeModel(RecurrentCell::kLstm);
  constexpr size_t kWindows = 256;
  const Matrix rows = RandomRows(kWindow + kWindows, 9);
  std::vector<Matrix> windows;
  for (size_t k = 0; k < kWindows; ++k) windows.push_back(rows.SliceRows(k, k + kWindow));
  for (auto _ : state) {
    for (const Matrix& window : windows) benchmark::DoNotOptimize(model->PredictWindow(window));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kWindows));
}
BENCHMARK(BM_EigenWindowBatch)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace aits::ml

BENCHMARK_MAIN();
