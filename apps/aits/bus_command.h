// `aits bus ...`: an operator's tools for the NATS JetStream streams of the services (Debian
// packages no NATS command-line client): a stream's backup and restore through JetStream's
// snapshot API (docs/deployment.md, "Backups"), a backup file's description, the state of
// streams and their durable consumers, and a publish and a read for checks by hand and the
// deployment's smoke test.
#pragma once

#include <CLI/CLI.hpp>

namespace aits::app {

void AddBusCommand(CLI::App& app);

}  // namespace aits::app
