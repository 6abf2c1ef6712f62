// Live against backtest (`aits compare`, docs/paper.md "Live against backtest"): a session that
// traded on a venue of the outside world — a live MetaTrader account, a shadow session, a paper
// session on the asynchronous venue — re-run as a backtest on the very ticks it recorded, with
// the simulated venue the backtester uses, and the two compared order by order.
//
// How. The log's inputs (ticks, clock moves between ticks, operator commands) are fed, in log
// order, to a fresh session of the same spec whose venue is the synchronous SimulatedVenue (with
// the venue model of CompareOptions when given, so a trader can calibrate slippage and latency
// against live). Its outputs are captured (Session::CaptureOutputs). The venue's reports in the
// log (the live side's) are not fed: the backtest's venue makes its own.
//
// Pairing. Both runs decide on the same ticks, so an order of the strategy is paired with the
// other run's order of the same instrument, side and type submitted at the same kernel time (the
// tick it was decided on); several such orders pair in submission order. Orders the venue opened
// itself (SL, TP, stop-out: no client order id) are paired by instrument, side and reason in time
// order, when their first fills lie within CompareOptions::match_window. What is left is "live
// only" (the live run traded, the backtest did not) or "backtest only" (a trade live missed).
//
// Figures, per paired order: the volume-weighted fill prices, the slippage in points (positive:
// live filled worse than the backtest), the delay of the first fill, and the fill effect: what
// the price difference earned (positive) or cost live on the lots both runs filled, in the
// account currency at the rates of that moment. The session's gap (live equity - backtest
// equity at the end) is split into the fill effects, the commission difference of paired orders,
// and the rest: trades one run made alone, and their knock-on on later decisions. Starts that
// adopted a different account (reconciliation) are counted; their effect is in the rest.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/model/order.h"
#include "aits/persistence/event_store.h"
#include "aits/session/session.h"

namespace aits::session {

struct CompareOptions {
  // The backtest's venue model; unset: the session's (SessionSpec).
  std::optional<int64_t> slippage_points;
  std::optional<int64_t> latency_us;
  std::optional<std::string> commission;
  // Venue-opened orders (SL, TP, stop-out) of the two runs pair only this close in time.
  Duration match_window = Duration::Hours(1);
};

enum class CompareKind : uint8_t { kPaired, kLiveOnly, kBacktestOnly };
std::string_view ToString(CompareKind kind);  // "paired", "live_only", "backtest_only"

// One run's side of an order.
struct RunOrder {
  std::string client_order_id;  // empty for the venue's own orders
  uint64_t order_id = 0;        // the run's kernel id
  Quantity filled;
  std::optional<Price> price;          // volume-weighted over its fills
  std::optional<Timestamp> filled_at;  // first fill
  Money commission;
  std::string status;  // the order's last state ("filled", "rejected", ...)
};

struct OrderComparison {
  CompareKind kind = CompareKind::kPaired;
  std::string symbol;
  Side side = Side::kBuy;
  std::string origin;  // "strategy", or the venue's reason ("sl", "tp", "stop_out")
  Timestamp created;   // the kernel time of the submission (the venue's own: the first fill)
  std::optional<RunOrder> live;
  std::optional<RunOrder> backtest;
  // Paired orders that both filled.
  double slippage_points = 0;
  Duration delay;     // live's first fill - the backtest's
  Money fill_effect;  // account currency; negative: live paid more
};

struct LiveComparison {
  std::string session_id;
  std::string venue;  // the live run's
  uint64_t ticks = 0;
  uint64_t reconciliations = 0;
  std::vector<OrderComparison> orders;  // by creation time
  uint64_t paired = 0;
  uint64_t live_only = 0;
  uint64_t backtest_only = 0;
  uint64_t paired_filled = 0;  // paired orders both runs filled
  Money live_equity;
  Money backtest_equity;
  Money gap;                // live - backtest
  Money fill_effects;       // sum over paired orders
  Money commission_effect;  // backtest commission - live commission, paired orders
  Money rest;               // gap - fill_effects - commission_effect
  // Over the strategy's paired orders that both runs filled (SL/TP closes fill where each run's
  // own level was hit, which is not slippage).
  double mean_slippage_points = 0;
  double max_abs_slippage_points = 0;
  Duration mean_delay;
  std::string currency;
};

// Errors: the store's (DataLoss at a damaged row), the spec's, and a backtest venue setting that
// is invalid (InvalidArgument naming it).
Result<LiveComparison> CompareWithBacktest(const persistence::EventStore& store,
                                           const SignalFactory& signals,
                                           const CompareOptions& options = {});

// The comparison as JSON (orders and summary), and as CSV (one row per order, with a header).
std::string ToJson(const LiveComparison& comparison);
std::string ToCsv(const LiveComparison& comparison);

}  // namespace aits::session
