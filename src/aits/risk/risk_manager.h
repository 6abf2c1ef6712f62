// Risk manager: pre-trade checks on every order, post-trade monitoring of the account, and the
// circuit breaker (docs/risk.md). The kernel asks CheckOrder() before an order reaches the
// execution client and feeds OnQuote/OnFill/OnBarClose afterwards; it never trades itself except
// that the kernel flattens every position when the breaker enters kHalted.
//
// Pre-trade rules, in this order (the first failure is the rejection's reason code):
//   breaker halted -> kRiskHalted; breaker reduce-only and the order would grow |position| ->
//   kRiskReduceOnly; order lots > max_order_lots -> kRiskOrderSize; |position after| >
//   max_position_lots -> kRiskPositionLimit; more than max_orders_per_second orders accepted by the
//   risk manager in the trailing second -> kRiskOrderRate; limit/stop price farther than
//   price_collar (fraction of mid) from the last quote -> kRiskPriceCollar; then exposures after
//   the order, all in the account currency at the last quotes: gross (sum |notional|) ->
//   kRiskGrossExposure, net (|sum signed notional|) -> kRiskNetExposure, per currency (FX pair
//   BASE/QUOTE long = +BASE, -QUOTE; the account currency itself is not limited) ->
//   kRiskCurrencyExposure, correlated groups -> kRiskCorrelatedExposure, gross / equity ->
//   kRiskLeverage, used margin / equity -> kRiskMarginUse. An order that only reduces |position|
//   passes every exposure, leverage and margin rule (cutting risk is always allowed while not
//   halted).
//
// Hedging accounts: exposure per symbol is the net of its positions (portfolio().position()), so
// a long and a short of the same size count as flat, and an order that opens a new position
// against the net one counts as reducing. An order that closes a position by its ticket
// (OrderRequest::position_ticket) always counts as reducing: it takes volume off the account.
// The margin-use rule adds the margin of what the order adds to the larger leg, as the venue does.
//
// Correlated positions: the correlation of every pair of instruments is estimated from the log
// returns of their bar-close mids over the last `correlation_window` bars (OnBarClose). Two
// positions whose instruments have |rho| >= correlation_threshold belong to one group; a group's
// exposure is |sum of sign(rho to the group's first member) * signed notional|, so long EURUSD +
// long GBPUSD (rho > 0) add up and long EURUSD + short USDCHF (rho < 0)
// add up too, while long EURUSD + long USDCHF offset (a hedge).
//
// Configured correlation groups (RiskLimits::groups): named sets of symbols the user treats as one
// risk whatever the recent estimate says (the USD majors, the JPY crosses). For every group that
// holds the order's instrument, after the order: the group's exposure |sum of sign * signed
// notional| (a member written "-USDCHF" counts with the opposite sign, so long EURUSD and short
// USDCHF add up) > max_exposure -> kRiskCorrelatedExposure; members with an open position >
// max_positions -> kRiskCorrelatedExposure (the detail names the group and which limit). Symbols
// of a group that are not traded are ignored. Checked after the estimated groups, like them only
// for orders that do not only reduce.
//
// Post-trade, on every OnQuote/OnBarClose (equity at the current marks):
//   daily loss   = equity at the start of the UTC day - equity now; >= daily_loss_limit -> halted
//                  (back to normal automatically at the next UTC day if the limit caused it);
//   drawdown     = 1 - equity / peak equity; >= max_drawdown -> halted (manual reset only);
//                  >= reduce_only_drawdown -> reduce-only (back to normal below it);
//   VaR          = one-bar-horizon loss at 95 % and 99 %, historical (empirical quantile of the
//                  last var_window bar-to-bar equity returns) and parametric (normal: -(mu +
//                  z * sigma)), as a fraction of equity; the larger 99 % figure >= var_limit ->
//                  reduce-only (back to normal when it falls below). Needs >= 20 returns.
// The breaker only escalates through limits (normal -> reduce-only -> halted); going back down
// happens by hand (SetBreaker) or by the automatic releases named above. Every change, whoever
// makes it, is reported to the BreakerListener as a BreakerChange (the kernel records it).
//
// Hot path: CheckOrder on a passing order does not allocate and formats no strings; a rejection
// fills RiskVerdict::detail (allocation is fine there). Single-threaded (the kernel's thread).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/model/events.h"
#include "aits/model/instrument.h"
#include "aits/model/market.h"
#include "aits/model/order.h"
#include "aits/portfolio/portfolio.h"

namespace aits::risk {

// Every limit must be given: a missing one (NaN) or a negative one is an error. 0 is a valid
// value for the rate and exposure limits and means "nothing allowed"; use a large number to
// effectively disable one.
// A configured correlation group (see the header comment).
struct CorrelationGroup {
  std::string name;
  std::vector<std::string> symbols;  // "-SYMBOL": counted with the opposite sign
  // Either or both; NaN (unset) = no such limit.
  double max_exposure = std::numeric_limits<double>::quiet_NaN();   // account currency
  double max_positions = std::numeric_limits<double>::quiet_NaN();  // members with a position
  // "usd_majors:EURUSD,GBPUSD,-USDCHF:max_exposure=250000:max_positions=2". InvalidArgument
  // naming the text and the part that is wrong.
  static Result<CorrelationGroup> Parse(std::string_view text);
};

struct RiskLimits {
  static constexpr double kUnset = std::numeric_limits<double>::quiet_NaN();

