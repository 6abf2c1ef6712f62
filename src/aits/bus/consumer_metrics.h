// A reader's lag on its role's /metrics (docs/monitoring.md): a Consumer that passes every call
// through to the one it wraps and, after each Fetch, sets
//   aits_bus_consumer_pending_messages{stream,consumer}  Delivery::pending of the last message
//                                                        fetched: what still waits for it
//   aits_bus_redeliveries_total{stream,consumer}         messages fetched with delivered > 1
// A Fetch that returns nothing leaves the gauge where it was: 0 after a fetch that caught up, so
// an idle reader that is up to date reads 0, and one that stopped fetching keeps its last lag.
//
// Cost: per Fetch, one relaxed store; per message, a compare (and one relaxed add per batch
// that held a redelivery). The registry's mutex is taken only when the consumer is wrapped.
//
// Thread-safety: as the wrapped Consumer (one thread at a time). Two readers with the same labels
// in one process share the series; the readers name themselves apart (ConsumerLabel).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "aits/bus/message_bus.h"
#include "aits/core/metrics.h"
#include "aits/core/status.h"

namespace aits::bus {

// The `consumer` label of a reader: a durable's name (what `nats consumer info` knows it by);
// for an ephemeral consumer, whose server-side name is random and new at every start,
// "<reader>:<filter subject>" (or the filter alone without a reader), stable across restarts.
std::string ConsumerLabel(const ConsumerConfig& config, std::string_view reader);

// `consumer` with its lag exported to `registry` under the labels of `config` (its stream) and
// ConsumerLabel(config, reader); `consumer` itself when `registry` is null (no metrics asked
// for). Errors: the registry's (InvalidArgument: a family of the same name registered otherwise).
Result<std::unique_ptr<Consumer>> WithLagMetrics(std::unique_ptr<Consumer> consumer,
                                                 Registry* registry, const ConsumerConfig& config,
                                                 std::string_view reader);

// MessageBus::Consume, wrapped by WithLagMetrics: what every reader of `aits serve` opens its
// consumer with.
Result<std::unique_ptr<Consumer>> ConsumeMetered(MessageBus& bus, const ConsumerConfig& config,
                                                 Registry* registry, std::string_view reader);

}  // namespace aits::bus
