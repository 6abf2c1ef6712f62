#include "train_commands.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>

#include "aits/config/ml_settings.h"
#include "aits/core/redact.h"
#include "aits/log/log.h"
#include "aits/ml/pipeline.h"
#include "aits/ml/retrain.h"
#include "cli.h"
#include "progress.h"

namespace aits::app {
namespace {

// How a run reports: --json for a program (the ml role reads it: docs/services.md, "Training
// jobs"), --check to resolve the settings and stop before any work.
struct Output {
  bool verbose = false;
  bool json = false;
  bool check = false;
  bool quiet = false;        // no stage lines or rounds, only the result and errors
  bool no_progress = false;  // no progress bar while the features are computed
};

void AddOutputOptions(CLI::App* cmd, Output* output) {
  cmd->add_flag("--verbose", output->verbose, "Print every boosting round and tree");
  cmd->add_flag("--json", output->json, "Print the result as one JSON document on stdout");
  cmd->add_flag("--check", output->check,
                "Resolve and check the settings (config, data files, symbol) and stop before "
                "training; what `aits ml submit` runs before it publishes a job");
  // The same flags on every command (a program, a CI log): as `aits paper` and the others.
  cmd->add_flag("--quiet", output->quiet, "Print only the result (no stages, rounds or progress)");
  cmd->add_flag("--no-progress", output->no_progress,
                "No progress bar while the features are computed");
}

// The files a run reads must exist: found now rather than after the features of half a file.
Status CheckDataFiles(const ml::MlConfig& config) {
  for (const auto& [what, path] :
       {std::pair<const char*, const std::string&>{"data", config.data_path},
        {"ask data", config.ask_path}}) {
    if (path.empty()) continue;
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error)) {
      return NotFound(std::string(what) + " file '" + path + "' does not exist");
    }
  }
  return Status::Ok();
}

// What --check prints: the settings a run would use.
int PrintChecked(const char* command, const ml::MlConfig& config, bool json) {
  const nlohmann::ordered_json checked = {
      {"command", command},       {"check", "ok"},
      {"name", config.name},      {"symbol", config.symbol},
      {"data", config.data_path}, {"registry", WithoutPassword(config.registry_dir)}};
  if (json) {
    std::printf("%s\n", checked.dump().c_str());
  } else {
    std::printf("%s: settings ok: %s on %s (registry %s)\n", command, config.name.c_str(),
                config.data_path.c_str(), WithoutPassword(config.registry_dir).c_str());
  }
  return 0;
}

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

int Cores() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

void AddJobsOption(CLI::App* cmd, int* jobs, const std::string& help) {
  cmd->add_option("-j,--jobs", *jobs, help)->capture_default_str()->check(CLI::PositiveNumber);
}

