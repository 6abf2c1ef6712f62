// The only translation unit of the ML pipeline that includes LibTorch (see the header).
#include "aits/ml/sequence_trainer.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>
#include <string_view>
#include <utility>

namespace aits::ml {
namespace {

constexpr int kMaxThreads = 256;
constexpr int kMaxWindow = 1 << 20;
// Validation and reference forward passes run in chunks of this many windows, bounding memory.
constexpr size_t kEvalChunk = 1024;

// The torch counterpart of RecurrentModel.
struct Net : torch::nn::Module {
  Net(RecurrentCell cell_type, int64_t input_size, int64_t hidden, int64_t layers, double dropout)
      : cell(cell_type) {
    if (cell == RecurrentCell::kLstm) {
      lstm = register_module("rnn", torch::nn::LSTM(torch::nn::LSTMOptions(input_size, hidden)
                                                        .num_layers(layers)
                                                        .batch_first(true)
                                                        .dropout(dropout)));
    } else {
      gru = register_module("rnn", torch::nn::GRU(torch::nn::GRUOptions(input_size, hidden)
                                                      .num_layers(layers)
                                                      .batch_first(true)
                                                      .dropout(dropout)));
    }
    head = register_module("head", torch::nn::Linear(hidden, 1));
  }

  // [batch, window, input] -> logits [batch].
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor out =
        cell == RecurrentCell::kLstm ? std::get<0>(lstm->forward(x)) : std::get<0>(gru->forward(x));
    return head->forward(out.select(1, out.size(1) - 1)).squeeze(1);
  }

  torch::Tensor RnnParameter(const std::string& name) {
    torch::nn::Module& rnn = cell == RecurrentCell::kLstm ? static_cast<torch::nn::Module&>(*lstm)
                                                          : static_cast<torch::nn::Module&>(*gru);
    return rnn.named_parameters()[name];
  }

  RecurrentCell cell;
  torch::nn::LSTM lstm{nullptr};
  torch::nn::GRU gru{nullptr};
  torch::nn::Linear head{nullptr};
};

// Sets LibTorch's intra-op thread count for a scope and puts the previous one back. With the
// OpenMP backend (Debian's LibTorch) the count a kernel uses is the calling thread's own OpenMP
// setting, so runs on two threads at once each keep the count they set.
class TorchThreads {
 public:
  explicit TorchThreads(int threads) : previous_(at::get_num_threads()) {
    at::set_num_threads(threads);
  }
  ~TorchThreads() { at::set_num_threads(previous_); }
  TorchThreads(const TorchThreads&) = delete;
  TorchThreads& operator=(const TorchThreads&) = delete;

