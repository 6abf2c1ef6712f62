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
// Stop-out: when equity x 100 falls below used margin x VenueConfig::stop_out_level, the venue
// reports it (AccountReport, reason stop_out), cancels every live order and closes every
// position with market orders of its own (comment "stop_out"), once until no margin is used.
//
// The venue keeps only what it needs to match: the live (travelling or resting) orders, without
// their strings, by ticket; the order itself, finished or not, is the kernel's (OrderManager).
// Every event goes out as an ExecutionReport to ExecutionEvents. Tickets count from 1 and are
// the venue's own: they differ from the kernel's OrderIds as soon as the kernel refuses an
// order (it never reaches the venue) or the venue opens one. A position's ticket is the ticket
// of the order that opened it (MetaTrader's rule on both account kinds).
//
// Hedging accounts (VenueConfig::account_mode, docs/execution.md "Hedging accounts"): every fill
// of an order that names no position opens a position of its own, with the order's ticket and
// SL/TP; an order naming a position (OrderRequest::position_ticket) closes it in full or in part
// and is rejected with kInvalidPosition if the venue holds no such position, or if the order is
// on the position's side, larger than it or not a market order. SL/TP, SetPositionProtection and
// the stop-out act on positions by ticket. Margin per instrument is that of the larger of the
// long and short volumes (MetaTrader 5's SYMBOL_MARGIN_HEDGED_USE_LEG).
//
// Single-threaded: called only from the kernel's thread.
#pragma once

#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

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
  // Margin level (equity / used margin, percent) below which the venue closes every position at
  // market, as a broker's stop-out does; 0 disables. MetaTrader brokers commonly use 50.
  double stop_out_level = 50;
  // One net position per instrument, or a position per opening fill (docs/execution.md).
  AccountMode account_mode = AccountMode::kNetting;
  // latency >= 0, slippage >= 0, commission valid, stop-out level in 0..1000
  Status Validate() const;
};

class SimulatedVenue final : public ExecutionClient {
 public:
  // `events` and `account` must outlive the venue.
  SimulatedVenue(VenueConfig config, ExecutionEvents& events, const AccountOracle& account);
  ~SimulatedVenue() override;
  SimulatedVenue(const SimulatedVenue&) = delete;
  SimulatedVenue& operator=(const SimulatedVenue&) = delete;

  // Instruments must be added before orders for them arrive. Ids index a dense table.
  void AddInstrument(const Instrument& instrument) override;

  // Takes an order (at order.created); returns its ticket. Problems that need no market
  // (quantity, prices, unknown instrument) reject at once; the rest is checked on arrival.
  uint64_t Submit(const Order& order) override;
  Duration ExpectedLatency() const override { return config_.latency; }
  // Cancels a resting or in-transit order; NotFound if the venue holds no such live order.
  Status Cancel(OrderId id, uint64_t venue_order_id, Timestamp now) override;
  // Sets or clears the SL/TP attached to the open position of `instrument`. FailedPrecondition on
  // a hedging account, whose positions are named by ticket (SetPositionProtection).
  Status SetProtection(InstrumentId instrument, std::optional<Price> stop_loss,
                       std::optional<Price> take_profit) override;
  // The same for the position `position_ticket` of `instrument` (on a netting account, the net
  // position's ticket or 0). NotFound if the venue holds no such position.
  Status SetPositionProtection(InstrumentId instrument, uint64_t position_ticket,
                               std::optional<Price> stop_loss,
                               std::optional<Price> take_profit) override;

  // Tick mode: processes arrivals due by tick.ts, resting orders, SL/TP and DAY expiry.
  void OnTick(const Tick& tick) override;
  // Bar mode: fills waiting market orders at the bar's open, then limit/stop/SL/TP within it.
  void OnBar(const Bar& bar) override;
  // Bar mode: the stop-out check at the bar's close.
  void OnBarClosed(const Bar& bar) override;

  // The venue's positions, working orders and balance (ExecutionClient::Snapshot). The balance is
  // the account's (AccountOracle::Balance) unless a seed set one: then the seeded balance moved by
  // the balance changes of the fills the venue made since (the broker's ledger).
  Result<AccountState> Snapshot() const override;
  // Replaces what the venue holds with `state`, as a broker holds it: positions (on a netting
  // account one net position per instrument, on a hedging account any number of positions per
  // instrument, each with its ticket and open price; ticket 0 gets the next ticket) and
  // working limit/stop orders (client order id, ticket, lots ordered and filled, price, time in
  // force), resting from `now` and unknown to the kernel until it adopts them, and the balance
  // when the state has one (unset: the venue's balance stays what it was). Everything the
  // venue held before (positions, SL/TP, live orders) is dropped without a report. Tickets
  // issued later follow the highest seeded one. For tests and scenarios (a broker whose account
  // differs from the node's log) and for replaying a logged reconciliation. InvalidArgument
  // naming the item on an unknown instrument, two positions in one instrument (netting), a
  // duplicate ticket, a market order or one without a positive price, or filled lots outside
  // 0..ordered.
  Status Seed(const AccountState& state, Timestamp now);

