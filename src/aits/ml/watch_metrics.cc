#include "aits/ml/watch_metrics.h"

#include <limits>
#include <string>
#include <utility>

namespace aits::ml {

Result<WatchFamilies> RegisterWatchFamilies(Registry& registry) {
  WatchFamilies m;
  AITS_ASSIGN_OR_RETURN(
      m.psi,
      registry.AddGauge("aits_model_drift_psi",
                        "Population stability index of a model input (or of its score, "
                        "feature=\"score\") over the drift window against its training data; "
                        "above 0.2 the population has moved. NaN below 100 bars.",
                        {"symbol", "feature"}));
  AITS_ASSIGN_OR_RETURN(
      m.ks,
      registry.AddGauge("aits_model_drift_ks_p_value",
                        "Kolmogorov-Smirnov test's p-value of a model input (or its score) over "
                        "the drift window against its training data. NaN below 100 bars.",
                        {"symbol", "feature"}));
  AITS_ASSIGN_OR_RETURN(m.window,
                        registry.AddGauge("aits_model_drift_window_bars",
                                          "Bars in the model's drift window.", {"symbol"}));
  // One family per figure: they are different quantities (Prometheus' naming rules).
  constexpr std::array<std::pair<const char*, const char*>, 5> kFigures = {{
      {"accuracy", "long and short calls the market followed, of those calls"},
      {"precision", "long calls that went up, of the long calls"},
      {"recall", "up moves called long, of the up moves"},
      {"profit_factor", "gains over losses of the calls' signed log returns"},
      {"sharpe", "mean over standard deviation of the calls' signed log returns, per call"},
  }};
  for (size_t i = 0; i < kFigures.size(); ++i) {
    AITS_ASSIGN_OR_RETURN(
        m.live[i],
        registry.AddGauge(std::string("aits_model_live_") + kFigures[i].first,
                          std::string("The model's record on its last settled calls (a call: the "
                                      "score's sign, settled a label horizon later): ") +
                              kFigures[i].second + "; NaN without a denominator yet.",
                          {"symbol"}));
  }
  AITS_ASSIGN_OR_RETURN(
      m.calls, registry.AddGauge("aits_model_live_calls",
                                 "Settled long and short calls that the live figures are over.",
                                 {"symbol"}));
  AITS_ASSIGN_OR_RETURN(m.validation,
                        registry.AddGauge("aits_model_validation_accuracy",
                                          "The model's accuracy on its validation rows, from "
                                          "its training: what the live accuracy is held to.",
                                          {"symbol"}));
  AITS_ASSIGN_OR_RETURN(
      m.settled, registry.AddCounter("aits_model_calls_settled_total",
                                     "Calls of the model settled against the market.", {"symbol"}));
  AITS_ASSIGN_OR_RETURN(m.dropped,
                        registry.AddCounter("aits_model_calls_dropped_total",
                                            "Calls left unsettled: the next bar came later than "
                                            "twice the horizon (a gap in the feed).",
                                            {"symbol"}));
  AITS_ASSIGN_OR_RETURN(
      m.verdict,
      registry.AddGauge("aits_model_verdict",
                        "1 for the verdict the model's watch has taken (warming_up, healthy, "
                        "update, retrain: docs/ml.md, \"The watch's verdict\"), 0 for the others.",
                        {"symbol", "verdict"}));
  return m;
}

Result<WatchMetrics> WatchMetrics::Create(Registry& registry, const std::string& symbol,
                                          const ModelWatch& watch) {
  AITS_ASSIGN_OR_RETURN(const WatchFamilies m, RegisterWatchFamilies(registry));
  WatchMetrics w;
  const size_t columns = watch.drift().features();
  for (size_t f = 0; f < columns; ++f) {
    const std::string& feature = f < watch.inputs() ? watch.reference().features[f].name : "score";
    const std::initializer_list<Label> labels = {{"symbol", symbol}, {"feature", feature}};
    AITS_ASSIGN_OR_RETURN(Gauge * p, m.psi->With(labels));
    AITS_ASSIGN_OR_RETURN(Gauge * k, m.ks->With(labels));
    w.psi_.push_back(p);
    w.ks_p_value_.push_back(k);
  }
  const std::initializer_list<Label> labels = {{"symbol", symbol}};
  AITS_ASSIGN_OR_RETURN(w.window_bars_, m.window->With(labels));
  const std::array<Gauge**, 5> figures = {&w.accuracy_, &w.precision_, &w.recall_,
                                          &w.profit_factor_, &w.sharpe_};
  for (size_t i = 0; i < figures.size(); ++i) {
    AITS_ASSIGN_OR_RETURN(*figures[i], m.live[i]->With(labels));
  }
  AITS_ASSIGN_OR_RETURN(w.calls_, m.calls->With(labels));
  AITS_ASSIGN_OR_RETURN(Gauge * accuracy, m.validation->With(labels));
  accuracy->Set(watch.reference().validation_accuracy);
  AITS_ASSIGN_OR_RETURN(w.settled_, m.settled->With(labels));
  AITS_ASSIGN_OR_RETURN(w.dropped_, m.dropped->With(labels));
  for (size_t v = 0; v < w.verdict_.size(); ++v) {
    AITS_ASSIGN_OR_RETURN(
        w.verdict_[v],
        m.verdict->With({{"symbol", symbol}, {"verdict", ToString(static_cast<WatchVerdict>(v))}}));
  }
  w.Publish(watch, WatchVerdict::kWarmingUp, /*count=*/false);
  return w;
}

void WatchMetrics::Publish(const ModelWatch& watch, WatchVerdict verdict, bool count) {
  for (size_t v = 0; v < verdict_.size(); ++v) {
    verdict_[v]->Set(static_cast<size_t>(verdict) == v ? 1.0 : 0.0);
  }
  if (count) {
    settled_->Increment(watch.settled_calls() - settled_published_);
    dropped_->Increment(watch.dropped_calls() - dropped_published_);
  }
  settled_published_ = watch.settled_calls();
  dropped_published_ = watch.dropped_calls();
  if (watch.bars() == bars_published_ && watch.bars() != 0) return;
  bars_published_ = watch.bars();
  const DriftMonitor& drift = watch.drift();
  // Below 100 bars the statistics say more about the window than about the market.
  const bool enough = drift.bars() >= 100;
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  for (size_t f = 0; f < psi_.size(); ++f) {
    const DriftMonitor::Stats stats = enough ? drift.Statistics(f) : DriftMonitor::Stats{};
    psi_[f]->Set(enough ? stats.psi : kNaN);
    ks_p_value_[f]->Set(enough ? stats.ks_p_value : kNaN);
  }
  window_bars_->Set(static_cast<double>(drift.bars()));
  const LiveModelMetrics& live = watch.live();
  accuracy_->Set(live.accuracy());
  precision_->Set(live.precision());
  recall_->Set(live.recall());
  profit_factor_->Set(live.profit_factor());
  sharpe_->Set(live.sharpe());
  calls_->Set(static_cast<double>(live.directional()));
}

Result<ShadowMetrics> ShadowMetrics::Create(Registry& registry, const std::string& symbol,
                                            const ShadowTrial& trial) {
  AITS_ASSIGN_OR_RETURN(
      Family<Gauge> * state,
      registry.AddGauge("aits_model_shadow_state",
                        "1 for the state of the candidate's shadow trial beside the served model "
                        "(running, complete, expired: docs/ml.md, \"Shadow trial\"), 0 for the "
                        "others.",
                        {"symbol", "state"}));
  AITS_ASSIGN_OR_RETURN(
      Family<Gauge> * bars,
      registry.AddGauge("aits_model_shadow_bars", "Bars of the candidate's shadow trial so far.",
                        {"symbol"}));
  AITS_ASSIGN_OR_RETURN(
      Family<Gauge> * calls,
      registry.AddGauge("aits_model_shadow_calls",
                        "Long and short calls settled in the shadow trial, of the candidate and "
                        "of the production model over the same bars.",
                        {"symbol", "model"}));
  AITS_ASSIGN_OR_RETURN(
      Family<Gauge> * accuracy,
      registry.AddGauge("aits_model_shadow_accuracy",
                        "Accuracy of the candidate's and of the production model's settled calls "
                        "in the shadow trial; NaN without a call yet.",
                        {"symbol", "model"}));
  ShadowMetrics m;
  for (size_t s = 0; s < m.state_.size(); ++s) {
    AITS_ASSIGN_OR_RETURN(
        m.state_[s],
        state->With({{"symbol", symbol}, {"state", ToString(static_cast<ShadowState>(s))}}));
  }
  AITS_ASSIGN_OR_RETURN(m.bars_, bars->With({{"symbol", symbol}}));
  constexpr std::array<const char*, 2> kModels = {"candidate", "production"};
  for (size_t k = 0; k < kModels.size(); ++k) {
    AITS_ASSIGN_OR_RETURN(m.calls_[k], calls->With({{"symbol", symbol}, {"model", kModels[k]}}));
    AITS_ASSIGN_OR_RETURN(m.accuracy_[k],
                          accuracy->With({{"symbol", symbol}, {"model", kModels[k]}}));
  }
  m.Publish(trial);
  return m;
}

void ShadowMetrics::Publish(const ShadowTrial& trial) {
  const ShadowRecord record = trial.Record();
  for (size_t s = 0; s < state_.size(); ++s) {
    state_[s]->Set(static_cast<size_t>(record.state) == s ? 1.0 : 0.0);
  }
  bars_->Set(static_cast<double>(record.bars));
  const std::array<const ShadowSide*, 2> sides = {&record.candidate, &record.production};
  for (size_t k = 0; k < sides.size(); ++k) {
    calls_[k]->Set(static_cast<double>(sides[k]->directional));
    accuracy_[k]->Set(sides[k]->accuracy);
  }
}

}  // namespace aits::ml
