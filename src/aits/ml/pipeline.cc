#include "aits/ml/pipeline.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <sstream>
#include <thread>

#include "aits/execution/simulated_venue.h"
#include "aits/features/feature_engine.h"
#include "aits/ml/evaluation_report.h"
#include "aits/ml/internal/pipeline_steps.h"
#include "aits/ml/model_watch.h"

namespace aits::ml {

namespace internal {

Labelled LabelledRows(const Dataset& data, const std::vector<float>& labels, RowRange range) {
  Labelled out;
  for (size_t r = range.begin; r < range.end; ++r) {
    if (std::isfinite(labels[r])) out.rows.push_back(r);
  }
  out.x = data.x.SelectRows(out.rows);
  out.y.reserve(out.rows.size());
  for (size_t r : out.rows) out.y.push_back(labels[r]);
  return out;
}

TrainProgress Progress(const TrainListener& listener, std::string model) {
  if (!listener.on_iteration) return {};
  return [&listener, model = std::move(model)](int iteration, double train, double validation) {
    listener.on_iteration(model, iteration, train, validation);
  };
}

Duration Purge(const MlConfig& config) {
  return Duration{config.label.horizon.ns + EffectiveMaxGap(config.label).ns};
}

size_t WarmUpRows(const MlConfig& config) {
  int window = 0;
  if (config.use_lstm) window = std::max(window, config.lstm.window);
  if (config.use_gru) window = std::max(window, config.gru.window);
  return static_cast<size_t>(window);
}

Result<Dataset> LoadData(const MlConfig& config, const TrainListener& listener,
                         FeatureBuildStats* stats) {
  FeatureBuildOptions options;
  const Instrument instrument = Instrument::Infer(config.symbol);
  options.read.price_precision = instrument.digits;
  options.read.ask_path = config.ask_path;
  options.read.spread_points = config.spread_points;
  options.engine.timeframes = config.timeframes;
  options.progress = listener.on_progress;
  listener.Stage("features: " + config.data_path);
  return BuildFeatureDataset(config.data_path, options, stats);
}

}  // namespace internal

namespace {

using internal::Labelled;
using internal::LabelledRows;
using internal::LoadData;
using internal::Progress;
using internal::Purge;
using internal::WarmUpRows;

// Fewer labelled training rows than this cannot fit five regimes, a forest and a sequence model
// with any meaning.
constexpr size_t kMinTrainingRows = 200;

Status CheckFraction(std::string_view name, double value, double low, double high) {
  if (!(value > low && value < high)) {
    return InvalidArgument("setting '" + std::string(name) + "' must be in (" +
                           std::to_string(low) + ", " + std::to_string(high) + "), got " +
                           std::to_string(value));
  }
  return Status::Ok();
}

Status CheckPositive(std::string_view name, double value) {
  if (!(std::isfinite(value) && value > 0)) {
    return InvalidArgument("setting '" + std::string(name) + "' must be > 0, got " +
                           std::to_string(value));
  }
  return Status::Ok();
}

Matrix SelectColumns(const Matrix& x, const std::vector<size_t>& columns) {
  Matrix out(x.rows(), columns.size());
  for (size_t r = 0; r < x.rows(); ++r) {
    const auto in = x.Row(r);
    auto row = out.Row(r);
    for (size_t c = 0; c < columns.size(); ++c) row[c] = in[columns[c]];
  }
  return out;
}

Result<std::vector<size_t>> RegimeColumns(const Dataset& data, const MlConfig& config) {
  std::vector<std::string> names = config.regime_features;
  if (names.empty()) {
    const std::string base = features::TimeframeName(config.timeframes.front());
    const std::string top = features::TimeframeName(config.timeframes.back());
    for (const std::string& tf : {base, top}) {
      for (const char* feature : {"volatility_20", "atr_14", "price_momentum", "sma_20"}) {
        const std::string name = std::string(feature) + "_" + tf;
        if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
      }
    }
  }
  std::vector<size_t> columns;
  for (const auto& name : names) {
    auto column = data.ColumnIndex(name);
    if (!column.ok()) return column.status().WithContext("setting 'regimes.features'");
    columns.push_back(*column);
  }
  return columns;
}

// A sequence model learns from the contiguous block (labels only where defined).
struct SequenceBlock {
  Matrix x;
  std::vector<float> y;
  std::vector<uint8_t> usable;
};

SequenceBlock Block(const Dataset& data, const Labels& labels, RowRange range) {
  SequenceBlock out;
  out.x = data.x.SliceRows(range.begin, range.end);
  out.y.resize(range.size(), 0.0f);
  out.usable.resize(range.size(), 0);
  for (size_t r = range.begin; r < range.end; ++r) {
    if (std::isfinite(labels.direction[r])) {
      out.y[r - range.begin] = labels.direction[r];
      out.usable[r - range.begin] = 1;
    }
  }
  return out;
}

nlohmann::json Num(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

// Metrics of one prediction vector over the labelled rows of `scored`.
ClassificationMetrics MetricsOf(const ScoredRows& scored, const Labels& labels,
                                const std::function<float(const EnsembleScore&)>& pick) {
  std::vector<float> y;
  std::vector<float> p;
  for (size_t idx = 0; idx < scored.scores.size(); ++idx) {
    const size_t row = scored.range.begin + idx;
    if (!std::isfinite(labels.direction[row])) continue;
    y.push_back(labels.direction[row]);
    p.push_back(pick(scored.scores[idx]));
  }
  return Classification(y, p);
}

// Progress from work running on several threads at once: one lock keeps the lines whole and
// the listener called from one thread at a time; a non-empty `prefix` ("fold 2/4") names the
// work on every line.
TrainListener SerializedListener(const TrainListener& listener, std::mutex& mutex,
                                 const std::string& prefix) {
  TrainListener out;
  if (listener.on_stage) {
    out.on_stage = [&listener, &mutex, prefix](const std::string& stage) {
      std::lock_guard<std::mutex> lock(mutex);
      listener.on_stage(prefix.empty() ? stage : prefix + ": " + stage);
    };
  }
  if (listener.on_iteration) {
    out.on_iteration = [&listener, &mutex, prefix](const std::string& model, int iteration,
                                                   double train, double validation) {
      std::lock_guard<std::mutex> lock(mutex);
      listener.on_iteration(prefix.empty() ? model : prefix + " " + model, iteration, train,
                            validation);
    };
  }
  return out;
}

// Runs task(idx) for every idx of `order`, started in that order, on `workers` threads: the
// calling thread and workers - 1 more.
void RunOnWorkers(size_t workers, const std::vector<size_t>& order,
                  const std::function<void(size_t)>& task) {
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t idx = next.fetch_add(1); idx < order.size(); idx = next.fetch_add(1)) {
      task(order[idx]);
    }
  };
  std::vector<std::jthread> pool;
  for (size_t t = 1; t < workers; ++t) pool.emplace_back(work);
  work();
}

// `jobs` as a count of threads: 0 is one per core.
size_t Workers(int jobs) {
  return jobs > 0 ? static_cast<size_t>(jobs) : std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

Status MlConfig::Validate() const {
  if (data_path.empty()) return InvalidArgument("setting 'data.path' is missing");
  if (timeframes.empty()) return InvalidArgument("setting 'features.timeframes' is empty");
  if (label.horizon.ns <= 0) return InvalidArgument("setting 'label.horizon' must be > 0");
  if (!(label.dead_zone >= 0 && label.dead_zone < 1)) {
    return InvalidArgument("setting 'label.dead_zone' must be in [0, 1), got " +
                           std::to_string(label.dead_zone));
  }
  AITS_RETURN_IF_ERROR(CheckFraction("split.train", train_fraction, 0, 1));
  AITS_RETURN_IF_ERROR(CheckFraction("split.validation", validation_fraction, 0, 1));
  if (train_fraction + validation_fraction >= 1) {
    return InvalidArgument(
        "settings 'split.train' + 'split.validation' must leave rows for the "
        "test set (they sum to " +
        std::to_string(train_fraction + validation_fraction) + ")");
  }
  AITS_RETURN_IF_ERROR(CheckFraction("walk_forward.validation", fold_validation_fraction, 0, 0.9));
  if (walk_forward.folds < 1) return InvalidArgument("setting 'walk_forward.folds' must be >= 1");
  if (!(use_xgboost || use_random_forest || use_logistic || use_lstm || use_gru)) {
    return InvalidArgument(
        "every member model is disabled; enable at least one of xgboost, "
        "random_forest, logistic, lstm, gru");
  }
  if (use_lstm) AITS_RETURN_IF_ERROR(lstm.Validate().WithContext("lstm"));
  if (use_gru) AITS_RETURN_IF_ERROR(gru.Validate().WithContext("gru"));
  AITS_RETURN_IF_ERROR(weights.Validate());
  AITS_RETURN_IF_ERROR(node::DecisionConfigFor(decision).status().WithContext("decision"));
  AITS_RETURN_IF_ERROR(node::RiskLimitsFor(risk).status().WithContext("risk"));
  AITS_RETURN_IF_ERROR(CheckPositive("backtest.lots", baseline_lots));
  AITS_RETURN_IF_ERROR(CheckPositive("backtest.cash", initial_cash));
  AITS_RETURN_IF_ERROR(
      execution::ParseCommission(commission).status().WithContext("setting 'backtest.commission'"));
  if (gate.metric.empty()) return InvalidArgument("setting 'gate.metric' is empty");
  return Status::Ok();
}

nlohmann::json MlConfig::ToJson() const {
  nlohmann::json tfs = nlohmann::json::array();
  for (Duration tf : timeframes) tfs.push_back(features::TimeframeName(tf));
  auto seq = [](const SequenceConfig& s) {
    return nlohmann::json{{"hidden", s.hidden},
                          {"layers", s.layers},
                          {"window", s.window},
                          {"epochs", s.epochs},
                          {"batch", s.batch},
                          {"learning_rate", s.learning_rate},
                          {"weight_decay", s.weight_decay},
                          {"patience", s.patience},
                          {"dropout", s.dropout}};
  };
  auto xgb = [](const XgbConfig& x) {
    return nlohmann::json{{"rounds", x.rounds},
                          {"max_depth", x.max_depth},
                          {"eta", x.eta},
                          {"subsample", x.subsample},
                          {"colsample_bytree", x.colsample_bytree},
                          {"min_child_weight", x.min_child_weight},
                          {"lambda", x.lambda},
                          {"early_stopping_rounds", x.early_stopping_rounds}};
  };
  nlohmann::json out;
  out["data"] = {
      {"path", data_path}, {"ask", ask_path}, {"spread", spread_points}, {"symbol", symbol}};
  out["features"] = {{"timeframes", tfs}, {"version", features::FeatureEngine::kVersion}};
  out["label"] = {{"horizon_seconds", label.horizon.ns / kNanosPerSecond},
                  {"dead_zone", label.dead_zone},
                  {"max_gap_seconds", EffectiveMaxGap(label).ns / kNanosPerSecond}};
  out["split"] = {{"train", train_fraction}, {"validation", validation_fraction}};
  out["walk_forward"] = {{"folds", walk_forward.folds},
                         {"window", ToString(walk_forward.window)},
                         {"train_fraction", walk_forward.train_fraction},
                         {"validation", fold_validation_fraction}};
  out["regimes"] = {{"k", kmeans.k}, {"restarts", kmeans.restarts}, {"features", regime_features}};
  out["pca"] = {{"variance", pca.variance_to_keep}};
  out["anomaly"] = {{"trees", anomaly.trees},
                    {"sample_size", anomaly.sample_size},
                    {"contamination", anomaly.contamination}};
  if (use_xgboost) out["xgboost"] = xgb(xgboost);
  if (use_xgboost_regressor) out["xgboost_regressor"] = xgb(xgboost_regressor);
  if (use_random_forest) {
    out["random_forest"] = {{"trees", random_forest.trees},
                            {"max_depth", random_forest.max_depth},
                            {"min_samples_leaf", random_forest.min_samples_leaf}};
  }
  if (use_logistic) out["logistic"] = {{"l2", logistic.l2}};
  if (use_lstm) out["lstm"] = seq(lstm);
  if (use_gru) out["gru"] = seq(gru);
  out["ensemble"] = {{"high_vol", {weights.high_vol_ml, weights.high_vol_dl}},
                     {"normal", {weights.normal_ml, weights.normal_dl}},
                     {"stacking", stacking}};
  out["gate"] = {{"metric", gate.metric},
                 {"higher_is_better", gate.higher_is_better},
                 {"threshold", gate.threshold},
                 {"min_improvement_over_baseline", gate.min_improvement_over_baseline}};
  auto pairs = [](const node::Settings& settings) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [key, value] : settings) list.push_back({key, value});
    return list;
  };
  out["decision"] = pairs(decision);
  out["risk"] = pairs(risk);
  out["backtest"] = {{"lots", baseline_lots},
                     {"long_short", baseline_long_short},
                     {"commission", commission},
                     {"cash", initial_cash}};
  out["seed"] = seed;
  return out;
}

