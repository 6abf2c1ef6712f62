// Simulated venue: the broker of backtests and paper trading. It receives orders, lets them travel
// for the configured latency, fills them against the quotes it is shown, and publishes order
// updates and fills on the bus. It keeps the broker's view of each net position and its attached
// stop-loss / take-profit, as MetaTrader does, and closes the position when one is touched.
//
// Fill rules (documented in docs/execution.md):
//   tick mode   market: at the touch of the first quote at or after arrival (buy at ask, sell at
//               bid) +- slippage; with zero latency, at the current quote immediately.
//               limit: buy when ask <= limit, sell when bid >= limit, at that touch (never worse).
//               stop: buy when ask >= stop, sell when bid <= stop, at the touch +- slippage.
//               SL/TP of a long: SL when bid <= SL, TP when bid >= TP, at the bid (SL +- slippage);
//               of a short: on the ask. IOC/FOK that cannot fill on arrival expire; DAY orders
//               expire at the end of their UTC day.
//   bar mode    (FillMode::kNextBarOpen) a strategy decides on a bar's close; market orders fill
//               at the next bar's open (ask open for buys, bid open for sells) +- slippage.
//               limit/stop/SL/TP trigger on the bar's high/low and fill at the trigger price, or at
//               the open when the bar gapped through it. If SL and TP are both inside one bar the
//               SL is assumed first (the conservative choice). An order takes part in the first
//               bar given to OnBar after its submission that closes after its arrival; `now` at
//               Submit must be no earlier than the close of the bar the decision was made on.
// Rejections (each with a RejectReason): quantity not positive, off the lot step, outside
// min/max lots; limit/stop without a positive price; SL/TP on the wrong side of the entry; no
// quote yet; free margin short of the margin the order adds. Duplicate client order ids are
// refused before an order gets here, once, by the kernel's order manager (ClientIdWindow).
//
// Single-threaded: called only from the kernel's thread.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "aits/bus/bus.h"
#include "aits/core/status.h"
#include "aits/execution/execution_client.h"
#include "aits/model/instrument.h"
#include "aits/model/market.h"
#include "aits/model/order.h"

namespace aits::execution {

enum class CommissionKind : uint8_t {
  kNone,
  kPerLot,      // rate in account currency per lot per side
  kPerMillion,  // rate in account currency per 1,000,000 of notional (account currency)
  kPercent,     // rate percent of notional (account currency)
};

struct CommissionModel {
  CommissionKind kind = CommissionKind::kNone;
  double rate = 0;
  // Commission for one fill, given its notional already converted to the account currency.
  Money Compute(Quantity lots, Money notional_in_account) const;
  Status Validate() const;  // rate finite and >= 0
};

// Parses "none", "per_lot:7", "per_million:35", "percent:0.01".
Result<CommissionModel> ParseCommission(std::string_view text);

enum class FillMode : uint8_t { kTouch, kNextBarOpen };

inline constexpr int64_t kMaxSlippagePoints = 1'000'000;

struct VenueConfig {
  Duration latency;             // simulated time from submit to arrival at the venue
  int64_t slippage_points = 0;  // adverse points (10^-digits) on market, stop and SL fills
  CommissionModel commission;
  FillMode fill_mode = FillMode::kTouch;
  // Finished orders kept for FindOrder(); older ones are dropped so that memory does not grow
  // with the number of orders. Live orders are always kept. 0 keeps everything.
  size_t order_history = 65'536;
  Status Validate() const;  // latency >= 0, slippage >= 0, commission valid
};

// What the venue asks of the account side; the kernel wires it to the portfolio so that this
// module does not depend on portfolio.
class AccountOracle {
 public:
  virtual ~AccountOracle() = default;
  virtual Money FreeMargin() const = 0;
  // Margin that holding `lots` (positive) of the instrument at `price` requires, account currency.
  virtual Money MarginRequired(const Instrument& instrument, Quantity lots, Price price) const = 0;
  // Notional of `lots` at `price`, in the account currency (for commissions).
  virtual Money NotionalInAccount(const Instrument& instrument, Quantity lots,
                                  Price price) const = 0;
};

class SimulatedVenue final : public ExecutionClient {
 public:
  SimulatedVenue(VenueConfig config, Bus& bus, const AccountOracle& account);
  ~SimulatedVenue() override;
  SimulatedVenue(const SimulatedVenue&) = delete;
  SimulatedVenue& operator=(const SimulatedVenue&) = delete;