 private:
  int previous_;
};

// Guards LibTorch's default generator, which is process-wide: between torch::manual_seed and
// the last draw of a training run no other thread may draw from it, or the weights would depend
// on how the threads interleave.
std::mutex& GeneratorMutex() {
  static std::mutex mutex;
  return mutex;
}

// splitmix64: the shuffle must not depend on the standard library's distributions, which differ
// between implementations.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

void Shuffle(std::vector<int64_t>& values, SplitMix64& rng) {
  for (size_t idx = values.size(); idx > 1; --idx) {
    // Modulo bias is below 2^-32 for any realistic sample count, and determinism is what counts.
    const size_t other = static_cast<size_t>(rng.Next() % idx);
    std::swap(values[idx - 1], values[other]);
  }
}

std::vector<float> ToVector(const torch::Tensor& tensor) {
  torch::Tensor flat = tensor.detach().contiguous().to(torch::kFloat).view({-1});
  const float* data = flat.data_ptr<float>();
  return std::vector<float>(data, data + flat.numel());
}

void CopyInto(torch::Tensor param, const std::vector<float>& values) {
  torch::Tensor source =
      torch::from_blob(const_cast<float*>(values.data()), param.sizes(), torch::kFloat);
  param.copy_(source);
}

// Standardizes every row with the same Apply that RecurrentModel::Step uses, so that torch and
// the Eigen step see bit-identical inputs.
std::vector<float> StandardizeRows(const Standardizer& standardizer, const Matrix& x) {
  std::vector<float> out(x.rows() * x.cols());
  for (size_t row = 0; row < x.rows(); ++row) {
    standardizer.Apply(x.Row(row), std::span<float>(out.data() + row * x.cols(), x.cols()));
  }
  return out;
}

struct Samples {
  std::vector<int64_t> ends;  // last row of each window
};

Status CheckSet(std::string_view name, const Matrix& x, std::span<const float> y,
                std::span<const uint8_t> usable, size_t window, Samples* samples) {
  const std::string label(name);
  if (x.rows() == 0 || x.cols() == 0) {
    return InvalidArgument(label + ": empty matrix (" + std::to_string(x.rows()) + " rows, " +
                           std::to_string(x.cols()) + " columns)");
  }
  if (y.size() != x.rows()) {
    return InvalidArgument(label + ": " + std::to_string(y.size()) + " labels for " +
                           std::to_string(x.rows()) + " rows");
  }
  if (usable.size() != x.rows()) {
    return InvalidArgument(label + ": " + std::to_string(usable.size()) + " usable flags for " +
                           std::to_string(x.rows()) + " rows");
  }
  for (size_t row = 0; row < x.rows(); ++row) {
    for (size_t col = 0; col < x.cols(); ++col) {
      if (!std::isfinite(x(row, col))) {
        return InvalidArgument(label + ": row " + std::to_string(row) + " column " +
                               std::to_string(col) + " is " + std::to_string(x(row, col)));
      }
    }
    if (usable[row] != 0 && y[row] != 0.0f && y[row] != 1.0f) {
      return InvalidArgument(label + ": label of usable row " + std::to_string(row) + " is " +
                             std::to_string(y[row]) + ", expected 0 or 1");
    }
    if (usable[row] != 0 && row + 1 >= window) samples->ends.push_back(static_cast<int64_t>(row));
  }
  if (samples->ends.empty()) {
    return InvalidArgument(label + ": no sample: no usable row among " + std::to_string(x.rows()) +
                           " has " + std::to_string(window - 1) + " rows before it (window " +
                           std::to_string(window) + ")");
  }
  return Status::Ok();
}

// [count, window, input] windows ending at `ends` from the standardized rows `rows`.
torch::Tensor GatherWindows(const torch::Tensor& rows, const torch::Tensor& ends,
                            const torch::Tensor& offsets) {
  torch::Tensor index = (ends.unsqueeze(1) + offsets.unsqueeze(0)).reshape({-1});
  return rows.index_select(0, index).view({ends.size(0), offsets.size(0), rows.size(1)});
}

struct Evaluation {
  double loss = 0;
  double accuracy = 0;
};

Evaluation Evaluate(Net& net, const torch::Tensor& rows, const torch::Tensor& labels,
                    const std::vector<int64_t>& ends, const torch::Tensor& offsets) {
  torch::NoGradGuard no_grad;
  net.eval();
  double loss_sum = 0;
  int64_t correct = 0;
  for (size_t start = 0; start < ends.size(); start += kEvalChunk) {
    const int64_t count = static_cast<int64_t>(std::min(kEvalChunk, ends.size() - start));
    torch::Tensor end_index =
        torch::from_blob(const_cast<int64_t*>(ends.data() + start), {count}, torch::kLong);
    torch::Tensor logits = net.forward(GatherWindows(rows, end_index, offsets));
    torch::Tensor y = labels.index_select(0, end_index);
    loss_sum +=
        torch::nn::functional::binary_cross_entropy_with_logits(
            logits, y,
            torch::nn::functional::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kSum))
            .item<double>();
    correct += ((logits > 0).to(torch::kFloat) == y).sum().item<int64_t>();
  }
  const double n = static_cast<double>(ends.size());
  return {loss_sum / n, static_cast<double>(correct) / n};
}

RecurrentWeights ExportWeights(Net& net, RecurrentCell cell, size_t input_size, size_t hidden,
                               size_t layers) {
  RecurrentWeights weights;
  weights.cell = cell;
  weights.input_size = input_size;
  weights.hidden = hidden;
  weights.layers.resize(layers);
  for (size_t layer_idx = 0; layer_idx < layers; ++layer_idx) {
    const std::string suffix = "_l" + std::to_string(layer_idx);
    RecurrentLayerWeights& layer = weights.layers[layer_idx];
    layer.w_ih = ToVector(net.RnnParameter("weight_ih" + suffix));
    layer.w_hh = ToVector(net.RnnParameter("weight_hh" + suffix));
    layer.b_ih = ToVector(net.RnnParameter("bias_ih" + suffix));
    layer.b_hh = ToVector(net.RnnParameter("bias_hh" + suffix));
  }
  weights.head_w = ToVector(net.head->weight);
  weights.head_b = ToVector(net.head->bias)[0];
  return weights;
}

