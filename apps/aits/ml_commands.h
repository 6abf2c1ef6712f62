// The model commands of `aits`: `models`, the ml_ensemble strategy of `aits backtest`, and `train`
// and `evaluate`, which run the sibling binary aits-train (train_commands.h) so that only the
// commands that train load LibTorch. Commands run from their subcommand's callback (like
// `aits features`): a failure prints "aits: error: ..." and ends with the exit code of cli.h.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "aits/backtest/backtest.h"
#include "aits/core/status.h"
#include "aits/ml/selection.h"

namespace aits::app {

// `models`, and `train` / `evaluate` as commands that run aits-train with their arguments.
void AddMlCommands(CLI::App& app);

// For `aits backtest --signal ml_ensemble --model REF` (or --strategy ml_ensemble): loads the
// ensemble REF ("latest", "NAME", "NAME@3", "#12") from the registry, checks its feature-set hash
// against this build, and makes it the signal of the config's decision stack (which
// ResolveBacktest set up with the decision: and risk: settings), exactly as a paper session of
// the model serves it. The kernel's bar period becomes the model's base timeframe.
struct InstalledModel {
  std::string description;  // "NAME@V (#ID, status, members: ...)"
  Timestamp train_begin;    // the rows the model learned from (validation rows follow them)
  Timestamp train_end;
};
Status InstallMlEnsemble(const std::string& registry_dir, const std::string& model_ref,
                         backtest::BacktestConfig* config, InstalledModel* installed);

// Logs (info, component "registry") which model a reference chose, so that a run's log says what
// traded when "latest" or a family name moves on.
void LogModelChoice(const std::string& registry_dir, const std::string& model_ref,
                    const ml::RegistryEnsemble& chosen);

}  // namespace aits::app
