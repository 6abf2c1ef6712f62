#include "train_commands.h"

#include <cmath>
#include <cstdio>
#include <memory>

#include "aits/config/ml_settings.h"
#include "aits/log/log.h"
#include "aits/ml/pipeline.h"
#include "cli.h"
#include "progress.h"

namespace aits::app {
namespace {

void AddCommonOptions(CLI::App* cmd, config::MlFlags* flags) {
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

void PrintModels(const nlohmann::json& models) {
  std::printf("  %-22s %8s %9s %9s %9s %9s %7s\n", "model", "AUC", "accuracy", "precision",
              "recall", "log-loss", "n");
  for (const auto& [name, m] : models.items()) {
    std::printf("  %-22s %8s %9s %9s %9s %9s %7d\n", name.c_str(), FormatNumber(m, "auc").c_str(),
                FormatNumber(m, "accuracy").c_str(), FormatNumber(m, "precision").c_str(),
                FormatNumber(m, "recall").c_str(), FormatNumber(m, "log_loss").c_str(),
                m.value("n", 0));
  }
}

int RunTrain(const config::MlFlags& flags, bool verbose) {
  auto config = config::ResolveMlConfig(flags);
  if (!config.ok()) return Fail(config.status());
  AITS_LOG_INFO(
      "train", "training started",
      {{"name", config->name}, {"data", config->data_path}, {"registry", config->registry_dir}});
  auto result = ml::RunTraining(*config, Listener(verbose));
  if (!result.ok()) return Fail(result.status());
  const ml::TrainResult& r = *result;
  AITS_LOG_INFO(
      "train", "training finished",
      {{"model", r.ensemble_record.name + "@" + std::to_string(r.ensemble_record.version)},
       {"id", std::to_string(r.ensemble_record.id)},
       {"status", ml::ToString(r.ensemble_record.status)},
       {"gate", r.gate.passed ? "passed" : "not passed"},
       {"registry", config->registry_dir}});
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
  std::printf("  IC (test)     ensemble %s",
              FormatNumber(r.metrics["test"]["ic"], "ensemble").c_str());
  if (r.metrics["test"]["ic"].contains("xgboost_regressor")) {
    std::printf(", xgboost_regressor %s",
                FormatNumber(r.metrics["test"]["ic"], "xgboost_regressor").c_str());
  }
  std::printf("\n  registry      %s: %s@%d (#%lld) %s\n", config->registry_dir.c_str(),
              r.ensemble_record.name.c_str(), r.ensemble_record.version,
              static_cast<long long>(r.ensemble_record.id),
              std::string(ml::ToString(r.ensemble_record.status)).c_str());
  std::printf("  gate          %s: %s\n", r.gate.passed ? "passed" : "not passed",
              r.gate.reason.c_str());
  return 0;
}

int RunEvaluate(const config::MlFlags& flags, const std::string& out, bool verbose) {
  auto config = config::ResolveMlConfig(flags);
  if (!config.ok()) return Fail(config.status());
  AITS_LOG_INFO("evaluate", "evaluation started", {{"data", config->data_path}});
  auto result = ml::RunEvaluation(*config, Listener(verbose));
  if (!result.ok()) return Fail(result.status());
  const ml::EvaluationResult& r = *result;
  AITS_LOG_INFO("evaluate", "evaluation finished",
                {{"data", config->data_path},
                 {"rows", std::to_string(r.rows)},
                 {"folds", std::to_string(r.folds.size())}});
  std::printf("walk-forward evaluation of the ensemble on %s (%zu rows, %zu folds, %.1f s)\n",
              config->data_path.c_str(), r.rows, r.folds.size(), r.wall_seconds);
  std::printf("out of sample, pooled:\n");
  PrintModels(r.metrics["models"]);
  std::printf("  IC            ensemble %s", FormatNumber(r.metrics["ic"], "ensemble").c_str());
  if (r.metrics["ic"].contains("xgboost_regressor")) {
    std::printf(", xgboost_regressor %s",
                FormatNumber(r.metrics["ic"], "xgboost_regressor").c_str());
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
    if (!written.ok()) return Fail(written);
    std::printf("  report        %s/report.html (and metrics.json, scores.csv)\n", out.c_str());
  }
  return 0;
}

}  // namespace

void AddTrainCommands(CLI::App& app) {
  auto train_flags = std::make_shared<config::MlFlags>();
  auto train_verbose = std::make_shared<bool>(false);
  CLI::App* train = app.add_subcommand("train", kTrainDescription);
  AddCommonOptions(train, train_flags.get());
  train->add_option(
      "--registry", train_flags->registry,
      "Model registry: a directory (default models/) or postgresql://user@host:port/db");
  train->add_option("--name", train_flags->name, "Model family name (default: symbol_base-TF)");
  train->add_flag("--verbose", *train_verbose, "Print every boosting round and tree");
  train->callback([train_flags, train_verbose] {
    const int code = RunTrain(*train_flags, *train_verbose);
    ExitOnFailure(code);
  });

  auto eval_flags = std::make_shared<config::MlFlags>();
  auto eval_out = std::make_shared<std::string>();
  auto eval_verbose = std::make_shared<bool>(false);
  CLI::App* evaluate = app.add_subcommand("evaluate", kEvaluateDescription);
  AddCommonOptions(evaluate, eval_flags.get());
  evaluate->add_option("--folds", eval_flags->folds, "Walk-forward folds (default 5)");
  evaluate->add_option("--out", *eval_out, "Directory for report.html, metrics.json, scores.csv");
  evaluate->add_flag("--verbose", *eval_verbose, "Print every boosting round and tree");
  evaluate->callback([eval_flags, eval_out, eval_verbose] {
    const int code = RunEvaluate(*eval_flags, *eval_out, *eval_verbose);
    ExitOnFailure(code);
  });
}

}  // namespace aits::app
