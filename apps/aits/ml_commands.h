// `aits train`, `aits evaluate`, `aits models`, and the ml_ensemble strategy of `aits backtest`.
// Commands run from their subcommand's callback (like `aits features`): a failure prints
// "aits: error: ..." and throws CLI::RuntimeError with the exit code (2 bad input, 1 otherwise).
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "aits/core/status.h"
#include "aits/kernel/backtest.h"
#include "aits/ml/registry.h"

namespace aits::app {

void AddMlCommands(CLI::App& app);

// An ensemble from the registry: REF is "latest" (the newest production ensemble, else the
// newest candidate; never a rejected one), "NAME", "NAME@3" or "#12". The bytes are checked
// against the registry row and the feature-set hash this build computes for its timeframes.
struct RegistryEnsemble {
  ml::ModelRecord record;
  std::shared_ptr<const std::string> bytes;
  std::string path;
  std::vector<Duration> timeframes;  // the first is the base timeframe (the kernel's bars)
  std::string description;           // "NAME@V (#ID, status, members: ...)"
};
Result<RegistryEnsemble> LoadRegistryEnsemble(const std::string& registry_dir,
                                              const std::string& model_ref);

// For `aits backtest --strategy ml_ensemble --model REF`: loads the ensemble REF ("latest",
// "NAME", "NAME@3", "#12") from the registry, checks its feature-set hash against this build,
// and installs a strategy factory in `config` that trades it with the given parameters (entry,
// exit, min_confidence, lots, mode). The kernel's bar period becomes the model's base timeframe.
struct InstalledModel {
  std::string description;  // "NAME@V (#ID, status, members: ...)"
  Timestamp train_begin;    // the rows the model learned from (validation rows follow them)
  Timestamp train_end;
};
Status InstallMlEnsemble(const std::string& registry_dir, const std::string& model_ref,
                         kernel::BacktestConfig* config, InstalledModel* installed);

}  // namespace aits::app