Result<TrainedModels> TrainModels(const Dataset& data, const Labels& labels, RowRange train,
                                  RowRange validation, const MlConfig& config,
                                  const TrainListener& listener, int jobs) {
  const Labelled train_set = LabelledRows(data, labels.direction, train);
  const Labelled val_set = LabelledRows(data, labels.direction, validation);
  if (train_set.rows.size() < kMinTrainingRows) {
    return InvalidArgument("too little data to train: " + std::to_string(train_set.rows.size()) +
                           " labelled training rows, at least " + std::to_string(kMinTrainingRows) +
                           " needed");
  }
  const ValidationSet val{&val_set.x, val_set.y};

  Ensemble::Parts parts;
  parts.feature_set_version = data.feature_set_version;
  parts.feature_set_hash = data.feature_set_hash;
  parts.feature_names = data.feature_names;
  parts.weights = config.weights;
  nlohmann::json info;

  // Stage 1: unsupervised, on every training row (labels are not needed).
  listener.Stage("stage 1: regimes (k-means), PCA, isolation forest");
  const Matrix train_block = data.x.SliceRows(train.begin, train.end);
  AITS_ASSIGN_OR_RETURN(parts.regime_columns, RegimeColumns(data, config));
  std::vector<std::string> regime_names;
  for (size_t column : parts.regime_columns) regime_names.push_back(data.feature_names[column]);
  KMeansConfig kmeans = config.kmeans;
  kmeans.seed = config.seed;
  AITS_ASSIGN_OR_RETURN(
      KMeans regimes,
      KMeans::Fit(SelectColumns(train_block, parts.regime_columns), regime_names, kmeans));
  info["regimes"] = regimes.RegimeNames();
  parts.regimes.emplace(std::move(regimes));
  AITS_ASSIGN_OR_RETURN(Pca pca, Pca::Fit(train_block, config.pca));
  info["pca_components"] = pca.components();
  info["pca_inputs"] = pca.InputSize();
  IsolationForestConfig anomaly = config.anomaly;
  anomaly.seed = config.seed;
  AITS_ASSIGN_OR_RETURN(IsolationForest forest,
                        IsolationForest::Fit(pca.Transform(train_block), anomaly));
  parts.pca.emplace(std::move(pca));
  parts.anomaly.emplace(std::move(forest));

  // Stage 2: supervised row models.
  std::vector<std::pair<std::string, std::string>> member_files;
  if (config.use_xgboost) {
    listener.Stage("stage 2: XGBoost classifier");
    XgbConfig xgb = config.xgboost;
    xgb.regression = false;
    xgb.seed = config.seed;
    AITS_ASSIGN_OR_RETURN(auto model, XgbModel::Train(train_set.x, train_set.y, xgb, val,
                                                      Progress(listener, "xgboost")));
    info["xgboost_rounds"] = model->num_rounds();
    parts.row_models.push_back(std::move(model));
  }
  std::unique_ptr<RowModel> regressor;
  if (config.use_xgboost_regressor) {
    listener.Stage("stage 2: XGBoost regressor (forward return)");
    const Labelled train_ret = LabelledRows(data, labels.forward_return, train);
    const Labelled val_ret = LabelledRows(data, labels.forward_return, validation);
    // Returns are ~1e-4: scale to basis points so the default regularisation means something.
    auto to_bp = [](std::vector<float> y) {
      for (float& v : y) v *= 1e4f;
      return y;
    };
    const std::vector<float> train_bp = to_bp(train_ret.y);
    const std::vector<float> val_bp = to_bp(val_ret.y);
    XgbConfig xgb = config.xgboost_regressor;
    xgb.regression = true;
    xgb.seed = config.seed;
    AITS_ASSIGN_OR_RETURN(
        regressor, XgbModel::Train(train_ret.x, train_bp, xgb, ValidationSet{&val_ret.x, val_bp},
                                   Progress(listener, "xgboost_regressor")));
  }
  if (config.use_random_forest) {
    listener.Stage("stage 2: random forest");
    RandomForestConfig rf = config.random_forest;
    rf.regression = false;
    rf.seed = config.seed;
    AITS_ASSIGN_OR_RETURN(auto model, RandomForest::Train(train_set.x, train_set.y, rf,
                                                          Progress(listener, "random_forest")));
    parts.row_models.push_back(std::move(model));
  }
  if (config.use_logistic) {
    listener.Stage("stage 2: logistic regression (baseline)");
    AITS_ASSIGN_OR_RETURN(auto model,
                          LogisticRegression::Train(train_set.x, train_set.y, config.logistic, val,
                                                    Progress(listener, "logistic")));
    parts.row_models.push_back(std::move(model));
  }

  // Stage 3: sequence models over the contiguous blocks. The LSTM and the GRU are independent
  // (each seeded on its own: see sequence_trainer.h), so they may train at once.
  if (config.use_lstm || config.use_gru) {
    const SequenceBlock train_block_seq = Block(data, labels, train);
    const SequenceBlock val_block = Block(data, labels, validation);
    std::vector<SequenceConfig> cells;
    for (const bool gru : {false, true}) {
      if (gru ? !config.use_gru : !config.use_lstm) continue;
      SequenceConfig seq = gru ? config.gru : config.lstm;
      seq.cell = gru ? "gru" : "lstm";
      seq.seed = config.seed;
      cells.push_back(std::move(seq));
    }
    std::vector<Status> statuses(cells.size(), Status::Ok());
    std::vector<std::unique_ptr<RecurrentModel>> models(cells.size());
    std::mutex progress_mutex;
    const TrainListener cell_listener = SerializedListener(listener, progress_mutex, "");
    std::vector<size_t> order(cells.size());
    for (size_t idx = 0; idx < cells.size(); ++idx) order[idx] = idx;
    RunOnWorkers(std::min(Workers(jobs), cells.size()), order, [&](size_t idx) {
      const SequenceConfig& seq = cells[idx];
      cell_listener.Stage(std::string("stage 3: ") + (seq.cell == "gru" ? "GRU" : "LSTM") +
                          " (hidden " + std::to_string(seq.hidden) + ", window " +
                          std::to_string(seq.window) + ")");
      SequenceProgress progress;
      if (cell_listener.on_iteration) {
        progress = [&cell_listener, name = seq.cell](int epoch, double train_loss, double val_loss,
                                                     double /*val_accuracy*/) {
          cell_listener.on_iteration(name, epoch, train_loss, val_loss);
        };
      }
      const bool have_val = validation.size() > static_cast<size_t>(seq.window);
      auto model = TrainSequenceModel(train_block_seq.x, train_block_seq.y, train_block_seq.usable,
                                      have_val ? &val_block.x : nullptr, val_block.y,
                                      val_block.usable, seq, progress);
      if (model.ok()) {
        models[idx] = std::move(*model);
      } else {
        statuses[idx] = model.status();
      }
    });
    for (size_t idx = 0; idx < cells.size(); ++idx) {
      AITS_RETURN_IF_ERROR(statuses[idx]);
      parts.sequence_models.push_back(std::move(models[idx]));
    }
  }

  for (const auto& model : parts.row_models) {
    member_files.emplace_back(std::string(model->Kind()), model->Serialize());
  }
  for (const auto& model : parts.sequence_models) {
    member_files.emplace_back(std::string(model->Kind()), model->Serialize());
  }
  AITS_ASSIGN_OR_RETURN(Ensemble ensemble, Ensemble::Create(std::move(parts)));
  return TrainedModels{std::move(ensemble), std::move(regressor), std::move(member_files),
                       std::move(info)};
}

