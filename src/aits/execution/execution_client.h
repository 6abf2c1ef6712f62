// ExecutionClient: the seam between the kernel and whoever executes its orders. The backtest and
// paper modes plug in the SimulatedVenue; live mode will plug in the MetaTrader gateway (later
// FIX) behind the same interface, so the kernel's object graph does not change between modes.
//
// The kernel owns the orders (execution::OrderManager): it assigns every order its OrderId before
// the client sees it, and keeps the one copy of it. A client is told of an order by Submit and
// answers with ExecutionReports (aits/model/events.h). A report names the order by the venue's
// ticket and, when the venue knows it, by the kernel's id; orders the venue opens itself (its
// stop-out, SL/TP closes) are announced with ExecKind::kNew and get their OrderId then.
//
// Two shapes of client:
//   - Synchronous (the SimulatedVenue): reports go to ExecutionEvents at once, from inside
//     Submit, Cancel, SetProtection, OnTick, OnBar and OnBarClosed. A backtest is deterministic
//     because of it.
//   - Asynchronous (a remote venue: the MetaTrader gateway; node::ThreadedVenue stands in for one
//     in tests): Submit, Cancel and SetProtection hand the request to the client's own thread and
//     return at once, reporting nothing from inside; Submit returns 0 (the ticket comes with the
//     order's first report), Cancel and SetProtection return OK once the request is on its way.
//     The reports come back through the node's inbox (node::ExecutionReportEvent,
//     AccountReportEvent) and the event loop hands them to Kernel::OnExecutionReport on the
//     kernel's thread, in the order the inbox took them. The market-data calls must not block
//     (queue or ignore them). A client that keeps reports back must push them when the loop stops
//     it, without waiting for room (node::Producer::Stop).
//   What the kernel may assume between Submit and an order's first report: nothing about its fate.
//   The order is pending_new (its lots count as pending); it may be cancelled (the cancel follows
//   the order to the venue, in order); its first report may be any of accepted, rejected, a fill
//   or canceled. A cancel or SL/TP change the venue refuses has no report kind: the client counts
//   it; the order stays as the venue's reports say.
//   What the order manager does with the reports a link may deliver late, twice or out of order
//   (OrderManager::Apply, ReportOutcome): a fill before the accept fills the order, and the late
//   accept is stale (or moves a partly filled order to accepted); a report after the order's
//   final state is stale; a fill whose exec_id was applied, a second accept or kNew, is a
//   duplicate; a fill beyond the order's lots is an overfill; a report naming no order or ticket
//   the table holds is unknown. Each of these changes nothing, is counted, and is returned to the
//   caller to log; none is a crash. Fills of one order must arrive in the venue's order, and a
//   venue should give each fill an exec_id (a repeated partial fill without one cannot be told
//   from a second fill except by the lots).
//
// Threads: every call comes from the kernel's thread; a synchronous client reports on it, an
// asynchronous one from its own thread into the inbox only.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/execution/reconciliation.h"
#include "aits/model/events.h"
#include "aits/model/instrument.h"
#include "aits/model/market.h"
#include "aits/model/order.h"

namespace aits::execution {

// Order state changes are model events (aits/model/events.h).
using ::aits::OrderUpdate;

// Where a client sends what it has to say: the kernel's order manager.
class ExecutionEvents {
 public:
  virtual ~ExecutionEvents() = default;
  // One event of one order. A synchronous client calls it re-entrantly from inside its own
  // methods; an asynchronous one never calls it (its reports reach the kernel through the inbox).
  virtual void OnExecutionReport(const ExecutionReport& report) = 0;
  // The venue's view of the account.
  virtual void OnAccountReport(const AccountReport& report) = 0;
};

// What the account side tells a venue that does the broker's arithmetic on the kernel's
// portfolio (the simulated venue); the kernel wires it, so that this module does not depend on
// portfolio. A live venue computes its own account and needs none of it.
class AccountOracle {
 public:
  virtual ~AccountOracle() = default;
  virtual Money FreeMargin() const = 0;
  // Margin that holding `lots` (positive) of the instrument at `price` requires, account currency.
  virtual Money MarginRequired(const Instrument& instrument, Quantity lots, Price price) const = 0;
  // Notional of `lots` at `price`, in the account currency (for commissions).
  virtual Money NotionalInAccount(const Instrument& instrument, Quantity lots,
                                  Price price) const = 0;
  // Balance, equity at the latest marks, and used margin, for the stop-out. The used margin may
  // lag the marks (the kernel refreshes it at each fill and bar close): margin moves with price
  // only slowly, and recomputing it on every tick would cost more than the rest of the tick.
  virtual Money Balance() const { return Money(); }
  virtual Money Equity() const { return Money(); }
  virtual Money UsedMargin() const { return Money(); }
};

class ExecutionClient {
 public:
  virtual ~ExecutionClient() = default;

