// `aits paper`: a session against a live clock. Ticks come from the synthetic market or a tick
// file (or several, one per instrument, merged in time order by the event loop: docs/paper.md,
// "Several instruments"), paced by the wall clock at 1x, Nx or as fast as possible by each feed's
// own thread, and the calling thread runs the event loop that drains them (node/event_loop.h);
// the kernel, decision engine, risk manager and simulated venue are the backtest's; everything is
// appended to the event store in --state DIR (events.db), and committed between ticks by the
// store's batch policy.
//
// Restart with the same DIR resumes: the log is read back (a damaged log stops here with the
// seq of the damage; nothing is written), every logged tick is fed through a fresh kernel and
// every output compared with the log (so the strategy's indicators, the positions and the
// venue's orders are exactly as they were), the result is checked against the state rebuilt
// from the log alone, the venue's account is reconciled with it (docs/execution.md,
// "Reconciliation": a difference is adopted, flattened or refuses the start, by policy), and each
// feed continues after its last logged tick. Events of the batch
// that was open when the process died were never committed: the resumed run makes them again,
// with the same deterministic client order ids, so nothing is lost and nothing is sent twice.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "aits/core/latency_histogram.h"
#include "aits/core/metrics.h"
#include "aits/core/status.h"
#include "aits/execution/reconciliation.h"
#include "aits/node/data_client.h"
#include "aits/persistence/event_store.h"
#include "aits/portfolio/portfolio.h"
#include "aits/session/replay.h"
#include "aits/session/session.h"
#include "aits/session/session_spec.h"
#include "aits/trace/span_index.h"
#include "aits/trace/tick_traces.h"
#include "aits/trace/tracer.h"

