// The model commands of `aits`: `models`, and `train` and `evaluate`, which run the sibling binary
// aits-train (train_commands.h) so that only the commands that train load LibTorch. Commands run
// from their subcommand's callback (like `aits features`): a failure prints "aits: error: ..."
// and ends with the exit code of cli.h.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace aits::app {

// `models`, and `train` / `evaluate` as commands that run aits-train with their arguments.
void AddMlCommands(CLI::App& app);

}  // namespace aits::app
