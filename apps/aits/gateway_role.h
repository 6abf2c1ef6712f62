// `aits serve --role gateway`: the MetaTrader link as a role of its own (docs/services.md, "The
// gateway role"). It listens for the AitsBridge EA as `aits live` does, applies the account
// owner's commands from the EXEC stream to the terminal (services::RunVenueBridge), publishes the
// terminal's reports back, and the terminal's ticks to MARKET, where the owner (and the features
// role) read them as any market data.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "aits/bus/message_bus.h"
#include "aits/core/status.h"
#include "aits/model/instrument.h"

namespace aits::app {

struct GatewayRoleOptions {
  std::vector<Instrument> instruments;  // the session's, with its ids (the owner's numbering)
  std::string market = "default";       // md.<market>.<SYMBOL>, exec.<market>.*
  std::string host = "127.0.0.1";       // where the EA connects
  uint16_t port = 5757;
  std::string token;  // the EA's shared secret
  std::vector<std::pair<std::string, std::string>> mt5_names;
  std::string transcript;  // every frame with the EA, appended (empty: none)
  int wait_seconds = 30;   // a request's wait for the EA and the terminal
  bool push = true;        // the commands' consumer
  bool quiet = false;
  bool json = false;
  // /readyz: OK while the EA's link is up.
  std::function<void(Status)> ready;
};

// Runs the role until a stop signal (or an error that outlasted the bus's retries: the role's
// supervisor restarts it, and it continues the feed and the commands where they stopped). The
// streams (MARKET, EXEC) must exist. Prints the summary; returns the exit code.
int RunGatewayRole(bus::MessageBus& bus, const GatewayRoleOptions& options);

}  // namespace aits::app
