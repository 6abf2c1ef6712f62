#include "aits/execution/simulated_venue.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <utility>

namespace aits::execution {

// ---------------------------------------------------------------------------------------------
// Commission and configuration

Money CommissionModel::Compute(Quantity lots, Money notional_in_account) const {
  double raw = 0;
  switch (kind) {
    case CommissionKind::kNone:
      return Money();
    case CommissionKind::kPerLot:
      // lots.raw() is in 1e-9 lots; Money raw is 1e-6 of the currency.
      raw = rate * static_cast<double>(lots.Abs().raw()) / 1'000.0;
      break;
    case CommissionKind::kPerMillion:
      raw = rate * static_cast<double>(notional_in_account.raw()) / 1'000'000.0;
      break;
    case CommissionKind::kPercent:
      raw = rate * static_cast<double>(notional_in_account.raw()) / 100.0;
      break;
  }
  if (raw < 0) raw = -raw;
  return Money::FromRaw(std::llround(raw));
}

Status CommissionModel::Validate() const {
  if (!std::isfinite(rate) || rate < 0) {
    return InvalidArgument("commission: rate " + std::to_string(rate) + " must be finite and >= 0");
  }
  // Bounds keep every commission representable as Money (no overflow, however large the order).
  const double max_rate = kind == CommissionKind::kPercent ? 100.0 : 1e6;
  if (rate > max_rate) {
    return InvalidArgument("commission: rate " + std::to_string(rate) + " is above " +
                           std::to_string(max_rate));
  }
  return Status::Ok();
}

Result<CommissionModel> ParseCommission(std::string_view text) {
  const std::string quoted = "commission '" + std::string(text) + "'";
  CommissionModel model;
  if (text == "none" || text.empty()) return model;
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return InvalidArgument(quoted +
                           ": expected none, per_lot:RATE, per_million:RATE or percent:RATE");
  }
  const std::string_view kind = text.substr(0, colon);
  if (kind == "per_lot") {
    model.kind = CommissionKind::kPerLot;
  } else if (kind == "per_million") {
    model.kind = CommissionKind::kPerMillion;
  } else if (kind == "percent") {
    model.kind = CommissionKind::kPercent;
  } else {
    return InvalidArgument(quoted + ": unknown kind '" + std::string(kind) +
                           "' (none, per_lot, per_million, percent)");
  }
  const std::string rate_text(text.substr(colon + 1));
  char* end = nullptr;
  model.rate = std::strtod(rate_text.c_str(), &end);
  if (rate_text.empty() || end != rate_text.c_str() + rate_text.size()) {
    return InvalidArgument(quoted + ": rate '" + rate_text + "' is not a number");
  }
  Status status = model.Validate();
  if (!status.ok()) return status.WithContext(quoted);
  return model;
}

Status VenueConfig::Validate() const {
  if (latency.ns < 0 || latency > Duration::Days(1)) {
    return InvalidArgument("venue: latency " + std::to_string(latency.ns) +
                           " ns is outside 0 .. 1 day");
  }
  if (slippage_points < 0 || slippage_points > kMaxSlippagePoints) {
    return InvalidArgument("venue: slippage_points " + std::to_string(slippage_points) +
                           " is outside 0.." + std::to_string(kMaxSlippagePoints));
  }
  return commission.Validate();
}

// ---------------------------------------------------------------------------------------------
// State

struct SimulatedVenue::PriceRange {
  Ohlc bid;
  Ohlc ask;
  Timestamp open_ts;   // stamp of fills at the open (the tick time in tick mode)
  Timestamp close_ts;  // stamp of fills inside the range (bar mode)
};

struct SimulatedVenue::InstrumentState {
  Instrument instrument;
  int lot_precision = 0;
  int64_t slippage_raw = 0;  // slippage in 1e-9 price units
  bool has_quote = false;
  Price bid;
  Price ask;
  int64_t position_raw = 0;  // signed lots, 1e-9 units
  std::optional<Price> stop_loss;
  std::optional<Price> take_profit;
  // Orders travelling to the venue, in submission order (= arrival order: latency is constant).
  std::vector<uint64_t> in_transit;
  size_t transit_head = 0;
  // Accepted limit/stop orders in time priority. Canceled ones are dropped lazily.
  std::vector<uint64_t> resting;

  bool Idle() const {
    return transit_head == in_transit.size() && resting.empty() && !stop_loss && !take_profit;
  }
};