void ImportWeights(const RecurrentWeights& weights, Net& net) {
  torch::NoGradGuard no_grad;
  for (size_t layer_idx = 0; layer_idx < weights.layers.size(); ++layer_idx) {
    const std::string suffix = "_l" + std::to_string(layer_idx);
    const RecurrentLayerWeights& layer = weights.layers[layer_idx];
    CopyInto(net.RnnParameter("weight_ih" + suffix), layer.w_ih);
    CopyInto(net.RnnParameter("weight_hh" + suffix), layer.w_hh);
    CopyInto(net.RnnParameter("bias_ih" + suffix), layer.b_ih);
    CopyInto(net.RnnParameter("bias_hh" + suffix), layer.b_hh);
  }
  CopyInto(net.head->weight, weights.head_w);
  CopyInto(net.head->bias, std::vector<float>{weights.head_b});
}

Result<std::unique_ptr<RecurrentModel>> Train(const Matrix& x, std::span<const float> y01,
                                              const Samples& train, const Matrix* val_x,
                                              std::span<const float> val_y, const Samples& val,
                                              const SequenceConfig& config, RecurrentCell cell,
                                              const SequenceProgress& progress) {
  const int64_t input_size = static_cast<int64_t>(x.cols());
  const int64_t window = config.window;
  TorchThreads threads(config.threads);
  std::unique_lock<std::mutex> generator(GeneratorMutex());
  torch::manual_seed(config.seed);
  Net net(cell, input_size, config.hidden, config.layers, config.dropout);
  // The initial weights are the only draws, unless dropout between stacked layers draws at every
  // step: then the run keeps the generator to itself, and concurrent runs wait.
  if (!(config.dropout > 0 && config.layers > 1)) generator.unlock();
  torch::optim::Adam optimizer(
      net.parameters(),
      torch::optim::AdamOptions(config.learning_rate).weight_decay(config.weight_decay));

  Standardizer standardizer = Standardizer::Fit(x);
  std::vector<float> train_rows_data = StandardizeRows(standardizer, x);
  torch::Tensor train_rows = torch::from_blob(
      train_rows_data.data(), {static_cast<int64_t>(x.rows()), input_size}, torch::kFloat);
  std::vector<float> train_labels_data(y01.begin(), y01.end());
  torch::Tensor train_labels =
      torch::from_blob(train_labels_data.data(), {static_cast<int64_t>(y01.size())}, torch::kFloat);
  std::vector<float> val_rows_data;
  std::vector<float> val_labels_data(val_y.begin(), val_y.end());
  torch::Tensor val_rows;
  torch::Tensor val_labels;
  if (val_x != nullptr) {
    val_rows_data = StandardizeRows(standardizer, *val_x);
    val_rows = torch::from_blob(val_rows_data.data(),
                                {static_cast<int64_t>(val_x->rows()), input_size}, torch::kFloat);
    val_labels = torch::from_blob(val_labels_data.data(), {static_cast<int64_t>(val_y.size())},
                                  torch::kFloat);
  }
  const torch::Tensor offsets = torch::arange(-(window - 1), 1, torch::kLong);

  std::vector<int64_t> order = train.ends;
  SplitMix64 rng(config.seed);
  const size_t batch = static_cast<size_t>(config.batch);
  double best_val_loss = std::numeric_limits<double>::infinity();
  std::vector<torch::Tensor> best_parameters;
  int epochs_without_improvement = 0;
  for (int epoch = 1; epoch <= config.epochs; ++epoch) {
    net.train();
    Shuffle(order, rng);
    double loss_sum = 0;
    for (size_t start = 0; start < order.size(); start += batch) {
      const int64_t count = static_cast<int64_t>(std::min(batch, order.size() - start));
      torch::Tensor end_index = torch::from_blob(order.data() + start, {count}, torch::kLong);
      torch::Tensor logits = net.forward(GatherWindows(train_rows, end_index, offsets));
      torch::Tensor loss = torch::nn::functional::binary_cross_entropy_with_logits(
          logits, train_labels.index_select(0, end_index));
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>() * static_cast<double>(count);
    }
    const double train_loss = loss_sum / static_cast<double>(order.size());
    if (!std::isfinite(train_loss)) {
      return InvalidArgument("TrainSequenceModel: training diverged (loss " +
                             std::to_string(train_loss) + " at epoch " + std::to_string(epoch) +
                             "); lower learning_rate " + std::to_string(config.learning_rate));
    }
    double val_loss = std::numeric_limits<double>::quiet_NaN();
    double val_accuracy = std::numeric_limits<double>::quiet_NaN();
    bool stop = false;
    if (val_x != nullptr) {
      const Evaluation evaluation = Evaluate(net, val_rows, val_labels, val.ends, offsets);
      val_loss = evaluation.loss;
      val_accuracy = evaluation.accuracy;
      if (val_loss < best_val_loss) {
        best_val_loss = val_loss;
        epochs_without_improvement = 0;
        torch::NoGradGuard no_grad;
        best_parameters.clear();
        for (const torch::Tensor& param : net.parameters()) {
          best_parameters.push_back(param.detach().clone());
        }
      } else {
        ++epochs_without_improvement;
        stop = config.patience > 0 && epochs_without_improvement >= config.patience;
      }
    }
    if (progress) progress(epoch, train_loss, val_loss, val_accuracy);
    if (stop) break;
  }
  if (!best_parameters.empty()) {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> params = net.parameters();
    for (size_t idx = 0; idx < params.size(); ++idx) params[idx].copy_(best_parameters[idx]);
  }
  RecurrentWeights weights = ExportWeights(net, cell, x.cols(), static_cast<size_t>(config.hidden),
                                           static_cast<size_t>(config.layers));
  return RecurrentModel::Create(std::move(weights), std::move(standardizer),
                                static_cast<size_t>(config.window));
}

}  // namespace

