#include "ml_commands.h"

#include <cmath>
#include <cstdio>
#include <memory>

#include "aits/features/feature_engine.h"
#include "aits/ml/ensemble.h"
#include "aits/ml/ml_strategy.h"
#include "aits/ml/pipeline.h"
#include "aits/ml/registry.h"
#include "ml_config.h"
#include "progress.h"

namespace aits::app {
namespace {

int Report(const Status& status) {
  std::fprintf(stderr, "aits: error: %s\n", status.message().c_str());
  return status.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

void AddCommonOptions(CLI::App* cmd, MlFlags* flags) {
  cmd->add_option("--config", flags->config_path, "ml.yaml with any of the settings (docs/ml.md)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--data", flags->data, "Tick or bar file (overrides data.path)");
  cmd->add_option("--ask-data", flags->ask, "Ask-side bar file joined on time with --data");
  cmd->add_option("--spread", flags->spread, "Spread in points for single-price data");
  cmd->add_option("--symbol", flags->symbol, "Instrument symbol (default: from the file name)");
  cmd->add_option("--timeframes", flags->timeframes,
                  "Feature timeframes, ascending, e.g. M1,M5,M15,H1 (default) or M30,H1,H4,D1");
  cmd->add_option("--horizon", flags->horizon, "Label horizon, e.g. 15m (default), 2h");
  cmd->add_option("--epochs", flags->epochs, "Epochs of the LSTM and GRU");
  cmd->add_option("--seed", flags->seed, "Seed of every stage (default 42)");
}

// Stage lines and per-iteration metrics, thinned so a 300-round booster prints a few lines.
ml::TrainListener Listener(bool verbose) {
  ml::TrainListener listener;
  auto bar = std::make_shared<ProgressBar>("features", "", true);
  listener.on_progress = [bar](double fraction) {
    bar->Update(fraction, 0);
    if (fraction >= 1.0) bar->Finish();
  };
  listener.on_stage = [](const std::string& stage) {
    std::fprintf(stderr, "== %s\n", stage.c_str());
  };
  listener.on_iteration = [verbose](const std::string& model, int iteration, double train,
                                    double validation) {
    const bool epoch = model == "lstm" || model == "gru";
    if (!verbose && !epoch && iteration % 50 != 0) return;
    std::fprintf(stderr, "   %-18s %s %4d  train %.5f  validation %s\n", model.c_str(),
                 epoch ? "epoch" : "iter ", iteration, train,
                 std::isfinite(validation) ? std::to_string(validation).c_str() : "-");
  };
  return listener;
}

std::string Num(const nlohmann::json& j, const char* key, int digits = 4) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, j[key].get<double>());
  return buf;
}

void PrintModels(const nlohmann::json& models) {
  std::printf("  %-22s %8s %9s %9s %9s %9s %7s\n", "model", "AUC", "accuracy", "precision",
              "recall", "log-loss", "n");
  for (const auto& [name, m] : models.items()) {
    std::printf("  %-22s %8s %9s %9s %9s %9s %7d\n", name.c_str(), Num(m, "auc").c_str(),
                Num(m, "accuracy").c_str(), Num(m, "precision").c_str(), Num(m, "recall").c_str(),
                Num(m, "log_loss").c_str(), m.value("n", 0));
  }
}

int RunTrain(const MlFlags& flags, bool verbose) {
  auto config = ResolveMlConfig(flags);
  if (!config.ok()) return Report(config.status());
  auto result = ml::RunTraining(*config, Listener(verbose));
  if (!result.ok()) return Report(result.status());
  const ml::TrainResult& r = *result;
  std::printf("trained %s on %s: %zu rows %s .. %s\n", config->name.c_str(),
              config->data_path.c_str(), r.rows, FormatIso8601(r.first).c_str(),
              FormatIso8601(r.last).c_str());
  std::printf(
      "  split         train %zu, validation %zu, test %zu rows (purge %lld s)\n",
      r.split.train.size(), r.split.validation.size(), r.split.test.size(),
      static_cast<long long>((config->label.horizon.ns + ml::EffectiveMaxGap(config->label).ns) /
                             kNanosPerSecond));
  std::printf("validation:\n");
  PrintModels(r.metrics["validation_detail"]["models"]);
  std::printf("test:\n");
  PrintModels(r.metrics["test"]["models"]);
  std::printf("  IC (test)     ensemble %s", Num(r.metrics["test"]["ic"], "ensemble").c_str());
  if (r.metrics["test"]["ic"].contains("xgboost_regressor")) {
    std::printf(", xgboost_regressor %s",
                Num(r.metrics["test"]["ic"], "xgboost_regressor").c_str());
  }
  std::printf("\n  registry      %s: %s@%d (#%lld) %s\n", config->registry_dir.c_str(),
              r.ensemble_record.name.c_str(), r.ensemble_record.version,
              static_cast<long long>(r.ensemble_record.id),
              std::string(ml::ToString(r.ensemble_record.status)).c_str());
  std::printf("  gate          %s: %s\n", r.gate.passed ? "passed" : "not passed",
              r.gate.reason.c_str());
  return 0;
}

int RunEvaluate(const MlFlags& flags, const std::string& out, bool verbose) {
  auto config = ResolveMlConfig(flags);
  if (!config.ok()) return Report(config.status());
  auto result = ml::RunEvaluation(*config, Listener(verbose));
  if (!result.ok()) return Report(result.status());
  const ml::EvaluationResult& r = *result;
  std::printf("walk-forward evaluation of the ensemble on %s (%zu rows, %zu folds, %.1f s)\n",
              config->data_path.c_str(), r.rows, r.folds.size(), r.wall_seconds);
  std::printf("out of sample, pooled:\n");
  PrintModels(r.metrics["models"]);
  std::printf("  IC            ensemble %s", Num(r.metrics["ic"], "ensemble").c_str());
  if (r.metrics["ic"].contains("xgboost_regressor")) {
    std::printf(", xgboost_regressor %s", Num(r.metrics["ic"], "xgboost_regressor").c_str());
  }
  std::printf("\nbacktests after costs over the out-of-sample span:\n");
  for (const auto& run : r.backtests) {
    const auto& s = run.result.stats;
    std::printf(
        "  %-14s net %12.2f  return %+7.2f %%  sharpe %6.2f  max DD %6.2f %%  trades %lld\n",
        run.name.c_str(), s.net_profit, 100 * s.total_return, s.sharpe, 100 * s.max_drawdown,
        static_cast<long long>(s.trades));
  }
  if (!out.empty()) {
    Status written = ml::WriteEvaluationOutputs(r, out);
    if (!written.ok()) return Report(written);
    std::printf("  report        %s/report.html (and metrics.json, scores.csv)\n", out.c_str());
  }
  return 0;
}

int RunModels(const std::string& registry_dir, const std::string& name) {
  auto registry = ml::ModelRegistry::Open(registry_dir, /*create=*/false);
  if (!registry.ok()) return Report(registry.status());
  auto records = registry->List(name.empty() ? std::optional<std::string>()
                                             : std::optional<std::string>(name));
  if (!records.ok()) return Report(records.status());
  std::printf("%5s  %-32s %4s  %-18s %-10s %-16s %-10s %s\n", "id", "name", "ver", "kind", "status",
              "feature set", "val AUC", "created");
  for (const auto& r : *records) {
    std::printf("%5lld  %-32s %4d  %-18s %-10s %-16s %-10s %s\n", static_cast<long long>(r.id),
                r.name.c_str(), r.version, r.kind.c_str(),
                std::string(ml::ToString(r.status)).c_str(), r.feature_set_hash.c_str(),
                Num(r.metrics.value("validation", nlohmann::json::object()), "auc").c_str(),
                FormatIso8601(r.created_at).c_str());
  }
  return 0;
}

}  // namespace

