// `aits features`: computes the ML feature set (features/feature_engine.h) over a tick or bar
// file and writes the feature CSV that `aits train` reads (ml/dataset.h).
#pragma once

#include <CLI/CLI.hpp>

namespace aits::app {

// Registers the `features` subcommand on `app`. The command runs from the subcommand's callback
// while `app.parse()` runs; a failure prints "aits: error: ..." and throws CLI::RuntimeError with
// the exit code (2 for bad input, 1 otherwise), which `app.exit()` returns without printing more.
void AddFeaturesCommand(CLI::App& app);

}  // namespace aits::app
