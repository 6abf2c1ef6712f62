#include "aits/kernel/kernel.h"

#include <algorithm>
#include <cmath>

namespace aits::kernel {
namespace {

bool IsFinished(OrderStatus status) {
  return status == OrderStatus::kFilled || status == OrderStatus::kCanceled ||
         status == OrderStatus::kExpired || status == OrderStatus::kRejected;
}

}  // namespace

Status KernelConfig::Validate() const {
  if (account_currency.empty()) return InvalidArgument("account currency is not set");
  if (initial_balance.raw() <= 0 || initial_balance > Money::FromRaw(kMaxCash * kMoneyScale)) {
    return InvalidArgument("cash " + initial_balance.ToString() + " is outside 0 .. " +
                           std::to_string(kMaxCash));
  }
  if (!(leverage >= 0.01 && leverage <= 10'000)) {
    return InvalidArgument("leverage " + std::to_string(leverage) + " is outside 0.01 .. 10000");
  }
  if (bar_period.ns <= 0) return InvalidArgument("bar period must be positive");
  if (client_id_window == 0) return InvalidArgument("client id window must be at least 1");
  if (risk) AITS_RETURN_IF_ERROR(risk->Validate());
  return venue.Validate();
}

Kernel::Kernel(const KernelConfig& config, Clock& clock, const ExecutionClientFactory& execution)
    : config_(config),
      clock_(clock),
      client_ids_(std::max<size_t>(config.client_id_window, 1)),
      portfolio_(config.account_currency, config.initial_balance, config.leverage,
                 config.venue.account_mode) {
  execution_ =
      execution ? execution(order_manager_, *this)
                : std::make_unique<execution::SimulatedVenue>(config.venue, order_manager_, *this);
  order_manager_.Connect(*execution_);
  if (config.risk) {
    risk_ = std::make_unique<risk::RiskManager>(*config.risk, portfolio_,
                                                [this](const risk::BreakerChange& change) {
                                                  if (change.to == risk::BreakerState::kHalted)
                                                    halt_pending_ = true;
                                                  bus_.Publish(change);
                                                });
  }
  // Subscription order is delivery order: the portfolio books a fill before the strategy hears
  // of it, so a strategy reading its position inside OnFill sees the new one.
  bus_.Subscribe<Fill>([this](const Fill& fill) {
    portfolio_.OnFill(fill);
    if (risk_) risk_->OnFill(fill, clock_.Now());
    cached_margin_ = portfolio_.account().margin;
    fills_.push_back(fill);
    ++fill_count_;
    if (config_.history > 0 && fills_.size() > config_.history) fills_.pop_front();
    if (strategy_) strategy_->OnFill(fill);
  });
  // The order manager has already applied the update to its table.
  bus_.Subscribe<execution::OrderUpdate>([this](const execution::OrderUpdate& update) {
    if (IsFinished(update.order.status) && !pending_by_order_.empty()) {
      auto it = pending_by_order_.find(update.order.id.value);
      if (it != pending_by_order_.end()) {
        pending_lots_[update.order.request.instrument.value] -= it->second;
        pending_by_order_.erase(it);
        if (const uint64_t ticket = update.order.request.position_ticket; ticket != 0) {
          auto closing = closing_lots_.find(ticket);
          if (closing != closing_lots_.end() &&
              (closing->second -= update.order.request.quantity.raw()) <= 0) {
            closing_lots_.erase(closing);
          }
        }
      }
    }
    if (strategy_) strategy_->OnOrderUpdate(update.order);
  });
}

Kernel::~Kernel() = default;

Status Kernel::AddInstrument(const Instrument& instrument) {
  AITS_RETURN_IF_ERROR(instrument.Validate());
  if (instrument.id.value != instruments_.size()) {
    return InvalidArgument("instrument '" + instrument.symbol + "' has id " +
                           std::to_string(instrument.id.value) + ", expected " +
                           std::to_string(instruments_.size()));
  }
  AITS_RETURN_IF_ERROR(portfolio_.AddInstrument(instrument));
  instruments_.push_back(instrument);
  execution_->AddInstrument(instruments_.back());
  if (risk_) risk_->AddInstrument(instruments_.back());
  aggregators_.emplace_back(config_.bar_period);
  last_quotes_.emplace_back();
  pending_lots_.push_back(0);
  return Status::Ok();
}

void Kernel::SetStrategy(std::unique_ptr<strategy::Strategy> strategy) {
  strategy_ = std::move(strategy);
  strategy_ticks_ = strategy_ != nullptr && strategy_->WantsTicks();
}

void Kernel::Start() {
  if (started_) return;
  started_ = true;
  if (strategy_) strategy_->OnStart(*this);
}

size_t Kernel::FireTimers(Timestamp now) {
  size_t fired = 0;
  while (!timers_.empty() && timers_.top().at <= now) {
    const Timer timer = timers_.top();
    timers_.pop();
    ++fired;
    if (strategy_) strategy_->OnTimer(strategy::TimerEvent{timer.id, timer.at});
  }
  return fired;
}

std::optional<Timestamp> Kernel::NextTimer() const {
  if (timers_.empty()) return std::nullopt;
  return timers_.top().at;
}

size_t Kernel::AdvanceTo(Timestamp now) { return timers_.empty() ? 0 : FireTimers(now); }

void Kernel::OnTick(const Tick& tick) {
  if (!timers_.empty()) FireTimers(tick.ts);
  if (ticks_++ == 0) portfolio_.SampleEquity(tick.ts);  // the curve starts at the first quote
  // The finished bar lands in a member: a fresh local Bar (about 230 bytes) was zeroed on every
  // tick, which cost more than the rest of this function (docs/performance.md).
  Bar& finished = finished_bar_;
  const bool bar_done = aggregators_[tick.instrument.value].Update(tick, &finished);
  if (bar_done) {
    // Equity at the bar's close: the portfolio is still marked at the last quote of that bar.
    portfolio_.SampleEquity(finished.CloseTime());
    if (cached_margin_.raw() > 0) cached_margin_ = portfolio_.account().margin;
  }
  last_quotes_[tick.instrument.value] = tick;
  // Mark first, so the venue's margin and commission checks see this tick's rates.
  portfolio_.OnTick(tick);
  const uint64_t stop_outs = order_manager_.stop_outs();
  execution_->OnTick(tick);
  if (order_manager_.has_opened()) CountVenueOrders();
  if (!deferred_.empty()) SendDeferred(tick.instrument);
  // The venue's stop-out, if it happened, has already flattened: a halt pending from this tick's
  // fills is served by it.
  if (order_manager_.stop_outs() != stop_outs) halt_pending_ = false;
  if (risk_) {
    risk_->OnQuote(tick, tick.ts);
    if (bar_done) risk_->OnBarClose(finished, tick.ts);
    if (halt_pending_) Flatten("halt");
  }
  if (bar_done) DeliverBar(finished);
  if (strategy_ticks_) strategy_->OnTick(tick);
}

void Kernel::OnBar(const Bar& bar) {
  if (!timers_.empty()) FireTimers(bar.CloseTime());
  if (bars_ == 0) portfolio_.SampleEquity(bar.open_time);
  Tick close_quote;
  close_quote.ts = bar.CloseTime();
  close_quote.bid = bar.bid.close;
  close_quote.ask = bar.ask.close;
  close_quote.instrument = bar.instrument;
  // Fills at this bar's open must be valued (conversion, margin, commission) at the open, not
  // at the previous close nor at this bar's close, which is not known yet when they happen; and
  // a strategy asking for the last quote while it hears of those fills must get the open too.
  Tick open_quote = close_quote;
  open_quote.ts = bar.open_time;
  open_quote.bid = bar.bid.open;
  open_quote.ask = bar.ask.open;
  last_quotes_[bar.instrument.value] = open_quote;
  portfolio_.OnTick(open_quote);
  execution_->OnBar(bar);
  if (order_manager_.has_opened()) CountVenueOrders();
  last_quotes_[bar.instrument.value] = close_quote;
  portfolio_.OnBar(bar);
  if (cached_margin_.raw() > 0) cached_margin_ = portfolio_.account().margin;
  const uint64_t stop_outs = order_manager_.stop_outs();
  execution_->OnBarClosed(bar);  // the venue's stop-out check, at the close
  if (order_manager_.has_opened()) CountVenueOrders();
  if (order_manager_.stop_outs() != stop_outs) halt_pending_ = false;
  portfolio_.SampleEquity(bar.CloseTime());
  if (!deferred_.empty()) SendDeferred(bar.instrument);
  if (risk_) {
    risk_->OnQuote(close_quote, bar.CloseTime());
    risk_->OnBarClose(bar, bar.CloseTime());
    if (halt_pending_) Flatten("halt");
  }
  DeliverBar(bar);
}

execution::ReportOutcome Kernel::OnExecutionReport(const ExecutionReport& report) {
  const execution::ReportOutcome outcome = order_manager_.Apply(report);
  if (order_manager_.has_opened()) CountVenueOrders();
  return outcome;
}

void Kernel::OnAccountReport(const AccountReport& report) {
  order_manager_.OnAccountReport(report);
  // The venue closes the positions itself: a halt pending from earlier fills is served by it.
  if (report.reason == AccountReportReason::kStopOut) halt_pending_ = false;
}

void Kernel::Flatten(std::string_view tag) {
  // A halt pending at the same moment is served by this flattening too.
  halt_pending_ = false;
  // Resting and travelling orders first, so none can reopen a position after the close.
  // The kernel's unfinished orders and any the venue opened itself (a stop-out's closes).
  std::vector<uint64_t> live;
  live.reserve(pending_by_order_.size());
  for (const auto& [id, lots] : pending_by_order_) live.push_back(id);
  order_manager_.AppendLiveIds(&live);
  std::sort(live.begin(), live.end());  // deterministic order for the event log
  live.erase(std::unique(live.begin(), live.end()), live.end());
  for (uint64_t id : live) (void)order_manager_.Cancel(OrderId{id}, clock_.Now());
  ClosePositions(tag);
}

void Kernel::ClosePositions(std::string_view tag) {
  if (config_.venue.account_mode == AccountMode::kHedging) {
    // Each position by its ticket; copied, as a close may fill (and change the list) at once.
    for (const Instrument& inst : instruments_) {
      const std::vector<HedgedPosition> positions = portfolio_.positions(inst.id);
      for (const HedgedPosition& position : positions) {
        OrderRequest request;
        request.instrument = inst.id;
        request.side = Opposite(position.side);
        request.quantity = position.quantity;
        request.position_ticket = position.ticket;
        request.tag = std::string(tag);
        SubmitChecked(request, /*flatten=*/true);
      }
    }
    return;
  }
  for (const Instrument& inst : instruments_) {
    const Quantity held = portfolio_.position(inst.id).quantity;
    if (held.IsZero()) continue;
    OrderRequest request;
    request.instrument = inst.id;
    request.side = held.IsPositive() ? Side::kSell : Side::kBuy;
    request.quantity = held.Abs();
    request.tag = std::string(tag);
    SubmitChecked(request, /*flatten=*/true);
  }
}

bool Kernel::RememberClientId(std::string_view client_order_id) {
  return client_ids_.Insert(client_order_id);
}

Status Kernel::SetBreaker(risk::BreakerState state, std::string_view reason) {
  if (!risk_) return FailedPrecondition("no risk manager is configured");
  risk_->SetBreaker(state, reason, clock_.Now());
  if (halt_pending_) Flatten("halt");
  return Status::Ok();
}

void Kernel::DeliverBar(const Bar& bar) {
  ++bars_;
  bus_.Publish(bar);
  if (strategy_) strategy_->OnBar(bar);
}

void Kernel::Stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& aggregator : aggregators_) {
    if (auto bar = aggregator.Flush()) {
      // The last bar is incomplete: count and chart it, but do not let the strategy trade on a
      // bar whose close it could not have known.
      ++bars_;
      bus_.Publish(*bar);
    }
  }
  portfolio_.SampleEquity(clock_.Now());
  if (strategy_) strategy_->OnStop();
}

