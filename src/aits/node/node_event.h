// NodeEvent: what travels through the kernel thread's inbox (Inbox<NodeEvent>, inbox.h) to the
// event loop (event_loop.h). One variant of the kinds of input a node has: market data from a
// data client, an asynchronous execution client's execution and account reports (the venue's
// answers, venue-neutral: aits/model/events.h), an operator command, and a producer's report
// about itself (connected, end of data, error). Timers are not events: the loop wakes for them
// itself (WaitPop's deadline).
//
// Every alternative owns its data and moves without throwing, as the inbox requires. The venue's
// reports are boxed: an ExecutionReport is several times the size of a tick, every slot of the
// ring is as large as the largest alternative, and reports are rare next to ticks.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>

#include "aits/core/status.h"
#include "aits/model/events.h"
#include "aits/model/market.h"
#include "aits/trace/traceparent.h"

namespace aits::node {

// Producer ids are handed out by the loop (EventLoop::AddProducer, AddClient): 0, 1, ...
using ProducerId = uint32_t;

// The stamp of a hand-off (the pushed_ns fields below): steady_clock now, in nanoseconds.
inline int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// One tick from a data client.
struct MarketData {
  ProducerId client = 0;
  Tick tick;
  // steady_clock nanoseconds just before the client pushed it: the start of the hand-off, so the
  // loop can measure the time an event spends between threads.
  int64_t pushed_ns = 0;
  // A live feed's own time of the tick (MetaTrader: the server's time_msc; 0: none), logged with
  // it so that a resumed session continues the feed right after its last logged tick.
  int64_t source_msc = 0;
};

// An operator command (JSON text, e.g. {"command":"breaker","state":"halted","reason":"..."}).
// Whoever sends it (the event store's commands table, a test, a future API) sends this.
struct OperatorCommand {
  std::string text;
  // The row id in the event store's commands table when it came from there (the kernel thread
  // marks that row applied), 0 for a command given in-process.
  int64_t store_id = 0;
  // No command (text empty): the command feed asks the node to commit its open batch, because
  // a command's writer is waiting for the log's lock, which the node holds for a whole batch
  // while it waits for the market (LoopTarget::OnFlush).
  bool flush = false;
};

enum class ProducerState : uint8_t {
  kConnected,  // started and delivering (a live client: the link to the broker is up)
  kEndOfData,  // a finite source has delivered everything; nothing more comes from it
  kError,      // it stopped on an error (message); nothing more comes from it
  // A live client lost its link (error: the peer and the reason) and is waiting for it to come
  // back; it goes on delivering after its next kConnected, so it has not finished.
  kDisconnected,
};
std::string_view ToString(ProducerState state);

// A producer's report about itself. Pushed after every event it sent before, so the loop has seen
// all of a client's data when it sees that client's end of data or error.
struct ProducerStatus {
  ProducerId producer = 0;
  ProducerState state = ProducerState::kConnected;
  // kError: what went wrong, with its code (bad data: kInvalidArgument; I/O: kIoError) and a
  // message naming the file/line/field or the peer. OK for the other states.
  Status error;
};

// One report of an asynchronous execution client (execution_client.h) about one order.
struct ExecutionReportEvent {
  ProducerId client = 0;
  std::unique_ptr<ExecutionReport> report;  // never null in an event pushed by a producer
  // steady_clock nanoseconds just before the push (MarketData::pushed_ns); 0 if not measured.
  int64_t pushed_ns = 0;
  // The span of the report as it arrived from a venue in another process (the bus venue's
  // exec.report: docs/monitoring.md, "Traces"), under which the session opens its fill's span;
  // invalid (the default): none. Small enough that the event stays smaller than MarketData.
  trace::SpanContext trace;
};

// The same client's view of the account.
struct AccountReportEvent {
  ProducerId client = 0;
  std::unique_ptr<AccountReport> report;  // never null in an event pushed by a producer
  int64_t pushed_ns = 0;
};

using NodeEvent = std::variant<MarketData, OperatorCommand, ProducerStatus, ExecutionReportEvent,
                               AccountReportEvent>;

}  // namespace aits::node