Result<RegistryEnsemble> LoadRegistryEnsemble(const std::string& registry_dir,
                                              const std::string& model_ref) {
  AITS_ASSIGN_OR_RETURN(ml::ModelRegistry registry,
                        ml::ModelRegistry::Open(registry_dir, /*create=*/false));
  ml::ModelRecord record;
  if (model_ref == "latest") {
    // "latest" among ensembles only (members share the registry): the newest production
    // ensemble, else the newest candidate. A rejected one is never picked implicitly.
    AITS_ASSIGN_OR_RETURN(std::vector<ml::ModelRecord> all, registry.List());
    const ml::ModelRecord* best = nullptr;
    std::string rejected;
    for (const auto& r : all) {
      if (r.kind != "ensemble") continue;
      if (r.status == ml::ModelStatus::kRejected) {
        rejected += (rejected.empty() ? "" : ", ") + r.name + "@" + std::to_string(r.version);
        continue;
      }
      const auto rank = [](const ml::ModelRecord& m) {
        return m.status == ml::ModelStatus::kProduction  ? 2
               : m.status == ml::ModelStatus::kCandidate ? 1
                                                         : 0;
      };
      if (rank(r) == 0) continue;
      if (best == nullptr || rank(r) > rank(*best) || (rank(r) == rank(*best) && r.id > best->id)) {
        best = &r;
      }
    }
    if (best == nullptr) {
      return NotFound("no production or candidate ensemble in registry '" + registry_dir + "'" +
                      (rejected.empty() ? std::string(" (run aits train first)")
                                        : "; rejected by their gate: " + rejected +
                                              " (trade one anyway with --model NAME@VERSION)"));
    }
    record = *best;
  } else {
    AITS_ASSIGN_OR_RETURN(record, registry.Find(model_ref));
  }
  if (record.kind != "ensemble") {
    return InvalidArgument("model '" + model_ref + "' is a " + record.kind +
                           ", not an ensemble; --strategy ml_ensemble needs an ensemble");
  }
  // The feature engine this build would compute for the model's timeframes must match the hash
  // the model was trained on; the registry refuses to hand out the bytes otherwise.
  std::string timeframes_text;
  for (const auto& tf : record.params["features"]["timeframes"]) {
    timeframes_text += (timeframes_text.empty() ? "" : ",") + tf.get<std::string>();
  }
  AITS_ASSIGN_OR_RETURN(std::vector<Duration> timeframes,
                        features::ParseTimeframes(timeframes_text));
  features::FeatureEngineConfig engine_config;
  engine_config.timeframes = timeframes;
  AITS_ASSIGN_OR_RETURN(features::FeatureEngine engine,
                        features::FeatureEngine::Create(engine_config));
  AITS_ASSIGN_OR_RETURN(std::string bytes, registry.LoadBytes(record, engine.Hash()));
  AITS_ASSIGN_OR_RETURN(ml::Ensemble ensemble,
                        ml::Ensemble::Deserialize(bytes, registry.AbsolutePath(record)));
  RegistryEnsemble loaded;
  loaded.description = record.name + "@" + std::to_string(record.version) + " (#" +
                       std::to_string(record.id) + ", " + std::string(ml::ToString(record.status)) +
                       ", members: ";
  const auto kinds = ensemble.MemberKinds();
  for (size_t idx = 0; idx < kinds.size(); ++idx) {
    loaded.description += (idx ? "," : "") + kinds[idx];
  }
  loaded.description += ")";
  loaded.path = registry.AbsolutePath(record);
  loaded.bytes = std::make_shared<const std::string>(std::move(bytes));
  loaded.timeframes = std::move(timeframes);
  loaded.record = std::move(record);
  return loaded;
}

