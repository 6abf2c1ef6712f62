// Orders, fills, positions and the account.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "aits/core/fixed_point.h"
#include "aits/core/time.h"
#include "aits/model/instrument.h"
#include "aits/model/message_type.h"

namespace aits {

enum class Side : uint8_t { kBuy, kSell };
enum class OrderType : uint8_t { kMarket, kLimit, kStop };
enum class TimeInForce : uint8_t { kGtc, kIoc, kFok, kDay };
enum class OrderStatus : uint8_t {
  kPendingNew,  // submitted, travelling to the venue (latency)
  kAccepted,    // resting at the venue (limit/stop)
  kFilled,
  kCanceled,
  kExpired,  // DAY order past its session, or IOC/FOK that could not fill
  kRejected,
};

// Why the venue refused an order. Every rejection carries one.
enum class RejectReason : uint8_t {
  kNone,
  kInvalidQuantity,     // not positive, below min lots, above max lots or off the lot step
  kInvalidPrice,        // a limit/stop without a positive price, SL/TP on the wrong side
  kInsufficientMargin,  // free margin would go negative
  kNoMarket,            // no quote yet for the instrument
  kUnknownInstrument,
  kDuplicateClientId,
  // Pre-trade risk checks (aits::risk); the order never reaches the venue.
  kRiskOrderSize,           // above the per-order lot limit
  kRiskPositionLimit,       // the symbol's net position would exceed its limit
  kRiskGrossExposure,       // sum of |notional| would exceed the limit
  kRiskNetExposure,         // |sum of signed notional| would exceed the limit
  kRiskCurrencyExposure,    // one currency's net exposure would exceed the limit
  kRiskCorrelatedExposure,  // a group of correlated positions would exceed the limit
  kRiskLeverage,            // gross exposure / equity would exceed the limit
  kRiskMarginUse,           // used margin / equity would exceed the limit
  kRiskOrderRate,           // more orders in the last second than allowed
  kRiskPriceCollar,         // limit/stop price too far from the last quote
  kRiskReduceOnly,          // circuit breaker is reduce-only and the order would grow a position
  kRiskHalted,              // circuit breaker is halted
  // The order names a position (OrderRequest::position_ticket) that the venue does not hold, or
  // that the order cannot close: same side as the position, more lots than it has, or not a
  // market order. After the risk reasons so that the stored numbers of the others never change.
  kInvalidPosition,
  // A live venue refused the order for a reason of its own that none of the above names (trading
  // disabled, AutoTrading off, its order or position limits, long/short/close only, FIFO rules);
  // the report's `text` holds the venue's code and words (MT5: the TRADE_RETCODE_* name).
  kVenueRefused,
};

// Highest RejectReason, for decoders that check a stored number.
inline constexpr RejectReason kLastRejectReason = RejectReason::kVenueRefused;

// How an account holds positions (MetaTrader 5's ACCOUNT_MARGIN_MODE): netting keeps one net
// position per instrument; hedging keeps each opening fill as its own position with its own
// ticket, closed only by orders that name it (docs/execution.md, "Hedging accounts").
enum class AccountMode : uint8_t { kNetting, kHedging };

// What made an order fill. Kept in the event log and reports by its ToString name.
enum class FillReason : uint8_t { kMarket, kLimit, kStop, kStopLoss, kTakeProfit };

// The fill reason of an order of this type filling on its own terms (not by SL/TP).
constexpr FillReason FillReasonOf(OrderType type) {
  return type == OrderType::kLimit  ? FillReason::kLimit
         : type == OrderType::kStop ? FillReason::kStop
                                    : FillReason::kMarket;
}

// True for the reasons set by the risk manager rather than the venue.
constexpr bool IsRiskReject(RejectReason reason) {
  return reason >= RejectReason::kRiskOrderSize && reason <= RejectReason::kRiskHalted;
}

std::string_view ToString(Side side);
std::string_view ToString(OrderType type);
std::string_view ToString(TimeInForce tif);
std::string_view ToString(OrderStatus status);
std::string_view ToString(RejectReason reason);
std::string_view ToString(AccountMode mode);  // "netting", "hedging"
// The mode named by ToString; InvalidArgument naming the text otherwise.
Result<AccountMode> ParseAccountMode(std::string_view text);
std::string_view ToString(
    FillReason reason);  // "market", "limit", "stop", "stop_loss", "take_profit"
// The reason named by ToString; InvalidArgument naming the text otherwise.
Result<FillReason> ParseFillReason(std::string_view text);

constexpr Side Opposite(Side side) { return side == Side::kBuy ? Side::kSell : Side::kBuy; }
constexpr int Sign(Side side) { return side == Side::kBuy ? 1 : -1; }

struct OrderId {
  uint64_t value = 0;
  friend constexpr auto operator<=>(OrderId, OrderId) = default;
};

// What a strategy asks for. Stop-loss and take-profit attach to the position the order opens,
// as MetaTrader does: when the market touches one, the venue closes that quantity.
struct OrderRequest {
  InstrumentId instrument;
  Side side = Side::kBuy;
  OrderType type = OrderType::kMarket;
  TimeInForce tif = TimeInForce::kGtc;
  Quantity quantity;           // lots, positive
  std::optional<Price> price;  // limit or stop trigger price
  std::optional<Price> stop_loss;
  std::optional<Price> take_profit;
  std::string client_order_id;  // empty: the kernel assigns one
  std::string tag;              // free text for reports ("entry", "sl", ...)
  // The position this order closes, by its ticket (MetaTrader 5's TRADE_ACTION_DEAL with
  // `position`): a market order on the opposite side for at most the position's lots (a partial
  // close leaves the rest open). 0: on a hedging account the order opens a new position, on a
  // netting account it trades against the net one.
  uint64_t position_ticket = 0;
  // The chain id of the operator's request that caused the order (the API's X-Chain-ID,
  // docs/api.md, "Tracing and audit"); empty for a strategy's. It travels with the order to the
  // venue, over the bus too, so that every role's log lines about the order carry it. Not in
  // the event log's order events: the logged command holds it, and a replay sets it again.
  std::string chain_id;
};

struct Order {
  OrderId id;
  OrderRequest request;
  OrderStatus status = OrderStatus::kPendingNew;
  RejectReason reject_reason = RejectReason::kNone;
  std::string reject_detail;  // the figures behind a risk rejection ("position 5 > limit 3")
  Timestamp created;          // when the strategy submitted it
  Timestamp arrives;          // created + latency: when the venue sees it
  Timestamp updated;
  Quantity filled;
  Price avg_fill_price;
  // The venue's ticket for this order (0 until the venue has named it) and the ticket of the
  // position its fills opened or changed (0 before a fill). The kernel's OrderId stays the key.
  uint64_t venue_order_id = 0;
  uint64_t position_ticket = 0;
};

struct Fill {
  static constexpr MessageType kMessageType = MessageType::kFill;

