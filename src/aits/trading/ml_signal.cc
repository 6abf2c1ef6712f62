#include "aits/trading/ml_signal.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "aits/ml/model_watch.h"
#include "aits/models/ensemble.h"
#include "aits/models/xgboost_model.h"

namespace aits::trading {
namespace {

// The watch of a model that carries a watch reference; none for one that does not.
Result<std::optional<ml::ModelWatch>> WatchOf(const ml::Ensemble& ensemble) {
  if (ensemble.watch_reference().empty()) return std::optional<ml::ModelWatch>();
  AITS_ASSIGN_OR_RETURN(ml::WatchReference reference,
                        ml::DeserializeWatchReference(ensemble.watch_reference(), "the model"));
  if (reference.features.size() != ensemble.feature_names().size()) {
    return Status(StatusCode::kDataLoss,
                  "the model's watch reference has " + std::to_string(reference.features.size()) +
                      " inputs for its " + std::to_string(ensemble.feature_names().size()));
  }
  AITS_ASSIGN_OR_RETURN(ml::ModelWatch made, ml::ModelWatch::Create(std::move(reference)));
  return std::optional<ml::ModelWatch>(std::move(made));
}

// A candidate on trial beside the served model, and the trial.
struct Trial {
  ml::Ensemble candidate;
  ml::ShadowTrial trial;
  std::string candidate_name;
  std::string production_name;
};

// The label horizon a model carries in its watch reference, if it carries one.
Result<std::optional<Duration>> HorizonOf(const ml::Ensemble& ensemble, std::string_view what) {
  if (ensemble.watch_reference().empty()) return std::optional<Duration>();
  AITS_ASSIGN_OR_RETURN(ml::WatchReference reference,
                        ml::DeserializeWatchReference(ensemble.watch_reference(), what));
  return std::optional<Duration>(reference.horizon);
}

Result<Trial> MakeShadow(const ml::Ensemble& production, ShadowModel shadow) {
  if (shadow.candidate.feature_set_hash() != production.feature_set_hash()) {
    return Status(StatusCode::kFailedPrecondition,
                  "shadow candidate " + shadow.candidate_name + " computes feature set " +
                      std::string(shadow.candidate.feature_set_version()) + " (hash " +
                      std::string(shadow.candidate.feature_set_hash()) + "), the served model " +
                      shadow.production_name + " " + std::string(production.feature_set_version()) +
                      " (hash " + std::string(production.feature_set_hash()) +
                      "): a trial compares two models on the same inputs");
  }
  // Both are settled at the candidate's horizon (the served model's when the candidate has
  // none): the calls it is to be judged on.
  AITS_ASSIGN_OR_RETURN(std::optional<Duration> horizon,
                        HorizonOf(shadow.candidate, shadow.candidate_name));
  if (!horizon) {
    AITS_ASSIGN_OR_RETURN(horizon, HorizonOf(production, shadow.production_name));
  }
  if (!horizon) {
    return Status(StatusCode::kFailedPrecondition,
                  "shadow candidate " + shadow.candidate_name + ": neither it nor " +
                      shadow.production_name +
                      " carries its label's horizon (a watch reference): retrain one of them");
  }
  AITS_ASSIGN_OR_RETURN(ml::ShadowTrial trial, ml::ShadowTrial::Create(*horizon, shadow.config));
  return Trial{std::move(shadow.candidate), std::move(trial), std::move(shadow.candidate_name),
               std::move(shadow.production_name)};
}

// Member weights for `ensemble`, settled at its label's horizon (its watch reference's).
Result<ml::MemberWeights> WeightsOf(const ml::Ensemble& ensemble,
                                    const ml::MemberWeightsConfig& config) {
  AITS_ASSIGN_OR_RETURN(std::optional<Duration> horizon, HorizonOf(ensemble, "the model"));
  if (!horizon) {
    return Status(StatusCode::kFailedPrecondition,
                  "member weights: the model carries no label horizon (a watch reference) to "
                  "settle its members' calls at; retrain it");
  }
  if (ensemble.has_stacker()) {
    return Status(StatusCode::kFailedPrecondition,
                  "member weights: the model's members are combined by a stacker, not a mean");
  }
  return ml::MemberWeights::Create(
      ensemble.parts().row_models.size() + ensemble.parts().sequence_models.size(), *horizon,
      config);
}

class MlSignal final : public SignalSource {
 public:
  MlSignal(InstrumentId instrument, features::FeatureEngine engine, ml::Ensemble ensemble,
           size_t top_features, std::optional<ml::ModelWatch> watch, std::optional<Trial> shadow,
           std::string model_name, ShadowLoader loader,
           std::optional<ml::MemberWeightsConfig> weighing,
           std::optional<ml::MemberWeights> weights)
      : instrument_(instrument),
        engine_(std::move(engine)),
        ensemble_(std::move(ensemble)),
        kinds_(ensemble_.MemberKinds()),
        top_features_(top_features),
        watch_(std::move(watch)),
        shadow_(std::move(shadow)),
        model_name_(std::move(model_name)),
        loader_(std::move(loader)),
        weighing_(weighing),
        weights_(std::move(weights)) {
    row_.resize(ensemble_.feature_names().size());
    recent_.resize(kRecentRows * row_.size());
    explainer_ = FindExplainer(ensemble_);
  }

