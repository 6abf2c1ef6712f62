// `aits serve --role ROLE[,ROLE...]`: the system's roles, in one process or one per process over
// NATS JetStream (docs/services.md).
#pragma once

#include <CLI/CLI.hpp>

namespace aits::app {

void AddServeCommand(CLI::App& app);

}  // namespace aits::app
