// ExecutionClient: the seam between the kernel and whoever executes its orders. The backtest and
// paper modes plug in the SimulatedVenue; live mode will plug in the MetaTrader gateway (later
// FIX) behind the same interface, so the kernel's object graph does not change between modes.
//
// A client reports what happens to orders by publishing aits::Fill and OrderUpdate on the
// kernel's bus (a fill before the update of the order it fills), from the kernel's thread.
#pragma once

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

class ExecutionClient {
 public:
  virtual ~ExecutionClient() = default;

  // Instruments must be added before orders for them are submitted.
  virtual void AddInstrument(const Instrument& instrument) = 0;
  // Takes an order and returns its id at once; its fate arrives later on the bus.
  virtual OrderId Submit(const OrderRequest& request, Timestamp now) = 0;
  // Records an order the kernel refused before sending it (a pre-trade risk check), under the
  // client's id sequence so that every order has one id space, and publishes its rejection.
  virtual OrderId SubmitRejected(const OrderRequest& request, RejectReason reason,
                                 std::string detail, Timestamp now) = 0;
  // FailedPrecondition if the order is already finished, NotFound if unknown.
  virtual Status Cancel(OrderId id, Timestamp now) = 0;
  // Sets or clears the SL/TP attached to the open position of `instrument`.
  virtual Status SetProtection(InstrumentId instrument, std::optional<Price> stop_loss,
                               std::optional<Price> take_profit) = 0;
  // The order's current state, or nullptr if the client no longer keeps it.
  virtual const Order* FindOrder(OrderId id) const = 0;

  // Market data as the kernel sees it. A simulated venue matches on it; a live broker, which
  // has its own feed, may ignore it.
  virtual void OnTick(const Tick& /*tick*/) {}
  virtual void OnBar(const Bar& /*bar*/) {}
};

}  // namespace aits::execution