Status SequenceConfig::Validate() const {
  Result<RecurrentCell> parsed = ParseRecurrentCell(cell);
  if (!parsed.ok()) return parsed.status().WithContext("SequenceConfig.cell");
  auto out_of_range = [](std::string_view field, const std::string& value,
                         std::string_view expected) {
    return InvalidArgument("SequenceConfig." + std::string(field) + " = " + value + ", expected " +
                           std::string(expected));
  };
  if (hidden < 1 || static_cast<size_t>(hidden) > RecurrentModel::kMaxHidden) {
    return out_of_range("hidden", std::to_string(hidden),
                        "1 to " + std::to_string(RecurrentModel::kMaxHidden));
  }
  if (layers < 1 || static_cast<size_t>(layers) > RecurrentModel::kMaxLayers) {
    return out_of_range("layers", std::to_string(layers),
                        "1 to " + std::to_string(RecurrentModel::kMaxLayers));
  }
  if (window < 1 || window > kMaxWindow) {
    return out_of_range("window", std::to_string(window), "1 to " + std::to_string(kMaxWindow));
  }
  if (epochs < 1) return out_of_range("epochs", std::to_string(epochs), ">= 1");
  if (batch < 1) return out_of_range("batch", std::to_string(batch), ">= 1");
  if (!std::isfinite(learning_rate) || learning_rate <= 0) {
    return out_of_range("learning_rate", std::to_string(learning_rate), "finite and > 0");
  }
  if (!std::isfinite(weight_decay) || weight_decay < 0) {
    return out_of_range("weight_decay", std::to_string(weight_decay), "finite and >= 0");
  }
  if (patience < 0) return out_of_range("patience", std::to_string(patience), ">= 0");
  if (threads < 1 || threads > kMaxThreads) {
    return out_of_range("threads", std::to_string(threads), "1 to " + std::to_string(kMaxThreads));
  }
  if (!(dropout >= 0 && dropout < 1)) {
    return out_of_range("dropout", std::to_string(dropout), "in [0, 1)");
  }
  return Status::Ok();
}

Result<std::unique_ptr<RecurrentModel>> TrainSequenceModel(
    const Matrix& x, std::span<const float> y01, std::span<const uint8_t> usable,
    const Matrix* val_x, std::span<const float> val_y, std::span<const uint8_t> val_usable,
    const SequenceConfig& config, const SequenceProgress& progress) {
  AITS_RETURN_IF_ERROR(config.Validate());
  AITS_ASSIGN_OR_RETURN(RecurrentCell cell, ParseRecurrentCell(config.cell));
  const size_t window = static_cast<size_t>(config.window);
  Samples train;
  AITS_RETURN_IF_ERROR(CheckSet("TrainSequenceModel: x", x, y01, usable, window, &train));
  if (x.cols() > RecurrentModel::kMaxInputSize) {
    return InvalidArgument("TrainSequenceModel: x has " + std::to_string(x.cols()) +
                           " columns, at most " + std::to_string(RecurrentModel::kMaxInputSize));
  }
  Samples val;
  if (val_x != nullptr) {
    if (val_x->cols() != x.cols()) {
      return InvalidArgument("TrainSequenceModel: val_x has " + std::to_string(val_x->cols()) +
                             " columns, x has " + std::to_string(x.cols()));
    }
    AITS_RETURN_IF_ERROR(
        CheckSet("TrainSequenceModel: val_x", *val_x, val_y, val_usable, window, &val));
  }
  try {
    return Train(x, y01, train, val_x, val_y, val, config, cell, progress);
  } catch (const std::exception& e) {
    return Internal(std::string("TrainSequenceModel: LibTorch: ") + e.what());
  }
}

