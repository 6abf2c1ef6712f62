#include "aits/ml/retrain.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "aits/features/feature_engine.h"
#include "aits/ml/internal/pipeline_steps.h"
#include "aits/ml/labels.h"
#include "aits/ml/model_watch.h"
#include "aits/models/ensemble.h"
#include "aits/models/xgboost_model.h"

namespace aits::ml {
namespace {

std::string RefOf(const ModelRecord& record) {
  return record.name + "@" + std::to_string(record.version);
}

// The index of the XGBoost classifier among the ensemble's row models, if it has one.
std::optional<size_t> XgbMember(const Ensemble::Parts& parts) {
  for (size_t idx = 0; idx < parts.row_models.size(); ++idx) {
    if (parts.row_models[idx]->Kind() == XgbModel::kKindClassifier) return idx;
  }
  return std::nullopt;
}

// The source's sequence windows (its params, as registered) and the config's: the longest is
// how many rows both ensembles step through before the holdout, so that the two are scored alike.
size_t WarmUp(const MlConfig& config, const ModelRecord& source) {
  size_t warm = internal::WarmUpRows(config);
  for (const char* cell : {"lstm", "gru"}) {
    const nlohmann::json& params = source.params;
    if (params.contains(cell) && params[cell].is_object() && params[cell].contains("window") &&
        params[cell]["window"].is_number_integer()) {
      warm = std::max(warm, params[cell]["window"].get<size_t>());
    }
  }
  return warm;
}

struct Loaded {
  ModelRecord record;
  std::string bytes;
};

// The source ensemble, checked against the config: what CheckRetrain reports and RunRetrain uses.
Result<Loaded> LoadSource(const MlConfig& config, const RetrainOptions& options) {
  AITS_RETURN_IF_ERROR(config.Validate());
  if (options.rows < kMinRetrainRows) {
    return InvalidArgument("--rows " + std::to_string(options.rows) + ": at least " +
                           std::to_string(kMinRetrainRows) +
                           " (the holdout at the window's end must be large enough to gate on)");
  }
  if (!(options.holdout_fraction > 0 && options.holdout_fraction < 0.5)) {
    return InvalidArgument("holdout fraction " + std::to_string(options.holdout_fraction) +
                           ": must be in (0, 0.5)");
  }
  // Without create: retraining never makes a registry, and an unknown one is NotFound.
  AITS_ASSIGN_OR_RETURN(ModelRegistry registry,
                        ModelRegistry::Open(config.registry_dir, /*create=*/false));
  Loaded source;
  AITS_ASSIGN_OR_RETURN(source.record, registry.Find(options.model));
  if (source.record.kind != "ensemble") {
    return InvalidArgument("--model '" + options.model + "' is " + RefOf(source.record) + ", a " +
                           source.record.kind + ", not an ensemble; retrain takes an ensemble");
  }
  features::FeatureEngineConfig engine_config;
  engine_config.timeframes = config.timeframes;
  AITS_ASSIGN_OR_RETURN(features::FeatureEngine engine,
                        features::FeatureEngine::Create(engine_config));
  if (engine.Hash() != source.record.feature_set_hash) {
    std::string timeframes;
    for (Duration tf : config.timeframes) {
      timeframes += (timeframes.empty() ? "" : ",") + features::TimeframeName(tf);
    }
    return InvalidArgument("the config's feature set (timeframes " + timeframes + ", hash " +
                           engine.Hash() + ") is not the one " + RefOf(source.record) +
                           " was trained on (hash " + source.record.feature_set_hash +
                           "): give the model's timeframes (features.timeframes)");
  }
  AITS_ASSIGN_OR_RETURN(source.bytes, registry.LoadBytes(source.record, engine.Hash()));
  if (options.mode == RetrainMode::kUpdate) {
    AITS_ASSIGN_OR_RETURN(
        Ensemble ensemble,
        Ensemble::Deserialize(source.bytes, registry.AbsolutePath(source.record)));
    if (!XgbMember(ensemble.parts())) {
      std::string kinds;
      for (const std::string& kind : ensemble.MemberKinds()) {
        kinds += (kinds.empty() ? "" : ",") + kind;
      }
      return InvalidArgument("--mode update continues the XGBoost member's boosting, and " +
                             RefOf(source.record) + " has none (members: " + kinds +
                             "); use --mode full");
    }
  }
  return source;
}

// The window: the last `rows` labelled rows at or before `to`, as one range of rows.
Result<RowRange> Window(const Dataset& data, const Labels& labels, const MlConfig& config,
                        const RetrainOptions& options) {
  size_t end = data.rows();
  if (options.to) {
    end = static_cast<size_t>(
        std::upper_bound(data.time.begin(), data.time.end(), *options.to,
                         [](Timestamp t, Timestamp row) { return t.ns < row.ns; }) -
        data.time.begin());
  }
  // As of `to`: a row whose label's target came later was not yet labelled then (a session
  // retraining on its watch's verdict must not learn from what it has not seen).
  std::vector<size_t> labelled;
  for (size_t r = 0; r < end; ++r) {
    if (!std::isfinite(labels.direction[r])) continue;
    if (options.to && labels.target_row[r] >= 0 &&
        data.time[static_cast<size_t>(labels.target_row[r])].ns > options.to->ns) {
      continue;
    }
    labelled.push_back(r);
  }
  if (labelled.size() < options.rows) {
    std::string span = "no rows";
    if (end > 0) {
      span = FormatIso8601(data.time.front()) + " .. " + FormatIso8601(data.time[end - 1]);
    }
    return InvalidArgument(
        "too little data to retrain: " + config.data_path + " has " +
        std::to_string(labelled.size()) + " labelled rows (" + span +
        (options.to ? ", up to --to " + FormatIso8601(*options.to) : std::string()) + "), " +
        std::to_string(options.rows) + " needed (--rows)");
  }
  return RowRange{labelled[labelled.size() - options.rows], labelled.back() + 1};
}

nlohmann::json Span(const Dataset& data, RowRange range) {
  return {{"from", FormatIso8601(data.time[range.begin])},
          {"to", FormatIso8601(data.time[range.end - 1])},
          {"rows", range.size()}};
}

// The metrics the registry stores for a gate take numbers only: one without a value (the
// precision of a model that never called up on the holdout) is left out rather than refused.
nlohmann::json NumbersOnly(const nlohmann::json& metrics) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, value] : metrics.items()) {
    if (value.is_number()) out[name] = value;
  }
  return out;
}

}  // namespace