  // Broker-side net position (signed lots; on a hedging account the sum of the positions) and, on
  // a netting account, its ticket (0 when flat).
  Quantity NetLots(InstrumentId instrument) const;
  uint64_t PositionTicket(InstrumentId instrument) const;
  // Hedging account: how many positions the instrument has, and the signed lots of the position
  // with this ticket (zero if there is none).
  size_t PositionCount(InstrumentId instrument) const;
  Quantity PositionLots(InstrumentId instrument, uint64_t ticket) const;
  // Orders travelling or resting.
  size_t OpenOrderCount() const { return live_.size(); }
  uint64_t stop_outs() const { return stop_outs_; }

 private:
  // Implementation detail; see simulated_venue.cc.
  struct InstrumentState;
  struct PriceRange;  // bid/ask OHLC seen by one tick (degenerate) or one bar

  struct LiveOrder;  // what matching needs of a travelling or resting order

  InstrumentState* StateOf(InstrumentId id);
  const InstrumentState* StateOf(InstrumentId id) const;
  LiveOrder* Live(uint64_t ticket);
  RejectReason ValidateRequest(const OrderRequest& request, const Instrument& instrument) const;

  // An order from its first sight at the venue: rejected, filled at once or kept as live.
  void Enter(LiveOrder& order, InstrumentState& state, Timestamp now);
  void ProcessArrivals(InstrumentState& state, const PriceRange& range, Timestamp now);
  // `stored`: the order is in live_ (else it is a local about to be stored if it rests).
  void Arrive(LiveOrder& order, bool stored, InstrumentState& state, const PriceRange& range,
              Timestamp now);
  void CheckResting(InstrumentState& state, const PriceRange& range, Timestamp now);
  void CheckProtection(InstrumentState& state, const PriceRange& range);
  void CheckHedgedProtection(InstrumentState& state, const PriceRange& range);
  // Whether `order`, which names a position, can close it now (hedging: a position with that
  // ticket on the other side holding at least the order's lots; netting: the net position).
  bool CanClose(const LiveOrder& order, const InstrumentState& state) const;
  // Validates and sets the protection of the position on `side` of `lots_raw` lots; reports it.
  Status ApplyProtection(InstrumentState& state, Side side, int64_t lots_raw, uint64_t ticket,
                         std::optional<Price>* stop_loss_slot,
                         std::optional<Price>* take_profit_slot, std::optional<Price> stop_loss,
                         std::optional<Price> take_profit);
  bool MarginAllows(const LiveOrder& order, const InstrumentState& state, Price price) const;
  // Reports a final state other than a fill (rejected, canceled, expired) and forgets the order.
  void Finish(LiveOrder& order, bool stored, ExecKind kind, RejectReason reason, Timestamp now);
  void FillOrder(LiveOrder& order, bool stored, InstrumentState& state, Price price, Timestamp ts,
                 FillReason reason);
  void ApplyFillToPosition(InstrumentState& state, const LiveOrder& order, Price price);
  // Hedging: opens a position or closes (part of) the one the order names; returns its ticket.
  uint64_t ApplyHedgedFill(InstrumentState& state, const LiveOrder& order, Price price);
  Price Slipped(const InstrumentState& state, Price price, Side side) const;
  ExecutionReport ReportOf(const LiveOrder& order, ExecKind kind, Timestamp ts) const;
  // An order of the venue's own (SL/TP close, stop-out), announced with a kNew report.
  // `position_ticket`: the position it closes, on a hedging account (0 on a netting one).
  LiveOrder OpenOwnOrder(const InstrumentState& state, Side side, int64_t lots_raw, TimeInForce tif,
                         const char* comment, Timestamp now, uint64_t position_ticket = 0);
  void CheckStopOut(Timestamp now);
  // CheckStopOut's fast path: an equity (raw) from which the account is certainly above the
  // stop-out level at used margin `margin` (the maximum when none is found).
  void SetSafeBound(Money margin);
  Money safe_bound_margin_;
  int64_t safe_equity_from_ = std::numeric_limits<int64_t>::max();

  VenueConfig config_;
  ExecutionEvents& events_;
  const AccountOracle& account_;
  std::vector<std::unique_ptr<InstrumentState>> states_;  // index = InstrumentId
  std::unordered_map<uint64_t, LiveOrder> live_;          // by ticket; stable references
  uint64_t next_ticket_ = 1;
  uint64_t next_deal_ = 1;     // ExecutionReport::exec_id of the fills, counted from 1
  bool stopping_out_ = false;  // until no margin is used again
  // The broker's balance since a seed set one (else the account's is reported).
  std::optional<Money> ledger_;
  uint64_t stop_outs_ = 0;
};

}  // namespace aits::execution