ScoredRows ScoreRows(Ensemble& ensemble, const RowModel* regressor, const Dataset& data,
                     RowRange range, size_t warm_up) {
  ScoredRows out;
  out.range = range;
  out.scores.reserve(range.size());
  ensemble.ResetState();
  const size_t start = range.begin - std::min(warm_up, range.begin);
  for (size_t r = start; r < range.end; ++r) {
    const EnsembleScore score = ensemble.Step(data.x.Row(r));
    if (r >= range.begin) out.scores.push_back(score);
  }
  if (regressor != nullptr) {
    out.regression.resize(range.size());
    regressor->PredictBatch(data.x.SliceRows(range.begin, range.end), out.regression);
  }
  return out;
}

nlohmann::json ScoreMetrics(const std::vector<std::string>& kinds, const ScoredRows& scored,
                            const Labels& labels) {
  nlohmann::json out;
  for (size_t m = 0; m < kinds.size(); ++m) {
    out["models"][kinds[m]] =
        ToJson(MetricsOf(scored, labels, [m](const EnsembleScore& s) { return s.member_p[m]; }));
  }
  out["models"]["ensemble"] = ToJson(
      MetricsOf(scored, labels, [](const EnsembleScore& s) { return static_cast<float>(s.p_up); }));
  std::vector<float> score;
  std::vector<float> realized;
  std::vector<float> regression;
  for (size_t idx = 0; idx < scored.scores.size(); ++idx) {
    const size_t row = scored.range.begin + idx;
    if (!std::isfinite(labels.forward_return[row])) continue;
    score.push_back(static_cast<float>(scored.scores[idx].score));
    realized.push_back(labels.forward_return[row]);
    if (!scored.regression.empty()) regression.push_back(scored.regression[idx]);
  }
  out["ic"]["ensemble"] = Num(InformationCoefficient(score, realized));
  if (!regression.empty()) {
    out["ic"]["xgboost_regressor"] = Num(InformationCoefficient(regression, realized));
  }
  out["rows"] = scored.scores.size();
  return out;
}

