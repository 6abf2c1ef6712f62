// The kernel: the one object graph that decides and trades, in every mode.
//
// Kernel is the composition root of the trading core. It builds and wires the bus, the simulated
// venue (or, in live mode later, another ExecutionClient), the portfolio, the bar aggregator and
// the strategy, and it is driven from outside by whoever owns the data: the backtest runner feeds
// it history as fast as it can read; paper mode will feed it on a wall clock. The clock is
// injected; the kernel never reads the system clock, files or the network itself.
//
// One tick's way through (tick data):
//   timers due -> bar aggregator (a finished bar is noted) -> equity sample at the bar's close ->
//   venue (arrivals, resting orders, SL/TP: fills go out on the bus to the portfolio, then to the
//   strategy) -> portfolio marks to market -> strategy.OnBar (if a bar finished) ->
//   strategy.OnTick.
// For bar data (FillMode::kNextBarOpen) each bar goes: venue (fills at the bar's open and within
// its range) -> portfolio -> equity sample -> strategy.OnBar.
//
// Single-threaded and deterministic: the same inputs give the same orders, fills and P&L.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <unordered_map>
#include <vector>

#include "aits/bus/bus.h"
#include "aits/core/clock.h"
#include "aits/core/history_ring.h"
#include "aits/core/status.h"
#include "aits/data/bar_aggregator.h"
#include "aits/execution/client_id_window.h"
#include "aits/execution/execution_client.h"
#include "aits/execution/order_manager.h"
#include "aits/execution/reconciliation.h"
#include "aits/execution/simulated_venue.h"
#include "aits/portfolio/portfolio.h"
#include "aits/risk/risk_manager.h"
#include "aits/trading/strategy.h"

namespace aits::kernel {

inline constexpr int64_t kMaxCash = 1'000'000'000'000;  // account currency units

struct KernelConfig {
  Currency account_currency = Currency::Of("USD");
  Money initial_balance = Money::FromRaw(100'000 * kMoneyScale);
  double leverage = 100;
  // The simulated venue's settings, its stop-out level among them (VenueConfig::stop_out_level:
  // the venue, not the kernel, closes the positions as a broker does).
  execution::VenueConfig venue;
  Duration bar_period = Duration::Minutes(1);  // bars built from ticks for the strategy
  // Pre-trade checks, post-trade limits and the circuit breaker; unset = no risk manager (the
  // backtester's default, where the venue's own margin and lot rules still apply).
  std::optional<risk::RiskLimits> risk;
  // Finished orders, fills and round-trip trade records kept in memory for orders(), fills() and
  // portfolio().trades() (at least this many; at most about twice); older ones are dropped, so a
  // long session whose history lives in its event log runs in flat memory. Unfinished orders are
  // always kept. 0 keeps everything (a backtest reports every order).
  size_t history = 0;
  // Client order ids remembered for duplicate detection: an id is refused while it is among the
  // last this many remembered ones (ClientIdWindow), so memory stays bounded.
  size_t client_id_window = 65'536;
  Status Validate() const;
};

// Published for every order a strategy submits (aits/model/events.h).
using ::aits::OrderSubmitted;

// Builds the execution client once the kernel's order manager and account exist: the client
// reports to `events`. The default builds the SimulatedVenue from KernelConfig::venue; live mode
// passes one that builds its broker gateway.
using ExecutionClientFactory = std::function<std::unique_ptr<execution::ExecutionClient>(
    execution::ExecutionEvents& events, const execution::AccountOracle& account)>;

// One reconciliation at start: both sides' holdings, the comparison, its lines and the plan
// (docs/execution.md, "Reconciliation").
struct Reconciliation {
  execution::ReconcilePolicy policy = execution::ReconcilePolicy::kRefuse;
  execution::AccountState logged;  // the kernel's, rebuilt from the event log
  execution::AccountState venue;   // the execution client's snapshot
  execution::ReconcileReport report;
  std::vector<std::string> lines;  // execution::Describe, one per difference
  std::vector<execution::ReconcileAction> plan;
};

class Kernel final : public strategy::StrategyContext, public execution::AccountOracle {
 public:
  // `clock` must outlive the kernel. Precondition: config.Validate().ok().
  Kernel(const KernelConfig& config, Clock& clock, const ExecutionClientFactory& execution = {});
  ~Kernel() override;
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  // Registers an instrument; its id must equal the number added before (0, 1, ...).
  Status AddInstrument(const Instrument& instrument);
  // Installs the strategy; call before Start().
  void SetStrategy(std::unique_ptr<strategy::Strategy> strategy);
  void Start();

