// ExecutionClient: the seam between the kernel and whoever executes its orders. The backtest and
// paper modes plug in the SimulatedVenue; live mode will plug in the MetaTrader gateway (later
// FIX) behind the same interface, so the kernel's object graph does not change between modes.
//
// The kernel owns the orders (execution::OrderManager): it assigns every order its OrderId before
// the client sees it, and keeps the one copy of it. A client is told of an order by Submit and
// answers with ExecutionReports (aits/model/events.h) through ExecutionEvents: at once, from
// inside Submit/OnTick/OnBar (the simulated venue), or later from the kernel's thread (a remote
// venue, whose answers the node queues to the kernel). A report names the order by the venue's
// ticket and, when the venue knows it, by the kernel's id; orders the venue opens itself (its
// stop-out, SL/TP closes) are announced with ExecKind::kNew and get their OrderId then.
//
// Single-threaded: every call and every report happens on the kernel's thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "aits/core/status.h"
#include "aits/core/time.h"
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
  // One event of one order. May be called re-entrantly from inside the client's own methods.
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
  // ticket comes later in a report. The order's fate arrives as reports, possibly before Submit
  // returns.
  virtual uint64_t Submit(const Order& order) = 0;
  // How long an order takes to reach the venue, for Order::arrives: the simulated venue's
  // configured latency; a live gateway may return its measured estimate.
  virtual Duration ExpectedLatency() const { return Duration(); }
  // Asks to cancel a live order, by the kernel's id and the venue's ticket (0 if not yet known).
  // The cancellation itself arrives as a report. NotFound if the venue does not know the order.
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

  // Market data as the kernel sees it. A simulated venue matches on it; a live broker, which
  // has its own feed, may ignore it.
  virtual void OnTick(const Tick& /*tick*/) {}
  virtual void OnBar(const Bar& /*bar*/) {}
  // Bar mode: the kernel has marked the account at the bar's close (after OnBar, which fills at
  // the bar's open and inside its range). A simulated broker checks its stop-out here; a live
  // one, whose broker does that on its own prices, ignores it.
  virtual void OnBarClosed(const Bar& /*bar*/) {}
};

}  // namespace aits::execution
