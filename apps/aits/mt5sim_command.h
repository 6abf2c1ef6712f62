// `aits mt5-sim`: the MetaTrader 5 terminal simulator (docs/metatrader.md, "Terminal simulator")
// connecting out to a gateway, replaying real ticks, answering as an EA on a terminal does.
#pragma once

#include <CLI/CLI.hpp>

namespace aits::app {

// Registers the `mt5-sim` subcommand on `app`; it runs from the subcommand's callback (Ctrl-C or
// SIGTERM stops it cleanly), and a failure exits as every command does (cli.h).
void AddMt5SimCommand(CLI::App& app);

}  // namespace aits::app
