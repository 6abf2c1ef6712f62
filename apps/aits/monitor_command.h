// `aits monitor`: the market monitor (feed/monitor.h) over recorded tick or bar files: each
// symbol's statistics and every alert it raises and clears (docs/feed.md, "Market monitor").
#pragma once

#include <CLI/CLI.hpp>

namespace aits::app {

// Registers the `monitor` subcommand on `app`; it runs from the subcommand's callback (as
// AddFeaturesCommand).
void AddMonitorCommand(CLI::App& app);

}  // namespace aits::app