  // Remembers a client order id without submitting an order, as if an order had used it
  // (recovery re-registers the ids of a log). Returns false if it was already remembered.
  bool RememberClientId(std::string_view client_order_id);

  // Reconciliation at start (docs/execution.md, "Reconciliation"); netting: positions match by
  // symbol, hedging: by ticket. Holdings: the portfolio's open positions (netting: the net, no
  // ticket, at its average price; hedging: every position with its ticket and open price) and
  // the order table's unfinished orders, and the portfolio's balance.
  execution::AccountState Holdings() const;
  // Compares Holdings() with the execution client's Snapshot() and plans under `policy`.
  // Errors: the client's, if it cannot report its account; FailedPrecondition listing every
  // difference when the policy is refuse and the two differ. Changes nothing.
  Result<Reconciliation> PlanReconciliation(execution::ReconcilePolicy policy) const;
  // Applies the plan at the clock's time: an adopted balance becomes the portfolio's
  // (Portfolio::SetBalance); adopted and forgotten positions are set in the
  // portfolio without cash (Portfolio::SetPosition); adopted orders join the order table, forgotten
  // ones finish there (OrderManager::Adopt, Abandon); a position to close is first taken as the
  // venue holds it, then closed with a market order tagged `reconcile` that bypasses the risk
  // checks (held until the instrument's first quote if it has none yet), and an order to cancel
  // is adopted, then cancelled at the venue, so that every close and cancel is an ordinary order
  // with its updates and fills on the bus. Call before the first market data of this run.
  Status ApplyReconciliation(const Reconciliation& reconciliation);

  // Drivers: feed market data in time order. The driver owns time: in a backtest it advances its
  // SimulatedClock to the tick's time (to the bar's close for bars) before each call.
  void OnTick(const Tick& tick);
  void OnBar(const Bar& bar);
  // Reports of an asynchronous execution client (execution_client.h), which the node's event
  // loop hands over on the kernel thread in inbox order. The report goes to the order manager as
  // a synchronous client's would; orders the venue opened are counted as pending; a stop-out
  // reported by the venue serves a pending halt (the venue is flattening), as in OnTick. A halt
  // that a report's fill triggers is served at the next market data, after the venue has seen
  // it. Returns what became of the report: anything but kApplied changed nothing, and is
  // counted by the order manager for the caller to log (OrderManager::Describe).
  execution::ReportOutcome OnExecutionReport(const ExecutionReport& report);
  void OnAccountReport(const AccountReport& report);

  // Moves the circuit breaker by hand (an operator command). FailedPrecondition without a risk
  // manager. Halting flattens every position, as a limit-triggered halt does.
  Status SetBreaker(risk::BreakerState state, std::string_view reason);
  // An operator's flatten: cancels every working order and closes every position at market past
  // the risk checks, as a halt does, but leaves the breaker as it is (orders tagged "flatten").
  void FlattenNow() { Flatten("flatten"); }

  // End of data: flushes the bar in progress (delivered to the strategy without trading on it),
  // takes a last equity sample and stops the strategy. Idempotent.
  void Stop();

  Bus& bus() { return bus_; }
  portfolio::Portfolio& portfolio() { return portfolio_; }
  const portfolio::Portfolio& portfolio() const { return portfolio_; }
  execution::ExecutionClient& execution() { return *execution_; }
  // The order table: the one copy of every order, and where the client's reports arrive.
  const execution::OrderManager& order_manager() const { return order_manager_; }
  // Orders by id, oldest first, from id orders_base() on (every order when KernelConfig::history
  // is 0: then orders()[id - 1]); and the fills in order (the latest `history` ones).
  const HistoryRing<Order>& orders() const { return order_manager_.orders(); }
  uint64_t orders_base() const { return order_manager_.base(); }
  const HistoryRing<Fill>& fills() const { return fills_; }
  // The order with this id, or nullptr if unknown or dropped from the history.
  const Order* FindOrder(OrderId id) const { return order_manager_.Find(id); }
  uint64_t order_count() const { return order_manager_.count(); }  // ids handed out
  uint64_t fill_count() const { return fill_count_; }
  uint64_t ticks_processed() const { return ticks_; }
  // nullptr without KernelConfig::risk.
  const risk::RiskManager* risk() const { return risk_.get(); }
  // Times the venue reported a stop-out (AccountReport, reason stop_out).
  uint64_t stop_outs() const { return order_manager_.stop_outs(); }
  uint64_t bars_processed() const { return bars_; }