Result<TrainResult> RunTraining(const MlConfig& config, const TrainListener& listener, int jobs) {
  AITS_RETURN_IF_ERROR(config.Validate());
  TrainResult result;
  AITS_ASSIGN_OR_RETURN(Dataset data, LoadData(config, listener, &result.feature_stats));
  AITS_ASSIGN_OR_RETURN(Labels labels, MakeLabels(data, config.label));
  AITS_ASSIGN_OR_RETURN(result.split, TimeSplit(data.time, config.train_fraction,
                                                config.validation_fraction, Purge(config)));
  result.rows = data.rows();
  result.first = data.time.front();
  result.last = data.time.back();
  AITS_ASSIGN_OR_RETURN(TrainedModels models,
                        TrainModels(data, labels, result.split.train, result.split.validation,
                                    config, listener, jobs));
  listener.Stage("scoring validation and test rows");
  const size_t warm = WarmUpRows(config);
  const ScoredRows val =
      ScoreRows(models.ensemble, models.regressor.get(), data, result.split.validation, warm);
  const ScoredRows test =
      ScoreRows(models.ensemble, models.regressor.get(), data, result.split.test, warm);
  const nlohmann::json val_metrics = ScoreMetrics(models.ensemble.MemberKinds(), val, labels);
  const nlohmann::json test_metrics = ScoreMetrics(models.ensemble.MemberKinds(), test, labels);

  // The gate compares the ensemble with the logistic baseline on validation rows; without a
  // logistic member the baseline is the constant predictor (AUC 0.5).
  nlohmann::json baseline = val_metrics["models"].contains("logistic")
                                ? val_metrics["models"]["logistic"]
                                : nlohmann::json{{"auc", 0.5}, {"accuracy", 0.5}};
  result.metrics = {{"validation", val_metrics["models"]["ensemble"]},
                    {"baseline", baseline},
                    {"validation_detail", val_metrics},
                    {"test", test_metrics},
                    {"stages", models.stage_info}};

  // What a live session watches the model against: the training rows' inputs, the validation
  // rows' scores (the training rows' own would be too good), the label's horizon.
  std::vector<double> val_scores;
  val_scores.reserve(val.scores.size());
  for (const EnsembleScore& score : val.scores) val_scores.push_back(score.score);
  // Too few rows for percentiles leaves the model unwatched, said here, rather than untrained.
  const nlohmann::json val_accuracy =
      val_metrics["models"]["ensemble"].value("accuracy", nlohmann::json());
  const Result<WatchReference> watch = BuildWatchReference(
      data.x, data.feature_names, result.split.train.begin, result.split.train.end, val_scores,
      config.label.horizon, val_accuracy.is_number() ? val_accuracy.get<double>() : std::nan(""));
  if (watch.ok()) {
    models.ensemble.set_watch_reference(SerializeWatchReference(*watch));
  } else {
    listener.Stage("not watchable live: " + watch.status().message());
  }

  listener.Stage("registry: " + config.registry_dir);
  AITS_ASSIGN_OR_RETURN(ModelRegistry registry, ModelRegistry::Open(config.registry_dir));
  ModelMetadata meta;
  meta.name = config.name;
  meta.kind = "ensemble";
  meta.feature_set_version = data.feature_set_version;
  meta.feature_set_hash = data.feature_set_hash;
  meta.train_begin = data.time[result.split.train.begin];
  meta.train_end = data.time[result.split.train.end - 1];
  meta.params = config.ToJson();
  meta.metrics = result.metrics;
  meta.data_source = config.data_path;
  AITS_ASSIGN_OR_RETURN(result.ensemble_record,
                        registry.Register(meta, models.ensemble.Serialize()));
  const std::string parent =
      result.ensemble_record.name + "@" + std::to_string(result.ensemble_record.version);
  for (const auto& [kind, bytes] : models.member_files) {
    ModelMetadata m = meta;
    m.name = config.name + "_" + kind;
    m.kind = kind;
    m.parent = parent;
    const std::string& key = kind;
    nlohmann::json member_metrics = {
        {"validation", val_metrics["models"].value(key, nlohmann::json::object())},
        {"test", test_metrics["models"].value(key, nlohmann::json::object())}};
    m.metrics = member_metrics;
    AITS_ASSIGN_OR_RETURN(ModelRecord record, registry.Register(m, bytes));
    result.member_records.push_back(std::move(record));
  }
  if (models.regressor) {
    ModelMetadata m = meta;
    m.name = config.name + "_xgboost_regressor";
    m.kind = std::string(models.regressor->Kind());
    m.parent = parent;
    m.metrics = {
        {"validation", {{"ic", val_metrics["ic"].value("xgboost_regressor", nlohmann::json())}}},
        {"test", {{"ic", test_metrics["ic"].value("xgboost_regressor", nlohmann::json())}}}};
    AITS_ASSIGN_OR_RETURN(ModelRecord record, registry.Register(m, models.regressor->Serialize()));
    result.member_records.push_back(std::move(record));
  }
  AITS_ASSIGN_OR_RETURN(result.gate, registry.Promote(result.ensemble_record.id, config.gate));
  AITS_ASSIGN_OR_RETURN(result.ensemble_record,
                        registry.Find("#" + std::to_string(result.ensemble_record.id)));
  return result;
}