  // The ensemble's XGBoost member, whose SHAP values explain a decision; nullptr without one.
  static const ml::XgbModel* FindExplainer(const ml::Ensemble& ensemble) {
    for (const auto& model : ensemble.parts().row_models) {
      if (const auto* xgb = dynamic_cast<const ml::XgbModel*>(model.get())) return xgb;
    }
    return nullptr;
  }
  std::string_view name() const override { return "ml_ensemble"; }

  bool OnBar(const Bar& bar, decision::Signal* signal) override {
    if (!Features(bar, &row_)) return false;
    return Score(bar, signal);
  }

  bool Features(const Bar& bar, std::vector<float>* row) override {
    if (bar.instrument != instrument_) return false;
    if (!engine_.OnBar(bar) || !engine_.Ready()) return false;
    row->resize(ensemble_.feature_names().size());
    engine_.CopyTo(*row);
    return true;
  }

  bool Predict(const Bar& bar, std::span<const float> row, decision::Signal* signal) override {
    if (bar.instrument != instrument_ || row.size() != row_.size()) return false;
    std::copy(row.begin(), row.end(), row_.begin());
    return Score(bar, signal);
  }

  size_t row_size() const override { return row_.size(); }
  std::span<const std::string> feature_names() const override { return ensemble_.feature_names(); }
  std::string_view feature_set_version() const override { return ensemble_.feature_set_version(); }
  std::string_view feature_set_hash() const override { return ensemble_.feature_set_hash(); }
  bool explains() const override { return explainer_ != nullptr && top_features_ > 0; }
  const ml::ModelWatch* watch() const override { return watch_ ? &*watch_ : nullptr; }
  const ml::ShadowTrial* shadow() const override { return shadow_ ? &shadow_->trial : nullptr; }
  std::string_view shadow_candidate() const override {
    return shadow_ ? std::string_view(shadow_->candidate_name) : std::string_view();
  }
  std::string_view shadow_production() const override {
    return shadow_ ? std::string_view(shadow_->production_name) : std::string_view();
  }
  bool SettleShadow(std::string_view candidate, bool promoted) override {
    if (!shadow_ || shadow_->candidate_name != candidate) return false;
    if (promoted) {
      ensemble_ = std::move(shadow_->candidate);
      model_name_ = shadow_->candidate_name;
      kinds_ = ensemble_.MemberKinds();
      explainer_ = FindExplainer(ensemble_);
      // Same feature set, so the row is unchanged; its watch is measured against its own
      // training data. A watch reference that does not read leaves it unwatched rather than
      // stopping a session in the middle.
      watch_.reset();
      if (auto watch = WatchOf(ensemble_); watch.ok()) watch_ = std::move(*watch);
      // Its members are judged anew, from alike; without a horizon of its own, alike for good.
      weights_.reset();
      score_weights_.clear();
      if (weighing_) {
        if (auto made = WeightsOf(ensemble_, *weighing_); made.ok()) weights_ = std::move(*made);
      }
    }
    shadow_.reset();
    return true;
  }

