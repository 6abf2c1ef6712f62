// `aits history`: downloads a symbol's ticks or bars for a time range from a MetaTrader 5 terminal
// through the gateway (docs/metatrader.md, "History") into the binary tick store or CSV,
// continuing a file that holds the start of the same download.
#pragma once

#include <CLI/CLI.hpp>

namespace aits::app {

// Registers the `history` subcommand on `app`; it runs from the subcommand's callback, and a
// failure exits as every command does (cli.h).
void AddHistoryCommand(CLI::App& app);

}  // namespace aits::app