namespace {

backtest::BacktestConfig EvaluationBacktest(const MlConfig& config, Timestamp start,
                                            Timestamp end) {
  backtest::BacktestConfig bt;
  bt.data_path = config.data_path;
  bt.ask_path = config.ask_path;
  bt.spread_points = config.spread_points;
  bt.instrument = Instrument::Infer(config.symbol);
  bt.kernel.venue.commission = *execution::ParseCommission(config.commission);
  bt.kernel.initial_balance =
      Money::FromRaw(static_cast<int64_t>(config.initial_cash * kMoneyScale));
  bt.kernel.bar_period = config.timeframes.front();
  bt.start = start;
  bt.end = end;
  return bt;
}

// One walk-forward fold: its rows, and what its worker leaves for the merge. The models stay on
// the worker and are freed there (XGBoost keeps per-thread state for a booster; see
// xgboost_model.cc).
struct FoldRun {
  RowRange inner;       // the rows the learners learn from
  RowRange validation;  // the rows they early-stop on
  Status status = Status::Ok();
  std::vector<std::string> kinds;
  ScoredRows scored;
  nlohmann::json stage_info;
};

std::string LotsParam(const MlConfig& config) {
  std::ostringstream out;
  out << "lots=" << config.baseline_lots
      << ",mode=" << (config.baseline_long_short ? "long_short" : "long_only");
  return out.str();
}

}  // namespace