namespace {

bool IsLive(OrderStatus status) {
  return status == OrderStatus::kPendingNew || status == OrderStatus::kAccepted;
}

Timestamp DayEnd(Timestamp created) { return FloorToDay(created) + Duration::Days(1); }

Ohlc Flat(Price price) { return Ohlc{price, price, price, price}; }

// Where a limit or stop (or SL/TP, expressed as one) fills within a range: at the open if the
// open is already through the trigger, else at the trigger if the range reaches it.
struct Trigger {
  Price price;
  bool at_open = false;
};

// Buy limit / short TP: fills when the ask falls to `level`.
std::optional<Trigger> AskAtOrBelow(const Ohlc& ask, Price level) {
  if (ask.open <= level) return Trigger{ask.open, true};
  if (ask.low <= level) return Trigger{level, false};
  return std::nullopt;
}
// Buy stop / short SL: fills when the ask rises to `level`.
std::optional<Trigger> AskAtOrAbove(const Ohlc& ask, Price level) {
  if (ask.open >= level) return Trigger{ask.open, true};
  if (ask.high >= level) return Trigger{level, false};
  return std::nullopt;
}
// Sell limit / long TP.
std::optional<Trigger> BidAtOrAbove(const Ohlc& bid, Price level) {
  if (bid.open >= level) return Trigger{bid.open, true};
  if (bid.high >= level) return Trigger{level, false};
  return std::nullopt;
}
// Sell stop / long SL.
std::optional<Trigger> BidAtOrBelow(const Ohlc& bid, Price level) {
  if (bid.open <= level) return Trigger{bid.open, true};
  if (bid.low <= level) return Trigger{level, false};
  return std::nullopt;
}

std::optional<Trigger> OrderTrigger(const OrderRequest& request, const Ohlc& bid, const Ohlc& ask) {
  const Price level = *request.price;
  if (request.type == OrderType::kLimit) {
    return request.side == Side::kBuy ? AskAtOrBelow(ask, level) : BidAtOrAbove(bid, level);
  }
  return request.side == Side::kBuy ? AskAtOrAbove(ask, level) : BidAtOrBelow(bid, level);
}

// Protection of a position on `side` is on the right side of `reference` (the price that would
// close it, or the order's price): below for the SL of a long, above for its TP.
bool ProtectionValid(Side side, Price reference, const std::optional<Price>& stop_loss,
                     const std::optional<Price>& take_profit) {
  if (stop_loss) {
    if (!stop_loss->IsPositive()) return false;
    if (side == Side::kBuy ? *stop_loss >= reference : *stop_loss <= reference) return false;
  }
  if (take_profit) {
    if (!take_profit->IsPositive()) return false;
    if (side == Side::kBuy ? *take_profit <= reference : *take_profit >= reference) return false;
  }
  return true;
}

}  // namespace

SimulatedVenue::SimulatedVenue(VenueConfig config, Bus& bus, const AccountOracle& account)
    : config_(std::move(config)), bus_(bus), account_(account) {}

SimulatedVenue::~SimulatedVenue() = default;

void SimulatedVenue::AddInstrument(const Instrument& instrument) {
  const size_t index = instrument.id.value;
  if (index >= states_.size()) states_.resize(index + 1);
  auto state = std::make_unique<InstrumentState>();
  state->instrument = instrument;
  state->lot_precision = instrument.LotPrecision();
  const int digits = instrument.digits >= 0 && instrument.digits <= kFixedDigits ? instrument.digits
                                                                                 : kFixedDigits;
  state->slippage_raw = config_.slippage_points * Pow10(kFixedDigits - digits);
  state->resting.reserve(16);
  state->in_transit.reserve(16);
  states_[index] = std::move(state);
}

SimulatedVenue::InstrumentState* SimulatedVenue::StateOf(InstrumentId id) {
  return id.value < states_.size() ? states_[id.value].get() : nullptr;
}
const SimulatedVenue::InstrumentState* SimulatedVenue::StateOf(InstrumentId id) const {
  return id.value < states_.size() ? states_[id.value].get() : nullptr;
}

Order* SimulatedVenue::OrderAt(uint64_t id) {
  if (id >= history_base_) {
    const uint64_t index = id - history_base_;
    return index < history_.size() ? &history_[index] : nullptr;
  }
  auto it = parked_.find(id);
  return it == parked_.end() ? nullptr : &it->second;
}
const Order* SimulatedVenue::OrderAt(uint64_t id) const {
  return const_cast<SimulatedVenue*>(this)->OrderAt(id);
}

