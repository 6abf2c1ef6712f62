#include "aits/portfolio/portfolio.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <utility>

namespace aits::portfolio {
namespace {

// Raw lots held long and short in a hedging account's positions of one instrument.
std::pair<int64_t, int64_t> LegVolumes(const std::vector<HedgedPosition>& legs) {
  int64_t longs = 0;
  int64_t shorts = 0;
  for (const HedgedPosition& leg : legs) {
    (leg.side == Side::kBuy ? longs : shorts) += leg.quantity.raw();
  }
  return {longs, shorts};
}

__extension__ typedef __int128 Int128;  // GCC extension: exact 128-bit intermediates

// numerator / denominator rounded half away from zero; denominator > 0.
int64_t DivRound(Int128 numerator, Int128 denominator) {
  const bool negative = numerator < 0;
  if (negative) numerator = -numerator;
  const Int128 quotient = (numerator + denominator / 2) / denominator;
  return static_cast<int64_t>(negative ? -quotient : quotient);
}

int64_t Abs(int64_t value) { return value < 0 ? -value : value; }

// The rounding (half away from zero) and saturation of aits::Notional and aits::ConvertMoney
// (core/fixed_point.cc), on raw values: the per-tick mark runs them for every open position of
// the instrument that ticked, where building the Price and Quantity arguments of those calls cost
// more than the arithmetic; numerators that fit 64 bits (the common case) also skip the 128-bit
// division. portfolio_test.cc checks both against the core functions.
int64_t SaturatingDivRound(Int128 numerator, int64_t denominator) {
  constexpr Int128 kSmall = Int128{1} << 62;
  if (numerator > -kSmall && numerator < kSmall) {
    const int64_t small = static_cast<int64_t>(numerator);
    const int64_t half = denominator / 2;
    return small < 0 ? -((-small + half) / denominator) : (small + half) / denominator;
  }
  const bool negative = numerator < 0;
  if (negative) numerator = -numerator;
  Int128 quotient = (numerator + denominator / 2) / denominator;
  const Int128 limit = std::numeric_limits<int64_t>::max();
  if (quotient > limit) quotient = limit;
  return static_cast<int64_t>(negative ? -quotient : quotient);
}

// Notional(price, quantity, multiplier).raw() for raw price and quantity.
int64_t NotionalRaw(int64_t price_raw, int64_t quantity_raw, int64_t multiplier) {
  return SaturatingDivRound(static_cast<Int128>(price_raw) * quantity_raw * multiplier,
                            kFixedScale / kMoneyScale * kFixedScale);
}

// Notional(move, lots, 1).raw() as move * units / divisor, the fraction lots / 10^12 reduced
// (units 0: it does not fit 64 bits, use NotionalRaw). The quotient is the same rational number,
// so rounding and saturation give the same result.
int64_t ReducedNotional(int64_t move_raw, int64_t units, int64_t divisor) {
  const Int128 product = static_cast<Int128>(move_raw) * units;
  if (divisor == 1) {
    const Int128 limit = std::numeric_limits<int64_t>::max();
    return static_cast<int64_t>(product > limit ? limit : product < -limit ? -limit : product);
  }
  return SaturatingDivRound(product, divisor);
}

// ConvertMoney(amount, rate, divide).raw() for raw amount and rate.
int64_t ConvertRaw(int64_t amount_raw, int64_t rate_raw, bool divide) {
  if (divide) {
    if (rate_raw <= 0) return 0;
    return SaturatingDivRound(static_cast<Int128>(amount_raw) * kFixedScale, rate_raw);
  }
  return SaturatingDivRound(static_cast<Int128>(amount_raw) * rate_raw, kFixedScale);
}

}  // namespace

Portfolio::Portfolio(Currency account_currency, Money initial_balance, double leverage,
                     AccountMode mode)
    : currency_(account_currency),
      initial_balance_(initial_balance),
      balance_(initial_balance),
      leverage_(leverage > 0 ? leverage : 1.0),
      mode_(mode) {}

Portfolio::Slot* Portfolio::SlotOf(InstrumentId id) {
  if (id.value >= slots_.size() || !slots_[id.value].present) return nullptr;
  return &slots_[id.value];
}
const Portfolio::Slot* Portfolio::SlotOf(InstrumentId id) const {
  if (id.value >= slots_.size() || !slots_[id.value].present) return nullptr;
  return &slots_[id.value];
}

Portfolio::Slot& Portfolio::Register(const Instrument& instrument) {
  if (instrument.id.value >= slots_.size()) slots_.resize(instrument.id.value + 1);
  Slot& slot = slots_[instrument.id.value];
  if (!slot.present) {
    slot.present = true;
    slot.instrument = instrument;
    slot.lot_precision = instrument.LotPrecision();
    slot.position.instrument = instrument.id;
    slot.position.quantity = Quantity::FromRaw(0, slot.lot_precision);
    slot.position.avg_price = Price::FromRaw(0, instrument.digits);
  }
  return slot;
}

Status Portfolio::AddInstrument(const Instrument& instrument) {
  const std::string where = "portfolio: instrument '" + instrument.symbol + "'";
  AITS_RETURN_IF_ERROR(instrument.Validate());
  Conversion conversion = Conversion::kIdentity;
  uint32_t rate_instrument = 0;
  if (instrument.quote == currency_) {
    conversion = Conversion::kIdentity;
  } else if (instrument.base == currency_) {
    conversion = Conversion::kDivideOwnMid;
  } else {
    bool found = false;
    for (const Slot& other : slots_) {
      if (!other.present) continue;
      if (other.instrument.base == instrument.quote && other.instrument.quote == currency_) {
        conversion = Conversion::kMultiplyRate;
      } else if (other.instrument.base == currency_ && other.instrument.quote == instrument.quote) {
        conversion = Conversion::kDivideRate;
      } else {
        continue;
      }
      rate_instrument = other.instrument.id.value;
      found = true;
      break;
    }
    if (!found) {
      return InvalidArgument(where + ": no rate converts its P&L in " +
                             std::string(instrument.quote.view()) + " to the account currency " +
                             std::string(currency_.view()) + "; add a conversion instrument " +
                             std::string(instrument.quote.view()) + std::string(currency_.view()) +
                             " or " + std::string(currency_.view()) +
                             std::string(instrument.quote.view()));
    }
  }
  Slot& slot = Register(instrument);
  slot.tradable = true;
  slot.conversion = conversion;
  slot.rate_instrument = rate_instrument;
  if (conversion == Conversion::kMultiplyRate || conversion == Conversion::kDivideRate) {
    slots_[rate_instrument].dependents.push_back(instrument.id.value);
  }
  return Status::Ok();
}

Status Portfolio::AddConversion(const Instrument& rate_instrument) {
  if (rate_instrument.base.empty() || rate_instrument.quote.empty()) {
    return InvalidArgument("portfolio: conversion instrument '" + rate_instrument.symbol +
                           "' needs base and quote currencies");
  }
  Register(rate_instrument);
  return Status::Ok();
}

void Portfolio::OnBar(const Bar& bar) {
  if (bar.instrument.value >= slots_.size()) return;
  Slot& slot = slots_[bar.instrument.value];
  slot.bid = bar.bid.close;
  slot.ask = bar.ask.close;
  slot.has_quote = true;
  if (open_positions_ > 0) Remark(bar.instrument.value);
}

Price Portfolio::Mid(const Slot& slot) const {
  if (!slot.has_quote) return Price();
  return Price::FromRaw(MidRaw(slot), slot.instrument.digits);
}

Money Portfolio::Convert(const Slot& slot, Money amount) const {
  // Raw mids, not Mid(): this runs on every tick of an open position.
  switch (slot.conversion) {
    case Conversion::kIdentity:
      return amount;
    case Conversion::kDivideOwnMid:
      return Money::FromRaw(ConvertRaw(amount.raw(), MidRaw(slot), /*divide=*/true));
    case Conversion::kMultiplyRate:
      return Money::FromRaw(
          ConvertRaw(amount.raw(), MidRaw(slots_[slot.rate_instrument]), /*divide=*/false));
    case Conversion::kDivideRate:
      return Money::FromRaw(
          ConvertRaw(amount.raw(), MidRaw(slots_[slot.rate_instrument]), /*divide=*/true));
  }
  return amount;
}

Money Portfolio::ToAccount(InstrumentId instrument, Money amount_in_quote) const {
  const Slot* slot = SlotOf(instrument);
  if (slot == nullptr) return Money();
  return Convert(*slot, amount_in_quote);
}

Money Portfolio::NotionalInAccount(const Instrument& instrument, Quantity lots, Price price) const {
  const Money notional = Notional(price, lots.Abs(), instrument.contract_size);
  const Slot* slot = SlotOf(instrument.id);
  if (slot != nullptr && slot->tradable) {
    // Before the first quote, the order's own price is the best rate for USD/JPY-like pairs.
    if (slot->conversion == Conversion::kDivideOwnMid && !slot->has_quote) {
      return ConvertMoney(notional, price, /*divide=*/true);
    }
    return Convert(*slot, notional);
  }
  if (instrument.quote == currency_) return notional;
  if (instrument.base == currency_) return ConvertMoney(notional, price, /*divide=*/true);
  return Money();
}

Money Portfolio::MarginRequired(const Instrument& instrument, Quantity lots, Price price) const {
  const Money notional = NotionalInAccount(instrument, lots, price);
  const double raw = static_cast<double>(notional.raw()) * instrument.margin_rate / leverage_;
  return Money::FromRaw(std::llround(raw));
}

void Portfolio::OnFill(const Fill& fill) {
  BookFill(fill);
  if (fill.instrument.value < slots_.size()) Remark(fill.instrument.value);
}

void Portfolio::Remark(uint32_t index) {
  auto refresh = [this](Slot& slot) {
    const Money now = UnrealizedOf(slot);
    unrealized_ += now - slot.unrealized;
    slot.unrealized = now;
  };
  Slot& slot = slots_[index];
  refresh(slot);
  for (uint32_t dependent : slot.dependents) refresh(slots_[dependent]);
}

void Portfolio::BookFill(const Fill& fill) {
  Slot* slot = SlotOf(fill.instrument);
  if (slot == nullptr || !fill.quantity.IsPositive()) return;
  if (!slot->has_quote) {
    slot->bid = fill.price;
    slot->ask = fill.price;
    slot->has_quote = true;
  }
  if (mode_ == AccountMode::kHedging) {
    BookHedgedFill(*slot, fill);
    return;
  }
  Position& position = slot->position;
  const Instrument& instrument = slot->instrument;
  const int64_t fill_lots = fill.quantity.raw();
  const int64_t before = position.quantity.raw();
  const int64_t delta = Sign(fill.side) * fill_lots;
  balance_ -= fill.commission;
  commission_ += fill.commission;

  if (before == 0 || (before > 0) == (delta > 0)) {
    // Opening or adding: quantity-weighted average entry.
    if (before == 0) {
      position.avg_price = Price::FromRaw(fill.price.raw(), instrument.digits);
      position.opened = fill.ts;
      position.commission = fill.commission;
      if (open_positions_++ == 0) in_market_since_ = fill.ts;
    } else {
      const Int128 weighted = static_cast<Int128>(position.avg_price.raw()) * Abs(before) +
                              static_cast<Int128>(fill.price.raw()) * fill_lots;
      position.avg_price =
          Price::FromRaw(DivRound(weighted, Abs(before) + fill_lots), instrument.digits);
      position.commission += fill.commission;
    }
    position.quantity = Quantity::FromRaw(before + delta, slot->lot_precision);
    return;
  }

  // Closing (part of) the position, possibly flipping it.
  const int64_t closed = fill_lots < Abs(before) ? fill_lots : Abs(before);

  const Money entry_share = Money::FromRaw(
      DivRound(static_cast<Int128>(position.commission.raw()) * closed, Abs(before)));
  const Money exit_share =
      Money::FromRaw(DivRound(static_cast<Int128>(fill.commission.raw()) * closed, fill_lots));
  BookTrade(*slot, before > 0 ? Side::kBuy : Side::kSell, position.avg_price, position.opened,
            closed, entry_share, exit_share, fill);

  const int64_t after = before + delta;
  position.quantity = Quantity::FromRaw(after, slot->lot_precision);
  position.commission -= entry_share;
  if (after == 0) {
    position.avg_price = Price::FromRaw(0, instrument.digits);
    position.commission = Money();
    position.stop_loss.reset();
    position.take_profit.reset();
    if (--open_positions_ == 0) time_in_market_ = time_in_market_ + (fill.ts - in_market_since_);
  } else if ((after > 0) != (before > 0)) {
    // Flipped: the rest of the fill opens a new position at the fill price.
    position.avg_price = Price::FromRaw(fill.price.raw(), instrument.digits);
    position.opened = fill.ts;
    position.commission = fill.commission - exit_share;
    position.stop_loss.reset();
    position.take_profit.reset();
  }
}

Status Portfolio::SetPosition(InstrumentId instrument, Quantity quantity, Price avg_price,
                              Timestamp ts) {
  Slot* slot = SlotOf(instrument);
  if (slot == nullptr || !slot->tradable) {
    return InvalidArgument("set position: instrument id " + std::to_string(instrument.value) +
                           " is not traded in this portfolio");
  }
  if (mode_ == AccountMode::kHedging) {
    return FailedPrecondition("set position: " + slot->instrument.symbol +
                              ": a hedging account's positions are set by ticket");
  }
  Position& position = slot->position;
  const bool was_open = !position.quantity.IsZero();
  const bool open = !quantity.IsZero();
  position.quantity = Quantity::FromRaw(quantity.raw(), slot->lot_precision);
  position.avg_price = Price::FromRaw(open ? avg_price.raw() : 0, slot->instrument.digits);
  position.opened = ts;
  position.commission = Money();
  position.stop_loss.reset();
  position.take_profit.reset();
  Settled(*slot, instrument, was_open, open, avg_price, ts);
  return Status::Ok();
}

Status Portfolio::SetPosition(InstrumentId instrument, uint64_t ticket, Quantity quantity,
                              Price avg_price, Timestamp ts) {
  if (mode_ != AccountMode::kHedging) return SetPosition(instrument, quantity, avg_price, ts);
  Slot* slot = SlotOf(instrument);
  if (slot == nullptr || !slot->tradable) {
    return InvalidArgument("set position: instrument id " + std::to_string(instrument.value) +
                           " is not traded in this portfolio");
  }
  if (ticket == 0) {
    return InvalidArgument("set position: " + slot->instrument.symbol +
                           ": a hedging account's position needs its ticket");
  }
  const bool was_open = !slot->legs.empty();
  auto found = std::find_if(slot->legs.begin(), slot->legs.end(),
                            [ticket](const HedgedPosition& leg) { return leg.ticket == ticket; });
  if (quantity.IsZero()) {
    if (found != slot->legs.end()) slot->legs.erase(found);
  } else {
    HedgedPosition leg;
    leg.ticket = ticket;
    leg.side = quantity.IsPositive() ? Side::kBuy : Side::kSell;
    leg.quantity = Quantity::FromRaw(quantity.Abs().raw(), slot->lot_precision);
    leg.open_price = Price::FromRaw(avg_price.raw(), slot->instrument.digits);
    leg.opened = ts;
    if (found != slot->legs.end()) {
      *found = leg;  // keeps its place among the positions (oldest first)
    } else {
      slot->legs.push_back(leg);
    }
  }
  const bool open = !slot->legs.empty();
  Net(*slot);
  Settled(*slot, instrument, was_open, open, avg_price, ts);
  return Status::Ok();
}

void Portfolio::Settled(Slot& slot, InstrumentId instrument, bool was_open, bool open,
                        Price avg_price, Timestamp ts) {
  if (!was_open && open) {
    if (open_positions_++ == 0) in_market_since_ = ts;
  } else if (was_open && !open) {
    if (--open_positions_ == 0 && ts > in_market_since_) {
      time_in_market_ = time_in_market_ + (ts - in_market_since_);
    }
  }
  if (open && !slot.has_quote && avg_price.IsPositive()) {
    // Marked at its own price until the first quote, as a first fill would be.
    slot.bid = avg_price;
    slot.ask = avg_price;
    slot.has_quote = true;
  }
  Remark(instrument.value);
}

void Portfolio::BookTrade(const Slot& slot, Side entry_side, Price entry_price,
                          Timestamp entry_time, int64_t closed, Money entry_share, Money exit_share,
                          const Fill& fill) {
  const Price move = entry_side == Side::kBuy ? fill.price - entry_price : entry_price - fill.price;
  const Money gross_quote =
      Notional(move, Quantity::FromRaw(closed, slot.lot_precision), slot.instrument.contract_size);
  const Money gross = Convert(slot, gross_quote);
  realized_ += gross;
  balance_ += gross;
  TradeRecord trade;
  trade.instrument = fill.instrument;
  trade.side = entry_side;
  trade.quantity = Quantity::FromRaw(closed, slot.lot_precision);
  trade.entry_time = entry_time;
  trade.exit_time = fill.ts;
  trade.entry_price = entry_price;
  trade.exit_price = fill.price;
  trade.gross_pnl = gross;
  trade.commission = entry_share + exit_share;
  trade.net_pnl = gross - trade.commission;
  trade.exit_reason = std::string(ToString(fill.reason));
  trades_.push_back(std::move(trade));
  ++trades_closed_;
}

void Portfolio::BookHedgedFill(Slot& slot, const Fill& fill) {
  balance_ -= fill.commission;
  commission_ += fill.commission;
  const int64_t fill_lots = fill.quantity.raw();
  int64_t opening = fill_lots;
  // A fill naming an open position on the other side closes (part of) it; the venue never
  // closes more than the position holds, and any excess would open a position of its own.
  for (size_t idx = 0; fill.position_ticket != 0 && idx < slot.legs.size(); ++idx) {
    HedgedPosition& leg = slot.legs[idx];
    if (leg.ticket != fill.position_ticket) continue;
    if (leg.side == fill.side) break;
    const int64_t held = leg.quantity.raw();
    const int64_t closed = fill_lots < held ? fill_lots : held;
    const Money entry_share =
        Money::FromRaw(DivRound(static_cast<Int128>(leg.commission.raw()) * closed, held));
    const Money exit_share =
        Money::FromRaw(DivRound(static_cast<Int128>(fill.commission.raw()) * closed, fill_lots));
    BookTrade(slot, leg.side, leg.open_price, leg.opened, closed, entry_share, exit_share, fill);
    opening = fill_lots - closed;
    if (closed == held) {
      slot.legs.erase(slot.legs.begin() + static_cast<std::ptrdiff_t>(idx));
      if (slot.legs.empty() && --open_positions_ == 0) {
        time_in_market_ = time_in_market_ + (fill.ts - in_market_since_);
      }
    } else {
      leg.quantity = Quantity::FromRaw(held - closed, slot.lot_precision);
      leg.commission -= entry_share;
    }
    break;
  }
  if (opening > 0) {
    HedgedPosition leg;
    leg.ticket = fill.position_ticket;
    leg.side = fill.side;
    leg.quantity = Quantity::FromRaw(opening, slot.lot_precision);
    leg.open_price = Price::FromRaw(fill.price.raw(), slot.instrument.digits);
    leg.opened = fill.ts;
    leg.commission = opening == fill_lots
                         ? fill.commission
                         : Money::FromRaw(DivRound(
                               static_cast<Int128>(fill.commission.raw()) * opening, fill_lots));
    if (slot.legs.empty() && open_positions_++ == 0) in_market_since_ = fill.ts;
    slot.legs.push_back(leg);
  }
  Net(slot);
}

void Portfolio::Net(Slot& slot) const {
  Position& net = slot.position;
  int64_t quantity = 0;
  for (const HedgedPosition& leg : slot.legs) quantity += Sign(leg.side) * leg.quantity.raw();
  net.quantity = Quantity::FromRaw(quantity, slot.lot_precision);
  net.stop_loss.reset();
  net.take_profit.reset();
  if (quantity == 0) {
    net.avg_price = Price::FromRaw(0, slot.instrument.digits);
    net.commission = Money();
    if (!slot.legs.empty()) net.opened = slot.legs.front().opened;
    return;
  }
  // The average open price of the positions on the net side, and when the oldest of them opened.
  const Side side = quantity > 0 ? Side::kBuy : Side::kSell;
  Int128 weighted = 0;
  int64_t lots = 0;
  Money commission;
  bool first = true;
  for (const HedgedPosition& leg : slot.legs) {
    if (leg.side != side) continue;
    weighted += static_cast<Int128>(leg.open_price.raw()) * leg.quantity.raw();
    lots += leg.quantity.raw();
    commission += leg.commission;
    if (first) net.opened = leg.opened;
    first = false;
  }
  net.avg_price = Price::FromRaw(DivRound(weighted, lots), slot.instrument.digits);
  net.commission = commission;
}

int64_t Portfolio::MarginLots(const Slot& slot) const {
  if (mode_ != AccountMode::kHedging) return Abs(slot.position.quantity.raw());
  auto [longs, shorts] = LegVolumes(slot.legs);
  return longs > shorts ? longs : shorts;
}

int64_t Portfolio::AddedMarginLots(InstrumentId instrument, Side side, int64_t lots_raw) const {
  const Slot* slot = SlotOf(instrument);
  if (slot == nullptr) return lots_raw;
  if (mode_ != AccountMode::kHedging) {
    const int64_t before = slot->position.quantity.raw();
    const int64_t after = before + Sign(side) * lots_raw;
    return Abs(after) > Abs(before) ? Abs(after) - Abs(before) : 0;
  }
  auto [longs, shorts] = LegVolumes(slot->legs);
  const int64_t larger = longs > shorts ? longs : shorts;
  (side == Side::kBuy ? longs : shorts) += lots_raw;
  return (longs > shorts ? longs : shorts) - larger;
}

Money Portfolio::AddedMargin(const Instrument& spec, Side side, Quantity lots, Price price) const {
  const Slot* slot = SlotOf(spec.id);
  if (mode_ != AccountMode::kHedging || slot == nullptr || spec.margin_hedged_use_leg) {
    const int64_t added = AddedMarginLots(spec.id, side, lots.raw());
    return added > 0 ? MarginRequired(spec, Quantity::FromRaw(added, lots.precision()), price)
                     : Money();
  }
  auto [longs, shorts] = LegVolumes(slot->legs);
  const auto margin_of = [&](Quantity held) { return MarginRequired(spec, held, price); };
  const Money before = HedgedMargin(spec, longs, shorts, lots.precision(), margin_of);
  (side == Side::kBuy ? longs : shorts) += lots.raw();
  const Money after = HedgedMargin(spec, longs, shorts, lots.precision(), margin_of);
  return after > before ? after - before : Money();
}

const std::vector<HedgedPosition>& Portfolio::positions(InstrumentId instrument) const {
  static const std::vector<HedgedPosition> kNone;
  const Slot* slot = SlotOf(instrument);
  return slot == nullptr ? kNone : slot->legs;
}

const Position& Portfolio::position(InstrumentId instrument) const {
  static const Position kFlat;
  const Slot* slot = SlotOf(instrument);
  return slot == nullptr ? kFlat : slot->position;
}

const Instrument& Portfolio::instrument(InstrumentId instrument) const {
  static const Instrument kUnknown;
  const Slot* slot = SlotOf(instrument);
  return slot == nullptr ? kUnknown : slot->instrument;
}

Money Portfolio::UnrealizedOf(const Slot& slot) const {
  if (!slot.present || !slot.has_quote) return Money();
  const int64_t contract = slot.instrument.contract_size;
  // Marked at what closing would get: the bid for a long, the ask for a short.
  int64_t sum = 0;  // in the quote currency, converted once
  if (mode_ == AccountMode::kHedging) {
    if (slot.legs.empty()) return Money();
    for (const HedgedPosition& leg : slot.legs) {
      const int64_t move = leg.side == Side::kBuy ? slot.bid.raw() - leg.open_price.raw()
                                                  : leg.open_price.raw() - slot.ask.raw();
      sum += NotionalRaw(move, leg.quantity.raw(), contract);
    }
  } else {
    const Position& position = slot.position;
    const int64_t lots = position.quantity.raw();
    if (lots == 0) return Money();
    const int64_t move = lots > 0 ? slot.bid.raw() - position.avg_price.raw()
                                  : position.avg_price.raw() - slot.ask.raw();
    const int64_t size = Abs(lots);
    if (size != slot.mark_lots) {
      constexpr int64_t kScale = kFixedScale / kMoneyScale * kFixedScale;
      const Int128 units = static_cast<Int128>(size) * contract;
      const bool fits = units > 0 && units <= std::numeric_limits<int64_t>::max();
      const int64_t common = fits ? std::gcd(static_cast<int64_t>(units), kScale) : 1;
      slot.mark_lots = size;
      slot.mark_units = fits ? static_cast<int64_t>(units) / common : 0;
      slot.mark_divisor = kScale / common;
    }
    sum = slot.mark_units != 0 ? ReducedNotional(move, slot.mark_units, slot.mark_divisor)
                               : NotionalRaw(move, size, contract);
  }
  return Convert(slot, Money::FromRaw(sum));
}

Money Portfolio::RealizedPnl() const { return realized_; }
Money Portfolio::TotalCommission() const { return commission_; }

Account Portfolio::account() const {
  Account account;
  account.currency = currency_;
  account.balance = balance_;
  account.equity = Equity();
  if (open_positions_ > 0) {
    for (const Slot& slot : slots_) {
      if (!slot.present) continue;
      const int64_t lots = MarginLots(slot);
      if (lots == 0) continue;
      Price price = slot.has_quote ? Mid(slot) : slot.position.avg_price;
      if (!price.IsPositive() && !slot.legs.empty()) price = slot.legs.front().open_price;
      if (mode_ == AccountMode::kHedging && !slot.instrument.margin_hedged_use_leg) {
        auto [longs, shorts] = LegVolumes(slot.legs);
        account.margin += HedgedMargin(
            slot.instrument, longs, shorts, slot.lot_precision,
            [&](Quantity held) { return MarginRequired(slot.instrument, held, price); });
        continue;
      }
      const Quantity margin_lots = mode_ == AccountMode::kHedging
                                       ? Quantity::FromRaw(lots, slot.lot_precision)
                                       : slot.position.quantity.Abs();
      account.margin += MarginRequired(slot.instrument, margin_lots, price);
    }
  }
  account.free_margin = account.equity - account.margin;
  account.leverage = leverage_;
  return account;
}

void Portfolio::SampleEquity(Timestamp ts) {
  if (open_positions_ > 0 && ts > in_market_since_) {
    time_in_market_ = time_in_market_ + (ts - in_market_since_);
    in_market_since_ = ts;
  }
  last_sample_ = ts;
  curve_.Record(ts, Equity());
}

void Portfolio::TrimTrades(size_t keep) {
  // Erasing from the front of a vector is O(n): wait until there are twice as many, then halve.
  if (keep == 0 || trades_.size() <= 2 * keep) return;
  trades_.erase(trades_.begin(), trades_.end() - static_cast<std::ptrdiff_t>(keep));
}

}  // namespace aits::portfolio
