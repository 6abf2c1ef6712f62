// `aits api`: the REST API's set-up (init, users, API keys, signing key rotation) and its server
// over a session's log (docs/api.md).
#pragma once

#include <CLI/CLI.hpp>

namespace aits::app {

// Registers the `api` subcommand and its own subcommands on `app`.
void AddApiCommand(CLI::App& app);

}  // namespace aits::app