// Stage lines and per-iteration metrics, thinned so a 300-round booster prints a few lines.
ml::TrainListener Listener(const Output& output) {
  ml::TrainListener listener;
  if (!output.no_progress && !output.quiet) {
    auto bar = std::make_shared<ProgressBar>("features", "", true);
    listener.on_progress = [bar](double fraction) {
      bar->Update(fraction, 0);
      if (fraction >= 1.0) bar->Finish();
    };
  }
  if (output.quiet) return listener;
  listener.on_stage = [](const std::string& stage) {
    std::fprintf(stderr, "== %s\n", stage.c_str());
  };
  listener.on_iteration = [verbose = output.verbose](const std::string& model, int iteration,
                                                     double train, double validation) {
    // Evaluation names the fold first: "fold 2/4 lstm".
    const bool epoch = model.ends_with("lstm") || model.ends_with("gru");
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

int RunTrain(const config::MlFlags& flags, int jobs, const Output& output) {
  auto config = config::ResolveMlConfig(flags);
  if (!config.ok()) return Fail(config.status());
  if (Status files = CheckDataFiles(*config); !files.ok()) return Fail(files);
  if (output.check) return PrintChecked("train", *config, output.json);
  AITS_LOG_INFO(
      "train", "training started",
      {{"name", config->name}, {"data", config->data_path}, {"registry", config->registry_dir}});
  auto result = ml::RunTraining(*config, Listener(output), jobs);
  if (!result.ok()) return Fail(result.status());
  const ml::TrainResult& r = *result;
  AITS_LOG_INFO(
      "train", "training finished",
      {{"model", r.ensemble_record.name + "@" + std::to_string(r.ensemble_record.version)},
       {"id", std::to_string(r.ensemble_record.id)},
       {"status", ml::ToString(r.ensemble_record.status)},
       {"gate", r.gate.passed ? "passed" : "not passed"},
       {"registry", config->registry_dir}});
  if (output.json) {
    const ml::ModelRecord& model = r.ensemble_record;
    const nlohmann::ordered_json summary = {
        {"command", "train"},
        {"name", config->name},
        {"data", config->data_path},
        {"rows", r.rows},
        {"first", FormatIso8601(r.first)},
        {"last", FormatIso8601(r.last)},
        {"registry", config->registry_dir},
        {"model",
         {{"name", model.name},
          {"version", model.version},
          {"id", model.id},
          {"status", std::string(ml::ToString(model.status))}}},
        {"gate", {{"passed", r.gate.passed}, {"reason", r.gate.reason}}},
        {"metrics", r.metrics}};
    std::printf("%s\n", summary.dump().c_str());
    return 0;
  }
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
  std::printf("\n  registry      %s: %s@%d (#%lld) %s\n",
              WithoutPassword(config->registry_dir).c_str(), r.ensemble_record.name.c_str(),
              r.ensemble_record.version, static_cast<long long>(r.ensemble_record.id),
              std::string(ml::ToString(r.ensemble_record.status)).c_str());
  std::printf("  gate          %s: %s\n", r.gate.passed ? "passed" : "not passed",
              r.gate.reason.c_str());
  return 0;
}

int RunEvaluate(const config::MlFlags& flags, const std::string& out, int jobs,
                const Output& output) {
  auto config = config::ResolveMlConfig(flags);
  if (!config.ok()) return Fail(config.status());
  if (Status files = CheckDataFiles(*config); !files.ok()) return Fail(files);
  if (output.check) return PrintChecked("evaluate", *config, output.json);
  AITS_LOG_INFO("evaluate", "evaluation started", {{"data", config->data_path}});
  auto result = ml::RunEvaluation(*config, Listener(output), jobs);
  if (!result.ok()) return Fail(result.status());
  const ml::EvaluationResult& r = *result;
  AITS_LOG_INFO("evaluate", "evaluation finished",
                {{"data", config->data_path},
                 {"rows", std::to_string(r.rows)},
                 {"folds", std::to_string(r.folds.size())}});
  if (!out.empty()) {
    Status written = ml::WriteEvaluationOutputs(r, out);
    if (!written.ok()) return Fail(written);
  }
  if (output.json) {
    nlohmann::ordered_json backtests = nlohmann::ordered_json::array();
    for (const auto& run : r.backtests) {
      const auto& stats = run.result.stats;
      backtests.push_back({{"name", run.name},
                           {"net_profit", stats.net_profit},
                           {"total_return", stats.total_return},
                           {"sharpe", stats.sharpe},
                           {"max_drawdown", stats.max_drawdown},
                           {"trades", stats.trades}});
    }
    const nlohmann::ordered_json summary = {{"command", "evaluate"},
                                            {"data", config->data_path},
                                            {"rows", r.rows},
                                            {"folds", r.folds.size()},
                                            {"wall_seconds", r.wall_seconds},
                                            {"metrics", r.metrics},
                                            {"backtests", backtests},
                                            {"report", out}};
    std::printf("%s\n", summary.dump().c_str());
    return 0;
  }
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
    std::printf("  report        %s/report.html (and metrics.json, scores.csv)\n", out.c_str());
  }
  return 0;
}

struct RetrainFlags {
  std::string model;
  std::string mode = "update";
  size_t rows = 50'000;
  std::string to;
};

nlohmann::ordered_json ModelJson(const ml::ModelRecord& model) {
  return {{"name", model.name},
          {"version", model.version},
          {"id", model.id},
          {"status", std::string(ml::ToString(model.status))}};
}

int RunRetrain(const config::MlFlags& flags, const RetrainFlags& retrain, int jobs,
               const Output& output) {
  auto config = config::ResolveMlConfig(flags);
  if (!config.ok()) return Fail(config.status());
  ml::RetrainOptions options;
  options.model = retrain.model;
  options.rows = retrain.rows;
  auto mode = ml::ParseRetrainMode(retrain.mode);
  if (!mode.ok()) return Fail(mode.status());
  options.mode = *mode;
  if (!retrain.to.empty()) {
    options.to = ParseUtcTime(retrain.to);
    if (!options.to) {
      return Fail(InvalidArgument("--to '" + retrain.to +
                                  "': expected a UTC date or time (2012-02-20, 2012-02-20T12:00)"));
    }
  }
  if (Status files = CheckDataFiles(*config); !files.ok()) return Fail(files);
  if (output.check) {
    // The ml role's registry is known to the role alone: `aits ml submit` checks a job without
    // one, and the model is found when the job runs. Given one, the model is checked too.
    if (!flags.registry) return PrintChecked("retrain", *config, output.json);
    auto source = ml::CheckRetrain(*config, options);
    if (!source.ok()) return Fail(source.status());
    return PrintChecked("retrain", *config, output.json);
  }
  AITS_LOG_INFO("retrain", "retraining started",
                {{"model", retrain.model},
                 {"mode", retrain.mode},
                 {"data", config->data_path},
                 {"registry", config->registry_dir}});
  auto result = ml::RunRetrain(*config, options, Listener(output), jobs);
  if (!result.ok()) return Fail(result.status());
  const ml::RetrainResult& r = *result;
  const std::string source = r.source.name + "@" + std::to_string(r.source.version);
  const nlohmann::json& retrained = r.candidate.params["retrain"];
  AITS_LOG_INFO("retrain", "retraining finished",
                {{"model", r.candidate.name + "@" + std::to_string(r.candidate.version)},
                 {"id", std::to_string(r.candidate.id)},
                 {"parent", source},
                 {"mode", retrain.mode},
                 {"registry", config->registry_dir}});
  if (output.json) {
    const nlohmann::ordered_json summary = {{"command", "retrain"},
                                            {"mode", retrain.mode},
                                            {"name", r.candidate.name},
                                            {"data", config->data_path},
                                            {"registry", config->registry_dir},
                                            {"source", ModelJson(r.source)},
                                            {"model", ModelJson(r.candidate)},
                                            {"parent", r.candidate.parent},
                                            {"rows", retrain.rows},
                                            {"window", retrained["window"]},
                                            {"train", retrained["train"]},
                                            {"holdout", retrained["holdout"]},
                                            {"metrics", r.metrics}};
    std::printf("%s\n", summary.dump().c_str());
    return 0;
  }
  std::printf("retrained %s (%s) on %s: the last %zu labelled rows, %s .. %s\n", source.c_str(),
              retrain.mode.c_str(), config->data_path.c_str(), retrain.rows,
              FormatIso8601(r.window_first).c_str(), FormatIso8601(r.window_last).c_str());
  std::printf("  learnt from   %s .. %s (%zu rows)\n",
              retrained["train"]["from"].get<std::string>().c_str(),
              retrained["train"]["to"].get<std::string>().c_str(), r.train.size());
  std::printf("  holdout       %s .. %s (%zu rows)\n",
              retrained["holdout"]["from"].get<std::string>().c_str(),
              retrained["holdout"]["to"].get<std::string>().c_str(), r.holdout.size());
  std::printf("holdout, the candidate:\n");
  PrintModels(r.metrics["validation_detail"]["models"]);
  std::printf("holdout, %s (the baseline%s):\n", source.c_str(),
              r.metrics.value("baseline_in_sample", false) ? ", in sample" : "");
  PrintModels(nlohmann::json{{"ensemble", r.metrics["baseline_detail"]["models"]["ensemble"]}});
  std::printf("  registry      %s: %s@%d (#%lld) %s, parent %s\n",
              WithoutPassword(config->registry_dir).c_str(), r.candidate.name.c_str(),
              r.candidate.version, static_cast<long long>(r.candidate.id),
              std::string(ml::ToString(r.candidate.status)).c_str(), r.candidate.parent.c_str());
  return 0;
}

}  // namespace

