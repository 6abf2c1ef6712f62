// `aits secret seal|unseal`: files kept encrypted at rest under the master key (docs/api.md,
// "Secrets at rest"): backups, and the EA's secret for --token-file.
#pragma once

#include <CLI/CLI.hpp>

namespace aits::app {

void AddSecretCommand(CLI::App& app);

}  // namespace aits::app
