// `aits collect`: the data collector beside the MetaTrader 5 terminal (docs/feed.md, "aits
// collect and aits ingest"): a data-only gateway for the AitsBridge EA whose ticks go through the
// collector (validation, the ring, retries, the spill file) to an `aits ingest` over TCP.
#pragma once

#include <CLI/CLI.hpp>

namespace aits::app {

// Registers the `collect` subcommand on `app`; it runs from the subcommand's callback until
// SIGINT or SIGTERM, and a failure exits as every command does (cli.h).
void AddCollectCommand(CLI::App& app);

}  // namespace aits::app