const Order* SimulatedVenue::FindOrder(OrderId id) const { return OrderAt(id.value); }

Quantity SimulatedVenue::NetLots(InstrumentId instrument) const {
  const InstrumentState* state = StateOf(instrument);
  if (state == nullptr) return Quantity();
  return Quantity::FromRaw(state->position_raw, state->lot_precision);
}

size_t SimulatedVenue::OpenOrderCount() const { return live_orders_; }

Order& SimulatedVenue::NewOrder(const OrderRequest& request, Timestamp now) {
  EvictHistory();
  Order& order = history_.emplace_back();
  order.id = OrderId{next_id_++};
  order.request = request;
  order.status = OrderStatus::kPendingNew;
  order.created = now;
  order.arrives = now + config_.latency;
  order.updated = now;
  order.filled = Quantity::FromRaw(0, request.quantity.precision());
  ++live_orders_;
  return order;
}

void SimulatedVenue::EvictHistory() {
  // Evict in batches: the oldest order is cold in cache, and touching it on every submission
  // cost more than the rest of the order path; a batch walks the old end sequentially.
  const size_t batch = std::min<size_t>(1024, config_.order_history);
  if (config_.order_history == 0 || history_.size() < config_.order_history + batch) return;
  // Drop parked orders that have finished since they were parked.
  for (auto it = parked_.begin(); it != parked_.end();) {
    it = IsLive(it->second.status) ? std::next(it) : parked_.erase(it);
  }
  while (history_.size() >= config_.order_history) {
    Order& front = history_.front();
    if (IsLive(front.status)) parked_.emplace(front.id.value, std::move(front));
    history_.pop_front();
    ++history_base_;
  }
}

RejectReason SimulatedVenue::ValidateRequest(const OrderRequest& request,
                                             const Instrument& instrument) const {
  const Quantity lots = request.quantity;
  if (!lots.IsPositive() || lots < instrument.min_lots || lots > instrument.max_lots ||
      (instrument.lot_step.IsPositive() && lots.raw() % instrument.lot_step.raw() != 0)) {
    return RejectReason::kInvalidQuantity;
  }
  if (request.type != OrderType::kMarket) {
    if (!request.price || !request.price->IsPositive()) return RejectReason::kInvalidPrice;
    if (!ProtectionValid(request.side, *request.price, request.stop_loss, request.take_profit)) {
      return RejectReason::kInvalidPrice;
    }
  } else if ((request.stop_loss && !request.stop_loss->IsPositive()) ||
             (request.take_profit && !request.take_profit->IsPositive())) {
    return RejectReason::kInvalidPrice;
  }
  return RejectReason::kNone;
}

// ---------------------------------------------------------------------------------------------
// Order entry

OrderId SimulatedVenue::Submit(const OrderRequest& request, Timestamp now) {
  Order& order = NewOrder(request, now);
  const OrderId id = order.id;
  InstrumentState* state = StateOf(request.instrument);
  RejectReason reason = RejectReason::kNone;
  if (state == nullptr) {
    reason = RejectReason::kUnknownInstrument;
  } else {
    reason = ValidateRequest(request, state->instrument);
  }
  if (reason != RejectReason::kNone) {
    Finish(order, OrderStatus::kRejected, reason, now);
    bus_.Publish(OrderUpdate{order});
    return id;
  }
  if (config_.fill_mode == FillMode::kTouch && config_.latency.ns == 0) {
    if (!state->has_quote) {
      Finish(order, OrderStatus::kRejected, RejectReason::kNoMarket, now);
      bus_.Publish(OrderUpdate{order});
      return id;
    }
    const PriceRange range{Flat(state->bid), Flat(state->ask), now, now};
    Arrive(order, *state, range, now);
    return id;
  }
  state->in_transit.push_back(id.value);
  return id;
}

OrderId SimulatedVenue::SubmitRejected(const OrderRequest& request, RejectReason reason,
                                       std::string detail, Timestamp now) {
  Order& order = NewOrder(request, now);
  Finish(order, OrderStatus::kRejected, reason, now);
  order.reject_detail = std::move(detail);
  bus_.Publish(OrderUpdate{order});
  return order.id;
}

Status SimulatedVenue::Cancel(OrderId id, Timestamp now) {
  Order* order = OrderAt(id.value);
  if (order == nullptr) {
    return NotFound("cancel: order " + std::to_string(id.value) + " is unknown");
  }
  if (!IsLive(order->status)) {
    return FailedPrecondition("cancel: order " + std::to_string(id.value) + " is already " +
                              std::string(ToString(order->status)));
  }
  // Left in the transit/resting lists; the tick loops drop orders that are no longer live.
  Finish(*order, OrderStatus::kCanceled, RejectReason::kNone, now);
  bus_.Publish(OrderUpdate{*order});
  return Status::Ok();
}

