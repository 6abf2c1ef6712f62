// Portfolio: netting positions, the account in its currency, realised and unrealised P&L,
// round-trip trade records and the equity curve. Fed by the kernel with fills and quotes.
//
// P&L of an instrument is earned in its quote currency and converted to the account currency at
// the current rate: quote == account -> 1; base == account (USD/JPY on a USD account) -> divided by
// the instrument's own current mid; otherwise through a conversion instrument added with
// AddConversion() (e.g. GBPUSD for EURGBP on a USD account). AddInstrument() refuses an instrument
// whose P&L cannot be converted.
//
// Margin of a position = |lots| * contract_size * price converted to the account currency
// * margin_rate / leverage (MetaTrader's Forex formula).
//
// Hedging accounts (AccountMode::kHedging, docs/execution.md "Hedging accounts"): each opening
// fill is a position of its own, keyed by the fill's position ticket; a fill naming an open
// position on the other side closes (part of) it, with its own trade record at that position's
// open price. position() is then the net of the instrument's positions; positions() lists them.
// Margin per instrument is that of the larger of the long and short volumes, or with the
// instrument's hedged margin (Instrument::margin_hedged_use_leg false) the uncovered volume at the
// full rate plus the covered volume at the hedged rate (HedgedMargin, instrument.h).
// Single-threaded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "aits/core/fixed_point.h"
#include "aits/core/status.h"
#include "aits/model/instrument.h"
#include "aits/model/market.h"
#include "aits/model/order.h"
#include "aits/portfolio/equity_curve.h"

namespace aits::portfolio {

// One closed round trip (or the closed part of a position).
struct TradeRecord {
  InstrumentId instrument;
  Side side = Side::kBuy;  // side of the entry
  Quantity quantity;       // lots closed, positive
  Timestamp entry_time;
  Timestamp exit_time;
  Price entry_price;  // average entry price
  Price exit_price;
  Money gross_pnl;          // account currency, before commission
  Money commission;         // entry share + exit commission
  Money net_pnl;            // gross_pnl - commission
  std::string exit_reason;  // the closing fill's reason ("market", "stop_loss", ...)
};

class Portfolio {
 public:
  // Precondition: initial_balance > 0, leverage > 0 (validated by the caller's config).
  Portfolio(Currency account_currency, Money initial_balance, double leverage,
            AccountMode mode = AccountMode::kNetting);

  // Registers an instrument; InvalidArgument if its P&L cannot be converted to the account
  // currency with what has been registered so far.
  Status AddInstrument(const Instrument& instrument);
  // Registers an instrument used only as a conversion rate (its ticks must be fed too).
  Status AddConversion(const Instrument& rate_instrument);

  // Updates the last quote and unrealised P&L. Inline: the kernel calls it on every tick.
  void OnTick(const Tick& tick) {
    if (tick.instrument.value >= slots_.size()) return;
    Slot& slot = slots_[tick.instrument.value];
    slot.bid = tick.bid;
    slot.ask = tick.ask;
    slot.has_quote = true;
    if (open_positions_ > 0) Remark(tick.instrument.value);
  }
  void OnBar(const Bar& bar);     // bar mode: the bar's close is the last quote
  void OnFill(const Fill& fill);  // updates position, balance, commission and trade records

  // Reconciliation at start (docs/execution.md, "Reconciliation"): the position becomes
  // `quantity` lots (signed; zero = flat) at `avg_price`, opened at `ts`, as the venue holds it.
  // No cash moves and no trade is recorded: the deals that made the difference are the venue's,
  // and the log never saw them. The position's SL/TP and open commission are cleared.
  // InvalidArgument for an instrument that was not added; FailedPrecondition on a hedging
  // account, whose positions are set by ticket (below).
  Status SetPosition(InstrumentId instrument, Quantity quantity, Price avg_price, Timestamp ts);
  // The same for one position by its ticket: on a hedging account the position `ticket` becomes
  // `quantity` lots at `avg_price` (zero removes it; a new ticket adds a position), the others
  // stay; on a netting account the ticket is not needed and this is the call above.
  // InvalidArgument for ticket 0 on a hedging account.
  Status SetPosition(InstrumentId instrument, uint64_t ticket, Quantity quantity, Price avg_price,
                     Timestamp ts);

  // Reconciliation at start: the balance becomes the venue's (the deals and cash movements
  // that made the difference are the venue's, and the log never saw them). No trade is recorded.
  void SetBalance(Money balance) { balance_ = balance; }

  const Position& position(InstrumentId instrument) const;
  // Hedging account: the instrument's open positions, oldest first (empty on a netting account).
  const std::vector<HedgedPosition>& positions(InstrumentId instrument) const;
  AccountMode account_mode() const { return mode_; }
  // Raw lots by which an opening order of `lots_raw` on `side` grows the volume margin is charged
  // on: |net| on a netting account, the larger leg on a hedging one (0 when it does not grow it).
  int64_t AddedMarginLots(InstrumentId instrument, Side side, int64_t lots_raw) const;
  // Margin an opening order of `lots` on `side` adds at `price`: that of AddedMarginLots at the
  // full rate, or on a hedging account with a hedged margin rate the growth of HedgedMargin (which
  // an order against the larger leg may shrink: 0 then).
  // `instrument` is the one registered under instrument.id.
  Money AddedMargin(const Instrument& instrument, Side side, Quantity lots, Price price) const;
  const Instrument& instrument(InstrumentId instrument) const;
  Account account() const;  // balance, equity, margin, free margin at the last quotes
  // Inline: the venue's stop-out check reads the equity on every tick.
  Money Equity() const { return balance_ + unrealized_; }
  Money UnrealizedPnl() const { return unrealized_; }
  Money RealizedPnl() const;  // gross, account currency
  Money TotalCommission() const;
  Money InitialBalance() const { return initial_balance_; }

