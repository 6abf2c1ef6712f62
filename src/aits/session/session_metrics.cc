#include "aits/session/session_metrics.h"

#include <algorithm>
#include <array>
#include <limits>

#include "aits/kernel/kernel.h"
#include "aits/ml/watch_metrics.h"
#include "aits/session/session.h"
#include "aits/trading/decision_strategy.h"

namespace aits::session {
namespace {

// From 5 µs (a tick that closes no bar) to a second (a model's slow bar on a loaded machine).
const std::vector<double> kLatencyBounds = {5e-6, 1e-5,   2.5e-5, 5e-5, 1e-4,   2.5e-4, 5e-4,
                                            1e-3, 2.5e-3, 5e-3,   1e-2, 2.5e-2, 0.1,    1.0};
// A commit of the log: an fsync is a millisecond or more, a server's round trip less.
const std::vector<double> kCommitBounds = {1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3,
                                           1e-2, 2.5e-2, 5e-2, 0.1,  0.25,   1.0};

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

Result<std::unique_ptr<SessionMetrics>> SessionMetrics::Create(Registry& registry,
                                                               const Session& session,
                                                               std::chrono::milliseconds interval) {
  std::unique_ptr<SessionMetrics> m(new SessionMetrics());
  m->registry_ = &registry;
  m->interval_ = interval;
  m->bounds_ = kLatencyBounds;
  m->currency_ = std::string(session.kernel().account().currency.view());
  const size_t count = session.instruments().size();
  for (const Instrument& instrument : session.instruments())
    m->symbols_.push_back(instrument.symbol);
  m->pending_ticks_.assign(count, 0);
  m->pending_bars_.assign(count, 0);
  m->published_orders_.assign(count, 0);
  m->published_fills_.assign(count, 0);

  AITS_ASSIGN_OR_RETURN(
      Family<Counter> * ticks,
      registry.AddCounter("aits_ticks_total", "Ticks the kernel took.", {"symbol"}));
  AITS_ASSIGN_OR_RETURN(
      Family<Counter> * bars,
      registry.AddCounter("aits_bars_total", "Bars the ticks closed.", {"symbol"}));
  AITS_ASSIGN_OR_RETURN(
      Family<Counter> * orders,
      registry.AddCounter("aits_orders_total",
                          "Orders the kernel numbered: the strategy's, the operator's, refused "
                          "ones and the venue's own (stop-out, SL/TP).",
                          {"symbol"}));
  AITS_ASSIGN_OR_RETURN(Family<Counter> * fills,
                        registry.AddCounter("aits_fills_total", "Fills booked.", {"symbol"}));
  AITS_ASSIGN_OR_RETURN(Family<Gauge> * lots,
                        registry.AddGauge("aits_position_lots",
                                          "Net position in lots (negative: short).", {"symbol"}));
  AITS_ASSIGN_OR_RETURN(
      Family<Gauge> * last_tick,
      registry.AddGauge("aits_feed_last_tick_timestamp_seconds",
                        "Wall time (Unix seconds) when the kernel last took a tick of the symbol; "
                        "0 before the first.",
                        {"symbol"}));
  for (const std::string& symbol : m->symbols_) {
    const std::initializer_list<Label> labels = {{"symbol", symbol}};
    AITS_ASSIGN_OR_RETURN(Counter * tick, ticks->With(labels));
    AITS_ASSIGN_OR_RETURN(Counter * bar, bars->With(labels));
    AITS_ASSIGN_OR_RETURN(Counter * order, orders->With(labels));
    AITS_ASSIGN_OR_RETURN(Counter * fill, fills->With(labels));
    AITS_ASSIGN_OR_RETURN(Gauge * lot, lots->With(labels));
    AITS_ASSIGN_OR_RETURN(Gauge * last, last_tick->With(labels));
    m->ticks_.push_back(tick);
    m->bars_.push_back(bar);
    m->orders_.push_back(order);
    m->fills_.push_back(fill);
    m->position_lots_.push_back(lot);
    m->last_tick_seconds_.push_back(last);
  }

  AITS_ASSIGN_OR_RETURN(Family<Histogram> * processing,
                        registry.AddHistogram("aits_tick_processing_seconds",
                                              "Tick in to the kernel done with it: logging, "
                                              "signal, decision, orders, explanation.",
                                              kLatencyBounds, {"bar_close"}));
  AITS_ASSIGN_OR_RETURN(Family<Histogram> * to_order,
                        registry.AddHistogram("aits_tick_to_order_seconds",
                                              "Tick in to the venue accepting the first order "
                                              "it caused.",
                                              kLatencyBounds, {"bar_close"}));
  for (int closed = 0; closed < 2; ++closed) {
    const std::initializer_list<Label> labels = {{"bar_close", closed ? "true" : "false"}};
    AITS_ASSIGN_OR_RETURN(m->processing_histograms_[closed], processing->With(labels));
    AITS_ASSIGN_OR_RETURN(m->to_order_histograms_[closed], to_order->With(labels));
    for (PendingHistogram* pending : {&m->processing_[closed], &m->to_order_[closed]}) {
      pending->per_bucket.assign(kLatencyBounds.size() + 1, 0);
    }
  }

  AITS_ASSIGN_OR_RETURN(
      m->rejected_,
      registry.AddCounter("aits_orders_rejected_total",
                          "Orders refused, by the risk manager or the venue, by reason.",
                          {"symbol", "reason"}));
  AITS_ASSIGN_OR_RETURN(m->breaker_changes_,
                        registry.AddCounter("aits_breaker_changes_total",
                                            "Moves of the circuit breaker, by the "
                                            "state it moved to.",
                                            {"state"}));
  AITS_ASSIGN_OR_RETURN(
      Family<Counter> * decisions,
      registry.AddCounter("aits_decisions_total",
                          "Decisions of the engine (one per bar close of a traded symbol once "
                          "its signal is ready), by action: HOLD, BUY, SELL, CLOSE.",
                          {"symbol", "action"}));
  AITS_ASSIGN_OR_RETURN(Family<Gauge> * strength,
                        registry.AddGauge("aits_signal_strength",
                                          "The last decision's signal strength, -1 (sell) to 1 "
                                          "(buy); NaN before the first or when the decision "
                                          "role decides.",
                                          {"symbol"}));
  AITS_ASSIGN_OR_RETURN(
      Family<Gauge> * confidence,
      registry.AddGauge("aits_signal_confidence", "The last decision's signal confidence, 0 to 1.",
                        {"symbol"}));
  AITS_ASSIGN_OR_RETURN(
      Family<Gauge> * anomaly,
      registry.AddGauge("aits_signal_anomaly", "The last decision's anomaly score (0: none).",
                        {"symbol"}));
  // Registered with or without a model to fill them, so that a rule over them is always over
  // a family the session serves.
  AITS_RETURN_IF_ERROR(ml::RegisterWatchFamilies(registry).status());
  for (size_t k = 0; k < session.strategies().size() && k < session.traded().size(); ++k) {
    Decider decider;
    decider.instrument = session.traded()[k].value;
    const std::string& symbol = m->symbols_[decider.instrument];
    for (size_t action = 0; action < decider.decisions.size(); ++action) {
      AITS_ASSIGN_OR_RETURN(
          decider.decisions[action],
          decisions->With({{"symbol", symbol},
                           {"action", decision::ToString(static_cast<decision::Action>(action))}}));
    }
    const std::initializer_list<Label> labels = {{"symbol", symbol}};
    AITS_ASSIGN_OR_RETURN(decider.strength, strength->With(labels));
    AITS_ASSIGN_OR_RETURN(decider.confidence, confidence->With(labels));
    AITS_ASSIGN_OR_RETURN(decider.anomaly, anomaly->With(labels));
    for (Gauge* gauge : {decider.strength, decider.confidence, decider.anomaly}) {
      gauge->Set(std::numeric_limits<double>::quiet_NaN());
    }
    const trading::SignalSource* source = session.strategies()[k]->source();
    if (const ml::ModelWatch* watch = source != nullptr ? source->watch() : nullptr) {
      AITS_ASSIGN_OR_RETURN(decider.watched, ml::WatchMetrics::Create(registry, symbol, *watch));
      decider.watch = watch;
    }
    if (const ml::ShadowTrial* trial = source != nullptr ? source->shadow() : nullptr) {
      AITS_ASSIGN_OR_RETURN(decider.shadowed, ml::ShadowMetrics::Create(registry, symbol, *trial));
    }
    m->deciders_.push_back(decider);
  }
  AITS_ASSIGN_OR_RETURN(Family<Counter> * commands,
                        registry.AddCounter("aits_operator_commands_total",
                                            "Operator commands taken, by result.", {"result"}));
  AITS_ASSIGN_OR_RETURN(m->commands_applied_, commands->With({{"result", "applied"}}));
  AITS_ASSIGN_OR_RETURN(m->commands_refused_, commands->With({{"result", "refused"}}));
  AITS_ASSIGN_OR_RETURN(
      Family<Histogram> * commits,
      registry.AddHistogram("aits_event_store_commit_seconds",
                            "Commits of the event log's batches.", kCommitBounds));
  AITS_ASSIGN_OR_RETURN(m->commit_seconds_, commits->With({}));
  AITS_ASSIGN_OR_RETURN(Family<Counter> * commit_errors,
                        registry.AddCounter("aits_event_store_errors_total",
                                            "Commits of the event log that failed."));
  AITS_ASSIGN_OR_RETURN(m->commit_errors_, commit_errors->With({}));

  AITS_ASSIGN_OR_RETURN(Family<Gauge> * breaker,
                        registry.AddGauge("aits_breaker_state",
                                          "1 for the circuit breaker's current state, 0 for the "
                                          "others.",
                                          {"state"}));
  for (BreakerState state :
       {BreakerState::kNormal, BreakerState::kReduceOnly, BreakerState::kHalted}) {
    AITS_ASSIGN_OR_RETURN(m->breaker_state_[static_cast<int>(state)],
                          breaker->With({{"state", ToString(state)}}));
  }
  const auto money = [&](std::string_view name, std::string_view help, Gauge** out) -> Status {
    AITS_ASSIGN_OR_RETURN(Family<Gauge> * family, registry.AddGauge(name, help, {"currency"}));
    AITS_ASSIGN_OR_RETURN(*out, family->With({{"currency", m->currency_}}));
    return Status::Ok();
  };
  const auto plain = [&](std::string_view name, std::string_view help, Gauge** out) -> Status {
    AITS_ASSIGN_OR_RETURN(Family<Gauge> * family, registry.AddGauge(name, help));
    AITS_ASSIGN_OR_RETURN(*out, family->With({}));
    return Status::Ok();
  };
  AITS_RETURN_IF_ERROR(
      money("aits_account_balance", "Cash: deposits, realised P&L, commissions.", &m->balance_));
  AITS_RETURN_IF_ERROR(
      money("aits_account_equity", "Balance plus unrealised P&L at the last marks.", &m->equity_));
  AITS_RETURN_IF_ERROR(money("aits_account_margin", "Margin used by open positions.", &m->margin_));
  AITS_RETURN_IF_ERROR(
      money("aits_account_free_margin", "Equity less used margin.", &m->free_margin_));
  AITS_RETURN_IF_ERROR(money("aits_account_peak_equity",
                             "The highest equity the risk manager has seen.", &m->peak_equity_));
  AITS_RETURN_IF_ERROR(money("aits_account_daily_loss",
                             "Loss since the day's start (negative: a gain).", &m->daily_loss_));
  AITS_RETURN_IF_ERROR(money("aits_exposure_gross", "Sum of the positions' absolute notionals.",
                             &m->gross_exposure_));
  AITS_RETURN_IF_ERROR(
      money("aits_exposure_net", "Sum of the positions' signed notionals.", &m->net_exposure_));
  AITS_RETURN_IF_ERROR(plain("aits_account_drawdown_ratio",
                             "Equity's fall from its peak, as a fraction of the peak.",
                             &m->drawdown_));
  AITS_RETURN_IF_ERROR(
      plain("aits_account_leverage_ratio", "Gross exposure over equity.", &m->leverage_));
  AITS_RETURN_IF_ERROR(
      plain("aits_account_margin_use_ratio", "Used margin over equity.", &m->margin_use_));
  // The limits the figures above are held to, so that an alerting rule can warn before the risk
  // manager acts (deploy/prometheus/rules.yml). NaN: no such limit. Set once: a session's limits
  // do not change while it runs.
  Gauge* max_drawdown = nullptr;
  Gauge* reduce_only_drawdown = nullptr;
  Gauge* daily_loss_limit = nullptr;
  AITS_RETURN_IF_ERROR(plain("aits_risk_limit_max_drawdown_ratio",
                             "Drawdown at which the breaker halts (NaN: no limit).",
                             &max_drawdown));
  AITS_RETURN_IF_ERROR(plain("aits_risk_limit_reduce_only_drawdown_ratio",
                             "Drawdown at which the breaker turns reduce-only (NaN: no limit).",
                             &reduce_only_drawdown));
  AITS_RETURN_IF_ERROR(money("aits_risk_limit_daily_loss",
                             "Daily loss at which the breaker halts (NaN: no limit).",
                             &daily_loss_limit));
  const risk::RiskManager* risk = session.kernel().risk();
  const double unset = risk::RiskLimits::kUnset;
  max_drawdown->Set(risk != nullptr ? risk->limits().max_drawdown : unset);
  reduce_only_drawdown->Set(risk != nullptr ? risk->limits().reduce_only_drawdown : unset);
  daily_loss_limit->Set(risk != nullptr ? risk->limits().daily_loss_limit : unset);
  return m;
}

void SessionMetrics::PendingHistogram::MoveTo(Histogram* histogram) {
  if (empty) return;
  histogram->AddBuckets(per_bucket, sum);
  std::fill(per_bucket.begin(), per_bucket.end(), 0);
  sum = 0;
  empty = true;
}

void SessionMetrics::OnOrderUpdate(const Order& order) {
  if (order.status != OrderStatus::kRejected) return;
  const uint32_t instrument = order.request.instrument.value;
  const std::string symbol = instrument < symbols_.size() ? symbols_[instrument] : "unknown";
  Result<Counter*> counter =
      rejected_->With({{"symbol", symbol}, {"reason", ToString(order.reject_reason)}});
  if (counter.ok()) (*counter)->Increment();
}

void SessionMetrics::OnBreakerChange(const BreakerChange& change) {
  Result<Counter*> counter = breaker_changes_->With({{"state", ToString(change.to)}});
  if (counter.ok()) (*counter)->Increment();
  for (int state = 0; state < 3; ++state) {
    breaker_state_[state]->Set(state == static_cast<int>(change.to) ? 1.0 : 0.0);
  }
}

void SessionMetrics::OnCommand(bool applied) {
  (applied ? commands_applied_ : commands_refused_)->Increment();
}

void SessionMetrics::OnCommit(int64_t nanos, const Status& status) {
  commit_seconds_->Observe(static_cast<double>(nanos) * 1e-9);
  if (!status.ok()) commit_errors_->Increment();
}

bool SessionMetrics::Publish(const Session& session, bool force) {
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_publish_ < interval_) return false;
  last_publish_ = now;
  const double wall = WallSeconds();
  for (size_t id = 0; id < pending_ticks_.size(); ++id) {
    if (pending_ticks_[id] != 0) {
      ticks_[id]->Increment(pending_ticks_[id]);
      last_tick_seconds_[id]->Set(wall);
      pending_ticks_[id] = 0;
    }
    if (pending_bars_[id] != 0) {
      bars_[id]->Increment(pending_bars_[id]);
      pending_bars_[id] = 0;
    }
  }
  for (int closed = 0; closed < 2; ++closed) {
    processing_[closed].MoveTo(processing_histograms_[closed]);
    to_order_[closed].MoveTo(to_order_histograms_[closed]);
  }
  // Orders, fills and decisions since the session's start, resumed ones included: the first
  // publish takes them as the baseline, so that the counters hold this process's own.
  const std::vector<Session::InstrumentCounts>& counts = session.counts();
  for (size_t id = 0; id < counts.size() && id < orders_.size(); ++id) {
    if (baseline_taken_) {
      orders_[id]->Increment(counts[id].orders - published_orders_[id]);
      fills_[id]->Increment(counts[id].fills - published_fills_[id]);
    }
    published_orders_[id] = counts[id].orders;
    published_fills_[id] = counts[id].fills;
  }
  for (size_t k = 0; k < deciders_.size(); ++k) {
    const trading::DecisionStrategy& strategy = *session.strategies()[k];
    Decider& decider = deciders_[k];
    for (size_t action = 0; action < decider.decisions.size(); ++action) {
      const uint64_t made = strategy.decisions(static_cast<decision::Action>(action));
      if (baseline_taken_) decider.decisions[action]->Increment(made - decider.published[action]);
      decider.published[action] = made;
    }
    if (const decision::Signal* signal = strategy.last_signal()) {
      decider.strength->Set(signal->strength);
      decider.confidence->Set(signal->confidence);
      decider.anomaly->Set(signal->anomaly);
    }
    const trading::SignalSource* source = strategy.source();
    const ml::ModelWatch* watch = source != nullptr ? source->watch() : nullptr;
    if (watch != decider.watch) {
      // A promoted candidate took over (SignalSource::SettleShadow): its own watch, counted
      // from here.
      decider.watched.reset();
      decider.watch = watch;
      if (watch != nullptr) {
        auto made = ml::WatchMetrics::Create(*registry_, symbols_[decider.instrument], *watch);
        if (made.ok()) decider.watched = std::move(*made);
      }
    }
    if (decider.watched) {
      decider.watched->Publish(*watch, strategy.watch_verdict(), baseline_taken_);
    }
    if (const ml::ShadowTrial* trial = source != nullptr ? source->shadow() : nullptr) {
      if (decider.shadowed) decider.shadowed->Publish(*trial);
    }
  }
  baseline_taken_ = true;

  const kernel::Kernel& kernel = session.kernel();
  for (size_t id = 0; id < position_lots_.size(); ++id) {
    position_lots_[id]->Set(
        kernel.position(InstrumentId{static_cast<uint32_t>(id)}).quantity.AsDouble());
  }
  const Account account = kernel.account();
  balance_->Set(account.balance.AsDouble());
  equity_->Set(account.equity.AsDouble());
  margin_->Set(account.margin.AsDouble());
  free_margin_->Set(account.free_margin.AsDouble());
  if (const risk::RiskManager* risk = kernel.risk()) {
    const risk::RiskSnapshot& snapshot = risk->snapshot();
    peak_equity_->Set(snapshot.peak_equity.AsDouble());
    drawdown_->Set(snapshot.drawdown);
    daily_loss_->Set(snapshot.daily_loss);
    gross_exposure_->Set(snapshot.gross_exposure);
    net_exposure_->Set(snapshot.net_exposure);
    leverage_->Set(snapshot.leverage);
    margin_use_->Set(snapshot.margin_use);
    for (int state = 0; state < 3; ++state) {
      breaker_state_[state]->Set(state == static_cast<int>(snapshot.breaker) ? 1.0 : 0.0);
    }
  }
  return true;
}

}  // namespace aits::session