  OrderId order_id;
  std::string client_order_id;
  InstrumentId instrument;
  Side side = Side::kBuy;
  Quantity quantity;  // lots, positive
  Price price;
  Money commission;  // account currency, positive = cost
  Timestamp ts;
  FillReason reason = FillReason::kMarket;
  // The venue's ticket of the position this fill opened, changed or closed (0 when the venue
  // gave none): on a hedging account the portfolio books the fill against that position.
  uint64_t position_ticket = 0;
};

// One position of a hedging account: what one opening fill created, less what orders naming its
// ticket have closed.
struct HedgedPosition {
  uint64_t ticket = 0;  // the ticket of the order that opened it
  Side side = Side::kBuy;
  Quantity quantity;  // lots, positive
  Price open_price;
  Timestamp opened;
  Money commission;  // commission of the open part, for the trade record
};

// Netting position: one per instrument; quantity is signed (long > 0). On a hedging account the
// portfolio reports the net of the instrument's positions here (quantity = longs - shorts,
// avg_price = the average open price of the positions on the net side).
struct Position {
  InstrumentId instrument;
  Quantity quantity;
  Price avg_price;
  std::optional<Price> stop_loss;
  std::optional<Price> take_profit;
  Timestamp opened;
  Money commission;  // commissions paid on the open part, for the trade record

  bool IsFlat() const { return quantity.IsZero(); }
  bool IsLong() const { return quantity.IsPositive(); }
};

struct Account {
  Currency currency;
  Money balance;      // cash: deposits + realised P&L - commissions
  Money equity;       // balance + unrealised P&L
  Money margin;       // used margin of open positions
  Money free_margin;  // equity - margin
  double leverage = 100.0;
};

}  // namespace aits