  // Quote -> account conversion of an amount earned on `instrument`, at the current rates.
  Money ToAccount(InstrumentId instrument, Money amount_in_quote) const;
  Money MarginRequired(const Instrument& instrument, Quantity lots, Price price) const;
  Money NotionalInAccount(const Instrument& instrument, Quantity lots, Price price) const;

  const std::vector<TradeRecord>& trades() const { return trades_; }
  // Every trade closed, trimmed ones included: trades().back() is trade number trades_closed()
  // of the portfolio (from 1), a number a replay of the same fills gives it again.
  uint64_t trades_closed() const { return trades_closed_; }
  // Keeps only the latest `keep` trade records (dropped in chunks, so amortised O(1)); 0 = all.
  void TrimTrades(size_t keep);

  // Records the equity at `ts` into the curve (the kernel calls this on every bar close and at
  // the end); also accumulates time in market.
  void SampleEquity(Timestamp ts);
  const EquityCurve& equity_curve() const { return curve_; }
  Duration TimeInMarket() const { return time_in_market_; }

 private:
  // Implementation detail; free to change.
  enum class Conversion : uint8_t {
    kIdentity,      // quote currency is the account currency
    kDivideOwnMid,  // base currency is the account currency (USD/JPY on a USD account)
    kMultiplyRate,  // via rate instrument QUOTE/ACCOUNT (GBPUSD for EURGBP on USD)
    kDivideRate,    // via rate instrument ACCOUNT/QUOTE (USDJPY for EURJPY on USD)
  };
  struct Slot {
    bool present = false;
    bool tradable = false;  // false: registered only as a conversion rate
    Instrument instrument;
    int lot_precision = 0;
    bool has_quote = false;
    Price bid;
    Price ask;
    Position position;
    Conversion conversion = Conversion::kIdentity;
    uint32_t rate_instrument = 0;
    // This slot's term of UnrealizedPnl() as of the last quote or fill that moved it, and the
    // slots whose P&L converts through this slot's rate (their terms move with its quotes).
    Money unrealized;
    std::vector<uint32_t> dependents;
    // The net position's mark as a reduced fraction (UnrealizedOf): for these |lots|, the
    // notional of a move is move * units / divisor, which for whole lot steps has divisor 1 and
    // needs no division on the tick path. Refreshed when |lots| changes; units 0 = not reducible.
    mutable int64_t mark_lots = 0;
    mutable int64_t mark_units = 0;
    mutable int64_t mark_divisor = 1;
    std::vector<HedgedPosition> legs;  // hedging account: the open positions, oldest first
  };
  Slot* SlotOf(InstrumentId id);
  const Slot* SlotOf(InstrumentId id) const;
  Slot& Register(const Instrument& instrument);
  Money Convert(const Slot& slot, Money amount_in_quote) const;
  // The slot's unrealized P&L in the account currency at its current quote (0 when flat or
  // unquoted).
  Money UnrealizedOf(const Slot& slot) const;
  // Refreshes the cached term of slot `index` and of its dependents. Equity is read on every tick
  // (the stop-out check); with positions in several instruments, summing every term each time
  // would cost O(instruments) per tick, so the sum is kept instead (integer money: exact).
  void Remark(uint32_t index);
  void BookFill(const Fill& fill);
  void BookHedgedFill(Slot& slot, const Fill& fill);
  // Hedging: recomputes slot.position as the net of its positions.
  void Net(Slot& slot) const;
  // After SetPosition changed `slot`: time in market, the mark before any quote, unrealised P&L.
  void Settled(Slot& slot, InstrumentId instrument, bool was_open, bool open, Price avg_price,
               Timestamp ts);
  // Lots that margin is charged on: |net| (netting) or the larger leg (hedging), raw.
  int64_t MarginLots(const Slot& slot) const;
  void BookTrade(const Slot& slot, Side entry_side, Price entry_price, Timestamp entry_time,
                 int64_t closed, Money entry_share, Money exit_share, const Fill& fill);
  Price Mid(const Slot& slot) const;
  // The mid's raw value; 0 before the first quote.
  static int64_t MidRaw(const Slot& slot) {
    return slot.has_quote ? (slot.bid.raw() + slot.ask.raw()) / 2 : 0;
  }

  std::vector<Slot> slots_;
  Money unrealized_;  // sum of Slot::unrealized
  Currency currency_;
  Money initial_balance_;
  Money balance_;
  Money realized_;
  Money commission_;
  double leverage_;
  AccountMode mode_;
  std::vector<TradeRecord> trades_;
  uint64_t trades_closed_ = 0;
  EquityCurve curve_;
  Duration time_in_market_;
  std::optional<Timestamp> last_sample_;
  int open_positions_ = 0;
  Timestamp in_market_since_{};
};

}  // namespace aits::portfolio
