// NodeEvent: what travels through the kernel thread's inbox (Inbox<NodeEvent>, inbox.h) to the
// event loop (event_loop.h). One variant of the kinds of input a node has today: market data from
// a data client, an operator command, and a producer's report about itself (connected, end of
// data, error). Timers are not events: the loop wakes for them itself (WaitPop's deadline).
//
// Every alternative owns its data and moves without throwing, as the inbox requires.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "aits/core/status.h"
#include "aits/model/market.h"

namespace aits::node {

// Producer ids are handed out by the loop (EventLoop::AddProducer, AddClient): 0, 1, ...
using ProducerId = uint32_t;

// One tick from a data client.
struct MarketData {
  ProducerId client = 0;
  Tick tick;
  // steady_clock nanoseconds just before the client pushed it: the start of the hand-off, so the
  // loop can measure the time an event spends between threads.
  int64_t pushed_ns = 0;
};

// An operator command (JSON text, e.g. {"command":"breaker","state":"halted","reason":"..."}).
// Whoever sends it (the event store's commands table, a test, a future API) sends this.
struct OperatorCommand {
  std::string text;
  // The row id in the event store's commands table when it came from there (the kernel thread
  // marks that row applied), 0 for a command given in-process.
  int64_t store_id = 0;
};

enum class ProducerState : uint8_t {
  kConnected,  // started and delivering (a live client: the link to the broker is up)
  kEndOfData,  // a finite source has delivered everything; nothing more comes from it
  kError,      // it stopped on an error (message); nothing more comes from it
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

using NodeEvent = std::variant<MarketData, OperatorCommand, ProducerStatus>;

}  // namespace aits::node