struct TorchSequenceReference::Impl {
  Impl(const RecurrentModel& model, int thread_count)
      : net(model.cell(), static_cast<int64_t>(model.InputSize()),
            static_cast<int64_t>(model.hidden()), static_cast<int64_t>(model.layers()), 0.0),
        standardizer(model.standardizer()),
        input_size(model.InputSize()),
        threads(thread_count) {
    ImportWeights(model.weights(), net);
    net.eval();
  }

  Net net;
  Standardizer standardizer;
  size_t input_size;
  int threads;
};

TorchSequenceReference::TorchSequenceReference(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
TorchSequenceReference::~TorchSequenceReference() = default;

Result<std::unique_ptr<TorchSequenceReference>> TorchSequenceReference::Create(
    const RecurrentModel& model, int threads) {
  if (threads < 1 || threads > kMaxThreads) {
    return InvalidArgument("TorchSequenceReference: threads " + std::to_string(threads) +
                           ", expected 1 to " + std::to_string(kMaxThreads));
  }
  try {
    TorchThreads scope(threads);
    return std::unique_ptr<TorchSequenceReference>(
        new TorchSequenceReference(std::make_unique<Impl>(model, threads)));
  } catch (const std::exception& e) {
    return Internal(std::string("TorchSequenceReference: LibTorch: ") + e.what());
  }
}

Result<std::vector<float>> TorchSequenceReference::PredictWindows(
    const Matrix& x, std::span<const size_t> window_ends, size_t window) const {
  if (x.cols() != impl_->input_size) {
    return InvalidArgument("TorchSequenceReference: x has " + std::to_string(x.cols()) +
                           " columns, the model reads " + std::to_string(impl_->input_size));
  }
  if (window == 0) return InvalidArgument("TorchSequenceReference: window is 0");
  for (size_t end : window_ends) {
    if (end >= x.rows() || end + 1 < window) {
      return InvalidArgument("TorchSequenceReference: a window of " + std::to_string(window) +
                             " rows ending at row " + std::to_string(end) + " does not fit in " +
                             std::to_string(x.rows()) + " rows");
    }
  }
  std::vector<float> out(window_ends.size());
  try {
    TorchThreads scope(impl_->threads);
    torch::NoGradGuard no_grad;
    const size_t cols = impl_->input_size;
    std::vector<float> batch_data;
    for (size_t start = 0; start < window_ends.size(); start += kEvalChunk) {
      const size_t count = std::min(kEvalChunk, window_ends.size() - start);
      batch_data.resize(count * window * cols);
      for (size_t k = 0; k < count; ++k) {
        const size_t first = window_ends[start + k] + 1 - window;
        for (size_t step = 0; step < window; ++step) {
          impl_->standardizer.Apply(
              x.Row(first + step),
              std::span<float>(batch_data.data() + (k * window + step) * cols, cols));
        }
      }
      torch::Tensor input = torch::from_blob(
          batch_data.data(),
          {static_cast<int64_t>(count), static_cast<int64_t>(window), static_cast<int64_t>(cols)},
          torch::kFloat);
      torch::Tensor probs = torch::sigmoid(impl_->net.forward(input)).contiguous();
      std::copy_n(probs.data_ptr<float>(), count, out.begin() + static_cast<ptrdiff_t>(start));
    }
  } catch (const std::exception& e) {
    return Internal(std::string("TorchSequenceReference: LibTorch: ") + e.what());
  }
  return out;
}

Result<double> CompareWithTorch(const RecurrentModel& model, const Matrix& x,
                                std::span<const size_t> window_ends, size_t window) {
  AITS_ASSIGN_OR_RETURN(std::unique_ptr<TorchSequenceReference> reference,
                        TorchSequenceReference::Create(model));
  AITS_ASSIGN_OR_RETURN(std::vector<float> torch_out,
                        reference->PredictWindows(x, window_ends, window));
  std::unique_ptr<RecurrentModel> stepper = model.CloneRecurrent();
  double max_diff = 0;
  for (size_t k = 0; k < window_ends.size(); ++k) {
    const size_t end = window_ends[k];
    const float ours = stepper->PredictWindow(x.SliceRows(end + 1 - window, end + 1));
    const double diff = std::fabs(static_cast<double>(ours) - static_cast<double>(torch_out[k]));
    if (std::isnan(diff)) return std::numeric_limits<double>::infinity();
    max_diff = std::max(max_diff, diff);
  }
  return max_diff;
}

}  // namespace aits::ml
