// The kernel's events that are not market data: an order's command, its state changes and the
// circuit breaker's moves. Plain values that own their data, each with a stable MessageType, so
// the same struct is published on the kernel's bus, written to the event log and encoded for
// other processes (aits/proto/messages.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/model/message_type.h"
#include "aits/model/order.h"

namespace aits {

// Published for every order a strategy submits, before the risk check and the execution client
// see it: the command that the events of that order answer. Built only when someone subscribes.
struct OrderSubmitted {
  static constexpr MessageType kMessageType = MessageType::kOrderSubmitted;

  OrderRequest request;
  Timestamp ts;
};

// Published whenever an order changes state (accepted, filled, canceled, expired, rejected).
// Fills are published as aits::Fill, before the OrderUpdate of the order they fill.
struct OrderUpdate {
  static constexpr MessageType kMessageType = MessageType::kOrderUpdate;

  Order order;
};

// What a venue says happened to one order, in a form no venue owns: the simulated venue and a
// broker gateway (MetaTrader 5: a trade transaction and its retcode) both speak it, and the
// kernel's order manager turns it into its order's new state, a Fill and an OrderUpdate
// (docs/architecture.md, "How an order travels"). A report names its order by the kernel's id
// when the venue knows it, and always by the venue's ticket; an order the venue opened itself
// (a stop-out, an SL/TP close) is announced by a kNew report and known by its ticket after.
enum class ExecKind : uint8_t {
  kNew,       // the venue opened an order of its own; `text` is its comment (sl, tp, stop_out)
  kAccepted,  // the order rests at the venue (limit/stop)
  kRejected,  // refused: `reject_reason`, and the venue's own words in `text`
  kPartiallyFilled,  // a fill that leaves part of the order open
  kFilled,           // the fill that completes the order
  kCanceled,
  kModified,  // the SL/TP of the order, or of the position `position_ticket`, changed
  kExpired,   // a DAY order past its day, or an IOC/FOK that could not fill
};
std::string_view ToString(ExecKind kind);
Result<ExecKind> ParseExecKind(std::string_view text);

struct ExecutionReport {
  static constexpr MessageType kMessageType = MessageType::kExecutionReport;

  ExecKind kind = ExecKind::kAccepted;
  OrderId order_id;              // the kernel's id; 0 when the venue does not know it
  std::string client_order_id;   // as sent, when the venue echoes it (may be empty)
  uint64_t venue_order_id = 0;   // the venue's ticket of the order
  uint64_t position_ticket = 0;  // the position the fill opened, changed or closed (or modified)
  InstrumentId instrument;
  // For kNew: the order the venue opened (side, lots, type, time in force). For fills: the side.
  Side side = Side::kBuy;
  OrderType type = OrderType::kMarket;
  TimeInForce tif = TimeInForce::kGtc;
  Quantity quantity;  // kNew: the order's lots; fills: this fill's lots
  Price price;        // fills: this fill's price
  Money commission;   // fills: account currency, positive = cost
  FillReason fill_reason = FillReason::kMarket;
  RejectReason reject_reason = RejectReason::kNone;
  std::optional<Price> stop_loss;    // kModified: the new protection (unset = none)
  std::optional<Price> take_profit;  // kModified
  std::string text;  // kRejected: the venue's reason in its words; kNew: the order's comment
  Timestamp ts;      // the venue's time of the event
  // Fills: the venue's id of this execution (MetaTrader's deal ticket), unique per venue; 0 when
  // the venue gives none. The order manager applies a fill once per id: a venue or a link that
  // repeats a report does not fill the order twice.
  uint64_t exec_id = 0;
};

// Why a venue sent an AccountReport.
enum class AccountReportReason : uint8_t {
  kUpdate,      // the account changed (a live gateway sends one after each change)
  kMarginCall,  // the margin level fell below the margin-call level
  kStopOut,     // the margin level fell below the stop-out level: positions are being closed
};
std::string_view ToString(AccountReportReason reason);
Result<AccountReportReason> ParseAccountReportReason(std::string_view text);

// The venue's view of the account (MetaTrader's ACCOUNT_BALANCE, _EQUITY, _MARGIN,
// _MARGIN_FREE, _MARGIN_LEVEL), in the account currency.
struct AccountReport {
  static constexpr MessageType kMessageType = MessageType::kAccountReport;

  AccountReportReason reason = AccountReportReason::kUpdate;
  Money balance;
  Money equity;
  Money margin;
  Money free_margin;
  double margin_level = 0;  // equity / margin x 100; 0 without margin in use
  Timestamp ts;
};

enum class BreakerState : uint8_t { kNormal, kReduceOnly, kHalted };
std::string_view ToString(BreakerState state);
Result<BreakerState> ParseBreakerState(std::string_view text);  // normal|reduce_only|halted

// The circuit breaker moved (aits::risk decides when).
struct BreakerChange {
  static constexpr MessageType kMessageType = MessageType::kBreakerChange;

  Timestamp ts;
  BreakerState from = BreakerState::kNormal;
  BreakerState to = BreakerState::kNormal;
  bool manual = false;
  std::string rule;    // "daily_loss_limit", "max_drawdown", "var_limit", "manual", "new_day", ...
  std::string detail;  // the figures: "drawdown 0.2100 >= limit 0.2000"
};

}  // namespace aits