  Status StartShadow(std::string_view candidate, std::string_view checksum,
                     uint64_t min_calls) override {
    if (shadow_) {
      return Status(StatusCode::kFailedPrecondition, "cannot try " + std::string(candidate) + ": " +
                                                         shadow_->candidate_name +
                                                         " is on trial beside " + model_name_);
    }
    if (!loader_) {
      return Status(StatusCode::kFailedPrecondition,
                    "cannot try " + std::string(candidate) + ": this session loads no candidates");
    }
    AITS_ASSIGN_OR_RETURN(ShadowModel loaded, loader_(candidate, checksum));
    loaded.production_name = model_name_;
    loaded.config.min_calls = static_cast<size_t>(min_calls);
    AITS_ASSIGN_OR_RETURN(Trial trial, MakeShadow(ensemble_, std::move(loaded)));
    // Its sequence members start from the rows the served model has just seen, as they would
    // have had the candidate been served from the session's start (up to kRecentRows).
    const size_t width = row_.size();
    const size_t kept = std::min<uint64_t>(recent_seen_, kRecentRows);
    for (size_t idx = 0; idx < kept; ++idx) {
      const size_t slot = static_cast<size_t>((recent_seen_ - kept + idx) % kRecentRows);
      (void)trial.candidate.Step(std::span<const float>(recent_).subspan(slot * width, width));
    }
    shadow_ = std::move(trial);
    return Status::Ok();
  }

  std::string_view model_name() const override { return model_name_; }

  void Describe(JsonWriter& out, bool explain) const override {
    out.Key("models");
    out.BeginObject();
    out.Member("p_up", score_.p_up);
    out.Member("ml_mean", score_.ml_mean);
    out.Member("dl_mean", score_.dl_mean);
    for (size_t idx = 0; idx < score_.members && idx < kinds_.size(); ++idx) {
      out.Member(kinds_[idx], static_cast<double>(score_.member_p[idx]));
    }
    out.EndObject();
    if (weights_) {
      // The weights this bar's score was made with (set at the previous bar's close).
      out.Key("member_weights");
      out.BeginObject();
      for (size_t idx = 0; idx < score_weights_.size() && idx < kinds_.size(); ++idx) {
        out.Member(kinds_[idx], score_weights_[idx]);
      }
      out.EndObject();
    }
    out.Member("regime_name", score_.regime >= 0 ? ensemble_.RegimeName(score_.regime) : "");
    out.Member("is_anomaly", score_.is_anomaly);
    if (!explain || explainer_ == nullptr || top_features_ == 0) return;
    // SHAP values of the XGBoost member: which features pushed this prediction, and how far.
    contributions_.assign(row_.size() + 1, 0.0f);
    explainer_->Contributions(row_, contributions_);
    order_.resize(row_.size());
    std::iota(order_.begin(), order_.end(), size_t{0});
    const size_t n = std::min(top_features_, order_.size());
    std::partial_sort(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(n), order_.end(),
                      [&](size_t a, size_t b) {
                        const float ca = std::fabs(contributions_[a]);
                        const float cb = std::fabs(contributions_[b]);
                        return ca != cb ? ca > cb : a < b;
                      });
    out.Member("explained_by", "xgboost");
    out.Member("bias", static_cast<double>(contributions_.back()));
    out.Key("top_features");
    out.BeginArray();
    for (size_t idx = 0; idx < n; ++idx) {
      const size_t column = order_[idx];
      out.BeginObject();
      out.Member("name", ensemble_.feature_names()[column]);
      out.Member("value", static_cast<double>(row_[column]));
      out.Member("contribution", static_cast<double>(contributions_[column]));
      out.EndObject();
    }
    out.EndArray();
  }