  // Instruments must be added before orders for them arrive. Ids index a dense table.
  void AddInstrument(const Instrument& instrument) override;

  // Takes an order; returns its id. Problems that need no market (quantity, prices, duplicate
  // client id, unknown instrument) reject at once; the rest is checked on arrival.
  OrderId Submit(const OrderRequest& request, Timestamp now) override;
  OrderId SubmitRejected(const OrderRequest& request, RejectReason reason, std::string detail,
                         Timestamp now) override;
  // Cancels a resting or in-transit order; FailedPrecondition if it is already done.
  Status Cancel(OrderId id, Timestamp now) override;
  // Sets or clears the SL/TP attached to the open position of `instrument`.
  Status SetProtection(InstrumentId instrument, std::optional<Price> stop_loss,
                       std::optional<Price> take_profit) override;

  // Tick mode: processes arrivals due by tick.ts, resting orders, SL/TP and DAY expiry.
  void OnTick(const Tick& tick) override;
  // Bar mode: fills waiting market orders at the bar's open, then limit/stop/SL/TP within it.
  void OnBar(const Bar& bar) override;

  // The order, or nullptr if unknown or a finished order older than VenueConfig::order_history.
  // The pointer is valid until the next call that can create an order (Submit, OnTick, OnBar).
  const Order* FindOrder(OrderId id) const override;
  // Broker-side net position (signed lots) and its protection.
  Quantity NetLots(InstrumentId instrument) const;
  size_t OpenOrderCount() const;

 private:
  // Implementation detail; see simulated_venue.cc.
  struct InstrumentState;
  struct PriceRange;  // bid/ask OHLC seen by one tick (degenerate) or one bar

  InstrumentState* StateOf(InstrumentId id);
  const InstrumentState* StateOf(InstrumentId id) const;
  Order* OrderAt(uint64_t id);
  const Order* OrderAt(uint64_t id) const;
  Order& NewOrder(const OrderRequest& request, Timestamp now);
  void EvictHistory();
  RejectReason ValidateRequest(const OrderRequest& request, const Instrument& instrument) const;

  void ProcessArrivals(InstrumentState& state, const PriceRange& range, Timestamp now);
  void Arrive(Order& order, InstrumentState& state, const PriceRange& range, Timestamp now);
  void CheckResting(InstrumentState& state, const PriceRange& range, Timestamp now);
  void CheckProtection(InstrumentState& state, const PriceRange& range);
  bool MarginAllows(const Order& order, const InstrumentState& state, Price price) const;
  void Finish(Order& order, OrderStatus status, RejectReason reason, Timestamp now);
  void FillOrder(Order& order, InstrumentState& state, Price price, Timestamp ts,
                 FillReason reason);
  void ApplyFillToPosition(InstrumentState& state, const OrderRequest& request);
  Price Slipped(const InstrumentState& state, Price price, Side side) const;

  VenueConfig config_;
  Bus& bus_;
  const AccountOracle& account_;
  std::vector<std::unique_ptr<InstrumentState>> states_;  // index = InstrumentId
  // Orders with ids [history_base_, history_base_ + size); older finished orders are dropped
  // (VenueConfig::order_history) and older live ones parked, so memory stays bounded.
  std::deque<Order> history_;
  uint64_t history_base_ = 1;
  std::unordered_map<uint64_t, Order> parked_;
  uint64_t next_id_ = 1;
  size_t live_orders_ = 0;
};

}  // namespace aits::execution