Status InstallMlEnsemble(const std::string& registry_dir, const std::string& model_ref,
                         kernel::BacktestConfig* config, InstalledModel* installed) {
  AITS_ASSIGN_OR_RETURN(RegistryEnsemble loaded, LoadRegistryEnsemble(registry_dir, model_ref));
  const std::vector<Duration>& timeframes = loaded.timeframes;
  AITS_ASSIGN_OR_RETURN(ml::SignalRules rules, ml::SignalRules::FromParams(config->params));
  AITS_RETURN_IF_ERROR(config->params.CheckAllUsed("ml_ensemble"));
  config->kernel.bar_period = timeframes.front();
  config->strategy = "ml_ensemble";
  // Each run loads its own ensemble from the checked bytes, so the sequence models start from a
  // clean state.
  config->strategy_factory =
      [bytes = loaded.bytes, what = loaded.path, timeframes, rules, bar = timeframes.front()](
          const Instrument& instrument) -> Result<std::unique_ptr<strategy::Strategy>> {
    AITS_ASSIGN_OR_RETURN(ml::Ensemble run_copy, ml::Ensemble::Deserialize(*bytes, what));
    return ml::MakeMlEnsembleStrategy(instrument, bar, std::move(run_copy), timeframes, rules);
  };
  installed->train_begin = loaded.record.train_begin;
  installed->train_end = loaded.record.train_end;
  installed->description = loaded.description;
  return Status::Ok();
}

