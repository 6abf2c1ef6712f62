// `aits ingest`: the server end of the data collector (docs/feed.md, "aits collect and aits
// ingest"): accepts collectors over TCP, drops the ticks it already has, and appends each
// symbol's ticks to a file in a directory, batch by batch.
#pragma once

#include <CLI/CLI.hpp>

namespace aits::app {

// Registers the `ingest` subcommand on `app`; it runs from the subcommand's callback until
// SIGINT or SIGTERM, and a failure exits as every command does (cli.h).
void AddIngestCommand(CLI::App& app);

}  // namespace aits::app