 private:
  // The ensemble's step on row_, the features of `bar`.
  bool Score(const Bar& bar, decision::Signal* signal) {
    score_ = ensemble_.Step(row_);
    if (weights_) {
      score_weights_.assign(weights_->weights().begin(), weights_->weights().end());
      weights_->OnBar(bar.CloseTime(), bar.mid.close.AsDouble(),
                      std::span<const float>(score_.member_p.data(), score_.members));
      // From the next bar; the weights are bounded and positive, so this cannot fail.
      (void)ensemble_.set_member_weights(weights_->weights());
    }
    signal->instrument = instrument_;
    signal->ts = bar.CloseTime();
    signal->strength = std::clamp(score_.score, -1.0, 1.0);
    signal->confidence = std::clamp(score_.confidence, 0.0, 1.0);
    signal->anomaly = score_.anomaly;
    signal->regime = score_.regime;
    if (watch_) watch_->OnBar(bar.CloseTime(), bar.mid.close.AsDouble(), row_, score_.score);
    std::copy(
        row_.begin(), row_.end(),
        recent_.begin() + static_cast<std::ptrdiff_t>((recent_seen_ % kRecentRows) * row_.size()));
    ++recent_seen_;
    // The candidate steps until the registry's answer: its sequence members are then current
    // if it takes over.
    if (shadow_) {
      const double candidate = shadow_->candidate.Step(row_).score;
      shadow_->trial.OnBar(bar.CloseTime(), bar.mid.close.AsDouble(), score_.score, candidate);
    }
    return true;
  }

  InstrumentId instrument_;
  features::FeatureEngine engine_;
  ml::Ensemble ensemble_;
  std::vector<std::string> kinds_;
  size_t top_features_;
  const ml::XgbModel* explainer_ = nullptr;
  std::vector<float> row_;
  ml::EnsembleScore score_;
  mutable std::vector<float> contributions_;
  mutable std::vector<size_t> order_;
  std::optional<ml::ModelWatch> watch_;
  std::optional<Trial> shadow_;
  std::string model_name_;
  ShadowLoader loader_;
  // The last rows scored, oldest overwritten: what a candidate started mid-session is warmed on.
  std::optional<ml::MemberWeightsConfig> weighing_;
  std::optional<ml::MemberWeights> weights_;
  std::vector<double> score_weights_;
  static constexpr size_t kRecentRows = 128;
  std::vector<float> recent_;
  uint64_t recent_seen_ = 0;
};

}  // namespace

Result<std::unique_ptr<SignalSource>> MakeMlSignal(const Instrument& instrument,
                                                   Duration bar_period, ml::Ensemble ensemble,
                                                   const std::vector<Duration>& timeframes,
                                                   MlSignalOptions options) {
  AITS_ASSIGN_OR_RETURN(features::FeatureEngine engine,
                        ml::MakeFeatureEngineFor(ensemble, timeframes, bar_period));
  AITS_ASSIGN_OR_RETURN(std::optional<ml::ModelWatch> watch, WatchOf(ensemble));
  std::optional<Trial> trial;
  if (options.shadow) {
    AITS_ASSIGN_OR_RETURN(trial, MakeShadow(ensemble, std::move(*options.shadow)));
  }
  std::optional<ml::MemberWeights> weights;
  if (options.member_weights) {
    AITS_ASSIGN_OR_RETURN(weights, WeightsOf(ensemble, *options.member_weights));
  }
  return std::unique_ptr<SignalSource>(std::make_unique<MlSignal>(
      instrument.id, std::move(engine), std::move(ensemble), options.top_features, std::move(watch),
      std::move(trial), std::move(options.model_name), std::move(options.loader),
      options.member_weights, std::move(weights)));
}

Result<std::unique_ptr<SignalSource>> MakeMlSignal(const Instrument& instrument,
                                                   Duration bar_period, ml::Ensemble ensemble,
                                                   const std::vector<Duration>& timeframes,
                                                   size_t top_features,
                                                   std::optional<ShadowModel> shadow) {
  return MakeMlSignal(instrument, bar_period, std::move(ensemble), timeframes,
                      MlSignalOptions{.top_features = top_features, .shadow = std::move(shadow)});
}

}  // namespace aits::trading
