#include "aits/config/ml_settings.h"

#include "aits/config/backtest_settings.h"
#include "aits/config/yaml_reader.h"
#include "aits/features/feature_engine.h"

namespace aits::config {
namespace {

// Reads `section.key` into *out when present.
template <typename T, typename U>
Status Read(YamlReader& yaml, std::string_view section, std::string_view key, U* out) {
  std::optional<T> value;
  AITS_RETURN_IF_ERROR(yaml.Get(section, key, &value));
  if (value) *out = static_cast<U>(*value);
  return Status::Ok();
}

Status ReadXgb(YamlReader& yaml, std::string_view section, bool* enabled, ml::XgbConfig* c) {
  AITS_RETURN_IF_ERROR(Read<bool>(yaml, section, "enabled", enabled));
  AITS_RETURN_IF_ERROR(Read<int>(yaml, section, "rounds", &c->rounds));
  AITS_RETURN_IF_ERROR(Read<int>(yaml, section, "max_depth", &c->max_depth));
  AITS_RETURN_IF_ERROR(Read<double>(yaml, section, "eta", &c->eta));
  AITS_RETURN_IF_ERROR(Read<double>(yaml, section, "subsample", &c->subsample));
  AITS_RETURN_IF_ERROR(Read<double>(yaml, section, "colsample_bytree", &c->colsample_bytree));
  AITS_RETURN_IF_ERROR(Read<double>(yaml, section, "min_child_weight", &c->min_child_weight));
  AITS_RETURN_IF_ERROR(Read<double>(yaml, section, "lambda", &c->lambda));
  AITS_RETURN_IF_ERROR(
      Read<int>(yaml, section, "early_stopping_rounds", &c->early_stopping_rounds));
  AITS_RETURN_IF_ERROR(Read<int>(yaml, section, "threads", &c->threads));
  return Status::Ok();
}

Status ReadSequence(YamlReader& yaml, std::string_view section, bool* enabled,
                    ml::SequenceConfig* c) {
  AITS_RETURN_IF_ERROR(Read<bool>(yaml, section, "enabled", enabled));
  AITS_RETURN_IF_ERROR(Read<int>(yaml, section, "hidden", &c->hidden));
  AITS_RETURN_IF_ERROR(Read<int>(yaml, section, "layers", &c->layers));
  AITS_RETURN_IF_ERROR(Read<int>(yaml, section, "window", &c->window));
  AITS_RETURN_IF_ERROR(Read<int>(yaml, section, "epochs", &c->epochs));
  AITS_RETURN_IF_ERROR(Read<int>(yaml, section, "batch", &c->batch));
  AITS_RETURN_IF_ERROR(Read<double>(yaml, section, "learning_rate", &c->learning_rate));
  AITS_RETURN_IF_ERROR(Read<double>(yaml, section, "weight_decay", &c->weight_decay));
  AITS_RETURN_IF_ERROR(Read<int>(yaml, section, "patience", &c->patience));
  AITS_RETURN_IF_ERROR(Read<int>(yaml, section, "threads", &c->threads));
  AITS_RETURN_IF_ERROR(Read<double>(yaml, section, "dropout", &c->dropout));
  return Status::Ok();
}

Result<Duration> ParseDuration(std::string_view setting, const std::string& text) {
  auto period = ParseBarPeriod(text);
  if (!period.ok()) return period.status().WithContext("setting '" + std::string(setting) + "'");
  return *period;
}

Status MergeFile(const std::string& path, ml::MlConfig& c) {
  AITS_ASSIGN_OR_RETURN(YAML::Node root, LoadYamlFile(path));
  YamlReader yaml(path, root);
  try {
    AITS_RETURN_IF_ERROR(Read<std::string>(yaml, "data", "path", &c.data_path));
    AITS_RETURN_IF_ERROR(Read<std::string>(yaml, "data", "ask", &c.ask_path));
    AITS_RETURN_IF_ERROR(Read<int64_t>(yaml, "data", "spread", &c.spread_points));
    AITS_RETURN_IF_ERROR(Read<std::string>(yaml, "data", "symbol", &c.symbol));
    std::optional<std::string> text;
    AITS_RETURN_IF_ERROR(yaml.Get("features", "timeframes", &text));
    if (text) {
      auto tfs = features::ParseTimeframes(*text);
      if (!tfs.ok()) return tfs.status().WithContext(path + ": setting 'features.timeframes'");
      c.timeframes = *tfs;
    }
    text.reset();
    AITS_RETURN_IF_ERROR(yaml.Get("label", "horizon", &text));
    if (text) {
      AITS_ASSIGN_OR_RETURN(c.label.horizon, ParseDuration("label.horizon", *text));
    }
    AITS_RETURN_IF_ERROR(Read<double>(yaml, "label", "dead_zone", &c.label.dead_zone));
    AITS_RETURN_IF_ERROR(Read<double>(yaml, "split", "train", &c.train_fraction));
    AITS_RETURN_IF_ERROR(Read<double>(yaml, "split", "validation", &c.validation_fraction));
    AITS_RETURN_IF_ERROR(Read<int>(yaml, "walk_forward", "folds", &c.walk_forward.folds));
    text.reset();
    AITS_RETURN_IF_ERROR(yaml.Get("walk_forward", "window", &text));
    if (text) {
      auto kind = ml::ParseWindowKind(*text);
      if (!kind.ok()) return kind.status().WithContext(path + ": setting 'walk_forward.window'");
      c.walk_forward.window = *kind;
    }
    AITS_RETURN_IF_ERROR(
        Read<double>(yaml, "walk_forward", "train_fraction", &c.walk_forward.train_fraction));
    AITS_RETURN_IF_ERROR(
        Read<double>(yaml, "walk_forward", "validation", &c.fold_validation_fraction));
    AITS_RETURN_IF_ERROR(Read<int>(yaml, "regimes", "k", &c.kmeans.k));
    AITS_RETURN_IF_ERROR(Read<int>(yaml, "regimes", "restarts", &c.kmeans.restarts));
    text.reset();
    AITS_RETURN_IF_ERROR(yaml.Get("regimes", "features", &text));
    if (text) {
      c.regime_features.clear();
      size_t start = 0;
      while (start <= text->size()) {
        const size_t comma = std::min(text->find(',', start), text->size());
        std::string item = text->substr(start, comma - start);
        item.erase(0, item.find_first_not_of(' '));
        item.erase(item.find_last_not_of(' ') + 1);
        if (!item.empty()) c.regime_features.push_back(item);
        start = comma + 1;
      }
    }
    AITS_RETURN_IF_ERROR(Read<double>(yaml, "pca", "variance", &c.pca.variance_to_keep));
    AITS_RETURN_IF_ERROR(Read<int>(yaml, "anomaly", "trees", &c.anomaly.trees));
    AITS_RETURN_IF_ERROR(Read<int>(yaml, "anomaly", "sample_size", &c.anomaly.sample_size));
    AITS_RETURN_IF_ERROR(Read<double>(yaml, "anomaly", "contamination", &c.anomaly.contamination));
    AITS_RETURN_IF_ERROR(ReadXgb(yaml, "xgboost", &c.use_xgboost, &c.xgboost));
    AITS_RETURN_IF_ERROR(
        ReadXgb(yaml, "xgboost_regressor", &c.use_xgboost_regressor, &c.xgboost_regressor));
    AITS_RETURN_IF_ERROR(Read<bool>(yaml, "random_forest", "enabled", &c.use_random_forest));
    AITS_RETURN_IF_ERROR(Read<int>(yaml, "random_forest", "trees", &c.random_forest.trees));
    AITS_RETURN_IF_ERROR(Read<int>(yaml, "random_forest", "max_depth", &c.random_forest.max_depth));
    AITS_RETURN_IF_ERROR(
        Read<int>(yaml, "random_forest", "min_samples_leaf", &c.random_forest.min_samples_leaf));
    AITS_RETURN_IF_ERROR(
        Read<double>(yaml, "random_forest", "max_features", &c.random_forest.max_features));
    AITS_RETURN_IF_ERROR(Read<int>(yaml, "random_forest", "threads", &c.random_forest.threads));
    AITS_RETURN_IF_ERROR(Read<bool>(yaml, "logistic", "enabled", &c.use_logistic));
    AITS_RETURN_IF_ERROR(Read<double>(yaml, "logistic", "l2", &c.logistic.l2));
    AITS_RETURN_IF_ERROR(ReadSequence(yaml, "lstm", &c.use_lstm, &c.lstm));
    AITS_RETURN_IF_ERROR(ReadSequence(yaml, "gru", &c.use_gru, &c.gru));
    AITS_RETURN_IF_ERROR(Read<double>(yaml, "ensemble", "high_vol_ml", &c.weights.high_vol_ml));
    AITS_RETURN_IF_ERROR(Read<double>(yaml, "ensemble", "high_vol_dl", &c.weights.high_vol_dl));
    AITS_RETURN_IF_ERROR(Read<double>(yaml, "ensemble", "normal_ml", &c.weights.normal_ml));
    AITS_RETURN_IF_ERROR(Read<double>(yaml, "ensemble", "normal_dl", &c.weights.normal_dl));
    AITS_RETURN_IF_ERROR(Read<bool>(yaml, "ensemble", "stacking", &c.stacking));
    AITS_RETURN_IF_ERROR(Read<std::string>(yaml, "registry", "dir", &c.registry_dir));
    AITS_RETURN_IF_ERROR(Read<std::string>(yaml, "registry", "name", &c.name));
    AITS_RETURN_IF_ERROR(Read<std::string>(yaml, "gate", "metric", &c.gate.metric));
    AITS_RETURN_IF_ERROR(Read<bool>(yaml, "gate", "higher_is_better", &c.gate.higher_is_better));
    AITS_RETURN_IF_ERROR(Read<double>(yaml, "gate", "threshold", &c.gate.threshold));
    AITS_RETURN_IF_ERROR(Read<double>(yaml, "gate", "min_improvement_over_baseline",
                                      &c.gate.min_improvement_over_baseline));
    // The evaluation's own trading rule is gone: its scores trade through the decision stack.
    for (const char* key : {"entry", "exit", "min_confidence"}) {
      std::optional<double> old;
      AITS_RETURN_IF_ERROR(yaml.Get("backtest", key, &old));
      if (old) {
        return InvalidArgument(
            path + ":" + std::to_string(root["backtest"][key].Mark().line + 1) +
            ": setting 'backtest." + key +
            "' is no longer read: the evaluation trades its scores through the decision engine "
            "and the risk manager, set by the decision: and risk: sections (buy_threshold, "
            "sell_threshold, close_threshold, min_confidence, sizing, lots, ...; docs/ml.md)");
      }
    }
    AITS_RETURN_IF_ERROR(Read<double>(yaml, "backtest", "lots", &c.baseline_lots));
    text.reset();
    AITS_RETURN_IF_ERROR(yaml.Get("backtest", "mode", &text));
    if (text) {
      if (*text != "long_only" && *text != "long_short") {
        return InvalidArgument(path + ": setting 'backtest.mode' value '" + *text +
                               "' is not one of: long_only, long_short");
      }
      c.baseline_long_short = *text == "long_short";
    }
    AITS_RETURN_IF_ERROR(Read<std::string>(yaml, "backtest", "commission", &c.commission));
    AITS_RETURN_IF_ERROR(Read<double>(yaml, "backtest", "cash", &c.initial_cash));
    AITS_RETURN_IF_ERROR(Read<uint64_t>(yaml, "", "seed", &c.seed));
    AITS_RETURN_IF_ERROR(ReadDecisionAndRisk(path, root, &c.decision, &c.risk));
    yaml.SectionReadElsewhere("decision");
    yaml.SectionReadElsewhere("risk");
    AITS_RETURN_IF_ERROR(yaml.CheckUnknown());
  } catch (const YAML::Exception& error) {
    return InvalidArgument(path + ":" + std::to_string(error.mark.line + 1) + ": " + error.msg);
  }
  return Status::Ok();
}

}  // namespace

Result<ml::MlConfig> ResolveMlConfig(const MlFlags& flags) {
  ml::MlConfig c;
  if (!flags.config_path.empty()) AITS_RETURN_IF_ERROR(MergeFile(flags.config_path, c));
  if (flags.data) c.data_path = *flags.data;
  if (flags.ask) c.ask_path = *flags.ask;
  if (flags.spread) c.spread_points = *flags.spread;
  if (flags.symbol) c.symbol = *flags.symbol;
  if (flags.timeframes) {
    auto tfs = features::ParseTimeframes(*flags.timeframes);
    if (!tfs.ok()) return tfs.status().WithContext("--timeframes");
    c.timeframes = *tfs;
  }
  if (flags.horizon) {
    AITS_ASSIGN_OR_RETURN(c.label.horizon, ParseDuration("--horizon", *flags.horizon));
  }
  if (flags.folds) c.walk_forward.folds = *flags.folds;
  if (flags.registry) c.registry_dir = *flags.registry;
  if (flags.name) c.name = *flags.name;
  if (flags.epochs) {
    c.lstm.epochs = *flags.epochs;
    c.gru.epochs = *flags.epochs;
  }
  if (flags.seed) c.seed = *flags.seed;
  if (c.data_path.empty()) {
    return InvalidArgument("no data file: give --data FILE or 'data: {path: FILE}' in the config");
  }
  // The symbol resolves as in a backtest (docs/instruments.md): a file name that is no catalogue
  // symbol needs --symbol rather than becoming one.
  data::InstrumentQuery query;
  query.symbol = c.symbol;
  query.data_path = c.data_path;
  query.digits = kFixedDigits;  // only the symbol is wanted here: no pass over the data
  AITS_ASSIGN_OR_RETURN(InstrumentCatalogue catalogue, InstrumentCatalogue::BuiltIn());
  AITS_ASSIGN_OR_RETURN(data::ResolvedInstrument found, data::ResolveInstrument(catalogue, query));
  c.symbol = found.instrument.symbol;
  if (c.name.empty()) {
    std::string lower;
    for (char ch : c.symbol)
      lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    c.name = lower + "_" + features::TimeframeName(c.timeframes.front());
  }
  AITS_RETURN_IF_ERROR(c.Validate());
  return c;
}

}  // namespace aits::config