OrderId Kernel::Submit(const OrderRequest& request) {
  return SubmitChecked(request, /*flatten=*/false);
}

OrderId Kernel::SubmitChecked(const OrderRequest& request, bool flatten) {
  if (bus_.HasSubscribers<OrderSubmitted>()) bus_.Publish(OrderSubmitted{request, clock_.Now()});
  const std::string& client_id = request.client_order_id;
  const uint64_t client_key = client_id.empty() ? 0 : execution::ClientIdWindow::KeyOf(client_id);
  if (client_key != 0 && client_ids_.Contains(client_key)) {
    return order_manager_.Reject(request, RejectReason::kDuplicateClientId,
                                 "client order id '" + client_id + "' was already used",
                                 clock_.Now());
  }
  if (risk_) {
    const Tick* quote = nullptr;
    if (request.instrument.value < last_quotes_.size() && last_quotes_[request.instrument.value]) {
      quote = &*last_quotes_[request.instrument.value];
    }
    risk::RiskVerdict verdict = risk_->CheckOrder(request, quote, clock_.Now(), flatten);
    if (!verdict.ok()) {
      return order_manager_.Reject(request, verdict.reason, std::move(verdict.detail),
                                   clock_.Now());
    }
  }
  // Reserved once the order is on its way: an order the risk manager refused may be resent.
  if (client_key != 0) client_ids_.Insert(client_key);
  const OrderId id = order_manager_.Submit(request, clock_.Now());
  if (config_.history > 0) TrimHistory();
  const Order* order = order_manager_.Find(id);
  if (order != nullptr && !IsFinished(order->status)) CountPending(id, request);
  return id;
}

