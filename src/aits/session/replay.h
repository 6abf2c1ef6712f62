// Reading a session back from its event log: the state rebuilt from the log alone, a full replay
// through a fresh kernel, and the decision record behind an order.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "aits/core/status.h"
#include "aits/model/order.h"
#include "aits/persistence/event_store.h"
#include "aits/session/session.h"
#include "aits/session/session_spec.h"

namespace aits::session {

// Orders, positions and the account as the log says they are: orders from their last update
// (or the submission when none followed), the position and the balance by booking every logged
// fill into a fresh portfolio marked with the logged ticks, with the positions reconciliations
// took from the venue or let go set where they happened. Independent of the kernel, strategy
// and venue, so it can check what a resumed kernel rebuilt.
struct LogState {
  SessionSpec spec;
  uint64_t events = 0;
  uint64_t ticks = 0;
  uint64_t fills = 0;
  uint64_t decisions = 0;
  uint64_t reconciliations = 0;                   // starts that found the venue's account different
  std::map<uint64_t, Order> orders;               // by order id
  std::vector<std::string> in_flight_client_ids;  // submitted, no update yet
  std::vector<std::string> duplicate_client_ids;  // submitted more than once (should be none)
  Quantity position;                              // signed lots of the first traded instrument
  Price avg_price;
  // Per instrument, by kernel id: signed lots, ticks logged, and the last logged tick.
  std::vector<Quantity> positions;
  std::vector<uint64_t> ticks_by_instrument;
  std::vector<std::optional<Tick>> last_ticks;
  std::vector<int64_t> last_source_msc;  // a live feed's time of that tick (0: none)
  // The exec_ids of the venue's fill reports (an asynchronous venue's), in log order.
  std::vector<uint64_t> venue_exec_ids;
  Money balance;
  Money equity;
  std::string breaker = "normal";
  bool clean_stop = false;  // the last event is a session stop
  std::optional<Tick> last_tick;
};

// DataLoss (from the store) if the log is damaged: nothing after the damage is used, and the
// message names the file and seq.
Result<LogState> RebuildFromLog(const persistence::EventStore& store);

// The spec recorded at the head of the log; InvalidArgument if the log does not start with one.
Result<SessionSpec> ReadSessionSpec(const persistence::EventStore& store);

// Feeds every logged event through `session` (a fresh one, verifying). Returns true if the
// session reproduced the whole log, false at the first divergence (session.divergence());
// `events` counts the events read. Errors: the store's, e.g. DataLoss at a damaged row.
Result<bool> FollowLog(const persistence::EventStore& store, Session& session, uint64_t* events);

struct ReplayResult {
  bool equal = false;
  Divergence divergence;  // when !equal
  uint64_t events = 0;
  uint64_t ticks = 0;
  uint64_t orders = 0;
  uint64_t fills = 0;
  Account account;  // the replayed kernel's, at the end
  LogState logged;  // the log's own view, for the P&L comparison
};

// Re-runs the logged session through a fresh kernel and compares every output with the log.
Result<ReplayResult> Replay(const persistence::EventStore& store, const SignalFactory& signals);

// The decision record that created order `order_id` (JSON), and every later event of that order
// (described). NotFound if no decision names the order.
struct Explanation {
  std::string decision_json;
  std::vector<std::string> order_events;
};
Result<Explanation> ExplainOrder(const persistence::EventStore& store, uint64_t order_id);

}  // namespace aits::session
