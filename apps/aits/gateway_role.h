// `aits serve --role gateway`: the MetaTrader link as a role of its own (docs/services.md, "The
// gateway role"). It listens for the AitsBridge EA as `aits live` does, applies the account
// owner's commands from the EXEC stream to the terminal (services::RunVenueBridge), publishes the
// terminal's reports back, and the terminal's ticks to MARKET, where the owner (and the features
// role) read them as any market data.
#pragma once

#include <functional>
#include <string>

#include "aits/bus/message_bus.h"
#include "aits/core/metrics.h"
#include "aits/core/status.h"
#include "aits/gateway/gateway.h"
#include "aits/trace/tracer.h"

namespace aits::app {

struct GatewayRoleOptions {
  // The MetaTrader gateway: where the EA connects, its secret, the terminal's symbol names, the
  // transcript, how long a request waits; its instruments are the session's, with its ids (the
  // owner's numbering).
  gateway::GatewayConfig gateway;
  std::string market = "default";  // md.<market>.<SYMBOL>, exec.<market>.*
  bool push = true;                // the commands' consumer
  bool quiet = false;
  bool json = false;
  // /readyz: OK while the EA's link is up.
  std::function<void(Status)> ready;
  // /metrics (not owned), or none: the commands' consumer's lag and redeliveries.
  Registry* metrics = nullptr;
  // Spans (not owned), or none: each MARKET message's md.publish (a root), each command applied
  // and each report published (services::VenueBridgeOptions::tracer).
  trace::Tracer* tracer = nullptr;
};

// Runs the role until a stop signal (or an error that outlasted the bus's retries: the role's
// supervisor restarts it, and it continues the feed and the commands where they stopped). The
// streams (MARKET, EXEC) must exist. Prints the summary; returns the exit code.
int RunGatewayRole(bus::MessageBus& bus, const GatewayRoleOptions& options);

}  // namespace aits::app
