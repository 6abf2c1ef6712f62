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
  if (!(stop_out_level >= 0 && stop_out_level <= 1000)) {
    return InvalidArgument("venue: stop-out level " + std::to_string(stop_out_level) +
                           " % is outside 0..1000");
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
  uint64_t position_ticket = 0;
  int64_t position_price_raw = 0;  // average open price of the net position (Snapshot)
  std::optional<Price> stop_loss;
  std::optional<Price> take_profit;
  // Hedging account: the open positions, oldest first (position_raw is their net), and how many
  // of them carry SL or TP.
  struct Leg {
    uint64_t ticket = 0;
    int64_t lots_raw = 0;        // signed
    int64_t open_price_raw = 0;  // the opening fill's price (Snapshot); kept on partial closes
    std::optional<Price> stop_loss;
    std::optional<Price> take_profit;
    bool Protected() const { return stop_loss.has_value() || take_profit.has_value(); }
  };
  std::vector<Leg> legs;
  size_t protected_legs = 0;
  // Tickets of orders travelling to the venue, in submission order (= arrival order: latency is
  // constant).
  std::vector<uint64_t> in_transit;
  size_t transit_head = 0;
  // Tickets of accepted limit/stop orders in time priority. Canceled ones are dropped lazily.
  std::vector<uint64_t> resting;

  bool Idle() const {
    return transit_head == in_transit.size() && resting.empty() && !stop_loss && !take_profit &&
           protected_legs == 0;
  }
  Leg* FindLeg(uint64_t ticket) {
    for (Leg& leg : legs) {
      if (leg.ticket == ticket) return &leg;
    }
    return nullptr;
  }
  const Leg* FindLeg(uint64_t ticket) const {
    return const_cast<InstrumentState*>(this)->FindLeg(ticket);
  }
};

struct SimulatedVenue::LiveOrder {
  uint64_t ticket = 0;
  OrderId id;  // the kernel's; 0 for the venue's own orders
  InstrumentId instrument;
  Side side = Side::kBuy;
  OrderType type = OrderType::kMarket;
  TimeInForce tif = TimeInForce::kGtc;
  Quantity quantity;
  std::optional<Price> price;
  std::optional<Price> stop_loss;
  std::optional<Price> take_profit;
  Timestamp created;
  Timestamp arrives;
  // Kept for Snapshot only: the order's client id, and the lots a seeded order had filled
  // before the venue was seeded (`quantity` is what is left to fill).
  std::string client_order_id;
  Quantity prefilled;
  uint64_t position_ticket = 0;  // the position it closes (0: none named)
};