void AddTrainCommands(CLI::App& app) {
  auto train_flags = std::make_shared<config::MlFlags>();
  auto train_jobs = std::make_shared<int>(Cores());
  auto train_output = std::make_shared<Output>();
  CLI::App* train = app.add_subcommand("train", kTrainDescription);
  AddCommonOptions(train, train_flags.get());
  train->add_option(
      "--registry", train_flags->registry,
      "Model registry: a directory (default models/) or postgresql://user@host:port/db");
  train->add_option("--name", train_flags->name, "Model family name (default: symbol_base-TF)");
  AddJobsOption(train, train_jobs.get(),
                "Threads training the LSTM and the GRU at once (default: one per core); the "
                "models do not depend on it");
  AddOutputOptions(train, train_output.get());
  train->callback([train_flags, train_jobs, train_output] {
    const int code = RunTrain(*train_flags, *train_jobs, *train_output);
    ExitOnFailure(code);
  });

  auto eval_flags = std::make_shared<config::MlFlags>();
  auto eval_out = std::make_shared<std::string>();
  auto eval_jobs = std::make_shared<int>(Cores());
  auto eval_output = std::make_shared<Output>();
  CLI::App* evaluate = app.add_subcommand("evaluate", kEvaluateDescription);
  AddCommonOptions(evaluate, eval_flags.get());
  evaluate->add_option("--folds", eval_flags->folds, "Walk-forward folds (default 5)");
  evaluate->add_option("--out", *eval_out, "Directory for report.html, metrics.json, scores.csv");
  AddJobsOption(evaluate, eval_jobs.get(),
                "Folds trained at once (default: one per core); the results do not depend on it");
  AddOutputOptions(evaluate, eval_output.get());
  evaluate->callback([eval_flags, eval_out, eval_jobs, eval_output] {
    const int code = RunEvaluate(*eval_flags, *eval_out, *eval_jobs, *eval_output);
    ExitOnFailure(code);
  });

  auto retrain_flags = std::make_shared<config::MlFlags>();
  auto retrain = std::make_shared<RetrainFlags>();
  auto retrain_jobs = std::make_shared<int>(Cores());
  auto retrain_output = std::make_shared<Output>();
  CLI::App* retrain_cmd = app.add_subcommand("retrain", kRetrainDescription);
  AddCommonOptions(retrain_cmd, retrain_flags.get());
  retrain_cmd->add_option(
      "--registry", retrain_flags->registry,
      "Model registry: a directory (default: registry.dir of --config, else models/) or "
      "postgresql://user@host:port/db");
  retrain_cmd
      ->add_option("--model", retrain->model,
                   "The model to retrain: NAME (its production model), NAME@VERSION, #ID")
      ->required();
  retrain_cmd
      ->add_option("--mode", retrain->mode,
                   "update: continued boosting of the XGBoost member on the recent rows, the "
                   "other parts kept; full: every stage trained anew on them")
      ->capture_default_str();
  retrain_cmd
      ->add_option("--rows", retrain->rows,
                   "Labelled rows of the window (the last ones up to --to); its last 15 % is the "
                   "holdout the candidate and the model are scored on")
      ->capture_default_str();
  retrain_cmd->add_option("--to", retrain->to,
                          "As of this UTC time: only rows labelled by then (their label's target "
                          "at or before it) are in the window (default: the end of the data)");
  AddJobsOption(retrain_cmd, retrain_jobs.get(),
                "--mode full: threads training the LSTM and the GRU at once (default: one per "
                "core); the models do not depend on it");
  AddOutputOptions(retrain_cmd, retrain_output.get());
  retrain_cmd->callback([retrain_flags, retrain, retrain_jobs, retrain_output] {
    const int code = RunRetrain(*retrain_flags, *retrain, *retrain_jobs, *retrain_output);
    ExitOnFailure(code);
  });
}

}  // namespace aits::app