  double max_order_lots = kUnset;           // lots per order
  double max_position_lots = kUnset;        // |net lots| per symbol
  double max_gross_exposure = kUnset;       // account currency
  double max_net_exposure = kUnset;         // account currency
  double max_currency_exposure = kUnset;    // account currency, per currency
  double max_correlated_exposure = kUnset;  // account currency, per correlated group
  double correlation_threshold = kUnset;    // |rho| in [0, 1]
  double correlation_window = kUnset;       // bars, integer >= 2
  double max_leverage = kUnset;             // gross exposure / equity
  double max_margin_use = kUnset;           // used margin / equity, fraction
  double max_orders_per_second = kUnset;    // integer
  double price_collar = kUnset;             // fraction of the mid, e.g. 0.01 = 1 %
  double daily_loss_limit = kUnset;         // account currency
  double max_drawdown = kUnset;             // fraction of peak equity, (0, 1]
  double reduce_only_drawdown = kUnset;     // fraction, <= max_drawdown
  double var_limit = kUnset;                // fraction of equity (99 % one-bar VaR)
  double var_window = kUnset;               // bar returns, integer >= 20
  // Configured correlation groups; none by default.
  std::vector<CorrelationGroup> groups;

  // A conservative profile for a 100k account: used when no configuration names limits.
  static RiskLimits Defaults();
  // Sets one limit by its field name ("max_order_lots"); InvalidArgument naming an unknown key or
  // a value that is not a finite number. Validate() checks ranges afterwards.
  Status Set(std::string_view key, std::string_view value);
  // InvalidArgument naming the first missing (NaN) or out-of-range limit and its value, e.g.
  // "risk limit max_drawdown is missing" or "risk limit max_order_lots = -1 must be >= 0".
  Status Validate() const;
  // The field names in declaration order (for help text and config errors).
  static const std::vector<std::string_view>& Keys();
};

// The breaker's states and moves are model events (aits/model/events.h).
using ::aits::BreakerChange;
using ::aits::BreakerState;
using ::aits::ParseBreakerState;
using ::aits::ToString;

struct RiskVerdict {
  RejectReason reason = RejectReason::kNone;  // kNone: accepted
  std::string detail;                         // set on rejection: "position 5.00 > limit 3.00"
  bool ok() const { return reason == RejectReason::kNone; }
};

// Post-trade figures, as of the last update (exposures as of the last quote or bar close).
struct RiskSnapshot {
  Money equity;
  Money peak_equity;
  Money day_start_equity;
  Money realized_pnl;           // gross, since start
  Money unrealized_pnl;         // at the current marks
  double daily_loss = 0;        // account currency, positive = loss
  double drawdown = 0;          // fraction
  double var95_historical = 0;  // fractions of equity, positive = loss; 0 until enough returns
  double var99_historical = 0;
  double var95_parametric = 0;
  double var99_parametric = 0;
  double gross_exposure = 0;  // account currency
  double net_exposure = 0;
  double leverage = 0;
  double margin_use = 0;
  BreakerState breaker = BreakerState::kNormal;
  uint64_t orders_checked = 0;
  uint64_t orders_rejected = 0;
  std::array<uint64_t, 32> rejects_by_reason{};  // indexed by RejectReason
};

using BreakerListener = std::function<void(const BreakerChange&)>;

class RiskManager {
 public:
  // `portfolio` must outlive the manager and is read, never written. Precondition:
  // limits.Validate().ok().
  RiskManager(const RiskLimits& limits, const portfolio::Portfolio& portfolio,
              BreakerListener listener = {});
  ~RiskManager();
  RiskManager(const RiskManager&) = delete;
  RiskManager& operator=(const RiskManager&) = delete;

  // Registers a tradable instrument (same ids as the portfolio's). Call before orders for it.
  void AddInstrument(const Instrument& instrument);

  // Checks an order before it is sent. `last_quote` is the instrument's latest quote (nullptr if
  // none yet: then the price collar and exposure rules use the order's own price if it has one
  // and otherwise pass, leaving "no market" to the venue). On success the order counts towards
  // the order rate; a rejected order does not. (Duplicate client ids are the kernel's order
  // manager's to refuse, before this check.)
  // `flatten` marks the kernel's own closing orders (halt, stop-out): they bypass every rule.
  RiskVerdict CheckOrder(const OrderRequest& request, const Tick* last_quote, Timestamp now,
                         bool flatten = false);

  // Post-trade updates. OnQuote after the portfolio has been marked with the tick; OnFill after
  // the portfolio booked the fill; OnBarClose at every bar close (returns for VaR, correlation).
  void OnQuote(const Tick& tick, Timestamp now);
  void OnFill(const Fill& fill, Timestamp now);
  void OnBarClose(const Bar& bar, Timestamp now);

  // Moves the breaker by hand (an operator command); reported as manual. No-op if unchanged.
  void SetBreaker(BreakerState state, std::string_view reason, Timestamp now);
  BreakerState breaker() const { return snapshot_.breaker; }

  const RiskSnapshot& snapshot() const { return snapshot_; }
  const RiskLimits& limits() const { return limits_; }
  // Correlation of two registered instruments' bar returns (NaN until enough bars).
  double Correlation(InstrumentId a, InstrumentId b) const;

 private:
  void Escalate(BreakerState to, std::string_view rule, std::string detail, Timestamp now);
  void Change(BreakerState to, bool manual, std::string_view rule, std::string detail,
              Timestamp now);
  void UpdatePostTrade(Timestamp now, bool exposures = true);

  RiskLimits limits_;
  const portfolio::Portfolio& portfolio_;
  BreakerListener listener_;
  RiskSnapshot snapshot_;
  // Implementation state (instrument table, return windows, order-rate ring) is
  // free to change.
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace aits::risk
