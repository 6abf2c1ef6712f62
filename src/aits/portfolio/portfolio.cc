#include "aits/portfolio/portfolio.h"

#include <cmath>
#include <string>

namespace aits::portfolio {
namespace {

__extension__ typedef __int128 Int128;  // GCC extension: exact 128-bit intermediates

// numerator / denominator rounded half away from zero; denominator > 0.
int64_t DivRound(Int128 numerator, Int128 denominator) {
  const bool negative = numerator < 0;
  if (negative) numerator = -numerator;
  const Int128 quotient = (numerator + denominator / 2) / denominator;
  return static_cast<int64_t>(negative ? -quotient : quotient);
}

int64_t Abs(int64_t value) { return value < 0 ? -value : value; }

}  // namespace

Portfolio::Portfolio(Currency account_currency, Money initial_balance, double leverage)
    : currency_(account_currency),
      initial_balance_(initial_balance),
      balance_(initial_balance),
      leverage_(leverage > 0 ? leverage : 1.0) {}

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

void Portfolio::OnTick(const Tick& tick) {
  // Unrealised P&L is computed on demand from the stored quotes: the tick path only stores.
  if (tick.instrument.value >= slots_.size()) return;
  Slot& slot = slots_[tick.instrument.value];
  slot.bid = tick.bid;
  slot.ask = tick.ask;
  slot.has_quote = true;
  if (open_positions_ > 0) Remark(tick.instrument.value);
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
  return Price::FromRaw((slot.bid.raw() + slot.ask.raw()) / 2, slot.instrument.digits);
}

Money Portfolio::Convert(const Slot& slot, Money amount) const {
  switch (slot.conversion) {
    case Conversion::kIdentity:
      return amount;
    case Conversion::kDivideOwnMid:
      return ConvertMoney(amount, Mid(slot), /*divide=*/true);
    case Conversion::kMultiplyRate:
      return ConvertMoney(amount, Mid(slots_[slot.rate_instrument]), /*divide=*/false);
    case Conversion::kDivideRate:
      return ConvertMoney(amount, Mid(slots_[slot.rate_instrument]), /*divide=*/true);
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
  const Price move = before > 0 ? fill.price - position.avg_price : position.avg_price - fill.price;
  const Money gross_quote =
      Notional(move, Quantity::FromRaw(closed, slot->lot_precision), instrument.contract_size);
  const Money gross = Convert(*slot, gross_quote);
  realized_ += gross;
  balance_ += gross;

  const Money entry_share = Money::FromRaw(
      DivRound(static_cast<Int128>(position.commission.raw()) * closed, Abs(before)));
  const Money exit_share =
      Money::FromRaw(DivRound(static_cast<Int128>(fill.commission.raw()) * closed, fill_lots));
  TradeRecord trade;
  trade.instrument = fill.instrument;
  trade.side = before > 0 ? Side::kBuy : Side::kSell;
  trade.quantity = Quantity::FromRaw(closed, slot->lot_precision);
  trade.entry_time = position.opened;
  trade.exit_time = fill.ts;
  trade.entry_price = position.avg_price;
  trade.exit_price = fill.price;
  trade.gross_pnl = gross;
  trade.commission = entry_share + exit_share;
  trade.net_pnl = gross - trade.commission;
  trade.exit_reason = std::string(ToString(fill.reason));
  trades_.push_back(std::move(trade));

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
  Position& position = slot->position;
  const bool was_open = !position.quantity.IsZero();
  const bool open = !quantity.IsZero();
  if (!was_open && open) {
    if (open_positions_++ == 0) in_market_since_ = ts;
  } else if (was_open && !open) {
    if (--open_positions_ == 0 && ts > in_market_since_) {
      time_in_market_ = time_in_market_ + (ts - in_market_since_);
    }
  }
  position.quantity = Quantity::FromRaw(quantity.raw(), slot->lot_precision);
  position.avg_price = Price::FromRaw(open ? avg_price.raw() : 0, slot->instrument.digits);
  position.opened = ts;
  position.commission = Money();
  position.stop_loss.reset();
  position.take_profit.reset();
  if (open && !slot->has_quote && avg_price.IsPositive()) {
    // Marked at its own price until the first quote, as a first fill would be.
    slot->bid = avg_price;
    slot->ask = avg_price;
    slot->has_quote = true;
  }
  Remark(instrument.value);
  return Status::Ok();
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
  const Position& position = slot.position;
  if (!slot.present || position.quantity.IsZero() || !slot.has_quote) return Money();
  // Marked at what closing would get: the bid for a long, the ask for a short.
  const Price move =
      position.IsLong() ? slot.bid - position.avg_price : position.avg_price - slot.ask;
  return Convert(slot, Notional(move, position.quantity.Abs(), slot.instrument.contract_size));
}

Money Portfolio::UnrealizedPnl() const { return unrealized_; }

Money Portfolio::Equity() const { return balance_ + UnrealizedPnl(); }
Money Portfolio::RealizedPnl() const { return realized_; }
Money Portfolio::TotalCommission() const { return commission_; }

Account Portfolio::account() const {
  Account account;
  account.currency = currency_;
  account.balance = balance_;
  account.equity = Equity();
  if (open_positions_ > 0) {
    for (const Slot& slot : slots_) {
      if (!slot.present || slot.position.quantity.IsZero()) continue;
      const Price price = slot.has_quote ? Mid(slot) : slot.position.avg_price;
      account.margin += MarginRequired(slot.instrument, slot.position.quantity.Abs(), price);
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
