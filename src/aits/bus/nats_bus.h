// The MessageBus over NATS JetStream (Debian's nats-server 2.9 through cnats 3.4): streams on the
// server's file storage, publishes de-duplicated by the Nats-Msg-Id header, pull consumers with
// explicit acknowledgement. Semantics are those of message_bus.h; where JetStream's own reach
// further (clusters), docs/services.md says so.
//
// The connection reconnects on its own, forever, every `reconnect_wait` (with jitter). While it is
// down, calls fail with Unavailable or DeadlineExceeded after `request_timeout`; a publish that
// timed out may still have been stored, and retrying it with the same id stores it once.
//
// Thread-safe, as MessageBus. cnats is visible only to nats_bus.cc.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aits/bus/message_bus.h"
#include "aits/core/status.h"
#include "aits/core/time.h"

namespace aits::bus {

struct NatsOptions {
  std::vector<std::string> servers;  // nats://host:port; several for a cluster
  std::string name = "aits";         // shown by the server (connz)
  Duration connect_timeout = Duration::Seconds(2);
  Duration request_timeout = Duration::Seconds(5);  // JetStream API calls and publish acks
  Duration reconnect_wait = Duration::Millis(250);
};

// The servers of a comma-separated list, as a --bus flag gives them
// ("nats://a:4222,nats://b:4222"); empty items are skipped.
std::vector<std::string> NatsServers(std::string_view list);

// Connects and checks that JetStream is enabled. Unavailable naming the servers if none answers,
// FailedPrecondition if JetStream is off.
Result<std::unique_ptr<MessageBus>> ConnectNats(const NatsOptions& options);

}  // namespace aits::bus
