#include "aits/ml/model_watch.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

#include "aits/models/serialize.h"

namespace aits::ml {
namespace {

constexpr uint32_t kWatchFormat = 1;

void WriteReference(ByteWriter& out, const FeatureReference& reference) {
  out.Str(reference.name);
  out.U64(reference.rows);
  out.F64s(reference.edges);
  out.F64s(reference.fractions);
}

Result<FeatureReference> ReadReference(ByteReader& in) {
  FeatureReference reference;
  AITS_ASSIGN_OR_RETURN(reference.name, in.Str("reference name"));
  AITS_ASSIGN_OR_RETURN(reference.rows, in.U64("reference rows"));
  AITS_ASSIGN_OR_RETURN(reference.edges, in.F64s("reference edges"));
  AITS_ASSIGN_OR_RETURN(reference.fractions, in.F64s("reference fractions"));
  if (reference.fractions.size() != reference.edges.size() + 1) {
    return Status(StatusCode::kDataLoss, in.what() + ": reference of " + reference.name + ": " +
                                             std::to_string(reference.edges.size()) +
                                             " edges but " +
                                             std::to_string(reference.fractions.size()) +
                                             " fractions (one more expected)");
  }
  return reference;
}

Call CallOf(double score) {
  if (score > 0) return Call::kLong;
  if (score < 0) return Call::kShort;
  return Call::kFlat;
}

}  // namespace

Result<WatchReference> BuildWatchReference(const Matrix& x, const std::vector<std::string>& names,
                                           size_t begin, size_t end, std::span<const double> scores,
                                           Duration horizon, double validation_accuracy) {
  if (names.size() != x.cols()) {
    return InvalidArgument("watch reference: " + std::to_string(names.size()) + " names for " +
                           std::to_string(x.cols()) + " columns");
  }
  if (begin > end || end > x.rows()) {
    return InvalidArgument("watch reference: rows [" + std::to_string(begin) + ", " +
                           std::to_string(end) + ") outside the " + std::to_string(x.rows()) +
                           " rows");
  }
  if (horizon.ns <= 0) return InvalidArgument("watch reference: a horizon <= 0");
  WatchReference reference;
  reference.horizon = horizon;
  reference.validation_accuracy = validation_accuracy;
  std::vector<double> column(end - begin);
  for (size_t c = 0; c < x.cols(); ++c) {
    for (size_t r = begin; r < end; ++r) column[r - begin] = x.Row(r)[c];
    AITS_ASSIGN_OR_RETURN(FeatureReference feature, BuildReference(names[c], column));
    reference.features.push_back(std::move(feature));
  }
  AITS_ASSIGN_OR_RETURN(reference.score, BuildReference("score", scores));
  return reference;
}

std::string SerializeWatchReference(const WatchReference& reference) {
  ByteWriter out;
  out.U32(kWatchFormat);
  out.I64(reference.horizon.ns);
  out.F64(reference.validation_accuracy);
  WriteReference(out, reference.score);
  out.U64(reference.features.size());
  for (const FeatureReference& feature : reference.features) WriteReference(out, feature);
  return out.Take();
}

Result<WatchReference> DeserializeWatchReference(std::string_view bytes, std::string_view what) {
  ByteReader in(bytes, std::string(what) + " (watch reference)");
  AITS_ASSIGN_OR_RETURN(uint32_t format, in.U32("watch format"));
  if (format != kWatchFormat) {
    return Status(StatusCode::kDataLoss, in.what() + ": format " + std::to_string(format) +
                                             " is not supported (" + std::to_string(kWatchFormat) +
                                             " is)");
  }
  WatchReference reference;
  AITS_ASSIGN_OR_RETURN(reference.horizon.ns, in.I64("horizon"));
  AITS_ASSIGN_OR_RETURN(reference.validation_accuracy, in.F64("validation accuracy"));
  AITS_ASSIGN_OR_RETURN(reference.score, ReadReference(in));
  AITS_ASSIGN_OR_RETURN(uint64_t count, in.U64("feature count"));
  if (count > in.remaining()) {
    return Status(StatusCode::kDataLoss,
                  in.what() + ": feature count " + std::to_string(count) + " exceeds the bytes");
  }
  for (uint64_t i = 0; i < count; ++i) {
    AITS_ASSIGN_OR_RETURN(FeatureReference feature, ReadReference(in));
    reference.features.push_back(std::move(feature));
  }
  AITS_RETURN_IF_ERROR(in.ExpectEnd());
  return reference;
}

Result<ModelWatch> ModelWatch::Create(WatchReference reference, WatchOptions options) {
  if (reference.features.empty()) return InvalidArgument("model watch: no input in the reference");
  if (reference.horizon.ns <= 0) return InvalidArgument("model watch: a horizon <= 0");
  std::vector<FeatureReference> columns = reference.features;
  columns.push_back(reference.score);
  AITS_ASSIGN_OR_RETURN(DriftMonitor drift,
                        DriftMonitor::Create(std::move(columns), options.drift_window));
  AITS_ASSIGN_OR_RETURN(CallBook calls, CallBook::Create(reference.horizon, options.call_window));
  ModelWatch watch(std::move(reference), std::move(drift), std::move(calls));
  watch.values_.resize(watch.inputs() + 1);
  return watch;
}

Result<CallBook> CallBook::Create(Duration horizon, size_t window) {
  if (horizon.ns <= 0) return InvalidArgument("call book: a horizon <= 0");
  AITS_ASSIGN_OR_RETURN(LiveModelMetrics live, LiveModelMetrics::Create(window));
  return CallBook(horizon, std::move(live));
}

void CallBook::OnBar(Timestamp close_time, double close, double score) {
  // Settle what this bar's close settles; a call whose settling bar is this late is dropped.
  while (!open_.empty() && close_time - open_.front().at >= horizon_) {
    const OpenCall& call = open_.front();
    const bool too_late = close_time - call.at > horizon_ + horizon_;
    if (too_late || !(call.close > 0) || !(close > 0) ||
        !live_.Add(call.call, std::log(close / call.close))) {
      ++dropped_;
    } else {
      ++settled_;
    }
    open_.pop_front();
  }
  if (std::isfinite(score)) open_.push_back({close_time, close, CallOf(score)});
}

void ModelWatch::OnBar(Timestamp close_time, double close, std::span<const float> row,
                       double score) {
  ++bars_;
  for (size_t i = 0; i < values_.size() - 1; ++i) {
    values_[i] = i < row.size() ? static_cast<double>(row[i]) : std::nan("");
  }
  values_.back() = score;
  drift_.Add(values_);
  calls_.OnBar(close_time, close, score);
}

std::string_view ToString(WatchVerdict verdict) {
  switch (verdict) {
    case WatchVerdict::kWarmingUp:
      return "warming_up";
    case WatchVerdict::kHealthy:
      return "healthy";
    case WatchVerdict::kUpdate:
      return "update";
    case WatchVerdict::kRetrain:
      return "retrain";
  }
  return "unknown";
}

namespace {

std::string Fixed(double value, int digits) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}

}  // namespace

