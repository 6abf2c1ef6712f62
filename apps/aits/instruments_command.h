// `aits instruments`: lists the instrument catalogue (the built-in one, plus --instruments FILE on
// top), as a table or JSON. docs/instruments.md describes the catalogue.
#pragma once

#include <CLI/CLI.hpp>

namespace aits::app {

// Registers the `instruments` subcommand on `app`. Like AddFeaturesCommand, it runs from the
// subcommand's callback; a failure prints "aits: error: ..." and throws CLI::RuntimeError with the
// exit code (2 for a malformed catalogue, 1 otherwise).
void AddInstrumentsCommand(CLI::App& app);

}  // namespace aits::app
