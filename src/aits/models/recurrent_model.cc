#include "aits/models/recurrent_model.h"

#include <Eigen/Core>
#include <cmath>
#include <limits>
#include <utility>

#include "aits/models/serialize.h"

namespace aits::ml {
namespace {

// Payload layout version inside the model envelope; bump on any change below.
constexpr uint32_t kPayloadVersion = 1;

using RowMajorMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMatrixMap = Eigen::Map<const RowMajorMatrix>;
using ConstVectorMap = Eigen::Map<const Eigen::VectorXf>;
using VectorMap = Eigen::Map<Eigen::VectorXf>;

bool AllFinite(std::span<const float> values) {
  for (float v : values) {
    if (!std::isfinite(v)) return false;
  }
  return true;
}

Status CheckBlock(std::string_view what, size_t layer_idx, std::string_view field,
                  std::span<const float> values, size_t expected) {
  if (values.size() != expected) {
    return InvalidArgument(std::string(what) + ": layer " + std::to_string(layer_idx) + " " +
                           std::string(field) + " has " + std::to_string(values.size()) +
                           " values, expected " + std::to_string(expected));
  }
  if (!AllFinite(values)) {
    return InvalidArgument(std::string(what) + ": layer " + std::to_string(layer_idx) + " " +
                           std::string(field) + " holds a non-finite value");
  }
  return Status::Ok();
}

}  // namespace

std::string_view RecurrentCellName(RecurrentCell cell) {
  return cell == RecurrentCell::kLstm ? "lstm" : "gru";
}

Result<RecurrentCell> ParseRecurrentCell(std::string_view name) {
  if (name == "lstm") return RecurrentCell::kLstm;
  if (name == "gru") return RecurrentCell::kGru;
  return InvalidArgument("recurrent cell '" + std::string(name) + "' is neither 'lstm' nor 'gru'");
}

size_t RecurrentGateCount(RecurrentCell cell) { return cell == RecurrentCell::kLstm ? 4 : 3; }

Result<std::unique_ptr<RecurrentModel>> RecurrentModel::Create(RecurrentWeights weights,
                                                               Standardizer standardizer,
                                                               size_t window) {
  constexpr std::string_view kWhat = "RecurrentModel";
  const size_t input_size = weights.input_size;
  const size_t hidden = weights.hidden;
  if (input_size == 0 || input_size > kMaxInputSize) {
    return InvalidArgument("RecurrentModel: input_size " + std::to_string(input_size) +
                           " is outside [1, " + std::to_string(kMaxInputSize) + "]");
  }
  if (hidden == 0 || hidden > kMaxHidden) {
    return InvalidArgument("RecurrentModel: hidden " + std::to_string(hidden) + " is outside [1, " +
                           std::to_string(kMaxHidden) + "]");
  }
  if (weights.layers.empty() || weights.layers.size() > kMaxLayers) {
    return InvalidArgument("RecurrentModel: " + std::to_string(weights.layers.size()) +
                           " layers, expected 1 to " + std::to_string(kMaxLayers));
  }
  if (window == 0) return InvalidArgument("RecurrentModel: window is 0, expected >= 1");
  const size_t gate_rows = RecurrentGateCount(weights.cell) * hidden;
  for (size_t layer_idx = 0; layer_idx < weights.layers.size(); ++layer_idx) {
    const RecurrentLayerWeights& layer = weights.layers[layer_idx];
    const size_t layer_input = layer_idx == 0 ? input_size : hidden;
    AITS_RETURN_IF_ERROR(CheckBlock(kWhat, layer_idx, "w_ih", layer.w_ih, gate_rows * layer_input));
    AITS_RETURN_IF_ERROR(CheckBlock(kWhat, layer_idx, "w_hh", layer.w_hh, gate_rows * hidden));
    AITS_RETURN_IF_ERROR(CheckBlock(kWhat, layer_idx, "b_ih", layer.b_ih, gate_rows));
    AITS_RETURN_IF_ERROR(CheckBlock(kWhat, layer_idx, "b_hh", layer.b_hh, gate_rows));
  }
  if (weights.head_w.size() != hidden || !AllFinite(weights.head_w) ||
      !std::isfinite(weights.head_b)) {
    return InvalidArgument("RecurrentModel: head has " + std::to_string(weights.head_w.size()) +
                           " weights (expected " + std::to_string(hidden) +
                           ") or a non-finite value");
  }
  if (standardizer.size() != input_size) {
    return InvalidArgument("RecurrentModel: standardizer has " +
                           std::to_string(standardizer.size()) + " columns, expected " +
                           std::to_string(input_size));
  }
  for (size_t col = 0; col < input_size; ++col) {
    const double mean = standardizer.mean()[col];
    const double stddev = standardizer.stddev()[col];
    if (!std::isfinite(mean) || !std::isfinite(stddev) || stddev < 0) {
      return InvalidArgument("RecurrentModel: standardizer column " + std::to_string(col) +
                             " has mean " + std::to_string(mean) + " and stddev " +
                             std::to_string(stddev));
    }
  }
  return std::unique_ptr<RecurrentModel>(
      new RecurrentModel(std::move(weights), std::move(standardizer), window));
}

RecurrentModel::RecurrentModel(RecurrentWeights weights, Standardizer standardizer, size_t window)
    : weights_(std::move(weights)), standardizer_(std::move(standardizer)), window_(window) {
  const size_t hidden = weights_.hidden;
  const size_t layers = weights_.layers.size();
  const size_t gate_rows = RecurrentGateCount(weights_.cell) * hidden;
  if (weights_.cell == RecurrentCell::kLstm) {
    bias_sum_.resize(layers);
    for (size_t layer_idx = 0; layer_idx < layers; ++layer_idx) {
      const RecurrentLayerWeights& layer = weights_.layers[layer_idx];
      bias_sum_[layer_idx].resize(gate_rows);
      for (size_t row = 0; row < gate_rows; ++row) {
        bias_sum_[layer_idx][row] = layer.b_ih[row] + layer.b_hh[row];
      }
    }
    c_.assign(layers * hidden, 0.0f);
  } else {
    gates_h_.assign(gate_rows, 0.0f);
  }
  h_.assign(layers * hidden, 0.0f);
  x_scaled_.assign(weights_.input_size, 0.0f);
  gates_.assign(gate_rows, 0.0f);
}

void RecurrentModel::ResetState() {
  std::fill(h_.begin(), h_.end(), 0.0f);
  std::fill(c_.begin(), c_.end(), 0.0f);
}

void RecurrentModel::StepLstmLayer(size_t layer_idx, const float* input, size_t input_size) {
  const RecurrentLayerWeights& layer = weights_.layers[layer_idx];
  const Eigen::Index hidden = static_cast<Eigen::Index>(weights_.hidden);
  const Eigen::Index gate_rows = 4 * hidden;
  float* h = h_.data() + layer_idx * weights_.hidden;
  float* c = c_.data() + layer_idx * weights_.hidden;

  VectorMap gates(gates_.data(), gate_rows);
  gates.noalias() =
      ConstMatrixMap(layer.w_ih.data(), gate_rows, static_cast<Eigen::Index>(input_size)) *
      ConstVectorMap(input, static_cast<Eigen::Index>(input_size));
  gates.noalias() +=
      ConstMatrixMap(layer.w_hh.data(), gate_rows, hidden) * ConstVectorMap(h, hidden);
  gates += ConstVectorMap(bias_sum_[layer_idx].data(), gate_rows);

  auto input_gate = gates.segment(0, hidden).array().logistic();
  auto forget_gate = gates.segment(hidden, hidden).array().logistic();
  auto cell_gate = gates.segment(2 * hidden, hidden).array().tanh();
  auto output_gate = gates.segment(3 * hidden, hidden).array().logistic();
  VectorMap c_vec(c, hidden);
  c_vec.array() = forget_gate * c_vec.array() + input_gate * cell_gate;
  VectorMap(h, hidden).array() = output_gate * c_vec.array().tanh();
}

void RecurrentModel::StepGruLayer(size_t layer_idx, const float* input, size_t input_size) {
  const RecurrentLayerWeights& layer = weights_.layers[layer_idx];
  const Eigen::Index hidden = static_cast<Eigen::Index>(weights_.hidden);
  const Eigen::Index gate_rows = 3 * hidden;
  float* h = h_.data() + layer_idx * weights_.hidden;

  VectorMap gates_x(gates_.data(), gate_rows);
  gates_x.noalias() =
      ConstMatrixMap(layer.w_ih.data(), gate_rows, static_cast<Eigen::Index>(input_size)) *
      ConstVectorMap(input, static_cast<Eigen::Index>(input_size));
  gates_x += ConstVectorMap(layer.b_ih.data(), gate_rows);
  VectorMap gates_h(gates_h_.data(), gate_rows);
  gates_h.noalias() =
      ConstMatrixMap(layer.w_hh.data(), gate_rows, hidden) * ConstVectorMap(h, hidden);
  gates_h += ConstVectorMap(layer.b_hh.data(), gate_rows);

  // Reset and update gates are written over their x parts; b_hn stays inside r * (...), as in
  // torch (unlike the original GRU paper, where r multiplies h before W_hn).
  gates_x.segment(0, 2 * hidden).array() =
      (gates_x.segment(0, 2 * hidden) + gates_h.segment(0, 2 * hidden)).array().logistic();
  auto reset_gate = gates_x.segment(0, hidden).array();
  auto update_gate = gates_x.segment(hidden, hidden).array();
  gates_x.segment(2 * hidden, hidden).array() =
      (gates_x.segment(2 * hidden, hidden).array() +
       reset_gate * gates_h.segment(2 * hidden, hidden).array())
          .tanh();
  auto new_gate = gates_x.segment(2 * hidden, hidden).array();
  VectorMap h_vec(h, hidden);
  h_vec.array() = new_gate + update_gate * (h_vec.array() - new_gate);
}

float RecurrentModel::Step(std::span<const float> row) {
  if (row.size() != weights_.input_size) [[unlikely]] {
    return std::numeric_limits<float>::quiet_NaN();
  }
  standardizer_.Apply(row, x_scaled_);
  const float* input = x_scaled_.data();
  size_t input_size = weights_.input_size;
  const bool lstm = weights_.cell == RecurrentCell::kLstm;
  for (size_t layer_idx = 0; layer_idx < weights_.layers.size(); ++layer_idx) {
    if (lstm) {
      StepLstmLayer(layer_idx, input, input_size);
    } else {
      StepGruLayer(layer_idx, input, input_size);
    }
    input = h_.data() + layer_idx * weights_.hidden;
    input_size = weights_.hidden;
  }
  const Eigen::Index hidden = static_cast<Eigen::Index>(weights_.hidden);
  const float logit =
      ConstVectorMap(weights_.head_w.data(), hidden).dot(ConstVectorMap(input, hidden)) +
      weights_.head_b;
  return 1.0f / (1.0f + std::exp(-logit));
}

float RecurrentModel::PredictWindow(const Matrix& window) {
  ResetState();
  if (window.rows() == 0 || window.cols() != weights_.input_size) {
    return std::numeric_limits<float>::quiet_NaN();
  }
  float out = 0.0f;
  for (size_t row = 0; row < window.rows(); ++row) out = Step(window.Row(row));
  return out;
}

std::string RecurrentModel::Serialize() const {
  ByteWriter out;
  out.U32(kPayloadVersion);
  out.U64(weights_.input_size);
  out.U64(weights_.hidden);
  out.U64(weights_.layers.size());
  out.U64(window_);
  standardizer_.Serialize(&out);
  for (const RecurrentLayerWeights& layer : weights_.layers) {
    out.F32s(layer.w_ih);
    out.F32s(layer.w_hh);
    out.F32s(layer.b_ih);
    out.F32s(layer.b_hh);
  }
  out.F32s(weights_.head_w);
  out.F32(weights_.head_b);
  return WrapModel(RecurrentCellName(weights_.cell), out.data());
}

Result<std::unique_ptr<RecurrentModel>> RecurrentModel::Deserialize(std::string_view bytes,
                                                                    std::string_view what) {
  AITS_ASSIGN_OR_RETURN(ModelEnvelope envelope, UnwrapModel(bytes, what));
  Result<RecurrentCell> cell = ParseRecurrentCell(envelope.kind);
  if (!cell.ok()) {
    return InvalidArgument(std::string(what) + ": a '" + envelope.kind +
                           "' model, not an lstm or gru");
  }
  ByteReader in(envelope.payload, std::string(what));
  AITS_ASSIGN_OR_RETURN(uint32_t version, in.U32("payload_version"));
  if (version != kPayloadVersion) {
    return InvalidArgument(std::string(what) + ": recurrent payload version " +
                           std::to_string(version) + ", this build reads " +
                           std::to_string(kPayloadVersion));
  }
  RecurrentWeights weights;
  weights.cell = *cell;
  AITS_ASSIGN_OR_RETURN(uint64_t input_size, in.U64("input_size"));
  AITS_ASSIGN_OR_RETURN(uint64_t hidden, in.U64("hidden"));
  AITS_ASSIGN_OR_RETURN(uint64_t layers, in.U64("layers"));
  AITS_ASSIGN_OR_RETURN(uint64_t window, in.U64("window"));
  // Bounded before anything is sized from them.
  if (layers == 0 || layers > kMaxLayers || hidden == 0 || hidden > kMaxHidden || input_size == 0 ||
      input_size > kMaxInputSize) {
    return DataLoss(std::string(what) +
                    ": implausible shape input_size=" + std::to_string(input_size) +
                    " hidden=" + std::to_string(hidden) + " layers=" + std::to_string(layers));
  }
  weights.input_size = input_size;
  weights.hidden = hidden;
  AITS_ASSIGN_OR_RETURN(Standardizer standardizer, Standardizer::Deserialize(&in));
  weights.layers.resize(layers);
  for (RecurrentLayerWeights& layer : weights.layers) {
    AITS_ASSIGN_OR_RETURN(layer.w_ih, in.F32s("w_ih"));
    AITS_ASSIGN_OR_RETURN(layer.w_hh, in.F32s("w_hh"));
    AITS_ASSIGN_OR_RETURN(layer.b_ih, in.F32s("b_ih"));
    AITS_ASSIGN_OR_RETURN(layer.b_hh, in.F32s("b_hh"));
  }
  AITS_ASSIGN_OR_RETURN(weights.head_w, in.F32s("head_w"));
  AITS_ASSIGN_OR_RETURN(weights.head_b, in.F32("head_b"));
  AITS_RETURN_IF_ERROR(in.ExpectEnd());
  Result<std::unique_ptr<RecurrentModel>> model =
      Create(std::move(weights), std::move(standardizer), window);
  if (!model.ok()) return model.status().WithContext(what);
  return model;
}

std::unique_ptr<RecurrentModel> RecurrentModel::CloneRecurrent() const {
  auto copy = std::unique_ptr<RecurrentModel>(new RecurrentModel(weights_, standardizer_, window_));
  return copy;
}

std::unique_ptr<SequenceModel> RecurrentModel::Clone() const { return CloneRecurrent(); }

}  // namespace aits::ml