namespace aits::session {

struct PaperProgress {
  uint64_t ticks = 0;  // in all, including resumed ones
  uint64_t orders = 0;
  uint64_t fills = 0;
  Money equity;
  Quantity position;  // of the first traded instrument
  std::string breaker;
  double fraction = 0;  // of the feed (the least advanced one), when known
};

struct PaperOptions {
  SessionSpec spec;
  // false: resume what DIR holds (an error if it holds nothing). true: start this spec, or
  // resume DIR if it holds the same session (a different one is an error).
  bool spec_given = true;
  std::string state_dir;
  // The event log: empty, STATE_DIR/events.db; or a session on a PostgreSQL server
  // ("postgresql://user@host:port/db#session", aits/persistence/pg_event_store.h).
  std::string events;
  // Another process owns the session (persistence/writer_lock.h): false, refuse at once; true,
  // wait as its standby and take over, resuming from the log, when it dies or stops.
  bool standby = false;
  // Opens the session's feeds, in FeedsOf(spec) order; unset: OpenFeeds (the files or the
  // synthetic market). Set by a role that takes its ticks from the bus (aits serve: the MARKET
  // stream, services/market_stream.h): the same ticks, merged and resumed the same way.
  std::function<Result<std::vector<std::unique_ptr<data::TickSource>>>(const SessionSpec&)>
      open_feeds;
  // Checked after every tick the kernel took, and after a resume has followed the log: an error
  // stops the session with it at once, and the open batch of events is abandoned uncommitted
  // (EventStore::Abandon), so that a resume takes that tick again. For a decision stack whose
  // predictions come from other processes (aits serve: services::PredictionFeed::status): a bar
  // whose prediction never came must not be logged as a bar without a decision.
  std::function<Status()> check_tick;
  // The trades the session closed, handed out once the log has committed the events that closed
  // them (on the kernel thread, after a commit, and at the end): `trades` are the session's
  // trade numbers first_number, first_number + 1, ... (portfolio::Portfolio::trades_closed). A
  // run's first call starts from trade 1, so a resumed session hands out again the trades its
  // log closed before: a writer keyed by (session, number) stores each once (aits paper
  // --trades, persistence/trade_store.h). An error stops the session: what the log committed
  // stands, and a restart hands the trades out again. Unset: nothing.
  std::function<Status(const SessionSpec& spec, int64_t first_number,
                       std::span<const portfolio::TradeRecord> trades)>
      on_trades;
  double speed = 1.0;       // multiple of real time; 0 = as fast as possible
  uint64_t stop_after = 0;  // new ticks in this run (0 = until the feed ends or a stop)
  persistence::EventStoreOptions store;
  uint64_t checkpoint_every = 10'000;       // ticks between account checkpoints in the log
  const std::atomic<bool>* stop = nullptr;  // set by a signal handler: stop cleanly
  std::function<void(const PaperProgress&)> progress;  // about twice a second
  std::function<void(const std::string&)> notice;      // one-line messages for the user
  SignalFactory signals = MakeRuleSignalFor;
  // When a candidate's shadow trial ends (SessionSpec::shadow_model), the registry's gate decides
  // on its record: `promote` gets the model_shadow record and returns the model_promotion command
  // that says what the gate made of it (config::PromoteOnShadow). It runs on a thread of its own,
  // off the kernel's; the command is applied (logged) when it comes back, or at the end of the
  // run if the feed ended first. Unset: the trial is logged and nothing is promoted.
  std::function<Result<std::string>(const SessionSpec&, const std::string& record)> promote;
  // The loop of a model that keeps learning (docs/ml.md, "The loop"): when the served model's
  // watch turns to `update` or `retrain`, `retrain` gets the served model ("NAME@VERSION"), the
  // verdict's time and its model_verdict record, makes a candidate (config::RetrainOnVerdict
  // runs `aits-train retrain` on the data known by then) and returns the model_shadow_start
  // command that tries it beside the served model; its trial then goes to `promote`. An error
  // is logged as a model_retrain command with it. One candidate at a time: a verdict that comes
  // while one is being made, tried or judged is passed over. `stop` asks it to give up. Unset:
  // verdicts are logged and nothing is retrained.
  std::function<Result<std::string>(const SessionSpec&, const std::string& model, Timestamp at,
                                    const std::string& verdict, const std::atomic<bool>* stop)>
      retrain;
  // false: `retrain` and `promote` run on a thread of their own and their commands are applied
  // where the kernel takes them (the market does not wait). true: on the kernel's thread, the
  // feed waiting, and the command applied right after the tick that called for it, so that a
  // run at --speed max ends the same on any machine (as a backtest would).
  bool wait_for_models = false;
  // Bars after a trial's end or a failed retrain before the next retrain: then, if the served
  // model's verdict still calls for one (a rejected candidate, too little data), it is retrained
  // again on the newer data. Keeps a market the models cannot learn from making a candidate a
  // trial.
  uint64_t retrain_cooldown_bars = 1'000;
  // Set by an owner whose decisions are made by the decision role (aits serve:
  // services::DecisionFeed); `signals` is then not used.
  node::DeciderFactory deciders;
  // The reconciliation policy of this start (docs/execution.md, "Reconciliation"); unset: the
  // session's own (SessionSpec::reconcile). A resume may change it without changing the session.
  std::optional<execution::ReconcilePolicy> reconcile;
  // Live (aits live): the data client of the spec's "mt5" feeds (the MetaTrader gateway, which
  // the caller has started listening), and the execution client of a venue "mt5" session once
  // live (the same gateway's). The caller owns them; they outlive the run.
  node::DataClient* live_data = nullptr;
  BrokerFactory broker;
  // A broker whose reports reach the loop through a producer of its own rather than through
  // live_data (aits serve --venue bus: services::BusVenue, the venue of the gateway role in
  // another process). The loop runs it; the caller owns it, and it outlives the run. A session on
  // a broker ("mt5" venue) asks it what became of the orders in flight at each resume, as aits
  // live does, whatever its feed.
  node::Producer* broker_producer = nullptr;
  // Watchers of the feed on the kernel thread (aits live's market monitor): every tick after the
  // kernel has taken it, and every idle turn of the loop (at least every 50 ms without events).
  // They see, they do not trade: nothing they do is logged or replayed.
  std::function<void(const Tick&)> on_tick;
  std::function<void()> on_idle;
  // Where the session's metrics go (session_metrics.h; a role's /metrics renders it), or null.
  // Must outlive the run.
  Registry* metrics = nullptr;
  // Spans of the decisions, orders and fills (docs/monitoring.md, "Traces"), or null: none. An
  // order the kernel numbered while taking a tick hangs under trace::Current() as the decision's
  // reader set it on this thread (aits serve: services::DecisionFeed, PredictionFeed); with the
  // decision made here, in the kernel, under a "decision" span of the session's own, child of
  // the tick's market-data message when `tick_traces` knows it, else a new root. Only when that
  // trace is sampled; a fill under its order's span, or under the venue's report's when that
  // came traced from another process. Nothing traced changes what the session does. Must
  // outlive the run.
  trace::Tracer* tracer = nullptr;
  // The traceparents of the MARKET messages the feeds read (services::BusSourceOptions::traces),
  // or null. Must outlive the run.
  trace::TickTraces* tick_traces = nullptr;
  // Where each traced order's span is put, by order id, for the log relay that publishes the
  // order's events to ORDERS under it (services/log_relay.h), or null. Must outlive the run.
  trace::SpanIndex* order_traces = nullptr;
  // The broker's account at this start, for tests: the simulated venue is seeded with it
  // (SimulatedVenue::Seed, in place of what the log rebuilt) before the reconciliation, as if
  // the account had moved while the session was down.
  std::optional<execution::AccountState> venue_account;
};

// One instrument's share of a session (sessions over several feeds report each; the
// account-level figures are PaperResult's). Since the session's start, resumed ticks included.
struct PaperSymbolResult {
  std::string symbol;
  bool traded = true;  // false: conversion rates only
  uint64_t ticks = 0;
  uint64_t orders = 0;  // every order on it: its strategy's (refused ones too), the venue's own
  uint64_t fills = 0;
  Money commission;
  Money net_pnl;  // realised, after commission: the balance's change at its fills
  Quantity position;
};

struct PaperResult {
  bool resumed = false;
  // The reconciliation at this start: one line per difference (empty: the venue's account
  // matched the log), and the actions taken.
  std::vector<std::string> reconciliation;
  size_t reconciliation_actions = 0;
  // A live restart: the venue's reports of the orders the log held unfinished (fills, cancels,
  // rejections), logged and applied before the reconciliation (Session::RecoverOrders).
  size_t recovered_reports = 0;
  uint64_t resumed_ticks = 0;
  uint64_t resumed_events = 0;
  uint64_t ticks = 0;  // new this run
  bool feed_ended = false;
  bool interrupted = false;
  uint64_t orders = 0;  // in all
  uint64_t fills = 0;
  uint64_t decisions = 0;  // this run's kernel (resumed ones included)
  Account account;
  Quantity position;  // of the first traded instrument
  std::string breaker;
  std::vector<PaperSymbolResult> symbols;  // in feed order (one for a one-feed session)
  uint64_t last_seq = 0;
  double wall_seconds = 0;
  // This run only. Processing: tick in (before it is logged) -> the kernel is done with it,
  // everything included (logging, decision records, explanations).
  LatencyHistogram plain_ticks;  // ticks that closed no bar
  LatencyHistogram bar_ticks;    // ticks that closed a bar (signal, ensemble step, decision)
  // Tick-to-order: tick in -> the simulated venue accepted (or filled) the first order it caused.
  LatencyHistogram plain_orders;  // on a tick without a bar close (stop-loss, take-profit, halt)
  LatencyHistogram bar_orders;    // on a bar close (a decision)
  // The feed's thread pushed the tick -> the kernel thread took it from the inbox. At --speed max
  // the feed runs ahead and this is mostly the time in the queue.
  LatencyHistogram hand_off;
  uint64_t clock_advances = 0;  // timers fired between ticks (clock events in the log)
  // Operator commands this run: applied, and refused (malformed or unknown: reported through
  // `notice` and the log, marked in the commands table so that they do not come back).
  uint64_t commands_applied = 0;
  uint64_t commands_refused = 0;
  // The asynchronous venue (SessionSpec::venue "threaded"), this run: reports the kernel consumed
  // (each logged as an input), those the order manager could not apply (late, repeated,
  // unknown: counted and logged, not guessed at), and those lost when the run stopped (held by
  // the venue or refused by the closed inbox; the next start's reconciliation finds their effect).
  uint64_t execution_reports = 0;
  uint64_t account_reports = 0;
  uint64_t reports_not_applied = 0;
  uint64_t lost_reports = 0;
  std::string LatencyJson() const;
};

Result<PaperResult> RunPaper(const PaperOptions& options);

}  // namespace aits::session
