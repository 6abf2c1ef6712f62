// The model commands of `aits`: `models`, `train` and `evaluate`, which run the sibling binary
// aits-train (train_commands.h) so that only the commands that train load LibTorch, and `ml
// submit` / `ml status`, which hand jobs to the ml role over the bus and follow them. Commands run
// from their subcommand's callback (like `aits features`): a failure prints "aits: error: ..."
// and ends with the exit code of cli.h.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>

#include "aits/core/status.h"

namespace aits::app {

// The path of aits-train beside this binary; FailedPrecondition naming `who` (the command that
// needs it) when it is not there.
Result<std::string> FindTrainer(std::string_view who);

// `models`, `train` / `evaluate` as commands that run aits-train with their arguments, and `ml`.
void AddMlCommands(CLI::App& app);

}  // namespace aits::app