Result<EvaluationResult> RunEvaluation(const MlConfig& config, const TrainListener& listener,
                                       int jobs) {
  const auto wall_start = std::chrono::steady_clock::now();
  AITS_RETURN_IF_ERROR(config.Validate());
  EvaluationResult result;
  result.config = config;
  AITS_ASSIGN_OR_RETURN(Dataset data, LoadData(config, listener, &result.feature_stats));
  AITS_ASSIGN_OR_RETURN(Labels labels, MakeLabels(data, config.label));
  result.rows = data.rows();
  WalkForwardConfig wf = config.walk_forward;
  wf.purge = Duration{std::max(wf.purge.ns, Purge(config).ns)};
  AITS_ASSIGN_OR_RETURN(result.folds, WalkForward(data.time, wf));

  const size_t rows = data.rows();
  std::vector<EnsembleScore> oof(rows);
  std::vector<float> oof_regression(rows, std::numeric_limits<float>::quiet_NaN());
  std::vector<int> fold_of(rows, -1);
  const size_t warm = WarmUpRows(config);
  const size_t fold_count = result.folds.size();
  std::vector<FoldRun> fold_runs(fold_count);
  for (size_t k = 0; k < fold_count; ++k) {
    const Fold& fold = result.folds[k];
    // The most recent part of the fold's training window early-stops the learners; a purge gap
    // separates it from the rows they learn from.
    const size_t n_val = static_cast<size_t>(static_cast<double>(fold.train.size()) *
                                             config.fold_validation_fraction);
    const RowRange val{fold.train.end - n_val, fold.train.end};
    size_t inner_end = val.begin;
    while (inner_end > fold.train.begin &&
           data.time[inner_end - 1].ns > data.time[val.begin].ns - Purge(config).ns) {
      --inner_end;
    }
    fold_runs[k].inner = RowRange{fold.train.begin, inner_end};
    fold_runs[k].validation = val;
  }

  // Folds are independent: each trains its own models (every learner seeded from the config, none
  // sharing state with another fold) and scores its own test rows, so running them at once changes
  // only the order of the progress lines. The longest training windows start first, so that the
  // last fold to finish is a short one.
  std::vector<size_t> order(fold_count);
  for (size_t k = 0; k < fold_count; ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return fold_runs[a].inner.size() > fold_runs[b].inner.size();
  });
  std::mutex progress_mutex;
  // Once a fold fails the later folds are not started: the error reported is the first fold's in
  // fold order, as if they ran one by one.
  std::atomic<size_t> first_failed{fold_count};
  const size_t workers = std::clamp<size_t>(Workers(jobs), 1, fold_count);
  // Threads left over (more jobs than folds) go to each fold's own training.
  const int fold_jobs = static_cast<int>(std::max<size_t>(1, Workers(jobs) / workers));
  RunOnWorkers(workers, order, [&](size_t k) {
    if (k > first_failed.load()) return;
    FoldRun& run = fold_runs[k];
    const Fold& fold = result.folds[k];
    const std::string name = "fold " + std::to_string(k + 1) + "/" + std::to_string(fold_count);
    const TrainListener fold_listener = SerializedListener(listener, progress_mutex, name);
    fold_listener.Stage("train " + FormatIso8601(data.time[run.inner.begin]) + " .. " +
                        FormatIso8601(data.time[run.inner.end - 1]) + " (" +
                        std::to_string(run.inner.size()) + " rows), test " +
                        FormatIso8601(data.time[fold.test.begin]) + " .. " +
                        FormatIso8601(data.time[fold.test.end - 1]) + " (" +
                        std::to_string(fold.test.size()) + " rows)");
    auto models =
        TrainModels(data, labels, run.inner, run.validation, config, fold_listener, fold_jobs);
    if (!models.ok()) {
      run.status = models.status().WithContext("fold " + std::to_string(k + 1));
      size_t failed = first_failed.load();
      while (k < failed && !first_failed.compare_exchange_weak(failed, k)) {
      }
      return;
    }
    run.kinds = models->ensemble.MemberKinds();
    run.scored = ScoreRows(models->ensemble, models->regressor.get(), data, fold.test, warm);
    run.stage_info = std::move(models->stage_info);
    fold_listener.Stage("done");
  });

  std::vector<std::string> kinds;
  result.fold_metrics = nlohmann::json::array();
  for (size_t k = 0; k < fold_count; ++k) {
    FoldRun& run = fold_runs[k];
    AITS_RETURN_IF_ERROR(run.status);
    const Fold& fold = result.folds[k];
    if (kinds.empty()) kinds = run.kinds;
    const ScoredRows& scored = run.scored;
    for (size_t idx = 0; idx < scored.scores.size(); ++idx) {
      const size_t row = fold.test.begin + idx;
      oof[row] = scored.scores[idx];
      fold_of[row] = static_cast<int>(k);
      if (!scored.regression.empty()) oof_regression[row] = scored.regression[idx];
    }
    nlohmann::json fm = ScoreMetrics(kinds, scored, labels);
    fm["fold"] = k + 1;
    fm["train"] = {{"begin", FormatIso8601(data.time[run.inner.begin])},
                   {"end", FormatIso8601(data.time[run.inner.end - 1])},
                   {"rows", run.inner.size()}};
    fm["test"] = {{"begin", FormatIso8601(data.time[fold.test.begin])},
                  {"end", FormatIso8601(data.time[fold.test.end - 1])},
                  {"rows", fold.test.size()}};
    fm["stages"] = std::move(run.stage_info);
    result.fold_metrics.push_back(std::move(fm));
  }

  // Pooled out-of-fold metrics: the test windows follow each other without a gap, so the scored
  // rows are one range and the per-fold scoring code serves them too.
  const RowRange oof_range{result.folds.front().test.begin, result.folds.back().test.end};
  ScoredRows pooled_scores;
  pooled_scores.range = oof_range;
  pooled_scores.scores.assign(oof.begin() + static_cast<std::ptrdiff_t>(oof_range.begin),
                              oof.begin() + static_cast<std::ptrdiff_t>(oof_range.end));
  if (config.use_xgboost_regressor) {
    pooled_scores.regression.assign(
        oof_regression.begin() + static_cast<std::ptrdiff_t>(oof_range.begin),
        oof_regression.begin() + static_cast<std::ptrdiff_t>(oof_range.end));
  }
  result.metrics = ScoreMetrics(kinds, pooled_scores, labels);
  std::vector<size_t> scored_rows;
  for (size_t r = oof_range.begin; r < oof_range.end; ++r) scored_rows.push_back(r);
  auto pooled = [&](const std::function<float(size_t row)>& pick) {
    std::vector<float> y;
    std::vector<float> p;
    for (size_t r : scored_rows) {
      if (!std::isfinite(labels.direction[r])) continue;
      y.push_back(labels.direction[r]);
      p.push_back(pick(r));
    }
    return std::make_pair(y, p);
  };
  {
    auto [y, p] = pooled([&](size_t r) { return static_cast<float>(oof[r].p_up); });
    result.calibration = Calibration(y, p);
    result.metrics["rows_labelled"] = y.size();
  }
  if (config.stacking && result.folds.size() >= 2) {
    // Fold k's stacker learns only from the out-of-fold outputs of folds before k.
    std::vector<float> stacked(rows, std::numeric_limits<float>::quiet_NaN());
    const size_t width = kinds.size() + 1;
    for (size_t k = 1; k < result.folds.size(); ++k) {
      Matrix x;
      std::vector<float> y;
      std::vector<float> feature(width);
      for (size_t r : scored_rows) {
        if (fold_of[r] >= static_cast<int>(k) || !std::isfinite(labels.direction[r])) continue;
        for (size_t m = 0; m < kinds.size(); ++m) feature[m] = oof[r].member_p[m];
        feature[kinds.size()] = oof[r].high_volatility ? 1.0f : 0.0f;
        x.AppendRow(feature);
        y.push_back(labels.direction[r]);
      }
      auto stacker = LogisticRegression::Train(x, y, config.logistic);
      if (!stacker.ok()) return stacker.status().WithContext("stacking learner");
      for (size_t r : scored_rows) {
        if (fold_of[r] != static_cast<int>(k)) continue;
        for (size_t m = 0; m < kinds.size(); ++m) feature[m] = oof[r].member_p[m];
        feature[kinds.size()] = oof[r].high_volatility ? 1.0f : 0.0f;
        stacked[r] = (*stacker)->Predict(feature);
      }
    }
    // Fold 1 has no stacked prediction (NaN): Classification skips those rows.
    auto [y, p] = pooled([&](size_t r) { return stacked[r]; });
    result.metrics["models"]["stacked (folds 2..)"] = ToJson(Classification(y, p));
  }
  result.metrics["rows_scored"] = scored_rows.size();

  // Backtests of the out-of-fold signal after costs, and of the baselines, over the same span.
  for (size_t r : scored_rows) {
    result.scores.push_back(trading::TimedSignal{data.time[r], oof[r].score, oof[r].confidence});
  }
  // A row the ensemble could not score (NaN) gets no decision: the position is held.
  auto replayed_rows = std::make_shared<std::vector<trading::TimedSignal>>();
  for (const trading::TimedSignal& s : result.scores) {
    if (std::isfinite(s.strength)) replayed_rows->push_back(s);
  }
  AITS_RETURN_IF_ERROR(trading::CheckReplayable(*replayed_rows).WithContext("out-of-fold scores"));
  const std::shared_ptr<const std::vector<trading::TimedSignal>> replayed = replayed_rows;
  if (!result.scores.empty()) {
    const Duration base = config.timeframes.front();
    const Timestamp start{result.scores.front().time.ns - base.ns};
    const Timestamp end = result.scores.back().time;
    const int64_t horizon_bars = std::max<int64_t>(1, config.label.horizon.ns / base.ns);
    struct Run {
      std::string name;
      std::string strategy;
      std::string params;
    };
    const std::vector<Run> runs = {
        {"ml_ensemble", "", ""},
        {"buy_and_hold", "buy_and_hold", "lots=" + std::to_string(config.baseline_lots)},
        {"sma_cross", "sma_cross", "fast=10,slow=30," + LotsParam(config)},
        {"random_signal", "random_signal",
         "hold=" + std::to_string(horizon_bars) +
             ",seed=" + std::to_string(config.random_baseline_seed) + "," + LotsParam(config)},
    };
    for (const Run& run : runs) {
      listener.Stage("backtest after costs: " + run.name);
      backtest::BacktestConfig bt = EvaluationBacktest(config, start, end);
      bt.strategy = run.name;
      if (run.strategy.empty()) {
        node::DecisionStack stack;
        AITS_ASSIGN_OR_RETURN(stack.decision, node::DecisionConfigFor(config.decision));
        stack.options.client_id_prefix = "bt";
        stack.signal = [replayed](const Instrument& instrument,
                                  Duration) -> Result<std::unique_ptr<trading::SignalSource>> {
          return trading::MakeReplaySignal(instrument, replayed);
        };
        bt.decision = std::move(stack);
        AITS_ASSIGN_OR_RETURN(bt.kernel.risk, node::RiskLimitsFor(config.risk));
      } else {
        AITS_ASSIGN_OR_RETURN(bt.params, strategy::StrategyParams::Parse(run.params));
        bt.strategy = run.strategy;
      }
      AITS_ASSIGN_OR_RETURN(backtest::BacktestResult backtest, backtest::RunBacktest(bt));
      result.backtests.push_back(BaselineRun{run.name, std::move(backtest)});
    }
  }
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return result;
}

