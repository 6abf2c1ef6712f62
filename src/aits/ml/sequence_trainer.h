// Training LSTM / GRU direction classifiers with LibTorch (CPU), and LibTorch as a reference.
//
// This header does not include LibTorch: only sequence_trainer.cc does, so code that trains
// pays for LibTorch's headers in one translation unit and code that only predicts links
// aits::ml_recurrent (ml/recurrent_model.h) and no LibTorch at all.
//
// Samples. Rows of `x` are consecutive in time. Every row r with usable[r] != 0 and at least
// `window - 1` rows before it ends one sample: rows [r - window + 1, r] in order, labelled
// y01[r] (1 = up, 0 = down). Rows that are not usable still serve as context inside other
// windows. Validation samples are built the same way from val_x alone (prepend context rows
// marked unusable if validation windows should reach back before its first row).
//
// Fitting. A Standardizer is fitted on all rows of `x` (training rows only) and applied to both
// sets; the net is the torch counterpart of RecurrentModel: nn::LSTM / nn::GRU (batch_first,
// zero initial state, dropout between layers) on the window, Linear(hidden -> 1) on the last
// step, BCEWithLogits, Adam(learning_rate, weight_decay), mini-batches shuffled every epoch.
// With validation data, training stops after `patience` epochs without a lower validation loss
// (patience 0: never early) and the weights of the epoch with the lowest validation loss are
// kept; without it, the last epoch's weights are kept.
//
// Determinism. Same inputs, config and LibTorch build give the same model, byte for byte:
// torch::manual_seed(seed) before the weights are initialised, shuffling from our own seeded
// generator, intra-op threads fixed to config.threads for the call (at::set_num_threads).
// Byte identity is guaranteed for threads == 1 (the tests check it); with more threads it holds
// as long as LibTorch's kernels partition work deterministically.
//
// Thread-safety: TrainSequenceModel may run on several threads at once (the walk-forward folds
// of `aits evaluate` do) and each run gives the model it gives alone: it seeds LibTorch's
// process-wide generator and draws the initial weights under a process-wide lock (the whole run
// with dropout between stacked layers, which draws at every step), and the intra-op thread count
// it sets is the calling thread's own (OpenMP backend). Other LibTorch code drawing random
// numbers at the same time would break that. TorchSequenceReference objects are
// thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "aits/core/status.h"
#include "aits/models/dataset.h"
#include "aits/models/recurrent_model.h"

namespace aits::ml {

struct SequenceConfig {
  std::string cell = "lstm";  // or "gru"
  int hidden = 64;
  int layers = 1;
  int window = 60;  // rows per sample
  int epochs = 10;
  int batch = 256;
  double learning_rate = 1e-3;
  double weight_decay = 0;
  int patience = 3;  // epochs without a lower validation loss before stopping; 0 = never
  uint64_t seed = 42;
  int threads = 1;     // LibTorch intra-op threads during training
  double dropout = 0;  // between stacked layers (torch ignores it for one layer); [0, 1)

  // InvalidArgument naming the field and value of the first setting out of range.
  Status Validate() const;
};

// Called after every epoch (1-based) with the mean training loss over the epoch's samples, the
// validation loss and accuracy (fraction of samples with (P(up) > 0.5) == label); NaN for
// both when there is no validation data.
using SequenceProgress =
    std::function<void(int epoch, double train_loss, double val_loss, double val_accuracy)>;

// Trains a model (see the top of this file). x: rows x features, finite; y01: one label per row,
// 0 or 1 on usable rows (ignored elsewhere); usable: one flag per row. val_x may be null (no
// early stopping); otherwise it has x's columns and val_y / val_usable have its rows, and at
// least one validation sample must exist. Errors (InvalidArgument) name the argument, row and
// value: sizes that disagree, a non-finite value, no sample (e.g. window longer than the data),
// a config out of range. LibTorch failures become Internal.
Result<std::unique_ptr<RecurrentModel>> TrainSequenceModel(
    const Matrix& x, std::span<const float> y01, std::span<const uint8_t> usable,
    const Matrix* val_x, std::span<const float> val_y, std::span<const uint8_t> val_usable,
    const SequenceConfig& config, const SequenceProgress& progress = {});

// A LibTorch nn::LSTM / nn::GRU + Linear holding a RecurrentModel's weights: the reference the
// Eigen step is checked against, and the baseline of the benchmarks.
class TorchSequenceReference {
 public:
  // Copies the weights; threads is the LibTorch intra-op thread count set by each call.
  static Result<std::unique_ptr<TorchSequenceReference>> Create(const RecurrentModel& model,
                                                                int threads = 1);
  ~TorchSequenceReference();
  TorchSequenceReference(const TorchSequenceReference&) = delete;
  TorchSequenceReference& operator=(const TorchSequenceReference&) = delete;

  // P(up) for each window of `window` raw rows of x ending at window_ends[k] (standardized with
  // the model's standardizer), from one batched full-window forward pass from a zero state.
  // InvalidArgument if x has the wrong width, window is 0 or a window does not fit in x.
  Result<std::vector<float>> PredictWindows(const Matrix& x, std::span<const size_t> window_ends,
                                            size_t window) const;

 private:
  struct Impl;
  explicit TorchSequenceReference(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Largest |RecurrentModel::PredictWindow - LibTorch forward| over the windows of `window` rows
// of x ending at window_ends. Does not touch `model`'s state (steps a clone).
Result<double> CompareWithTorch(const RecurrentModel& model, const Matrix& x,
                                std::span<const size_t> window_ends, size_t window);

}  // namespace aits::ml