void Kernel::CountPending(OrderId id, const OrderRequest& request) {
  if (request.instrument.value >= pending_lots_.size()) return;
  const int64_t signed_raw =
      request.side == Side::kBuy ? request.quantity.raw() : -request.quantity.raw();
  pending_by_order_[id.value] = signed_raw;
  pending_lots_[request.instrument.value] += signed_raw;
  if (request.position_ticket != 0)
    closing_lots_[request.position_ticket] += request.quantity.raw();
}

std::vector<HedgedPosition> Kernel::OpenPositions(InstrumentId instrument) const {
  std::vector<HedgedPosition> open;
  for (const HedgedPosition& position : portfolio_.positions(instrument)) {
    int64_t lots = position.quantity.raw();
    if (!closing_lots_.empty()) {
      if (auto it = closing_lots_.find(position.ticket); it != closing_lots_.end()) {
        lots -= it->second;
      }
    }
    if (lots <= 0) continue;
    open.push_back(position);
    open.back().quantity = Quantity::FromRaw(lots, position.quantity.precision());
  }
  return open;
}

void Kernel::CountVenueOrders() {
  order_manager_.TakeOpened(&opened_scratch_);
  for (uint64_t id : opened_scratch_) {
    const Order* order = order_manager_.Find(OrderId{id});
    if (order == nullptr || IsFinished(order->status)) continue;
    CountPending(OrderId{id}, order->request);
  }
  opened_scratch_.clear();
}