WatchAssessment Assess(const ModelWatch& watch, const WatchPolicyConfig& config) {
  WatchAssessment a;
  const DriftMonitor& drift = watch.drift();
  a.inputs = watch.inputs();
  a.calls = watch.live().directional();
  a.live_accuracy = watch.live().accuracy();
  const double validation = watch.reference().validation_accuracy;
  const bool drift_known = drift.bars() >= config.min_bars;
  // Without a validation accuracy there is nothing to hold the live one to.
  const bool judged = std::isfinite(validation);
  const bool record_known = judged && a.calls >= config.min_calls;
  if (drift_known) {
    for (size_t f = 0; f < a.inputs; ++f) a.drifted_inputs += drift.Psi(f) > config.drifted_psi;
    a.score_psi = drift.Psi(a.inputs);
  }
  const double share =
      a.inputs > 0 ? static_cast<double>(a.drifted_inputs) / static_cast<double>(a.inputs) : 0.0;
  const std::string drifted = std::to_string(a.drifted_inputs) + " of " + std::to_string(a.inputs) +
                              " inputs with a PSI above " + Fixed(config.drifted_psi, 2);
  if (record_known && a.live_accuracy < validation - config.decay_margin) {
    a.verdict = WatchVerdict::kRetrain;
    a.reason = "decay: live accuracy " + Fixed(a.live_accuracy, 3) + " over " +
               std::to_string(a.calls) + " calls, " + Fixed(validation, 3) + " on validation";
  } else if (drift_known && share > config.retrain_share) {
    a.verdict = WatchVerdict::kRetrain;
    a.reason = "drift: " + drifted + " (more than " + Fixed(100 * config.retrain_share, 0) + " %)";
  } else if (drift_known && share > config.update_share) {
    a.verdict = WatchVerdict::kUpdate;
    a.reason = "drift: " + drifted + " (more than " + Fixed(100 * config.update_share, 0) + " %)";
  } else if (drift_known && a.score_psi > config.score_psi) {
    a.verdict = WatchVerdict::kUpdate;
    a.reason =
        "drift: the score's PSI " + Fixed(a.score_psi, 3) + " above " + Fixed(config.score_psi, 2);
  } else if (drift_known || record_known) {
    a.verdict = WatchVerdict::kHealthy;
    a.reason = drift_known ? drifted : "live accuracy " + Fixed(a.live_accuracy, 3);
  } else {
    a.verdict = WatchVerdict::kWarmingUp;
    a.reason = std::to_string(drift.bars()) + " bars of " + std::to_string(config.min_bars);
    if (judged) {
      a.reason += ", " + std::to_string(a.calls) + " calls of " + std::to_string(config.min_calls);
    }
  }
  return a;
}

std::optional<WatchAssessment> WatchPolicy::Observe(const ModelWatch& watch) {
  WatchAssessment a = Assess(watch, config_);
  if (a.verdict == verdict_) {
    held_ = 0;
    candidate_ = verdict_;
    return std::nullopt;
  }
  if (a.verdict != candidate_) {
    candidate_ = a.verdict;
    held_ = 0;
  }
  if (++held_ < std::max<uint64_t>(config_.hold_bars, 1)) return std::nullopt;
  verdict_ = a.verdict;
  held_ = 0;
  ++changes_;
  return a;
}

}  // namespace aits::ml
