// `aits paper`, `aits replay`, `aits explain`, `aits breaker`: paper trading with the decision
// engine and risk manager, its event log, and what can be read back from it. Failures print
// "aits: error: ..." and end with exit code 2 (bad input) or 1.
#pragma once

#include <CLI/CLI.hpp>

namespace aits::app {

void AddPaperCommands(CLI::App& app);

}  // namespace aits::app