void Kernel::TrimHistory() {
  // In batches (OrderManager::Trim), and the trade records with them.
  if (order_manager_.orders().size() < config_.history + std::min<size_t>(1024, config_.history)) {
    return;
  }
  order_manager_.Trim(config_.history);
  portfolio_.TrimTrades(config_.history);
}

execution::AccountState Kernel::Holdings() const {
  execution::AccountState holdings;
  holdings.balance = portfolio_.account().balance;
  const bool hedging = config_.venue.account_mode == AccountMode::kHedging;
  for (const Instrument& inst : instruments_) {
    if (hedging) {
      // Every position with its ticket: a hedging account's positions match by ticket.
      for (const HedgedPosition& held : portfolio_.positions(inst.id)) {
        const int64_t lots = held.side == Side::kBuy ? held.quantity.raw() : -held.quantity.raw();
        holdings.positions.push_back(
            execution::HeldPosition{.ticket = held.ticket,
                                    .instrument = inst.id,
                                    .quantity = Quantity::FromRaw(lots, held.quantity.precision()),
                                    .open_price = held.open_price});
      }
      continue;
    }
    const Position& position = portfolio_.position(inst.id);
    if (position.IsFlat()) continue;
    holdings.positions.push_back(execution::HeldPosition{
        .instrument = inst.id, .quantity = position.quantity, .open_price = position.avg_price});
  }
  std::vector<const Order*> live;
  order_manager_.AppendLive(&live);
  for (const Order* order : live) {
    const OrderRequest& request = order->request;
    holdings.orders.push_back(execution::WorkingOrder{.client_order_id = request.client_order_id,
                                                      .ticket = order->venue_order_id,
                                                      .instrument = request.instrument,
                                                      .side = request.side,
                                                      .quantity = request.quantity,
                                                      .filled = order->filled,
                                                      .type = request.type,
                                                      .price = request.price,
                                                      .tif = request.tif});
  }
  return holdings;
}