  // Instruments must be added before orders for them are submitted.
  virtual void AddInstrument(const Instrument& instrument) = 0;
  // Takes the order (order.id, order.request and order.created set by the kernel; the request's
  // client order id is the strategy's, possibly empty). Returns the venue's ticket, or 0 if the
  // ticket comes later in a report (always, for an asynchronous client). The order's fate
  // arrives as reports, possibly before Submit returns (a synchronous client).
  virtual uint64_t Submit(const Order& order) = 0;
  // How long an order takes to reach the venue, for Order::arrives: the simulated venue's
  // configured latency; a live gateway may return its measured estimate.
  virtual Duration ExpectedLatency() const { return Duration(); }
  // Asks to cancel a live order, by the kernel's id and the venue's ticket (0 if not yet known).
  // The cancellation itself arrives as a report. NotFound if the venue does not know the order
  // (a synchronous client; an asynchronous one learns that later, and counts it).
  virtual Status Cancel(OrderId id, uint64_t venue_order_id, Timestamp now) = 0;
  // Sets or clears the SL/TP attached to the open position of `instrument` (netting); reported as
  // a kModified report naming the position's ticket.
  virtual Status SetProtection(InstrumentId instrument, std::optional<Price> stop_loss,
                               std::optional<Price> take_profit) = 0;
  // Sets or clears the SL/TP of one position by its ticket (a hedging account's way; MetaTrader
  // 5's TRADE_ACTION_SLTP with `position`). A client that knows positions only per instrument
  // takes ticket 0 as "the instrument's position" and refuses any other.
  virtual Status SetPositionProtection(InstrumentId instrument, uint64_t position_ticket,
                                       std::optional<Price> stop_loss,
                                       std::optional<Price> take_profit) {
    if (position_ticket == 0) return SetProtection(instrument, stop_loss, take_profit);
    return Status(StatusCode::kUnimplemented,
                  "set_protection: this execution client does not name positions by ticket");
  }

  // What the venue holds on the account now: its open positions (with their tickets and open
  // prices) and its working orders (with the client order id each carries, its ticket and the
  // lots filled so far), in ticket order. The node compares it with the state rebuilt from its
  // event log when it starts (docs/execution.md, "Reconciliation"). The simulated venue answers
  // from its own books; the MetaTrader gateway will answer from the terminal's open positions
  // and orders. Unimplemented for a client that cannot tell (the node then cannot start on it).
  virtual Result<AccountState> Snapshot() const {
    return Status(StatusCode::kUnimplemented, "this execution client cannot report its account");
  }

  // At a restart, before Snapshot: what the venue did while the node was down. `unfinished`: the
  // orders the log holds unfinished, as the kernel rebuilt them (id, request with its client
  // order id, ticket if known, lots filled); `venue_from_msc`: the venue's time (ms) of the log's
  // last live tick or of its oldest unfinished order, whichever is earlier (0: unknown);
  // `known_exec_ids`: the exec_ids of the fills the log holds. A client whose venue outlives the
  // node (the MetaTrader gateway) asks the venue and returns the reports that tell it, in the
  // venue's order: the unfinished orders' fills the log lacks, then a cancellation, an expiry,
  // or a rejection for an order the venue never received; and, from venue_from_msc on, the
  // deals on the node's instruments the log lacks that no order of the node made (an SL, TP or
  // stop-out close, a trade by hand), announced as the venue's own orders (kNew), then filled.
  // The node applies and logs them before it compares the account (docs/execution.md,
  // "Reconciliation"): an order in flight at a kill -9, or a position the venue closed meanwhile,
  // ends as the venue has it, at its prices and commission, instead of as a difference. A venue
  // rebuilt from the log (the simulated one) has nothing to tell: the default.
  virtual Result<std::vector<ExecutionReport>> Recover(
      std::span<const Order> /*unfinished*/, int64_t /*venue_from_msc*/,
      std::span<const uint64_t> /*known_exec_ids*/) {
    return std::vector<ExecutionReport>{};
  }

  // Market data as the kernel sees it. A simulated venue matches on it; a live broker, which
  // has its own feed, may ignore it.
  virtual void OnTick(const Tick& /*tick*/) {}
  virtual void OnBar(const Bar& /*bar*/) {}
  // Bar mode: the kernel has marked the account at the bar's close (after OnBar, which fills at
  // the bar's open and inside its range). A simulated broker checks its stop-out here; a live
  // one, whose broker does that on its own prices, ignores it.
  virtual void OnBarClosed(const Bar& /*bar*/) {}
};

// An execution client that hands every call to another one, which it does not own: for an owner
// that must hand out a client of its own (a session's broker factory) while it keeps the real
// one, and for a test that watches some calls of one. `client` must outlive it.
class ForwardingClient : public ExecutionClient {
 public:
  explicit ForwardingClient(ExecutionClient& client) : client_(client) {}

  void AddInstrument(const Instrument& instrument) override { client_.AddInstrument(instrument); }
  uint64_t Submit(const Order& order) override { return client_.Submit(order); }
  Duration ExpectedLatency() const override { return client_.ExpectedLatency(); }
  Status Cancel(OrderId id, uint64_t venue_order_id, Timestamp now) override {
    return client_.Cancel(id, venue_order_id, now);
  }
  Status SetProtection(InstrumentId instrument, std::optional<Price> stop_loss,
                       std::optional<Price> take_profit) override {
    return client_.SetProtection(instrument, stop_loss, take_profit);
  }
  Status SetPositionProtection(InstrumentId instrument, uint64_t position_ticket,
                               std::optional<Price> stop_loss,
                               std::optional<Price> take_profit) override {
    return client_.SetPositionProtection(instrument, position_ticket, stop_loss, take_profit);
  }
  Result<AccountState> Snapshot() const override { return client_.Snapshot(); }
  Result<std::vector<ExecutionReport>> Recover(std::span<const Order> unfinished,
                                               int64_t venue_from_msc,
                                               std::span<const uint64_t> known_exec_ids) override {
    return client_.Recover(unfinished, venue_from_msc, known_exec_ids);
  }
  void OnTick(const Tick& tick) override { client_.OnTick(tick); }
  void OnBar(const Bar& bar) override { client_.OnBar(bar); }
  void OnBarClosed(const Bar& bar) override { client_.OnBarClosed(bar); }

 private:
  ExecutionClient& client_;
};

}  // namespace aits::execution
