// Strategy API. A strategy receives ticks, bars, fills, order updates and timers from the kernel
// and submits orders through its StrategyContext. It never reads the clock, files or network
// itself, so the same strategy runs unchanged in backtest, paper and live modes.
//
// Call order for one tick (tick data): OnFill/OnOrderUpdate for anything the tick filled, then
// OnBar if the tick closed a bar, then OnTick. For bar data: fills at the bar's open, then OnBar.
// All calls come from the kernel thread; a strategy needs no locking.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/model/instrument.h"
#include "aits/model/market.h"
#include "aits/model/order.h"

namespace aits::strategy {

struct TimerEvent {
  uint64_t id = 0;
  Timestamp ts;
};

// What the kernel offers a strategy. Implemented by the kernel.
class StrategyContext {
 public:
  virtual ~StrategyContext() = default;
  virtual Timestamp Now() const = 0;
  // Submits an order; the returned id identifies later fills and updates. A rejection arrives as
  // an OnOrderUpdate with status kRejected and its reason.
  virtual OrderId Submit(const OrderRequest& request) = 0;
  virtual Status Cancel(OrderId id) = 0;
  virtual const Position& position(InstrumentId instrument) const = 0;
  // Signed lots of this strategy's orders that are submitted but not finished yet (travelling to
  // the venue, or resting). position + pending is where the position is heading.
  virtual Quantity PendingLots(InstrumentId instrument) const = 0;
  virtual Account account() const = 0;
  virtual const Instrument& instrument(InstrumentId instrument) const = 0;
  // The latest quote, if any has arrived.
  virtual std::optional<Tick> LastQuote(InstrumentId instrument) const = 0;
  // Converts an amount earned on `instrument` (in its quote currency) to the account currency at
  // the current rates; sizing uses it to value a price move.
  virtual Money ToAccount(InstrumentId instrument, Money amount_in_quote) const = 0;
  // Calls OnTimer(id) when simulated (or wall) time reaches `at`.
  virtual void SetTimer(Timestamp at, uint64_t id) = 0;
  // How the account holds positions. On a hedging account position() is the net of the
  // instrument's positions, and an order that names no position opens a new one.
  virtual AccountMode account_mode() const { return AccountMode::kNetting; }
  // Hedging account: the instrument's open positions, oldest first, less the lots that orders
  // still in flight are closing (positions being closed in full are left out). Empty on netting.
  virtual std::vector<HedgedPosition> OpenPositions(InstrumentId /*instrument*/) const {
    return {};
  }
};

// Sends `request` as a netting account would take it, on any account: on a hedging account the
// part of a market order that reduces the net position closes open positions by ticket, oldest
// first (FIFO), and only the rest opens a new position; a flip is a close and an open. Elsewhere
// (netting, an order that already names a position, a limit or stop) it is one Submit. Each
// order's client id comes from `client_id` when given (called once per order, in sending order),
// else from the request. Returns the id of the last order sent; when `sent` is given, every order
// sent is appended to it (id and request as submitted, client id included), in sending order.
struct SentOrder {
  OrderId id;
  OrderRequest request;
};
OrderId SubmitNetted(StrategyContext& context, const OrderRequest& request,
                     const std::function<std::string()>& client_id = {},
                     std::vector<SentOrder>* sent = nullptr);

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual std::string_view name() const = 0;
  virtual void OnStart(StrategyContext& context) { context_ = &context; }
  virtual void OnTick(const Tick& /*tick*/) {}
  // Whether OnTick does anything. A strategy that trades on bars only answers false, and the
  // kernel then skips the call on every tick; the default is true, so no OnTick is ever missed.
  virtual bool WantsTicks() const { return true; }
  virtual void OnBar(const Bar& /*bar*/) {}
  virtual void OnFill(const Fill& /*fill*/) {}
  virtual void OnOrderUpdate(const Order& /*order*/) {}
  virtual void OnTimer(const TimerEvent& /*timer*/) {}
  virtual void OnStop() {}

 protected:
  StrategyContext& context() { return *context_; }
  // Sends the market order that moves the position of `instrument` to `target_lots` (signed),
  // counting orders still in flight; nothing if it is already there or on its way.
  void MoveToTarget(InstrumentId instrument, Quantity target_lots, std::string tag);

 private:
  StrategyContext* context_ = nullptr;
};

// Named, typed parameters with validation. Every key must be consumed: a key the strategy does
// not know is an error (a typo in a config file must not be silently ignored).
class StrategyParams {
 public:
  StrategyParams() = default;
  explicit StrategyParams(std::map<std::string, std::string> values) : values_(std::move(values)) {}
  // Parses "fast=10,slow=30,mode=long_short".
  static Result<StrategyParams> Parse(std::string_view text);

  void Set(std::string key, std::string value) { values_[std::move(key)] = std::move(value); }
  Result<int> Int(std::string_view key, int default_value, int min_value, int max_value);
  Result<double> Double(std::string_view key, double default_value, double min_value,
                        double max_value);
  Result<std::string> Choice(std::string_view key, std::string default_value,
                             const std::vector<std::string>& allowed);
  // InvalidArgument naming the first key no getter asked for.
  Status CheckAllUsed(std::string_view strategy_name) const;
  const std::map<std::string, std::string>& values() const { return values_; }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> used_;
};

struct StrategyInfo {
  std::string name;
  std::string description;
  std::string parameters;  // one line per parameter: "fast (int, 10): fast SMA period"
};

// The built-in strategies, for --help and `aits strategies`.
const std::vector<StrategyInfo>& BuiltInStrategies();

// Builds a built-in strategy by name for one instrument. Errors name the bad parameter and value.
Result<std::unique_ptr<Strategy>> MakeStrategy(std::string_view name, StrategyParams params,
                                               const Instrument& instrument);

}  // namespace aits::strategy