std::string_view ToString(RetrainMode mode) {
  return mode == RetrainMode::kUpdate ? "update" : "full";
}

Result<RetrainMode> ParseRetrainMode(std::string_view text) {
  if (text == "update") return RetrainMode::kUpdate;
  if (text == "full") return RetrainMode::kFull;
  return InvalidArgument("--mode '" + std::string(text) +
                         "': update (continued boosting of the XGBoost member) or full (every "
                         "stage trained anew)");
}

Result<ModelRecord> CheckRetrain(const MlConfig& config, const RetrainOptions& options) {
  AITS_ASSIGN_OR_RETURN(Loaded source, LoadSource(config, options));
  return std::move(source.record);
}

Result<RetrainResult> RunRetrain(const MlConfig& config, const RetrainOptions& options,
                                 const TrainListener& listener, int jobs) {
  AITS_ASSIGN_OR_RETURN(Loaded source, LoadSource(config, options));
  RetrainResult result;
  result.source = source.record;
  const std::string source_ref = RefOf(source.record);
  const std::string what = config.registry_dir + " " + source_ref;

  AITS_ASSIGN_OR_RETURN(Dataset data, internal::LoadData(config, listener, &result.feature_stats));
  AITS_ASSIGN_OR_RETURN(Labels labels, MakeLabels(data, config.label));
  result.data_rows = data.rows();
  AITS_ASSIGN_OR_RETURN(result.window, Window(data, labels, config, options));
  // The holdout is the window's last rows; the rows learnt from end a purge before it, so that
  // no label window of theirs reaches it (splits.h).
  const size_t holdout_rows = std::max<size_t>(
      1, static_cast<size_t>(static_cast<double>(result.window.size()) * options.holdout_fraction));
  result.holdout = RowRange{result.window.end - holdout_rows, result.window.end};
  size_t train_end = result.holdout.begin;
  const int64_t purge = internal::Purge(config).ns;
  while (train_end > result.window.begin &&
         data.time[train_end - 1].ns > data.time[result.holdout.begin].ns - purge) {
    --train_end;
  }
  result.train = RowRange{result.window.begin, train_end};
  if (result.train.empty()) {
    // A horizon as long as the window: the purge leaves nothing to learn from.
    return InvalidArgument("too little data to retrain: the purge of " +
                           std::to_string(purge / kNanosPerSecond) + " s before the holdout (" +
                           FormatIso8601(data.time[result.holdout.begin]) +
                           ") leaves none of the window's rows to learn from; give more --rows");
  }
  result.window_first = data.time[result.window.begin];
  result.window_last = data.time[result.window.end - 1];
  listener.Stage(
      "retrain (" + std::string(ToString(options.mode)) + ") of " + source_ref + ": learn " +
      FormatIso8601(data.time[result.train.begin]) + " .. " +
      FormatIso8601(data.time[result.train.end - 1]) + " (" + std::to_string(result.train.size()) +
      " rows), holdout " + FormatIso8601(data.time[result.holdout.begin]) + " .. " +
      FormatIso8601(result.window_last) + " (" + std::to_string(holdout_rows) + " rows)");

  AITS_ASSIGN_OR_RETURN(Ensemble source_ensemble, Ensemble::Deserialize(source.bytes, what));
  nlohmann::json params;
  nlohmann::json retrain = nlohmann::json::object();  // params["retrain"]
  nlohmann::json stage_info = nlohmann::json::object();
  std::optional<Ensemble> candidate;
  std::vector<std::pair<std::string, std::string>> member_files;
  std::unique_ptr<RowModel> regressor;
  if (options.mode == RetrainMode::kUpdate) {
    AITS_ASSIGN_OR_RETURN(Ensemble copy, Ensemble::Deserialize(source.bytes, what));
    Ensemble::Parts parts = std::move(copy).ReleaseParts();
    const size_t member = *XgbMember(parts);
    const auto& old = static_cast<const XgbModel&>(*parts.row_models[member]);
    const internal::Labelled learn = internal::LabelledRows(data, labels.direction, result.train);
    const internal::Labelled hold = internal::LabelledRows(data, labels.direction, result.holdout);
    XgbConfig xgb = config.xgboost;
    xgb.regression = false;
    xgb.seed = config.seed;
    listener.Stage("continued boosting of the XGBoost member (" + std::to_string(old.num_rounds()) +
                   " rounds, up to " + std::to_string(xgb.rounds) + " more)");
    AITS_ASSIGN_OR_RETURN(std::unique_ptr<XgbModel> continued,
                          old.Continue(learn.x, learn.y, xgb, ValidationSet{&hold.x, hold.y},
                                       internal::Progress(listener, "xgboost")));
    stage_info["xgboost_rounds_before"] = old.num_rounds();
    stage_info["xgboost_rounds"] = continued->num_rounds();
    // Only this member is new: the others stay registered under the source.
    member_files.emplace_back(std::string(continued->Kind()), continued->Serialize());
    parts.row_models[member] = std::move(continued);
    // The watch reference is built anew below, from the recent rows.
    parts.watch_reference.clear();
    AITS_ASSIGN_OR_RETURN(Ensemble updated, Ensemble::Create(std::move(parts)));
    candidate.emplace(std::move(updated));
    // Its parts are the source's but one: so are its settings.
    params = source.record.params;
    // The settings the member was continued with (the source's are in its own params).
    retrain["xgboost"] = config.ToJson()["xgboost"];
    retrain["xgboost"]["seed"] = xgb.seed;
  } else {
    AITS_ASSIGN_OR_RETURN(
        TrainedModels models,
        TrainModels(data, labels, result.train, result.holdout, config, listener, jobs));
    stage_info = std::move(models.stage_info);
    regressor = std::move(models.regressor);
    candidate.emplace(std::move(models.ensemble));
    params = config.ToJson();
    for (const auto& model : candidate->parts().row_models) {
      member_files.emplace_back(std::string(model->Kind()), model->Serialize());
    }
    for (const auto& model : candidate->parts().sequence_models) {
      member_files.emplace_back(std::string(model->Kind()), model->Serialize());
    }
  }

  listener.Stage("scoring the holdout: the candidate and " + source_ref);
  const size_t warm = WarmUp(config, source.record);
  const ScoredRows scored = ScoreRows(*candidate, regressor.get(), data, result.holdout, warm);
  const ScoredRows baseline_scored =
      ScoreRows(source_ensemble, nullptr, data, result.holdout, warm);
  const nlohmann::json detail = ScoreMetrics(candidate->MemberKinds(), scored, labels);
  const nlohmann::json baseline_detail =
      ScoreMetrics(source_ensemble.MemberKinds(), baseline_scored, labels);
  // The source scores in sample where its own training rows reach the holdout: its baseline is
  // then flattered, and the gate harder to pass; said rather than hidden.
  const bool in_sample = source.record.train_end.ns >= data.time[result.holdout.begin].ns &&
                         source.record.train_begin.ns <= result.window_last.ns;
  result.metrics = {{"validation", NumbersOnly(detail["models"]["ensemble"])},
                    {"baseline", NumbersOnly(baseline_detail["models"]["ensemble"])},
                    {"baseline_model", source_ref},
                    {"baseline_in_sample", in_sample},
                    {"validation_detail", detail},
                    {"baseline_detail", baseline_detail},
                    {"stages", stage_info}};

  // What a live session watches the candidate against: the recent rows it learnt from, its
  // scores on the holdout.
  std::vector<double> holdout_scores;
  holdout_scores.reserve(scored.scores.size());
  for (const EnsembleScore& score : scored.scores) holdout_scores.push_back(score.score);
  const nlohmann::json accuracy = detail["models"]["ensemble"].value("accuracy", nlohmann::json());
  AITS_ASSIGN_OR_RETURN(
      const WatchReference watch,
      BuildWatchReference(data.x, data.feature_names, result.train.begin, result.train.end,
                          holdout_scores, config.label.horizon,
                          accuracy.is_number() ? accuracy.get<double>() : std::nan("")));
  candidate->set_watch_reference(SerializeWatchReference(watch));

  retrain["mode"] = std::string(ToString(options.mode));
  retrain["source"] = source_ref;
  retrain["source_id"] = source.record.id;
  retrain["rows"] = options.rows;
  retrain["to"] = options.to ? nlohmann::json(FormatIso8601(*options.to)) : nullptr;
  retrain["window"] = Span(data, result.window);
  retrain["train"] = Span(data, result.train);
  retrain["holdout"] = Span(data, result.holdout);
  retrain["data"] = config.data_path;
  params["retrain"] = std::move(retrain);

  listener.Stage("registry: " + config.registry_dir);
  AITS_ASSIGN_OR_RETURN(ModelRegistry registry,
                        ModelRegistry::Open(config.registry_dir, /*create=*/false));
  ModelMetadata meta;
  meta.name = source.record.name;
  meta.kind = "ensemble";
  meta.feature_set_version = data.feature_set_version;
  meta.feature_set_hash = data.feature_set_hash;
  meta.train_begin = data.time[result.train.begin];
  meta.train_end = data.time[result.train.end - 1];
  meta.params = params;
  meta.metrics = result.metrics;
  meta.data_source = config.data_path;
  meta.parent = source_ref;
  AITS_ASSIGN_OR_RETURN(result.candidate, registry.Register(meta, candidate->Serialize()));
  const std::string candidate_ref = RefOf(result.candidate);
  for (const auto& [kind, bytes] : member_files) {
    ModelMetadata m = meta;
    m.name = source.record.name + "_" + kind;
    m.kind = kind;
    m.parent = candidate_ref;
    m.metrics = {
        {"validation", NumbersOnly(detail["models"].value(kind, nlohmann::json::object()))}};
    AITS_ASSIGN_OR_RETURN(ModelRecord record, registry.Register(m, bytes));
    result.member_records.push_back(std::move(record));
  }
  if (regressor) {
    ModelMetadata m = meta;
    m.name = source.record.name + "_xgboost_regressor";
    m.kind = std::string(regressor->Kind());
    m.parent = candidate_ref;
    m.metrics = {
        {"validation", {{"ic", detail["ic"].value("xgboost_regressor", nlohmann::json())}}}};
    AITS_ASSIGN_OR_RETURN(ModelRecord record, registry.Register(m, regressor->Serialize()));
    result.member_records.push_back(std::move(record));
  }
  return result;
}

}  // namespace aits::ml