Status WriteEvaluationOutputs(const EvaluationResult& result, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status(StatusCode::kIoError, "cannot create '" + dir + "': " + ec.message());
  nlohmann::json doc;
  doc["config"] = result.config.ToJson();
  doc["rows"] = result.rows;
  doc["folds"] = result.fold_metrics;
  doc["out_of_sample"] = result.metrics;
  doc["calibration"] = ToJson(std::span<const CalibrationBin>(result.calibration));
  for (const auto& run : result.backtests) {
    doc["backtests"][run.name] =
        nlohmann::json::parse(backtest::MetricsJson(run.result))["metrics"];
  }
  doc["wall_seconds"] = result.wall_seconds;
  AITS_RETURN_IF_ERROR(WriteFileAtomic(dir + "/metrics.json", doc.dump(2) + "\n"));
  std::string csv = "time,score,confidence\n";
  for (const auto& s : result.scores) {
    char line[128];
    std::snprintf(line, sizeof(line), ",%.6f,%.6f\n", s.strength, s.confidence);
    csv += FormatIso8601(s.time) + line;
  }
  AITS_RETURN_IF_ERROR(WriteFileAtomic(dir + "/scores.csv", csv));
  return WriteEvaluationReport(result, dir + "/report.html");
}

}  // namespace aits::ml
