#include "aits/models/ensemble.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "aits/models/recurrent_model.h"
#include "aits/models/row_models.h"
#include "aits/models/serialize.h"

namespace aits::ml {
namespace {

// 2 adds the watch reference at the end. A model without one is still written as 1, byte for
// byte as before, and 1 is still read.
constexpr uint32_t kEnsembleFormat = 2;
constexpr uint32_t kEnsembleFormatWithoutWatch = 1;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool FiniteNonNegative(double x) { return std::isfinite(x) && x >= 0; }

}  // namespace

Status EnsembleWeights::Validate() const {
  for (double w : {high_vol_ml, high_vol_dl, normal_ml, normal_dl}) {
    if (!FiniteNonNegative(w)) {
      return InvalidArgument("ensemble weights must be finite and >= 0 (got " + std::to_string(w) +
                             ")");
    }
  }
  if (high_vol_ml + high_vol_dl <= 0 || normal_ml + normal_dl <= 0) {
    return InvalidArgument("each ensemble weight pair (high_vol, normal) must sum to more than 0");
  }
  return Status::Ok();
}

Ensemble::Ensemble(Parts parts) : parts_(std::move(parts)) {
  regime_buffer_.resize(parts_.regime_columns.size());
  if (parts_.pca) pca_buffer_.resize(parts_.pca->components());
  stack_buffer_.resize(parts_.row_models.size() + parts_.sequence_models.size() + 1);
}

Result<Ensemble> Ensemble::Create(Parts parts) {
  AITS_RETURN_IF_ERROR(parts.weights.Validate());
  const size_t width = parts.feature_names.size();
  if (width == 0) return InvalidArgument("ensemble: no feature names");
  const size_t members = parts.row_models.size() + parts.sequence_models.size();
  if (members == 0) return InvalidArgument("ensemble: no member models");
  if (members > kMaxEnsembleMembers) {
    return InvalidArgument("ensemble: " + std::to_string(members) + " members, at most " +
                           std::to_string(kMaxEnsembleMembers));
  }
  for (const auto& model : parts.row_models) {
    if (!model) return InvalidArgument("ensemble: a row model is null");
    if (model->InputSize() != width) {
      return InvalidArgument("ensemble: member '" + std::string(model->Kind()) + "' takes " +
                             std::to_string(model->InputSize()) + " inputs, the feature set has " +
                             std::to_string(width));
    }
    if (model->IsRegressor()) {
      return InvalidArgument("ensemble: member '" + std::string(model->Kind()) +
                             "' is a regressor; members must output P(up)");
    }
  }
  for (const auto& model : parts.sequence_models) {
    if (!model) return InvalidArgument("ensemble: a sequence model is null");
    if (model->InputSize() != width) {
      return InvalidArgument("ensemble: member '" + std::string(model->Kind()) + "' takes " +
                             std::to_string(model->InputSize()) + " inputs, the feature set has " +
                             std::to_string(width));
    }
  }
  for (size_t column : parts.regime_columns) {
    if (column >= width) {
      return InvalidArgument("ensemble: regime column " + std::to_string(column) +
                             " is outside the feature row of " + std::to_string(width));
    }
  }
  if (parts.regimes && parts.regimes->InputSize() != parts.regime_columns.size()) {
    return InvalidArgument("ensemble: the regime model takes " +
                           std::to_string(parts.regimes->InputSize()) + " inputs, " +
                           std::to_string(parts.regime_columns.size()) + " regime columns given");
  }
  if (parts.pca && parts.pca->InputSize() != width) {
    return InvalidArgument("ensemble: the PCA takes " + std::to_string(parts.pca->InputSize()) +
                           " inputs, the feature set has " + std::to_string(width));
  }
  if (parts.anomaly && !parts.pca) {
    return InvalidArgument("ensemble: the anomaly model needs the PCA projection");
  }
  if (parts.stacker && parts.stacker->InputSize() != members + 1) {
    return InvalidArgument("ensemble: the stacking learner takes " +
                           std::to_string(parts.stacker->InputSize()) + " inputs, expected " +
                           std::to_string(members + 1) + " (member outputs + high_volatility)");
  }
  return Ensemble(std::move(parts));
}

EnsembleScore Ensemble::Step(std::span<const float> row) {
  EnsembleScore out;
  if (parts_.regimes) {
    for (size_t idx = 0; idx < parts_.regime_columns.size(); ++idx) {
      regime_buffer_[idx] = row[parts_.regime_columns[idx]];
    }
    out.regime = parts_.regimes->Assign(regime_buffer_);
    out.high_volatility = parts_.regimes->IsHighVolatility(out.regime);
  }
  if (parts_.pca) {
    parts_.pca->Transform(row, pca_buffer_);
    if (parts_.anomaly) {
      out.anomaly = parts_.anomaly->Score(pca_buffer_);
      out.is_anomaly = out.anomaly > parts_.anomaly->threshold();
    }
  }

  double ml_sum = 0;
  for (const auto& model : parts_.row_models) {
    const float p = model->Predict(row);
    out.member_p[out.members++] = p;
    ml_sum += p;
  }
  double dl_sum = 0;
  for (const auto& model : parts_.sequence_models) {
    const float p = model->Step(row);
    out.member_p[out.members++] = p;
    dl_sum += p;
  }
  const size_t n_ml = parts_.row_models.size();
  const size_t n_dl = parts_.sequence_models.size();
  if (member_weights_.empty()) {
    out.ml_mean = n_ml > 0 ? ml_sum / static_cast<double>(n_ml) : kNaN;
    out.dl_mean = n_dl > 0 ? dl_sum / static_cast<double>(n_dl) : kNaN;
  } else {
    const auto weighted = [&](size_t first, size_t count) {
      double sum = 0;
      double weights = 0;
      for (size_t idx = first; idx < first + count; ++idx) {
        sum += member_weights_[idx] * out.member_p[idx];
        weights += member_weights_[idx];
      }
      return count > 0 ? sum / weights : kNaN;
    };
    out.ml_mean = weighted(0, n_ml);
    out.dl_mean = weighted(n_ml, n_dl);
  }

  if (parts_.stacker) {
    for (size_t idx = 0; idx < out.members; ++idx) stack_buffer_[idx] = out.member_p[idx];
    stack_buffer_[out.members] = out.high_volatility ? 1.0f : 0.0f;
    out.p_up = parts_.stacker->Predict(stack_buffer_);
  } else {
    const EnsembleWeights& w = parts_.weights;
    const double w_ml = n_ml > 0 ? (out.high_volatility ? w.high_vol_ml : w.normal_ml) : 0.0;
    const double w_dl = n_dl > 0 ? (out.high_volatility ? w.high_vol_dl : w.normal_dl) : 0.0;
    const double total = w_ml + w_dl;
    if (total > 0) {
      out.p_up =
          ((n_ml > 0 ? w_ml * out.ml_mean : 0.0) + (n_dl > 0 ? w_dl * out.dl_mean : 0.0)) / total;
    } else {
      // A zero weight on the only group present: fall back to the plain mean of the members.
      out.p_up = (ml_sum + dl_sum) / static_cast<double>(out.members);
    }
  }
  out.p_up = std::clamp(out.p_up, 0.0, 1.0);
  out.score = 2.0 * out.p_up - 1.0;

  double mean = 0;
  for (size_t idx = 0; idx < out.members; ++idx) mean += out.member_p[idx];
  mean /= static_cast<double>(out.members);
  double var = 0;
  for (size_t idx = 0; idx < out.members; ++idx) {
    const double d = out.member_p[idx] - mean;
    var += d * d;
  }
  const double stddev = std::sqrt(var / static_cast<double>(out.members));
  const double agreement = std::clamp(1.0 - 2.0 * stddev, 0.0, 1.0);
  out.confidence = std::clamp(std::abs(out.score) * agreement, 0.0, 1.0);
  if (out.is_anomaly) out.confidence *= 0.5;
  return out;
}

Status Ensemble::set_member_weights(std::span<const double> weights) {
  const size_t members = parts_.row_models.size() + parts_.sequence_models.size();
  if (weights.empty()) {
    member_weights_.clear();
    return Status::Ok();
  }
  if (weights.size() != members) {
    return InvalidArgument("member weights: " + std::to_string(weights.size()) + " for " +
                           std::to_string(members) + " members");
  }
  for (const double w : weights) {
    if (!std::isfinite(w) || w <= 0) {
      return InvalidArgument("member weights: " + std::to_string(w) + " is not finite and > 0");
    }
  }
  member_weights_.assign(weights.begin(), weights.end());
  return Status::Ok();
}

void Ensemble::ResetState() {
  for (auto& model : parts_.sequence_models) model->ResetState();
}

std::vector<std::string> Ensemble::MemberKinds() const {
  std::vector<std::string> kinds;
  for (const auto& model : parts_.row_models) kinds.emplace_back(model->Kind());
  for (const auto& model : parts_.sequence_models) kinds.emplace_back(model->Kind());
  return kinds;
}

std::string Ensemble::RegimeName(int regime) const {
  if (!parts_.regimes || regime < 0 || regime >= parts_.regimes->k()) return "none";
  return parts_.regimes->RegimeName(regime);
}

std::string Ensemble::Serialize() const {
  ByteWriter out;
  const bool watched = !parts_.watch_reference.empty();
  out.U32(watched ? kEnsembleFormat : kEnsembleFormatWithoutWatch);
  out.Str(parts_.feature_set_version);
  out.Str(parts_.feature_set_hash);
  out.U64(parts_.feature_names.size());
  for (const auto& name : parts_.feature_names) out.Str(name);
  out.U64(parts_.regime_columns.size());
  for (size_t column : parts_.regime_columns) out.U64(column);
  out.F64(parts_.weights.high_vol_ml);
  out.F64(parts_.weights.high_vol_dl);
  out.F64(parts_.weights.normal_ml);
  out.F64(parts_.weights.normal_dl);
  out.Bytes(parts_.regimes ? parts_.regimes->Serialize() : std::string());
  out.Bytes(parts_.pca ? parts_.pca->Serialize() : std::string());
  out.Bytes(parts_.anomaly ? parts_.anomaly->Serialize() : std::string());
  out.Bytes(parts_.stacker ? parts_.stacker->Serialize() : std::string());
  out.U64(parts_.row_models.size());
  for (const auto& model : parts_.row_models) out.Bytes(model->Serialize());
  out.U64(parts_.sequence_models.size());
  for (const auto& model : parts_.sequence_models) out.Bytes(model->Serialize());
  if (watched) out.Bytes(parts_.watch_reference);
  return WrapModel("ensemble", out.data());
}

Result<Ensemble> Ensemble::Deserialize(std::string_view bytes, std::string_view what) {
  AITS_ASSIGN_OR_RETURN(ModelEnvelope envelope, UnwrapModel(bytes, what));
  if (envelope.kind != "ensemble") {
    return InvalidArgument(std::string(what) + ": a model of kind '" + envelope.kind +
                           "', not an ensemble");
  }
  ByteReader in(envelope.payload, std::string(what));
  AITS_ASSIGN_OR_RETURN(uint32_t format, in.U32("ensemble format"));
  if (format != kEnsembleFormat && format != kEnsembleFormatWithoutWatch) {
    return Status(StatusCode::kDataLoss, std::string(what) + ": ensemble format " +
                                             std::to_string(format) + " is not supported (" +
                                             std::to_string(kEnsembleFormat) + " is)");
  }
  Parts parts;
  AITS_ASSIGN_OR_RETURN(parts.feature_set_version, in.Str("feature set version"));
  AITS_ASSIGN_OR_RETURN(parts.feature_set_hash, in.Str("feature set hash"));
  AITS_ASSIGN_OR_RETURN(uint64_t names, in.U64("feature count"));
  if (names > in.remaining()) {
    return Status(StatusCode::kDataLoss, std::string(what) + ": feature count " +
                                             std::to_string(names) + " exceeds the file");
  }
  for (uint64_t idx = 0; idx < names; ++idx) {
    AITS_ASSIGN_OR_RETURN(std::string name, in.Str("feature name"));
    parts.feature_names.push_back(std::move(name));
  }
  AITS_ASSIGN_OR_RETURN(uint64_t columns, in.U64("regime column count"));
  if (columns > in.remaining()) {
    return Status(StatusCode::kDataLoss, std::string(what) + ": regime column count " +
                                             std::to_string(columns) + " exceeds the file");
  }
  for (uint64_t idx = 0; idx < columns; ++idx) {
    AITS_ASSIGN_OR_RETURN(uint64_t column, in.U64("regime column"));
    parts.regime_columns.push_back(static_cast<size_t>(column));
  }
  AITS_ASSIGN_OR_RETURN(parts.weights.high_vol_ml, in.F64("weight high_vol_ml"));
  AITS_ASSIGN_OR_RETURN(parts.weights.high_vol_dl, in.F64("weight high_vol_dl"));
  AITS_ASSIGN_OR_RETURN(parts.weights.normal_ml, in.F64("weight normal_ml"));
  AITS_ASSIGN_OR_RETURN(parts.weights.normal_dl, in.F64("weight normal_dl"));
  const std::string where(what);
  AITS_ASSIGN_OR_RETURN(std::string regimes, in.Bytes("regime model"));
  if (!regimes.empty()) {
    AITS_ASSIGN_OR_RETURN(auto model, KMeans::Deserialize(regimes, where + " (regimes)"));
    parts.regimes.emplace(std::move(model));
  }
  AITS_ASSIGN_OR_RETURN(std::string pca, in.Bytes("pca model"));
  if (!pca.empty()) {
    AITS_ASSIGN_OR_RETURN(auto model, Pca::Deserialize(pca, where + " (pca)"));
    parts.pca.emplace(std::move(model));
  }
  AITS_ASSIGN_OR_RETURN(std::string anomaly, in.Bytes("anomaly model"));
  if (!anomaly.empty()) {
    AITS_ASSIGN_OR_RETURN(auto model, IsolationForest::Deserialize(anomaly, where + " (anomaly)"));
    parts.anomaly.emplace(std::move(model));
  }
  AITS_ASSIGN_OR_RETURN(std::string stacker, in.Bytes("stacking model"));
  if (!stacker.empty()) {
    AITS_ASSIGN_OR_RETURN(parts.stacker, LogisticRegression::Load(stacker, where + " (stacker)"));
  }
  AITS_ASSIGN_OR_RETURN(uint64_t row_models, in.U64("row model count"));
  for (uint64_t idx = 0; idx < row_models && idx <= kMaxEnsembleMembers; ++idx) {
    AITS_ASSIGN_OR_RETURN(std::string member, in.Bytes("row model"));
    AITS_ASSIGN_OR_RETURN(auto model,
                          LoadRowModel(member, where + " (member " + std::to_string(idx) + ")"));
    parts.row_models.push_back(std::move(model));
  }
  AITS_ASSIGN_OR_RETURN(uint64_t sequence_models, in.U64("sequence model count"));
  for (uint64_t idx = 0; idx < sequence_models && idx <= kMaxEnsembleMembers; ++idx) {
    AITS_ASSIGN_OR_RETURN(std::string member, in.Bytes("sequence model"));
    AITS_ASSIGN_OR_RETURN(auto model,
                          RecurrentModel::Deserialize(
                              member, where + " (sequence member " + std::to_string(idx) + ")"));
    parts.sequence_models.push_back(std::move(model));
  }
  if (format == kEnsembleFormat) {
    AITS_ASSIGN_OR_RETURN(parts.watch_reference, in.Bytes("watch reference"));
  }
  AITS_RETURN_IF_ERROR(in.ExpectEnd());
  return Create(std::move(parts));
}

Result<features::FeatureEngine> MakeFeatureEngineFor(const Ensemble& ensemble,
                                                     const std::vector<Duration>& timeframes,
                                                     Duration bar_period) {
  features::FeatureEngineConfig config;
  config.timeframes = timeframes;
  AITS_ASSIGN_OR_RETURN(features::FeatureEngine engine, features::FeatureEngine::Create(config));
  if (engine.Hash() != ensemble.feature_set_hash()) {
    return InvalidArgument("the model was trained on feature set " + ensemble.feature_set_hash() +
                           " (version " + ensemble.feature_set_version() +
                           ") but this build computes " + engine.Hash() + " (version " +
                           std::string(features::FeatureEngine::kVersion) +
                           ") for the same timeframes; retrain the model");
  }
  if (engine.Names() != ensemble.feature_names()) {
    return InvalidArgument("the model's feature columns differ from the feature engine's");
  }
  if (bar_period != engine.BaseTimeframe()) {
    return InvalidArgument("the model's base timeframe is " +
                           features::TimeframeName(engine.BaseTimeframe()) +
                           " but the kernel's bars are " + features::TimeframeName(bar_period) +
                           " (set the bar period to the base timeframe)");
  }
  return engine;
}

}  // namespace aits::ml