namespace {

__extension__ typedef __int128 Int128;  // GCC extension: exact 128-bit intermediates

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

std::optional<Trigger> OrderTrigger(OrderType type, Side side, Price level, const Ohlc& bid,
                                    const Ohlc& ask) {
  if (type == OrderType::kLimit) {
    return side == Side::kBuy ? AskAtOrBelow(ask, level) : BidAtOrAbove(bid, level);
  }
  return side == Side::kBuy ? AskAtOrAbove(ask, level) : BidAtOrBelow(bid, level);
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

// Which of a position's SL and TP the range triggers, if either: what the open already shows
// comes first; inside a bar the SL is assumed to come first.
struct ProtectionHit {
  Trigger trigger;
  bool stop_loss = false;
};
std::optional<ProtectionHit> ProtectionTriggered(bool is_long,
                                                 const std::optional<Price>& stop_loss,
                                                 const std::optional<Price>& take_profit,
                                                 const Ohlc& bid, const Ohlc& ask) {
  std::optional<Trigger> sl;
  std::optional<Trigger> tp;
  if (is_long) {
    if (stop_loss) sl = BidAtOrBelow(bid, *stop_loss);
    if (take_profit) tp = BidAtOrAbove(bid, *take_profit);
  } else {
    if (stop_loss) sl = AskAtOrAbove(ask, *stop_loss);
    if (take_profit) tp = AskAtOrBelow(ask, *take_profit);
  }
  if (sl && sl->at_open) return ProtectionHit{*sl, true};
  if (tp && tp->at_open) return ProtectionHit{*tp, false};
  if (sl) return ProtectionHit{*sl, true};
  if (tp) return ProtectionHit{*tp, false};
  return std::nullopt;
}

}  // namespace

SimulatedVenue::SimulatedVenue(VenueConfig config, ExecutionEvents& events,
                               const AccountOracle& account)
    : config_(std::move(config)), events_(events), account_(account) {}

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

SimulatedVenue::LiveOrder* SimulatedVenue::Live(uint64_t ticket) {
  if (live_.empty()) return nullptr;
  auto it = live_.find(ticket);
  return it == live_.end() ? nullptr : &it->second;
}

Quantity SimulatedVenue::NetLots(InstrumentId instrument) const {
  const InstrumentState* state = StateOf(instrument);
  if (state == nullptr) return Quantity();
  return Quantity::FromRaw(state->position_raw, state->lot_precision);
}

uint64_t SimulatedVenue::PositionTicket(InstrumentId instrument) const {
  const InstrumentState* state = StateOf(instrument);
  return state == nullptr ? 0 : state->position_ticket;
}

size_t SimulatedVenue::PositionCount(InstrumentId instrument) const {
  const InstrumentState* state = StateOf(instrument);
  return state == nullptr ? 0 : state->legs.size();
}

Quantity SimulatedVenue::PositionLots(InstrumentId instrument, uint64_t ticket) const {
  const InstrumentState* state = StateOf(instrument);
  if (state == nullptr) return Quantity();
  const InstrumentState::Leg* leg = state->FindLeg(ticket);
  return Quantity::FromRaw(leg == nullptr ? 0 : leg->lots_raw, state->lot_precision);
}

RejectReason SimulatedVenue::ValidateRequest(const OrderRequest& request,
                                             const Instrument& instrument) const {
  const Quantity lots = request.quantity;
  if (!lots.IsPositive() || lots < instrument.min_lots || lots > instrument.max_lots ||
      (instrument.lot_step.IsPositive() && lots.raw() % instrument.lot_step.raw() != 0)) {
    return RejectReason::kInvalidQuantity;
  }
  // Only a deal closes a position by ticket (MetaTrader 5's TRADE_ACTION_DEAL with `position`).
  if (request.position_ticket != 0 && request.type != OrderType::kMarket) {
    return RejectReason::kInvalidPosition;
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

ExecutionReport SimulatedVenue::ReportOf(const LiveOrder& order, ExecKind kind,
                                         Timestamp ts) const {
  ExecutionReport report;
  report.kind = kind;
  report.order_id = order.id;
  report.venue_order_id = order.ticket;
  report.instrument = order.instrument;
  report.side = order.side;
  report.type = order.type;
  report.tif = order.tif;
  report.quantity = order.quantity;
  report.ts = ts;
  return report;
}

// ---------------------------------------------------------------------------------------------
// Order entry

uint64_t SimulatedVenue::Submit(const Order& order) {
  const OrderRequest& request = order.request;
  LiveOrder live;
  live.ticket = next_ticket_++;
  live.id = order.id;
  live.instrument = request.instrument;
  live.side = request.side;
  live.type = request.type;
  live.tif = request.tif;
  live.quantity = request.quantity;
  live.price = request.price;
  live.stop_loss = request.stop_loss;
  live.take_profit = request.take_profit;
  live.created = order.created;
  live.arrives = order.created + config_.latency;
  live.position_ticket = request.position_ticket;
  const uint64_t ticket = live.ticket;
  InstrumentState* state = StateOf(request.instrument);
  const RejectReason reason = state == nullptr ? RejectReason::kUnknownInstrument
                                               : ValidateRequest(request, state->instrument);
  if (reason != RejectReason::kNone) {
    Finish(live, false, ExecKind::kRejected, reason, order.created);
    return ticket;
  }
  Enter(live, *state, order.created);
  // Only an order that travels or rests is kept, and only it can show in a snapshot: the id is
  // copied for those alone, so an order filled at once costs no string.
  if (!request.client_order_id.empty()) {
    if (LiveOrder* kept = Live(ticket)) kept->client_order_id = request.client_order_id;
  }
  return ticket;
}

void SimulatedVenue::Enter(LiveOrder& order, InstrumentState& state, Timestamp now) {
  if (config_.fill_mode == FillMode::kTouch && config_.latency.ns == 0) {
    if (!state.has_quote) {
      Finish(order, false, ExecKind::kRejected, RejectReason::kNoMarket, now);
      return;
    }
    const PriceRange range{Flat(state.bid), Flat(state.ask), now, now};
    Arrive(order, false, state, range, now);
    return;
  }
  live_.emplace(order.ticket, order);
  state.in_transit.push_back(order.ticket);
}

Status SimulatedVenue::Cancel(OrderId id, uint64_t venue_order_id, Timestamp now) {
  LiveOrder* order = Live(venue_order_id);
  if (order == nullptr && venue_order_id == 0 && id.value != 0) {
    for (auto& [ticket, live] : live_) {
      if (live.id == id) order = &live;
    }
  }
  if (order == nullptr) {
    return NotFound("cancel: order " + std::to_string(id.value) + " (ticket " +
                    std::to_string(venue_order_id) + ") is not live at the venue");
  }
  // Left in the transit/resting lists; the tick loops drop tickets that are no longer live.
  Finish(*order, true, ExecKind::kCanceled, RejectReason::kNone, now);
  return Status::Ok();
}

Status SimulatedVenue::SetProtection(InstrumentId instrument, std::optional<Price> stop_loss,
                                     std::optional<Price> take_profit) {
  if (config_.account_mode == AccountMode::kHedging) {
    return FailedPrecondition(
        "set_protection: a hedging account names the position by its ticket "
        "(SetPositionProtection)");
  }
  return SetPositionProtection(instrument, 0, stop_loss, take_profit);
}

Status SimulatedVenue::SetPositionProtection(InstrumentId instrument, uint64_t position_ticket,
                                             std::optional<Price> stop_loss,
                                             std::optional<Price> take_profit) {
  InstrumentState* state = StateOf(instrument);
  if (state == nullptr) {
    return InvalidArgument("set_protection: instrument id " + std::to_string(instrument.value) +
                           " is unknown");
  }
  if (config_.account_mode == AccountMode::kHedging) {
    InstrumentState::Leg* leg = state->FindLeg(position_ticket);
    if (leg == nullptr) {
      return NotFound("set_protection: no open position with ticket " +
                      std::to_string(position_ticket) + " in " + state->instrument.symbol);
    }
    const bool was_protected = leg->Protected();
    AITS_RETURN_IF_ERROR(ApplyProtection(*state, leg->lots_raw > 0 ? Side::kBuy : Side::kSell,
                                         leg->lots_raw, leg->ticket, &leg->stop_loss,
                                         &leg->take_profit, stop_loss, take_profit));
    // Re-found: the report's handlers may have changed the positions.
    if (InstrumentState::Leg* now = state->FindLeg(position_ticket); now != nullptr) {
      if (now->Protected() && !was_protected) ++state->protected_legs;
      if (!now->Protected() && was_protected) --state->protected_legs;
    }
    return Status::Ok();
  }
  if (state->position_raw == 0) {
    return FailedPrecondition("set_protection: no open position in " + state->instrument.symbol);
  }
  if (position_ticket != 0 && position_ticket != state->position_ticket) {
    return NotFound("set_protection: the position of " + state->instrument.symbol + " has ticket " +
                    std::to_string(state->position_ticket) + ", not " +
                    std::to_string(position_ticket));
  }
  return ApplyProtection(*state, state->position_raw > 0 ? Side::kBuy : Side::kSell,
                         state->position_raw, state->position_ticket, &state->stop_loss,
                         &state->take_profit, stop_loss, take_profit);
}

Status SimulatedVenue::ApplyProtection(InstrumentState& state, Side side, int64_t lots_raw,
                                       uint64_t ticket, std::optional<Price>* stop_loss_slot,
                                       std::optional<Price>* take_profit_slot,
                                       std::optional<Price> stop_loss,
                                       std::optional<Price> take_profit) {
  if (state.has_quote) {
    const Price reference = side == Side::kBuy ? state.bid : state.ask;
    if (!ProtectionValid(side, reference, stop_loss, take_profit)) {
      return InvalidArgument("set_protection: " + state.instrument.symbol + " stop_loss " +
                             (stop_loss ? stop_loss->ToString() : "none") + " / take_profit " +
                             (take_profit ? take_profit->ToString() : "none") +
                             " on the wrong side of " + reference.ToString() + " for a " +
                             (side == Side::kBuy ? "long" : "short"));
    }
  } else if ((stop_loss && !stop_loss->IsPositive()) ||
             (take_profit && !take_profit->IsPositive())) {
    return InvalidArgument("set_protection: prices must be positive");
  }
  *stop_loss_slot = stop_loss;
  *take_profit_slot = take_profit;
  ExecutionReport report;
  report.kind = ExecKind::kModified;
  report.position_ticket = ticket;
  report.instrument = state.instrument.id;
  report.side = side;
  report.quantity = Quantity::FromRaw(lots_raw < 0 ? -lots_raw : lots_raw, state.lot_precision);
  report.stop_loss = stop_loss;
  report.take_profit = take_profit;
  events_.OnExecutionReport(report);
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
  if (!state->Idle()) {
    const PriceRange range{Flat(tick.bid), Flat(tick.ask), tick.ts, tick.ts};
    ProcessArrivals(*state, range, tick.ts);
    CheckResting(*state, range, tick.ts);
    CheckProtection(*state, range);
  }
  // After matching, so that a stop-out fills at this quote and not at the previous one.
  if (config_.stop_out_level > 0 && !stopping_out_) CheckStopOut(tick.ts);
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

void SimulatedVenue::OnBarClosed(const Bar& bar) {
  if (config_.stop_out_level > 0 && !stopping_out_) CheckStopOut(bar.CloseTime());
}

void SimulatedVenue::ProcessArrivals(InstrumentState& state, const PriceRange& range,
                                     Timestamp due) {
  // Indexes, not iterators: a fill's handlers may submit more orders re-entrantly.
  while (state.transit_head < state.in_transit.size()) {
    const uint64_t ticket = state.in_transit[state.transit_head];
    LiveOrder* order = Live(ticket);
    if (order == nullptr) {  // canceled on its way
      ++state.transit_head;
      continue;
    }
    if (order->arrives > due) break;
    ++state.transit_head;
    // In bar mode an order may arrive inside the bar: never stamp anything before its arrival.
    Arrive(*order, true, state, range, std::max(range.open_ts, order->arrives));
  }
  if (state.transit_head == state.in_transit.size()) {
    state.in_transit.clear();
    state.transit_head = 0;
  }
}

void SimulatedVenue::Arrive(LiveOrder& order, bool stored, InstrumentState& state,
                            const PriceRange& range, Timestamp now) {
  if (order.tif == TimeInForce::kDay && now >= DayEnd(order.created)) {
    Finish(order, stored, ExecKind::kExpired, RejectReason::kNone, now);
    return;
  }
  const Ohlc open_bid = Flat(range.bid.open);
  const Ohlc open_ask = Flat(range.ask.open);
  if (order.type == OrderType::kMarket) {
    if (order.position_ticket != 0 && !CanClose(order, state)) {
      Finish(order, stored, ExecKind::kRejected, RejectReason::kInvalidPosition, now);
      return;
    }
    // Protection is checked against the price that would close the new position.
    const Price reference = order.side == Side::kBuy ? range.bid.open : range.ask.open;
    if (!ProtectionValid(order.side, reference, order.stop_loss, order.take_profit)) {
      Finish(order, stored, ExecKind::kRejected, RejectReason::kInvalidPrice, now);
      return;
    }
    const Price touch = order.side == Side::kBuy ? range.ask.open : range.bid.open;
    const Price price = Slipped(state, touch, order.side);
    if (!MarginAllows(order, state, price)) {
      Finish(order, stored, ExecKind::kRejected, RejectReason::kInsufficientMargin, now);
      return;
    }
    FillOrder(order, stored, state, price, now, FillReason::kMarket);
    return;
  }
  if (auto trigger = OrderTrigger(order.type, order.side, *order.price, open_bid, open_ask)) {
    const Price price = order.type == OrderType::kStop ? Slipped(state, trigger->price, order.side)
                                                       : trigger->price;
    if (!MarginAllows(order, state, price)) {
      Finish(order, stored, ExecKind::kRejected, RejectReason::kInsufficientMargin, now);
      return;
    }
    FillOrder(order, stored, state, price, now, FillReasonOf(order.type));
    return;
  }
  if (order.tif == TimeInForce::kIoc || order.tif == TimeInForce::kFok) {
    Finish(order, stored, ExecKind::kExpired, RejectReason::kNone, now);
    return;
  }
  if (!MarginAllows(order, state, *order.price)) {
    Finish(order, stored, ExecKind::kRejected, RejectReason::kInsufficientMargin, now);
    return;
  }
  const LiveOrder& resting = stored ? order : live_.emplace(order.ticket, order).first->second;
  state.resting.push_back(resting.ticket);
  events_.OnExecutionReport(ReportOf(resting, ExecKind::kAccepted, now));
}

void SimulatedVenue::CheckResting(InstrumentState& state, const PriceRange& range, Timestamp now) {
  // Compacts in place; indexes because handlers may append (re-entrant Submit) or cancel.
  size_t keep = 0;
  for (size_t idx = 0; idx < state.resting.size(); ++idx) {
    const uint64_t ticket = state.resting[idx];
    LiveOrder* order = Live(ticket);
    if (order == nullptr) continue;  // canceled
    if (order->tif == TimeInForce::kDay && now >= DayEnd(order->created)) {
      Finish(*order, true, ExecKind::kExpired, RejectReason::kNone, now);
      continue;
    }
    auto trigger = OrderTrigger(order->type, order->side, *order->price, range.bid, range.ask);
    if (!trigger) {
      state.resting[keep++] = ticket;
      continue;
    }
    const Timestamp ts =
        std::max(trigger->at_open ? range.open_ts : range.close_ts, order->arrives);
    const Price price = order->type == OrderType::kStop
                            ? Slipped(state, trigger->price, order->side)
                            : trigger->price;
    if (!MarginAllows(*order, state, price)) {
      Finish(*order, true, ExecKind::kRejected, RejectReason::kInsufficientMargin, ts);
      continue;
    }
    FillOrder(*order, true, state, price, ts, FillReasonOf(order->type));
  }
  state.resting.resize(keep);
}

SimulatedVenue::LiveOrder SimulatedVenue::OpenOwnOrder(const InstrumentState& state, Side side,
                                                       int64_t lots_raw, TimeInForce tif,
                                                       const char* comment, Timestamp now,
                                                       uint64_t position_ticket) {
  LiveOrder order;
  order.ticket = next_ticket_++;
  order.instrument = state.instrument.id;
  order.side = side;
  order.type = OrderType::kMarket;
  order.tif = tif;
  order.quantity = Quantity::FromRaw(lots_raw < 0 ? -lots_raw : lots_raw, state.lot_precision);
  order.created = now;
  order.arrives = now;
  order.position_ticket = position_ticket;
  ExecutionReport report = ReportOf(order, ExecKind::kNew, now);
  report.position_ticket = position_ticket;
  report.text = comment;
  events_.OnExecutionReport(report);
  return order;
}

void SimulatedVenue::CheckProtection(InstrumentState& state, const PriceRange& range) {
  if (state.protected_legs != 0) {
    CheckHedgedProtection(state, range);
    return;
  }
  if (state.position_raw == 0 || (!state.stop_loss && !state.take_profit)) return;
  const bool is_long = state.position_raw > 0;
  const std::optional<ProtectionHit> hit =
      ProtectionTriggered(is_long, state.stop_loss, state.take_profit, range.bid, range.ask);
  if (!hit) return;
  const Side close_side = is_long ? Side::kSell : Side::kBuy;
  const Timestamp ts = hit->trigger.at_open ? range.open_ts : range.close_ts;
  LiveOrder order = OpenOwnOrder(state, close_side, state.position_raw, TimeInForce::kIoc,
                                 hit->stop_loss ? "sl" : "tp", ts);
  const Price price =
      hit->stop_loss ? Slipped(state, hit->trigger.price, close_side) : hit->trigger.price;
  FillOrder(order, false, state, price, ts,
            hit->stop_loss ? FillReason::kStopLoss : FillReason::kTakeProfit);
}

void SimulatedVenue::CheckHedgedProtection(InstrumentState& state, const PriceRange& range) {
  // Each position by itself, oldest first. Tickets first: a close's handlers may submit orders
  // that open or close positions while this runs.
  std::vector<uint64_t> tickets;
  for (const InstrumentState::Leg& leg : state.legs) {
    if (leg.Protected()) tickets.push_back(leg.ticket);
  }
  for (uint64_t ticket : tickets) {
    const InstrumentState::Leg* leg = state.FindLeg(ticket);
    if (leg == nullptr) continue;
    const bool is_long = leg->lots_raw > 0;
    const std::optional<ProtectionHit> hit =
        ProtectionTriggered(is_long, leg->stop_loss, leg->take_profit, range.bid, range.ask);
    if (!hit) continue;
    const Side close_side = is_long ? Side::kSell : Side::kBuy;
    const Timestamp ts = hit->trigger.at_open ? range.open_ts : range.close_ts;
    LiveOrder order = OpenOwnOrder(state, close_side, leg->lots_raw, TimeInForce::kIoc,
                                   hit->stop_loss ? "sl" : "tp", ts, ticket);
    const Price price =
        hit->stop_loss ? Slipped(state, hit->trigger.price, close_side) : hit->trigger.price;
    FillOrder(order, false, state, price, ts,
              hit->stop_loss ? FillReason::kStopLoss : FillReason::kTakeProfit);
  }
}

void SimulatedVenue::CheckStopOut(Timestamp now) {
  const Money margin = account_.UsedMargin();
  if (margin.raw() <= 0) return;
  const Money equity = account_.Equity();
  // This runs on every tick: an equity at or above the safe bound skips the floating-point test.
  if (margin != safe_bound_margin_) SetSafeBound(margin);
  if (equity.raw() >= safe_equity_from_) return;
  if (equity.AsDouble() * 100.0 >= margin.AsDouble() * config_.stop_out_level) return;
  // Below the stop-out level: close everything at market, once, as the broker does.
  stopping_out_ = true;
  ++stop_outs_;
  AccountReport account;
  account.reason = AccountReportReason::kStopOut;
  account.balance = account_.Balance();
  account.equity = equity;
  account.margin = margin;
  account.free_margin = equity - margin;
  account.margin_level = equity.AsDouble() * 100.0 / margin.AsDouble();
  account.ts = now;
  events_.OnAccountReport(account);
  // Live orders first, oldest first, so that none can reopen a position after the close.
  std::vector<uint64_t> tickets;
  tickets.reserve(live_.size());
  for (const auto& [ticket, order] : live_) tickets.push_back(ticket);
  std::sort(tickets.begin(), tickets.end());
  for (uint64_t ticket : tickets) {
    if (LiveOrder* order = Live(ticket)) {
      Finish(*order, true, ExecKind::kCanceled, RejectReason::kNone, now);
    }
  }
  for (size_t index = 0; index < states_.size(); ++index) {
    InstrumentState* state = states_[index].get();
    if (state == nullptr) continue;
    if (config_.account_mode == AccountMode::kHedging) {
      // Every position by its ticket, oldest first; copied, as the closes change the list.
      const std::vector<InstrumentState::Leg> legs = state->legs;
      for (const InstrumentState::Leg& leg : legs) {
        const Side side = leg.lots_raw > 0 ? Side::kSell : Side::kBuy;
        LiveOrder order = OpenOwnOrder(*state, side, leg.lots_raw, TimeInForce::kGtc, "stop_out",
                                       now, leg.ticket);
        order.arrives = now + config_.latency;
        Enter(order, *state, now);
      }
      continue;
    }
    if (state->position_raw == 0) continue;
    const Side side = state->position_raw > 0 ? Side::kSell : Side::kBuy;
    LiveOrder order =
        OpenOwnOrder(*state, side, state->position_raw, TimeInForce::kGtc, "stop_out", now);
    order.arrives = now + config_.latency;
    Enter(order, *state, now);
  }
}

void SimulatedVenue::SetSafeBound(Money margin) {
  // The test `equity.AsDouble() * 100.0 >= bound` is monotone in the equity (each rounding step
  // is), so if it holds for `from` it holds for every larger equity: a guess just above the exact
  // quotient, confirmed with the test itself, or no fast path when it fails.
  safe_bound_margin_ = margin;
  const double bound = margin.AsDouble() * config_.stop_out_level;
  const double guess = std::ceil(bound / 100.0 * static_cast<double>(kMoneyScale)) + 1.0;
  safe_equity_from_ = std::numeric_limits<int64_t>::max();
  if (guess >= 0 && guess < 9.0e18) {
    const Money from = Money::FromRaw(static_cast<int64_t>(guess));
    if (from.AsDouble() * 100.0 >= bound) safe_equity_from_ = from.raw();
  }
}

bool SimulatedVenue::MarginAllows(const LiveOrder& order, const InstrumentState& state,
                                  Price price) const {
  if (config_.account_mode == AccountMode::kHedging) {
    if (order.position_ticket != 0) return true;  // closes (part of) a position
    // Larger-leg margin (the default): an opening order needs the margin of what it adds to the
    // larger side.
    int64_t longs = 0;
    int64_t shorts = 0;
    for (const InstrumentState::Leg& leg : state.legs) {
      (leg.lots_raw > 0 ? longs : shorts) += leg.lots_raw > 0 ? leg.lots_raw : -leg.lots_raw;
    }
    if (!state.instrument.margin_hedged_use_leg) {
      // The instrument's hedged rate: the order needs what it adds to the hedged margin (an
      // order against the larger leg may lower it, and then needs none).
      const auto margin_of = [&](Quantity held) {
        return account_.MarginRequired(state.instrument, held, price);
      };
      const Money before =
          HedgedMargin(state.instrument, longs, shorts, state.lot_precision, margin_of);
      (order.side == Side::kBuy ? longs : shorts) += order.quantity.raw();
      const Money after =
          HedgedMargin(state.instrument, longs, shorts, state.lot_precision, margin_of);
      return after <= before || account_.FreeMargin() >= after - before;
    }
    const int64_t larger = std::max(longs, shorts);
    (order.side == Side::kBuy ? longs : shorts) += order.quantity.raw();
    const int64_t added = std::max(longs, shorts) - larger;
    if (added == 0) return true;
    const Money needed = account_.MarginRequired(
        state.instrument, Quantity::FromRaw(added, state.lot_precision), price);
    return account_.FreeMargin() >= needed;
  }
  // Only the part that opens or adds to exposure needs margin; closing never does.
  const int64_t position = state.position_raw;
  const int64_t delta = Sign(order.side) * order.quantity.raw();
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

void SimulatedVenue::Finish(LiveOrder& order, bool stored, ExecKind kind, RejectReason reason,
                            Timestamp now) {
  ExecutionReport report = ReportOf(order, kind, now);
  report.reject_reason = reason;
  // Forgotten before anyone hears of it: a handler may submit, and the venue holds live orders
  // only.
  if (stored) live_.erase(order.ticket);
  events_.OnExecutionReport(report);
}

void SimulatedVenue::FillOrder(LiveOrder& order, bool stored, InstrumentState& state, Price price,
                               Timestamp ts, FillReason reason) {
  const Quantity lots = order.quantity;
  Money commission;
  if (config_.commission.kind != CommissionKind::kNone) {
    commission =
        config_.commission.Compute(lots, account_.NotionalInAccount(state.instrument, lots, price));
  }
  ExecutionReport report = ReportOf(order, ExecKind::kFilled, ts);
  report.price = price;
  report.commission = commission;
  report.fill_reason = reason;
  report.exec_id = next_deal_++;
  // The broker's position changes before anyone hears of the fill, so that handlers which
  // submit new orders see the position they are reacting to.
  if (config_.account_mode == AccountMode::kHedging) {
    report.position_ticket = ApplyHedgedFill(state, order, price);
  } else {
    const uint64_t closed_ticket = state.position_ticket;
    ApplyFillToPosition(state, order, price);
    report.position_ticket = state.position_ticket != 0 ? state.position_ticket : closed_ticket;
  }
  if (stored) live_.erase(order.ticket);
  if (ledger_) {
    // The account books the fill while it hears of it: its balance change is the broker's too.
    const Money before = account_.Balance();
    events_.OnExecutionReport(report);
    *ledger_ += account_.Balance() - before;
  } else {
    events_.OnExecutionReport(report);
  }
  // The stop-out is done once the account holds no position (as the kernel's margin says).
  if (stopping_out_ && account_.UsedMargin().raw() == 0) stopping_out_ = false;
}

void SimulatedVenue::ApplyFillToPosition(InstrumentState& state, const LiveOrder& order,
                                         Price price) {
  const int64_t before = state.position_raw;
  const int64_t after = before + Sign(order.side) * order.quantity.raw();
  state.position_raw = after;
  if (after == 0) {
    state.position_price_raw = 0;
  } else if (before == 0 || (before > 0) != (after > 0)) {
    state.position_price_raw = price.raw();
  } else if (after > 0 ? after > before : after < before) {
    // Added to: volume-weighted, in 128 bits (raw lots x raw price overflows 64).
    const auto abs = [](int64_t v) { return static_cast<Int128>(v < 0 ? -v : v); };
    const Int128 weighted = static_cast<Int128>(state.position_price_raw) * abs(before) +
                            static_cast<Int128>(price.raw()) * abs(after - before);
    state.position_price_raw = static_cast<int64_t>(weighted / abs(after));
  }
  const bool has_protection = order.stop_loss.has_value() || order.take_profit.has_value();
  if (after == 0) {
    state.stop_loss.reset();
    state.take_profit.reset();
    state.position_ticket = 0;
  } else if (before == 0 || (before > 0) != (after > 0)) {
    // Opened or flipped: the new position carries the order's protection (or none), and the
    // ticket of the order that opened it.
    state.stop_loss = order.stop_loss;
    state.take_profit = order.take_profit;
    state.position_ticket = order.ticket;
  } else if ((after > 0 ? after > before : after < before) && has_protection) {
    // Added to: the order's protection replaces the position's.
    state.stop_loss = order.stop_loss;
    state.take_profit = order.take_profit;
  }
  // Reduced: the position keeps its protection.
}

bool SimulatedVenue::CanClose(const LiveOrder& order, const InstrumentState& state) const {
  int64_t held = 0;
  if (config_.account_mode == AccountMode::kHedging) {
    const InstrumentState::Leg* leg = state.FindLeg(order.position_ticket);
    if (leg != nullptr) held = leg->lots_raw;
  } else if (order.position_ticket == state.position_ticket) {
    held = state.position_raw;
  }
  if (held == 0 || (held > 0) == (order.side == Side::kBuy)) return false;
  return order.quantity.raw() <= (held < 0 ? -held : held);
}

uint64_t SimulatedVenue::ApplyHedgedFill(InstrumentState& state, const LiveOrder& order,
                                         Price price) {
  const int64_t delta = Sign(order.side) * order.quantity.raw();
  state.position_raw += delta;
  if (order.position_ticket != 0) {
    // Checked on arrival (CanClose): the position exists and holds at least these lots.
    for (size_t idx = 0; idx < state.legs.size(); ++idx) {
      InstrumentState::Leg& leg = state.legs[idx];
      if (leg.ticket != order.position_ticket) continue;
      leg.lots_raw += delta;
      if (leg.lots_raw == 0) {
        if (leg.Protected()) --state.protected_legs;
        state.legs.erase(state.legs.begin() + static_cast<std::ptrdiff_t>(idx));
      }
      return order.position_ticket;
    }
  }
  InstrumentState::Leg leg;
  leg.ticket = order.ticket;
  leg.lots_raw = delta;
  leg.open_price_raw = price.raw();
  leg.stop_loss = order.stop_loss;
  leg.take_profit = order.take_profit;
  if (leg.Protected()) ++state.protected_legs;
  state.legs.push_back(leg);
  return order.ticket;
}

// ---------------------------------------------------------------------------------------------
// The account as the broker holds it

Result<AccountState> SimulatedVenue::Snapshot() const {
  AccountState out;
  out.balance = ledger_ ? *ledger_ : account_.Balance();
  for (const auto& state : states_) {
    if (state == nullptr) continue;
    if (config_.account_mode == AccountMode::kHedging) {
      // Every position with its own ticket, oldest first, as a hedging broker lists them.
      for (const InstrumentState::Leg& leg : state->legs) {
        out.positions.push_back(HeldPosition{
            .ticket = leg.ticket,
            .instrument = state->instrument.id,
            .quantity = Quantity::FromRaw(leg.lots_raw, state->lot_precision),
            .open_price = Price::FromRaw(leg.open_price_raw, state->instrument.digits)});
      }
      continue;
    }
    if (state->position_raw == 0) continue;
    out.positions.push_back(HeldPosition{
        .ticket = state->position_ticket,
        .instrument = state->instrument.id,
        .quantity = Quantity::FromRaw(state->position_raw, state->lot_precision),
        .open_price = Price::FromRaw(state->position_price_raw, state->instrument.digits)});
  }
  std::vector<const LiveOrder*> live;
  live.reserve(live_.size());
  for (const auto& [ticket, order] : live_) live.push_back(&order);
  std::sort(live.begin(), live.end(),
            [](const LiveOrder* a, const LiveOrder* b) { return a->ticket < b->ticket; });
  for (const LiveOrder* order : live) {
    out.orders.push_back(WorkingOrder{.client_order_id = order->client_order_id,
                                      .ticket = order->ticket,
                                      .instrument = order->instrument,
                                      .side = order->side,
                                      .quantity = order->quantity + order->prefilled,
                                      .filled = order->prefilled,
                                      .type = order->type,
                                      .price = order->price,
                                      .tif = order->tif});
  }
  return out;
}

Status SimulatedVenue::Seed(const AccountState& account, Timestamp now) {
  // Checked whole before anything changes: a refused seed leaves the venue as it was.
  std::vector<bool> positioned(states_.size(), false);
  std::unordered_map<uint64_t, bool> tickets;
  uint64_t highest = 0;
  const auto take_ticket = [&](uint64_t ticket, const std::string& what) -> Status {
    if (ticket == 0) return Status::Ok();
    if (!tickets.emplace(ticket, true).second) {
      return InvalidArgument("seed: " + what + ": ticket " + std::to_string(ticket) +
                             " is used twice");
    }
    highest = std::max(highest, ticket);
    return Status::Ok();
  };
  for (const HeldPosition& position : account.positions) {
    const std::string what = "position #" + std::to_string(position.instrument.value);
    const InstrumentState* state = StateOf(position.instrument);
    if (state == nullptr) return InvalidArgument("seed: " + what + ": unknown instrument");
    if (config_.account_mode == AccountMode::kNetting && positioned[position.instrument.value]) {
      return InvalidArgument("seed: " + what + ": a netting account holds one position per " +
                             "instrument (" + state->instrument.symbol + " twice)");
    }
    if (position.quantity.IsZero()) return InvalidArgument("seed: " + what + ": zero lots");
    positioned[position.instrument.value] = true;
    AITS_RETURN_IF_ERROR(take_ticket(position.ticket, what));
  }
  for (const WorkingOrder& order : account.orders) {
    const std::string what = "order '" + order.client_order_id + "'";
    if (StateOf(order.instrument) == nullptr) {
      return InvalidArgument("seed: " + what + ": unknown instrument #" +
                             std::to_string(order.instrument.value));
    }
    if (order.type == OrderType::kMarket || !order.price || !order.price->IsPositive()) {
      return InvalidArgument("seed: " + what + ": only limit and stop orders with a positive " +
                             "price work at a venue");
    }
    if (!order.quantity.IsPositive() || order.filled.IsNegative() ||
        !(order.filled < order.quantity)) {
      return InvalidArgument("seed: " + what + ": filled " + order.filled.ToString() + " lots of " +
                             order.quantity.ToString() + " (a working order has " +
                             "lots left to fill)");
    }
    if (order.ticket == 0) return InvalidArgument("seed: " + what + ": no ticket");
    AITS_RETURN_IF_ERROR(take_ticket(order.ticket, what));
  }

  if (account.balance) ledger_ = *account.balance;
  live_.clear();
  for (auto& state : states_) {
    if (state == nullptr) continue;
    state->position_raw = 0;
    state->position_ticket = 0;
    state->position_price_raw = 0;
    state->stop_loss.reset();
    state->take_profit.reset();
    state->legs.clear();
    state->protected_legs = 0;
    state->in_transit.clear();
    state->transit_head = 0;
    state->resting.clear();
  }
  next_ticket_ = std::max(next_ticket_, highest + 1);
  for (const HeldPosition& position : account.positions) {
    InstrumentState& state = *StateOf(position.instrument);
    const uint64_t ticket = position.ticket != 0 ? position.ticket : next_ticket_++;
    if (config_.account_mode == AccountMode::kHedging) {
      // A position of its own, without SL/TP (a snapshot carries none): protected_legs stays 0;
      // position_raw is the legs' net, as ApplyHedgedFill keeps it.
      InstrumentState::Leg leg;
      leg.ticket = ticket;
      leg.lots_raw = position.quantity.raw();
      leg.open_price_raw = position.open_price.raw();
      state.legs.push_back(leg);
      state.position_raw += leg.lots_raw;
      continue;
    }
    state.position_raw = position.quantity.raw();
    state.position_ticket = ticket;
    state.position_price_raw = position.open_price.raw();
  }
  for (const WorkingOrder& order : account.orders) {
    InstrumentState& state = *StateOf(order.instrument);
    LiveOrder live;
    live.ticket = order.ticket;
    live.instrument = order.instrument;
    live.side = order.side;
    live.type = order.type;
    live.tif = order.tif;
    // At the instrument's precisions, as the venue's own orders are: a snapshot reads the same
    // whatever precision the seed was written with.
    live.quantity = Quantity::FromRaw((order.quantity - order.filled).raw(), state.lot_precision);
    live.prefilled = Quantity::FromRaw(order.filled.raw(), state.lot_precision);
    live.price = Price::FromRaw(order.price->raw(), state.instrument.digits);
    live.created = now;
    live.arrives = now;
    live.client_order_id = order.client_order_id;
    live_.emplace(live.ticket, std::move(live));
    state.resting.push_back(order.ticket);
  }
  return Status::Ok();
}

Price SimulatedVenue::Slipped(const InstrumentState& state, Price price, Side side) const {
  int64_t raw = price.raw() + Sign(side) * state.slippage_raw;
  // A sell slipped below zero would book a price no market can print: the floor is one tick.
  if (raw <= 0) raw = state.instrument.tick_size.raw();
  return Price::FromRaw(raw, state.instrument.digits);
}

}  // namespace aits::execution
