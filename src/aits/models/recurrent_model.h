// LSTM and GRU direction classifiers: stateful one-step-per-bar inference without LibTorch.
//
// A RecurrentModel is a stack of LSTM or GRU layers followed by Linear(hidden -> 1) and a
// sigmoid; its output is P(up) for the label of the last row consumed. The weights are trained
// with LibTorch (ml/sequence_trainer.h) and copied out in PyTorch's layout and gate order:
//   LSTM  gates = W_ih x + b_ih + W_hh h + b_hh, rows [i; f; g; o]
//         c' = sigmoid(f) * c + sigmoid(i) * tanh(g),  h' = sigmoid(o) * tanh(c')
//   GRU   rows [r; z; n]
//         r = sigmoid(W_ir x + b_ir + W_hr h + b_hr),  z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
//         n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h' = (1 - z) * n + z * h
// Layer l > 0 takes layer l-1's h' as its input. Inference needs only this library (Eigen), so
// the backtester and the ensemble never link LibTorch.
//
// Stream semantics: after ResetState() (or construction, Clone(), Deserialize()), the hidden and
// cell states are zero, as in torch's default initial state. The k-th Step() after a reset
// returns what the torch model returns for the window made of those k rows, up to float rounding
// (the tests check 1e-5 against LibTorch). A model trained on windows of `window()` rows is meant
// to be read once at least that many rows have been stepped; before that its state has seen a
// shorter history than any training window.
//
// Step() does not allocate and costs one matrix-vector product per layer (microseconds at
// hidden 64). Thread-compatible: one object per stream (Clone() one per stream).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/status.h"
#include "aits/models/dataset.h"
#include "aits/models/model.h"

namespace aits::ml {

enum class RecurrentCell { kLstm, kGru };

// "lstm" or "gru" (the model file's kind).
std::string_view RecurrentCellName(RecurrentCell cell);
// Inverse of RecurrentCellName; InvalidArgument naming the value otherwise.
Result<RecurrentCell> ParseRecurrentCell(std::string_view name);
// Gate blocks per layer: 4 for LSTM, 3 for GRU.
size_t RecurrentGateCount(RecurrentCell cell);

// One layer's parameters exactly as torch::nn::LSTM / GRU hold them (weight_ih_l<k>, ...):
// row-major, gate blocks stacked in the order given above.
struct RecurrentLayerWeights {
  std::vector<float> w_ih;  // [gates * hidden][layer input size]
  std::vector<float> w_hh;  // [gates * hidden][hidden]
  std::vector<float> b_ih;  // [gates * hidden]
  std::vector<float> b_hh;  // [gates * hidden]
};

struct RecurrentWeights {
  RecurrentCell cell = RecurrentCell::kLstm;
  size_t input_size = 0;  // features per row
  size_t hidden = 0;
  std::vector<RecurrentLayerWeights> layers;  // at least one; layer 0 reads input_size values
  std::vector<float> head_w;                  // Linear(hidden -> 1) weight, [hidden]
  float head_b = 0.0f;
};

class RecurrentModel final : public SequenceModel {
 public:
  // Largest hidden size and layer count accepted (from training or from a file): bounds what a
  // corrupt file can make us allocate.
  static constexpr size_t kMaxHidden = 4096;
  static constexpr size_t kMaxLayers = 16;
  static constexpr size_t kMaxInputSize = 1 << 16;

  // Checks every shape against cell/input_size/hidden, that every weight is finite, and that the
  // standardizer has input_size columns. `window` is the training window length (metadata, >= 1).
  static Result<std::unique_ptr<RecurrentModel>> Create(RecurrentWeights weights,
                                                        Standardizer standardizer, size_t window);
  // Reads a model file written by Serialize(). `what` names the source in errors (a path).
  // DataLoss for a truncated or corrupt file, InvalidArgument for a file of another kind or
  // inconsistent shapes; never a crash.
  static Result<std::unique_ptr<RecurrentModel>> Deserialize(std::string_view bytes,
                                                             std::string_view what);

  std::string_view Kind() const override { return RecurrentCellName(weights_.cell); }
  size_t InputSize() const override { return weights_.input_size; }
  void ResetState() override;
  // Consumes one raw (unstandardized) feature row and returns P(up) after it. A row of the wrong
  // size returns NaN and leaves the state alone; a non-finite value poisons the state (every
  // later output is NaN) until ResetState().
  float Step(std::span<const float> row) override;
  // Envelope (ml/serialize.h) with kind "lstm"/"gru"; the payload stores every float's bits, so
  // a loaded model gives bit-identical outputs.
  std::string Serialize() const override;
  std::unique_ptr<SequenceModel> Clone() const override;
  std::unique_ptr<RecurrentModel> CloneRecurrent() const;

  // Resets the state, steps through every row of `window` and returns the last output (NaN for
  // an empty window or a column count other than InputSize()). The state is left after the last
  // row. For batch scoring and for comparing with a full-window forward pass.
  float PredictWindow(const Matrix& window);

  RecurrentCell cell() const { return weights_.cell; }
  size_t hidden() const { return weights_.hidden; }
  size_t layers() const { return weights_.layers.size(); }
  size_t window() const { return window_; }
  const RecurrentWeights& weights() const { return weights_; }
  const Standardizer& standardizer() const { return standardizer_; }

 private:
  RecurrentModel(RecurrentWeights weights, Standardizer standardizer, size_t window);
  void StepLstmLayer(size_t layer_idx, const float* input, size_t input_size);
  void StepGruLayer(size_t layer_idx, const float* input, size_t input_size);

  RecurrentWeights weights_;
  Standardizer standardizer_;
  size_t window_ = 0;
  // LSTM: b_ih + b_hh per layer, added once per step instead of twice.
  std::vector<std::vector<float>> bias_sum_;
  // Per-stream state and scratch, sized once in the constructor: Step never allocates.
  std::vector<float> h_;  // [layers][hidden]
  std::vector<float> c_;  // [layers][hidden], LSTM only
  std::vector<float> x_scaled_;
  std::vector<float> gates_;    // [gates * hidden]
  std::vector<float> gates_h_;  // GRU: W_hh h + b_hh, kept apart for the r * (...) term
};

}  // namespace aits::ml
