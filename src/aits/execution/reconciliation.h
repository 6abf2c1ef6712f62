// Reconciliation: at start, what the event log says the account holds is compared with what the
// venue says it holds, item by item, and a policy decides what to do with each difference.
//
// The node rebuilds its state by replaying its event log; while it was down the venue may have
// filled, cancelled or expired orders, a stop-out or an SL/TP may have closed positions, and a
// person may have traded on the account by hand. Trading on from a wrong picture of the account
// is how a node doubles a position or fights the broker, so nothing starts until the two agree:
//   - positions are matched by ticket on a hedging account (several per symbol) and by symbol
//     (the net quantity) on a netting account, or when either side does not know the ticket;
//   - open orders are matched by the client order id the node gave them (the venue carries it);
//   - the balance, when both sides know it (a deposit, a withdrawal, a swap or a deal the log
//     never saw moves it).
// Each difference is reported with what the log and the venue hold. The policy (configuration,
// docs/execution.md "Reconciliation"):
//   kAdopt   the venue is the truth: its positions and orders replace the logged ones;
//   kFlatten close every position and cancel every order the log cannot account for, and let
//            the log's missing items go (they are gone at the venue); a balance cannot be
//            closed, so flatten takes the venue's balance as adopt does;
//   kRefuse  refuse to start, listing every difference.
// Matching state is adopted in every policy. Compare and Plan are pure: the node applies the
// plan through the order manager and records it in the event log.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/fixed_point.h"
#include "aits/core/status.h"
#include "aits/model/account_state.h"
#include "aits/model/instrument.h"
#include "aits/model/order.h"

namespace aits::execution {

// The account as one side sees it (positions, working orders, balance) is a model value, since
// it travels between processes too (aits/model/account_state.h).
using ::aits::AccountState;
using ::aits::HeldPosition;
using ::aits::WorkingOrder;

enum class DifferenceKind : uint8_t {
  kUnknownPosition,   // the venue holds a position the log does not know
  kMissingPosition,   // the log holds a position the venue no longer has
  kPositionQuantity,  // both hold it, in different quantities (a fill the log missed)
  kUnknownOrder,      // the venue works an order the log does not know
  kMissingOrder,      // the log's working order is no longer working at the venue
  kOrderFilled,       // both work it, with different filled quantities (a fill the log missed)
  kBalance,           // the balances differ (cash the log never saw)
};
std::string_view ToString(DifferenceKind kind);

struct Difference {
  DifferenceKind kind = DifferenceKind::kUnknownPosition;
  InstrumentId instrument;
  uint64_t ticket = 0;          // positions: the ticket, when matched by ticket
  std::string client_order_id;  // orders
  Quantity logged;              // what the log holds (position lots, or filled lots of an order)
  Quantity venue;               // what the venue holds
  Money logged_balance;         // kBalance: the log's balance and the venue's
  Money venue_balance;
};

struct ReconcileReport {
  size_t matched_positions = 0;
  size_t matched_orders = 0;
  std::vector<Difference> differences;
  bool clean() const { return differences.empty(); }
};

// `hedging`: the account keeps several positions per symbol, each with its ticket.
ReconcileReport Compare(const AccountState& logged, const AccountState& venue, bool hedging);

// One line per difference ("unknown position: EURUSD ticket 7 venue +0.30 lots, log none"),
// symbols from `instruments` (indexed by id; "#id" when unknown).
std::vector<std::string> Describe(const ReconcileReport& report,
                                  const std::vector<Instrument>& instruments);

enum class ReconcilePolicy : uint8_t { kAdopt, kFlatten, kRefuse };
std::string_view ToString(ReconcilePolicy policy);
// "adopt", "flatten" or "refuse"; InvalidArgument naming the text otherwise.
Result<ReconcilePolicy> ParseReconcilePolicy(std::string_view text);

enum class ActionKind : uint8_t {
  kAdoptPosition,   // take the venue's position (new, or replacing the logged quantity)
  kForgetPosition,  // the logged position is gone at the venue: book it closed
  kClosePosition,   // close the venue's position at market
  kAdoptOrder,      // take the venue's working order (new, or with the venue's filled lots)
  kForgetOrder,     // the logged order no longer works at the venue: finish it
  kCancelOrder,     // cancel the venue's working order
  kAdoptBalance,    // take the venue's balance (adopt and flatten: cash cannot be undone)
};
std::string_view ToString(ActionKind kind);

struct ReconcileAction {
  ActionKind kind = ActionKind::kAdoptPosition;
  HeldPosition position;  // position actions: the venue's (adopt, close) or the log's (forget)
  WorkingOrder order;     // order actions: the venue's (adopt, cancel) or the log's (forget)
  Money balance;          // kAdoptBalance: the venue's balance
};

// What to do about each difference under `policy`, in the order of report.differences (a
// balance difference comes first, so that the P&L of the closes a plan sends books on top of the
// venue's balance). kRefuse
// with differences: FailedPrecondition listing them (Describe). A clean report plans nothing.
Result<std::vector<ReconcileAction>> Plan(const ReconcileReport& report, const AccountState& logged,
                                          const AccountState& venue, ReconcilePolicy policy,
                                          const std::vector<Instrument>& instruments);

}  // namespace aits::execution