void AddMlCommands(CLI::App& app) {
  auto train_flags = std::make_shared<MlFlags>();
  auto train_verbose = std::make_shared<bool>(false);
  CLI::App* train = app.add_subcommand(
      "train",
      "Train the hybrid ensemble (regimes, PCA, anomaly, XGBoost, random forest, logistic,\n"
      "LSTM, GRU) on a 70/15/15 time split, register it as a candidate and promote it if it\n"
      "passes its gate. Example: aits train --config ml.yaml");
  AddCommonOptions(train, train_flags.get());
  train->add_option("--registry", train_flags->registry, "Registry directory (default models/)");
  train->add_option("--name", train_flags->name, "Model family name (default: symbol_base-TF)");
  train->add_flag("--verbose", *train_verbose, "Print every boosting round and tree");
  train->callback([train_flags, train_verbose] {
    const int code = RunTrain(*train_flags, *train_verbose);
    if (code != 0) throw CLI::RuntimeError(code);
  });

  auto eval_flags = std::make_shared<MlFlags>();
  auto eval_out = std::make_shared<std::string>();
  auto eval_verbose = std::make_shared<bool>(false);
  CLI::App* evaluate = app.add_subcommand(
      "evaluate",
      "Walk-forward out-of-sample evaluation: retrain per fold, score the next window, report\n"
      "accuracy, precision, recall, log-loss, AUC, IC and calibration, and backtest the signal\n"
      "after costs against buy-and-hold, sma_cross and a random signal.\n"
      "Example: aits evaluate --config ml.yaml --out eval/");
  AddCommonOptions(evaluate, eval_flags.get());
  evaluate->add_option("--folds", eval_flags->folds, "Walk-forward folds (default 5)");
  evaluate->add_option("--out", *eval_out, "Directory for report.html, metrics.json, scores.csv");
  evaluate->add_flag("--verbose", *eval_verbose, "Print every boosting round and tree");
  evaluate->callback([eval_flags, eval_out, eval_verbose] {
    const int code = RunEvaluate(*eval_flags, *eval_out, *eval_verbose);
    if (code != 0) throw CLI::RuntimeError(code);
  });

  auto registry_dir = std::make_shared<std::string>("models");
  auto name = std::make_shared<std::string>();
  CLI::App* models = app.add_subcommand("models", "List the models in a registry.");
  models->add_option("--registry", *registry_dir, "Registry directory")->capture_default_str();
  models->add_option("--name", *name, "Only this model family");
  models->callback([registry_dir, name] {
    const int code = RunModels(*registry_dir, *name);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace aits::app