Result<Reconciliation> Kernel::PlanReconciliation(execution::ReconcilePolicy policy) const {
  Reconciliation out;
  out.policy = policy;
  out.logged = Holdings();
  AITS_ASSIGN_OR_RETURN(out.venue, execution_->Snapshot());
  out.report = execution::Compare(out.logged, out.venue,
                                  config_.venue.account_mode == AccountMode::kHedging);
  const std::vector<Instrument> instruments(instruments_.begin(), instruments_.end());
  out.lines = execution::Describe(out.report, instruments);
  AITS_ASSIGN_OR_RETURN(out.plan,
                        execution::Plan(out.report, out.logged, out.venue, policy, instruments));
  return out;
}

void Kernel::CountPending(const Order& order) {
  const OrderRequest& request = order.request;
  if (IsFinished(order.status) || request.instrument.value >= pending_lots_.size()) return;
  const int64_t left = request.quantity.raw() - order.filled.raw();
  const int64_t signed_raw = request.side == Side::kBuy ? left : -left;
  // An order already counted (the log's, now with the venue's fills) counts what is left of it.
  int64_t& counted = pending_by_order_[order.id.value];
  pending_lots_[request.instrument.value] += signed_raw - counted;
  counted = signed_raw;
}

Status Kernel::ApplyReconciliation(const Reconciliation& reconciliation) {
  const Timestamp now = clock_.Now();
  for (const execution::ReconcileAction& action : reconciliation.plan) {
    const execution::HeldPosition& position = action.position;
    const execution::WorkingOrder& working = action.order;
    switch (action.kind) {
      case execution::ActionKind::kAdoptBalance:
        portfolio_.SetBalance(action.balance);
        break;
      case execution::ActionKind::kAdoptPosition:
        AITS_RETURN_IF_ERROR(portfolio_.SetPosition(position.instrument, position.ticket,
                                                    position.quantity, position.open_price, now));
        break;
      case execution::ActionKind::kForgetPosition:
        AITS_RETURN_IF_ERROR(
            portfolio_.SetPosition(position.instrument, position.ticket, Quantity(), Price(), now));
        break;
      case execution::ActionKind::kClosePosition: {
        // Held as the venue holds it, so that the closing fill books the venue's P&L and leaves
        // the portfolio flat.
        AITS_RETURN_IF_ERROR(portfolio_.SetPosition(position.instrument, position.ticket,
                                                    position.quantity, position.open_price, now));
        OrderRequest request;
        request.instrument = position.instrument;
        request.side = position.quantity.IsPositive() ? Side::kSell : Side::kBuy;
        request.quantity = position.quantity.Abs();
        // A hedging account closes a position by its ticket (an order naming none would open a
        // position beside it).
        if (config_.venue.account_mode == AccountMode::kHedging) {
          request.position_ticket = position.ticket;
        }
        request.tag = "reconcile";
        if (position.instrument.value < last_quotes_.size() &&
            last_quotes_[position.instrument.value]) {
          SubmitChecked(request, /*flatten=*/true);
        } else {
          deferred_.push_back(std::move(request));
        }
        break;
      }
      case execution::ActionKind::kAdoptOrder:
      case execution::ActionKind::kCancelOrder: {
        if (working.instrument.value >= instruments_.size()) {
          return InvalidArgument("reconciliation: order '" + working.client_order_id +
                                 "' is for unknown instrument #" +
                                 std::to_string(working.instrument.value));
        }
        const OrderId id = order_manager_.Adopt(working, now);
        (void)client_ids_.Insert(working.client_order_id);  // false: already remembered
        if (const Order* order = order_manager_.Find(id)) CountPending(*order);
        if (action.kind == execution::ActionKind::kCancelOrder) {
          AITS_RETURN_IF_ERROR(order_manager_.Cancel(id, now));
        }
        break;
      }
      case execution::ActionKind::kForgetOrder: {
        const Order* order =
            working.ticket != 0 ? order_manager_.FindByTicket(working.ticket) : nullptr;
        if (order == nullptr) order = order_manager_.FindLiveByClientId(working.client_order_id);
        if (order == nullptr) {
          return Internal("reconciliation: the logged order '" + working.client_order_id +
                          "' to forget is not live in the order table");
        }
        AITS_RETURN_IF_ERROR(order_manager_.Abandon(
            order->id, "reconciliation: no longer working at the venue", now));
        break;
      }
    }
  }
  cached_margin_ = portfolio_.account().margin;
  return Status::Ok();
}