  // StrategyContext
  Timestamp Now() const override { return clock_.Now(); }
  OrderId Submit(const OrderRequest& request) override;
  Status Cancel(OrderId id) override;
  const Position& position(InstrumentId instrument) const override;
  Quantity PendingLots(InstrumentId instrument) const override;
  Account account() const override;
  const Instrument& instrument(InstrumentId instrument) const override;
  std::optional<Tick> LastQuote(InstrumentId instrument) const override;
  void SetTimer(Timestamp at, uint64_t id) override;
  AccountMode account_mode() const override { return config_.venue.account_mode; }
  std::vector<HedgedPosition> OpenPositions(InstrumentId instrument) const override;

  // Timers between ticks (the event loop's clock, docs/architecture.md "The event loop"): the
  // earliest timer's time, if any is set; and firing every timer due by `now` without market
  // data (the driver moves its clock to `now` first, as for OnTick). Returns how many fired.
  std::optional<Timestamp> NextTimer() const;
  size_t AdvanceTo(Timestamp now);

  // AccountOracle
  Money FreeMargin() const override;
  Money MarginRequired(const Instrument& instrument, Quantity lots, Price price) const override;
  Money NotionalInAccount(const Instrument& instrument, Quantity lots, Price price) const override;
  Money ToAccount(InstrumentId instrument, Money amount_in_quote) const override;
  Money Balance() const override { return portfolio_.account().balance; }
  Money Equity() const override { return portfolio_.Equity(); }
  // As of the last fill or bar close (see AccountOracle::UsedMargin).
  Money UsedMargin() const override { return cached_margin_; }

 private:
  struct Timer {
    Timestamp at;
    uint64_t seq;
    uint64_t id;
    bool operator>(const Timer& other) const {
      return at != other.at ? at > other.at : seq > other.seq;
    }
  };
  size_t FireTimers(Timestamp now);
  // Cancels every resting and travelling order, then closes every open position at market with
  // orders that bypass the risk checks (a halt).
  void Flatten(std::string_view tag);
  // Market orders closing every open position, past the risk checks.
  void ClosePositions(std::string_view tag);
  OrderId SubmitChecked(const OrderRequest& request, bool flatten);
  // Counts the orders the venue opened during the last call into it (a stop-out's closes) as
  // pending while they travel, as SubmitChecked counts the kernel's own.
  void CountVenueOrders();
  std::vector<uint64_t> opened_scratch_;
  void DeliverBar(const Bar& bar);
  // Counts an order's lots left to fill as pending until it finishes.
  void CountPending(const Order& order);
  // Reconciliation closes for instruments without a quote yet: sent at their first quote.
  void SendDeferred(InstrumentId instrument);
  std::vector<OrderRequest> deferred_;

  KernelConfig config_;
  Clock& clock_;
  // Checked once here, the order manager's job, rather than by the risk manager and the venue.
  execution::ClientIdWindow client_ids_;
  Bus bus_;
  execution::OrderManager order_manager_{bus_};
  portfolio::Portfolio portfolio_;
  std::unique_ptr<execution::ExecutionClient> execution_;
  std::unique_ptr<risk::RiskManager> risk_;
  // Set by the breaker listener; the flattening happens once the current event is processed, so
  // that the venue is never re-entered from inside its own tick.
  bool halt_pending_ = false;
  std::deque<Instrument> instruments_;  // stable addresses: strategies keep references
  std::vector<data::BarAggregator> aggregators_;
  Bar finished_bar_;  // OnTick's scratch for the bar an aggregator finishes
  std::vector<std::optional<Tick>> last_quotes_;
  std::unique_ptr<strategy::Strategy> strategy_;
  bool strategy_ticks_ = false;  // strategy_->WantsTicks(), asked once
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  uint64_t timer_seq_ = 0;
  void TrimHistory();
  HistoryRing<Fill> fills_;
  uint64_t fill_count_ = 0;
  // Signed raw lots of unfinished orders, by order id and summed per instrument.
  std::unordered_map<uint64_t, int64_t> pending_by_order_;
  std::vector<int64_t> pending_lots_;
  // Hedging: raw lots that unfinished orders naming a position are closing, by position ticket.
  std::unordered_map<uint64_t, int64_t> closing_lots_;
  void CountPending(OrderId id, const OrderRequest& request);
  // Used margin as of the last fill or bar close: margin moves with price only slowly, so the
  // venue's per-tick stop-out check compares fresh equity against this instead of recomputing it.
  Money cached_margin_;
  uint64_t ticks_ = 0;
  uint64_t bars_ = 0;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace aits::kernel
