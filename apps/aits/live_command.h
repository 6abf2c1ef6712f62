// `aits live`: the node trading a MetaTrader 5 account through the gateway (docs/metatrader.md,
// "aits live"); a resumable session like `aits paper`, whose feed and venue are the terminal's.
#pragma once

#include <CLI/CLI.hpp>

namespace aits::app {

void AddLiveCommand(CLI::App& app);

}  // namespace aits::app