void Kernel::SendDeferred(InstrumentId instrument) {
  std::vector<OrderRequest> due;
  for (auto it = deferred_.begin(); it != deferred_.end();) {
    if (it->instrument == instrument) {
      due.push_back(std::move(*it));
      it = deferred_.erase(it);
    } else {
      ++it;
    }
  }
  for (const OrderRequest& request : due) SubmitChecked(request, /*flatten=*/true);
}

Status Kernel::Cancel(OrderId id) { return order_manager_.Cancel(id, clock_.Now()); }

const Position& Kernel::position(InstrumentId instrument) const {
  return portfolio_.position(instrument);
}

Quantity Kernel::PendingLots(InstrumentId instrument) const {
  if (instrument.value >= pending_lots_.size()) return Quantity();
  return Quantity::FromRaw(pending_lots_[instrument.value],
                           instruments_[instrument.value].LotPrecision());
}

Account Kernel::account() const { return portfolio_.account(); }

const Instrument& Kernel::instrument(InstrumentId instrument) const {
  return instruments_[instrument.value];
}

std::optional<Tick> Kernel::LastQuote(InstrumentId instrument) const {
  if (instrument.value >= last_quotes_.size()) return std::nullopt;
  return last_quotes_[instrument.value];
}

void Kernel::SetTimer(Timestamp at, uint64_t id) { timers_.push(Timer{at, timer_seq_++, id}); }

Money Kernel::FreeMargin() const { return portfolio_.account().free_margin; }

Money Kernel::MarginRequired(const Instrument& instrument, Quantity lots, Price price) const {
  return portfolio_.MarginRequired(instrument, lots, price);
}

Money Kernel::ToAccount(InstrumentId instrument, Money amount_in_quote) const {
  return portfolio_.ToAccount(instrument, amount_in_quote);
}

Money Kernel::NotionalInAccount(const Instrument& instrument, Quantity lots, Price price) const {
  return portfolio_.NotionalInAccount(instrument, lots, price);
}

}  // namespace aits::kernel
