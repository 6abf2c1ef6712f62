// The account's log on the bus (docs/services.md, "Orders and audit on the bus"): what the
// account's owner (risk, execution) committed to its event log, published for the readers that
// follow the account without owning it — the API, monitoring, notifications.
//
//   ORDERS  orders.<market>  every order as submitted and at each change (OrderUpdate), every fill
//                            (Fill) and every venue report (ExecutionReport): proto envelopes
//                            (aits/proto/messages.h) whose sequence is the event's seq in the log
//   AUDIT   audit.<market>   the session's start and stop, circuit-breaker changes, operator
//                            commands, reconciliations and decisions: JSON
//                            {"seq", "type", "ts", "event"} with the event as logged
// With a tracer, every message carries a traceparent (docs/monitoring.md, "Traces").
//
// One subject per market, in the log's order: ordered per account. Only committed events are
// relayed, so nothing a crash of the owner may still lose reaches the bus. Every message's id is
// "<market>:<seq>" and a relay starts after the last event each stream holds (LastMessage), so a
// relay that restarts, or publishes a batch again after a failure, neither skips nor repeats;
// each message is acknowledged before the next is sent (bus::PublishInOrder), so that the last
// one a stream holds has every earlier one before it.
//
// Thread-compatible: one relay per log, on one thread (the owner runs it beside its session).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "aits/bus/message_bus.h"
#include "aits/core/status.h"
#include "aits/persistence/event_store.h"
#include "aits/trace/span_index.h"
#include "aits/trace/tracer.h"

namespace aits::services {

inline constexpr std::string_view kOrdersStream = "ORDERS";
inline constexpr std::string_view kAuditStream = "AUDIT";

// Creates ORDERS (orders.>) and AUDIT (audit.>), or checks the existing ones.
Status EnsureLogStreams(bus::MessageBus& bus, int replicas = 1);

// Where an event of the log goes: ORDERS, AUDIT, or nowhere (ticks, clock steps, signals,
// account checkpoints and reports stay in the log).
enum class RelayedTo : uint8_t { kNowhere, kOrders, kAudit };
RelayedTo RelayedToOf(persistence::EventType type);

struct RelayStats {
  uint64_t orders = 0;    // messages published to ORDERS by this relay
  uint64_t audit = 0;     // and to AUDIT
  uint64_t stored = 0;    // of those, stored (the rest: already there)
  uint64_t scanned = 0;   // events of the log read
  uint64_t last_seq = 0;  // the last event relayed or found relayed (0: none yet)
};

class LogRelay {
 public:
  // `events`: the owner's log (a SQLite file or "postgresql://…#session"), opened read-only at
  // the first Relay that finds it (the owner creates it). `market`: one subject token.
  // InvalidArgument naming the market when it is not one.
  // `tracer` (not owned; none: no traceparent): each message is published under a span of its
  // own, "orders.publish" or "audit.publish" (producer): an order's events under the order's
  // span when `orders` has it (session::PaperOptions::order_traces), the rest as roots.
  static Result<std::unique_ptr<LogRelay>> Create(bus::MessageBus& bus, std::string events,
                                                  std::string market,
                                                  trace::Tracer* tracer = nullptr,
                                                  const trace::SpanIndex* orders = nullptr);

  // Publishes every event committed since the last call; at the first, every one after what the
  // streams already hold. A log that does not exist yet relays nothing. A batch that outlasts
  // the bus's retries is an error; the next call publishes it again (the same ids).
  Status Relay();

  const RelayStats& stats() const { return stats_; }

 private:
  LogRelay(bus::MessageBus& bus, std::string events, std::string market, trace::Tracer* tracer,
           const trace::SpanIndex* orders);
  // The traceparent a message about `order_id` (0: none) goes with; empty without a tracer.
  std::string Traced(std::string_view name, const std::string& subject, uint64_t seq,
                     uint64_t order_id);
  Status Start();
  Status Publish(std::string_view stream_subject, std::vector<bus::OutgoingMessage>& batch);

  bus::MessageBus& bus_;
  const std::string events_;
  const std::string market_;
  const std::string orders_subject_;
  const std::string audit_subject_;
  trace::Tracer* const tracer_;
  const trace::SpanIndex* const orders_index_;
  std::unique_ptr<persistence::EventStore> log_;
  // The last seq each stream holds: an event goes to its stream only after it.
  uint64_t orders_last_ = 0;
  uint64_t audit_last_ = 0;
  uint64_t next_ = 1;  // the next event to read
  RelayStats stats_;
};

}  // namespace aits::services