Status SimulatedVenue::SetProtection(InstrumentId instrument, std::optional<Price> stop_loss,
                                     std::optional<Price> take_profit) {
  InstrumentState* state = StateOf(instrument);
  if (state == nullptr) {
    return InvalidArgument("set_protection: instrument id " + std::to_string(instrument.value) +
                           " is unknown");
  }
  if (state->position_raw == 0) {
    return FailedPrecondition("set_protection: no open position in " + state->instrument.symbol);
  }
  const Side side = state->position_raw > 0 ? Side::kBuy : Side::kSell;
  if (state->has_quote) {
    const Price reference = side == Side::kBuy ? state->bid : state->ask;
    if (!ProtectionValid(side, reference, stop_loss, take_profit)) {
      return InvalidArgument("set_protection: " + state->instrument.symbol + " stop_loss " +
                             (stop_loss ? stop_loss->ToString() : "none") + " / take_profit " +
                             (take_profit ? take_profit->ToString() : "none") +
                             " on the wrong side of " + reference.ToString() + " for a " +
                             (side == Side::kBuy ? "long" : "short"));
    }
  } else if ((stop_loss && !stop_loss->IsPositive()) ||
             (take_profit && !take_profit->IsPositive())) {
    return InvalidArgument("set_protection: prices must be positive");
  }
  state->stop_loss = stop_loss;
  state->take_profit = take_profit;
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Market data

void SimulatedVenue::OnTick(const Tick& tick) {
  InstrumentState* state = StateOf(tick.instrument);
  if (state == nullptr) return;
  state->bid = tick.bid;
  state->ask = tick.ask;
  state->has_quote = true;
  if (state->Idle()) return;  // the common case: nothing to do but remember the quote
  const PriceRange range{Flat(tick.bid), Flat(tick.ask), tick.ts, tick.ts};
  ProcessArrivals(*state, range, tick.ts);
  CheckResting(*state, range, tick.ts);
  CheckProtection(*state, range);
}

void SimulatedVenue::OnBar(const Bar& bar) {
  InstrumentState* state = StateOf(bar.instrument);
  if (state == nullptr) return;
  state->bid = bar.bid.close;
  state->ask = bar.ask.close;
  state->has_quote = true;
  if (state->Idle()) return;
  const PriceRange range{bar.bid, bar.ask, bar.open_time, bar.CloseTime()};
  // Orders that arrived before the bar closed take part in it; market orders fill at its open.
  ProcessArrivals(*state, range, bar.CloseTime() - Duration::Nanos(1));
  CheckResting(*state, range, bar.open_time);
  CheckProtection(*state, range);
}

void SimulatedVenue::ProcessArrivals(InstrumentState& state, const PriceRange& range,
                                     Timestamp due) {
  // Indexes, not iterators: a fill's bus handlers may submit more orders re-entrantly.
  while (state.transit_head < state.in_transit.size()) {
    const uint64_t id = state.in_transit[state.transit_head];
    Order* order = OrderAt(id);
    if (order == nullptr || order->status != OrderStatus::kPendingNew) {
      ++state.transit_head;
      continue;
    }
    if (order->arrives > due) break;
    ++state.transit_head;
    // In bar mode an order may arrive inside the bar: never stamp anything before its arrival.
    Arrive(*order, state, range, std::max(range.open_ts, order->arrives));
  }
  if (state.transit_head == state.in_transit.size()) {
    state.in_transit.clear();
    state.transit_head = 0;
  }
}

void SimulatedVenue::Arrive(Order& order, InstrumentState& state, const PriceRange& range,
                            Timestamp now) {
  const OrderRequest& request = order.request;
  if (request.tif == TimeInForce::kDay && now >= DayEnd(order.created)) {
    Finish(order, OrderStatus::kExpired, RejectReason::kNone, now);
    bus_.Publish(OrderUpdate{order});
    return;
  }
  const Ohlc open_bid = Flat(range.bid.open);
  const Ohlc open_ask = Flat(range.ask.open);
  if (request.type == OrderType::kMarket) {
    // Protection is checked against the price that would close the new position.
    const Price reference = request.side == Side::kBuy ? range.bid.open : range.ask.open;
    if (!ProtectionValid(request.side, reference, request.stop_loss, request.take_profit)) {
      Finish(order, OrderStatus::kRejected, RejectReason::kInvalidPrice, now);
      bus_.Publish(OrderUpdate{order});
      return;
    }
    const Price touch = request.side == Side::kBuy ? range.ask.open : range.bid.open;
    const Price price = Slipped(state, touch, request.side);
    if (!MarginAllows(order, state, price)) {
      Finish(order, OrderStatus::kRejected, RejectReason::kInsufficientMargin, now);
      bus_.Publish(OrderUpdate{order});
      return;
    }
    FillOrder(order, state, price, now, FillReason::kMarket);
    return;
  }
  if (auto trigger = OrderTrigger(request, open_bid, open_ask)) {
    const Price price = request.type == OrderType::kStop
                            ? Slipped(state, trigger->price, request.side)
                            : trigger->price;
    if (!MarginAllows(order, state, price)) {
      Finish(order, OrderStatus::kRejected, RejectReason::kInsufficientMargin, now);
      bus_.Publish(OrderUpdate{order});
      return;
    }
    FillOrder(order, state, price, now, FillReasonOf(request.type));
    return;
  }
  if (request.tif == TimeInForce::kIoc || request.tif == TimeInForce::kFok) {
    Finish(order, OrderStatus::kExpired, RejectReason::kNone, now);
    bus_.Publish(OrderUpdate{order});
    return;
  }
  if (!MarginAllows(order, state, *request.price)) {
    Finish(order, OrderStatus::kRejected, RejectReason::kInsufficientMargin, now);
    bus_.Publish(OrderUpdate{order});
    return;
  }
  order.status = OrderStatus::kAccepted;
  order.updated = now;
  state.resting.push_back(order.id.value);
  bus_.Publish(OrderUpdate{order});
}

void SimulatedVenue::CheckResting(InstrumentState& state, const PriceRange& range, Timestamp now) {
  // Compacts in place; indexes because handlers may append (re-entrant Submit) or cancel.
  size_t keep = 0;
  for (size_t idx = 0; idx < state.resting.size(); ++idx) {
    const uint64_t id = state.resting[idx];
    Order* order = OrderAt(id);
    if (order == nullptr || order->status != OrderStatus::kAccepted) continue;
    if (order->request.tif == TimeInForce::kDay && now >= DayEnd(order->created)) {
      Finish(*order, OrderStatus::kExpired, RejectReason::kNone, now);
      bus_.Publish(OrderUpdate{*order});
      continue;
    }
    auto trigger = OrderTrigger(order->request, range.bid, range.ask);
    if (!trigger) {
      state.resting[keep++] = id;
      continue;
    }
    const Timestamp ts =
        std::max(trigger->at_open ? range.open_ts : range.close_ts, order->arrives);
    const Price price = order->request.type == OrderType::kStop
                            ? Slipped(state, trigger->price, order->request.side)
                            : trigger->price;
    if (!MarginAllows(*order, state, price)) {
      Finish(*order, OrderStatus::kRejected, RejectReason::kInsufficientMargin, ts);
      bus_.Publish(OrderUpdate{*order});
      continue;
    }
    FillOrder(*order, state, price, ts, FillReasonOf(order->request.type));
  }
  state.resting.resize(keep);
}

void SimulatedVenue::CheckProtection(InstrumentState& state, const PriceRange& range) {
  if (state.position_raw == 0 || (!state.stop_loss && !state.take_profit)) return;
  const bool is_long = state.position_raw > 0;
  std::optional<Trigger> sl;
  std::optional<Trigger> tp;
  if (is_long) {
    if (state.stop_loss) sl = BidAtOrBelow(range.bid, *state.stop_loss);
    if (state.take_profit) tp = BidAtOrAbove(range.bid, *state.take_profit);
  } else {
    if (state.stop_loss) sl = AskAtOrAbove(range.ask, *state.stop_loss);
    if (state.take_profit) tp = AskAtOrBelow(range.ask, *state.take_profit);
  }
  // What the open already shows comes first; inside a bar the SL is assumed to come first.
  bool use_sl = false;
  if (sl && sl->at_open) {
    use_sl = true;
  } else if (tp && tp->at_open) {
    use_sl = false;
  } else if (sl) {
    use_sl = true;
  } else if (!tp) {
    return;
  }
  const Trigger trigger = use_sl ? *sl : *tp;
  const Side close_side = is_long ? Side::kSell : Side::kBuy;
  const Timestamp ts = trigger.at_open ? range.open_ts : range.close_ts;

  OrderRequest request;
  request.instrument = state.instrument.id;
  request.side = close_side;
  request.type = OrderType::kMarket;
  request.tif = TimeInForce::kIoc;
  const int64_t lots = state.position_raw < 0 ? -state.position_raw : state.position_raw;
  request.quantity = Quantity::FromRaw(lots, state.lot_precision);
  const char* tag = use_sl ? "sl" : "tp";
  Order& order = NewOrder(request, ts);
  order.arrives = ts;
  order.request.tag = tag;
  order.request.client_order_id = std::string(tag) + "-" + std::to_string(order.id.value);
  const Price price = use_sl ? Slipped(state, trigger.price, close_side) : trigger.price;
  FillOrder(order, state, price, ts, use_sl ? FillReason::kStopLoss : FillReason::kTakeProfit);
}

bool SimulatedVenue::MarginAllows(const Order& order, const InstrumentState& state,
                                  Price price) const {
  // Only the part that opens or adds to exposure needs margin; closing never does.
  const int64_t position = state.position_raw;
  const int64_t delta = Sign(order.request.side) * order.request.quantity.raw();
  const int64_t after = position + delta;
  int64_t opening = 0;
  if (position == 0 || (position > 0) == (delta > 0)) {
    opening = delta < 0 ? -delta : delta;
  } else if ((after > 0) != (position > 0) && after != 0) {
    opening = after < 0 ? -after : after;  // a flip opens the remainder on the other side
  }
  if (opening == 0) return true;
  const Money needed = account_.MarginRequired(
      state.instrument, Quantity::FromRaw(opening, state.lot_precision), price);
  return account_.FreeMargin() >= needed;
}

void SimulatedVenue::Finish(Order& order, OrderStatus status, RejectReason reason, Timestamp now) {
  if (IsLive(order.status) && live_orders_ > 0) --live_orders_;
  order.status = status;
  order.reject_reason = reason;
  order.updated = now;
}

void SimulatedVenue::FillOrder(Order& order, InstrumentState& state, Price price, Timestamp ts,
                               FillReason reason) {
  const Quantity lots = order.request.quantity;
  Money commission;
  if (config_.commission.kind != CommissionKind::kNone) {
    commission =
        config_.commission.Compute(lots, account_.NotionalInAccount(state.instrument, lots, price));
  }
  Finish(order, OrderStatus::kFilled, RejectReason::kNone, ts);
  order.filled = lots;
  order.avg_fill_price = price;
  // The broker's position changes before anyone hears of the fill, so that handlers which
  // submit new orders see the position they are reacting to.
  ApplyFillToPosition(state, order.request);

  Fill fill;
  fill.order_id = order.id;
  fill.client_order_id = order.request.client_order_id;
  fill.instrument = order.request.instrument;
  fill.side = order.request.side;
  fill.quantity = lots;
  fill.price = price;
  fill.commission = commission;
  fill.ts = ts;
  fill.reason = reason;
  // Copied first: a re-entrant Submit from a fill handler may evict this order from history.
  const OrderUpdate update{order};
  bus_.Publish(fill);
  bus_.Publish(update);
}

void SimulatedVenue::ApplyFillToPosition(InstrumentState& state, const OrderRequest& request) {
  const int64_t before = state.position_raw;
  const int64_t after = before + Sign(request.side) * request.quantity.raw();
  state.position_raw = after;
  const bool has_protection = request.stop_loss.has_value() || request.take_profit.has_value();
  if (after == 0) {
    state.stop_loss.reset();
    state.take_profit.reset();
  } else if (before == 0 || (before > 0) != (after > 0)) {
    // Opened or flipped: the new position carries the order's protection (or none).
    state.stop_loss = request.stop_loss;
    state.take_profit = request.take_profit;
  } else if ((after > 0 ? after > before : after < before) && has_protection) {
    // Added to: the order's protection replaces the position's.
    state.stop_loss = request.stop_loss;
    state.take_profit = request.take_profit;
  }
  // Reduced: the position keeps its protection.
}

Price SimulatedVenue::Slipped(const InstrumentState& state, Price price, Side side) const {
  int64_t raw = price.raw() + Sign(side) * state.slippage_raw;
  // A sell slipped below zero would book a price no market can print: the floor is one tick.
  if (raw <= 0) raw = state.instrument.tick_size.raw();
  return Price::FromRaw(raw, state.instrument.digits);
}

}  // namespace aits::execution
