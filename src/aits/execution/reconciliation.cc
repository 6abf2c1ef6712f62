#include "aits/execution/reconciliation.h"

#include <map>
#include <set>
#include <unordered_map>

namespace aits::execution {
namespace {

// Instruments whose positions are compared by net quantity: every one on a netting account; on a
// hedging account those where either side holds a position without a ticket.
std::set<uint32_t> MatchedByNet(const AccountState& logged, const AccountState& venue,
                                bool hedging) {
  std::set<uint32_t> by_net;
  for (const AccountState* side : {&logged, &venue}) {
    for (const HeldPosition& p : side->positions) {
      if (!hedging || p.ticket == 0) by_net.insert(p.instrument.value);
    }
  }
  return by_net;
}

std::string Signed(Quantity q) { return (q.IsPositive() ? "+" : "") + q.ToString(); }

std::string SymbolOf(InstrumentId id, const std::vector<Instrument>& instruments) {
  if (id.value < instruments.size()) return instruments[id.value].symbol;
  return "#" + std::to_string(id.value);
}

std::vector<HeldPosition> PositionsOf(const AccountState& state, const Difference& d) {
  std::vector<HeldPosition> out;
  for (const HeldPosition& p : state.positions) {
    if (p.instrument != d.instrument) continue;
    if (d.ticket != 0 && p.ticket != d.ticket) continue;
    if (!p.quantity.IsZero()) out.push_back(p);
  }
  return out;
}

const WorkingOrder* OrderOf(const AccountState& state, const Difference& d) {
  for (const WorkingOrder& o : state.orders) {
    if (o.client_order_id == d.client_order_id && o.instrument == d.instrument &&
        (d.ticket == 0 || o.ticket == d.ticket)) {
      return &o;
    }
  }
  return nullptr;
}

}  // namespace

std::string_view ToString(DifferenceKind kind) {
  switch (kind) {
    case DifferenceKind::kUnknownPosition:
      return "unknown position";
    case DifferenceKind::kMissingPosition:
      return "missing position";
    case DifferenceKind::kPositionQuantity:
      return "position quantity differs";
    case DifferenceKind::kUnknownOrder:
      return "unknown order";
    case DifferenceKind::kMissingOrder:
      return "missing order";
    case DifferenceKind::kOrderFilled:
      return "order fills differ";
    case DifferenceKind::kBalance:
      return "balance differs";
  }
  return "unknown";
}

std::string_view ToString(ReconcilePolicy policy) {
  switch (policy) {
    case ReconcilePolicy::kAdopt:
      return "adopt";
    case ReconcilePolicy::kFlatten:
      return "flatten";
    case ReconcilePolicy::kRefuse:
      return "refuse";
  }
  return "unknown";
}

Result<ReconcilePolicy> ParseReconcilePolicy(std::string_view text) {
  for (ReconcilePolicy p :
       {ReconcilePolicy::kAdopt, ReconcilePolicy::kFlatten, ReconcilePolicy::kRefuse}) {
    if (text == ToString(p)) return p;
  }
  return InvalidArgument("reconciliation policy \"" + std::string(text) +
                         "\" is not one of adopt, flatten, refuse");
}

std::string_view ToString(ActionKind kind) {
  switch (kind) {
    case ActionKind::kAdoptPosition:
      return "adopt position";
    case ActionKind::kForgetPosition:
      return "forget position";
    case ActionKind::kClosePosition:
      return "close position";
    case ActionKind::kAdoptOrder:
      return "adopt order";
    case ActionKind::kForgetOrder:
      return "forget order";
    case ActionKind::kCancelOrder:
      return "cancel order";
    case ActionKind::kAdoptBalance:
      return "adopt balance";
  }
  return "unknown";
}

ReconcileReport Compare(const AccountState& logged, const AccountState& venue, bool hedging) {
  ReconcileReport report;
  // The balance first: a plan adopts it before its closes book their P&L.
  if (logged.balance && venue.balance && logged.balance->raw() != venue.balance->raw()) {
    report.differences.push_back(Difference{.kind = DifferenceKind::kBalance,
                                            .logged_balance = *logged.balance,
                                            .venue_balance = *venue.balance});
  }
  const std::set<uint32_t> by_net = MatchedByNet(logged, venue, hedging);

  // Net quantities per instrument, in instrument order so that reports are deterministic.
  std::map<uint32_t, std::pair<Quantity, Quantity>> net;  // logged, venue
  for (const HeldPosition& p : logged.positions) {
    if (by_net.count(p.instrument.value) != 0) net[p.instrument.value].first += p.quantity;
  }
  for (const HeldPosition& p : venue.positions) {
    if (by_net.count(p.instrument.value) != 0) net[p.instrument.value].second += p.quantity;
  }
  for (const auto& [id, quantities] : net) {
    const auto& [in_log, at_venue] = quantities;
    Difference d{.instrument = InstrumentId{id}, .logged = in_log, .venue = at_venue};
    if (in_log == at_venue) {
      if (!in_log.IsZero()) ++report.matched_positions;
      continue;
    }
    d.kind = in_log.IsZero()     ? DifferenceKind::kUnknownPosition
             : at_venue.IsZero() ? DifferenceKind::kMissingPosition
                                 : DifferenceKind::kPositionQuantity;
    report.differences.push_back(std::move(d));
  }

  // Hedging positions with tickets on both sides: by ticket.
  std::unordered_map<uint64_t, const HeldPosition*> venue_tickets;
  for (const HeldPosition& p : venue.positions) {
    if (by_net.count(p.instrument.value) == 0) venue_tickets.emplace(p.ticket, &p);
  }
  for (const HeldPosition& p : logged.positions) {
    if (by_net.count(p.instrument.value) != 0) continue;
    Difference d{.instrument = p.instrument, .ticket = p.ticket, .logged = p.quantity};
    auto it = venue_tickets.find(p.ticket);
    if (it == venue_tickets.end()) {
      d.kind = DifferenceKind::kMissingPosition;
      report.differences.push_back(std::move(d));
      continue;
    }
    d.venue = it->second->quantity;
    if (it->second->instrument != p.instrument || d.venue != d.logged) {
      d.kind = DifferenceKind::kPositionQuantity;
      report.differences.push_back(std::move(d));
    } else {
      ++report.matched_positions;
    }
    venue_tickets.erase(it);
  }
  for (const HeldPosition& p : venue.positions) {
    if (by_net.count(p.instrument.value) != 0 || venue_tickets.count(p.ticket) == 0) continue;
    report.differences.push_back(Difference{.kind = DifferenceKind::kUnknownPosition,
                                            .instrument = p.instrument,
                                            .ticket = p.ticket,
                                            .venue = p.quantity});
  }

  // Working orders by the node's client order id.
  std::unordered_map<std::string_view, const WorkingOrder*> venue_orders;
  for (const WorkingOrder& o : venue.orders) {
    if (!o.client_order_id.empty()) venue_orders.emplace(o.client_order_id, &o);
  }
  std::set<const WorkingOrder*> matched_venue;
  for (const WorkingOrder& o : logged.orders) {
    Difference d{
        .instrument = o.instrument, .client_order_id = o.client_order_id, .logged = o.filled};
    auto it = venue_orders.find(o.client_order_id);
    if (it == venue_orders.end()) {
      d.kind = DifferenceKind::kMissingOrder;
      report.differences.push_back(std::move(d));
      continue;
    }
    matched_venue.insert(it->second);
    d.venue = it->second->filled;
    if (d.venue != d.logged) {
      d.kind = DifferenceKind::kOrderFilled;
      report.differences.push_back(std::move(d));
    } else {
      ++report.matched_orders;
    }
  }
  for (const WorkingOrder& o : venue.orders) {
    if (matched_venue.count(&o) != 0) continue;
    report.differences.push_back(Difference{.kind = DifferenceKind::kUnknownOrder,
                                            .instrument = o.instrument,
                                            .ticket = o.ticket,
                                            .client_order_id = o.client_order_id,
                                            .venue = o.filled});
  }
  return report;
}

std::vector<std::string> Describe(const ReconcileReport& report,
                                  const std::vector<Instrument>& instruments) {
  std::vector<std::string> lines;
  for (const Difference& d : report.differences) {
    if (d.kind == DifferenceKind::kBalance) {
      lines.push_back(std::string(ToString(d.kind)) + ": log " + d.logged_balance.ToString() +
                      ", venue " + d.venue_balance.ToString());
      continue;
    }
    std::string line = std::string(ToString(d.kind)) + ": " + SymbolOf(d.instrument, instruments);
    const bool is_order = d.kind == DifferenceKind::kUnknownOrder ||
                          d.kind == DifferenceKind::kMissingOrder ||
                          d.kind == DifferenceKind::kOrderFilled;
    if (is_order) {
      line += " order " + (d.client_order_id.empty() ? std::string("(no client id)")
                                                     : "\"" + d.client_order_id + "\"");
      if (d.ticket != 0) line += " ticket " + std::to_string(d.ticket);
      switch (d.kind) {
        case DifferenceKind::kUnknownOrder:
          line += ": working at the venue (filled " + d.venue.ToString() + " lots), not in the log";
          break;
        case DifferenceKind::kMissingOrder:
          line += ": working in the log (filled " + d.logged.ToString() +
                  " lots), no longer working at the venue";
          break;
        default:
          line += ": filled " + d.logged.ToString() + " lots in the log, " + d.venue.ToString() +
                  " at the venue";
      }
    } else {
      if (d.ticket != 0) line += " ticket " + std::to_string(d.ticket);
      line += ": log " + (d.logged.IsZero() ? std::string("none") : Signed(d.logged) + " lots") +
              ", venue " + (d.venue.IsZero() ? std::string("none") : Signed(d.venue) + " lots");
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

Result<std::vector<ReconcileAction>> Plan(const ReconcileReport& report, const AccountState& logged,
                                          const AccountState& venue, ReconcilePolicy policy,
                                          const std::vector<Instrument>& instruments) {
  std::vector<ReconcileAction> plan;
  if (report.clean()) return plan;
  if (policy == ReconcilePolicy::kRefuse) {
    std::string text = "the venue's account differs from the event log in " +
                       std::to_string(report.differences.size()) +
                       " item(s) and the reconciliation policy is refuse:";
    for (const std::string& line : Describe(report, instruments)) text += "\n  " + line;
    return FailedPrecondition(std::move(text));
  }
  const bool adopt = policy == ReconcilePolicy::kAdopt;
  auto positions = [&](ActionKind kind, const AccountState& side, const Difference& d) {
    for (const HeldPosition& p : PositionsOf(side, d)) {
      plan.push_back(ReconcileAction{.kind = kind, .position = p});
    }
  };
  auto order = [&](ActionKind kind, const AccountState& side, const Difference& d) {
    if (const WorkingOrder* o = OrderOf(side, d)) {
      plan.push_back(ReconcileAction{.kind = kind, .order = *o});
    }
  };
  for (const Difference& d : report.differences) {
    switch (d.kind) {
      case DifferenceKind::kUnknownPosition:
        positions(adopt ? ActionKind::kAdoptPosition : ActionKind::kClosePosition, venue, d);
        break;
      case DifferenceKind::kMissingPosition:
        positions(ActionKind::kForgetPosition, logged, d);
        break;
      case DifferenceKind::kPositionQuantity:
        if (adopt) {
          positions(ActionKind::kAdoptPosition, venue, d);
        } else {
          positions(ActionKind::kForgetPosition, logged, d);
          positions(ActionKind::kClosePosition, venue, d);
        }
        break;
      case DifferenceKind::kUnknownOrder:
        order(adopt ? ActionKind::kAdoptOrder : ActionKind::kCancelOrder, venue, d);
        break;
      case DifferenceKind::kMissingOrder:
        order(ActionKind::kForgetOrder, logged, d);
        break;
      case DifferenceKind::kOrderFilled:
        if (adopt) {
          order(ActionKind::kAdoptOrder, venue, d);
        } else {
          // The extra fills show as a position difference, which is closed there.
          order(ActionKind::kForgetOrder, logged, d);
          order(ActionKind::kCancelOrder, venue, d);
        }
        break;
      case DifferenceKind::kBalance:
        // Under flatten too: no order can undo cash the venue booked.
        plan.push_back(
            ReconcileAction{.kind = ActionKind::kAdoptBalance, .balance = d.venue_balance});
        break;
    }
  }
  return plan;
}

}  // namespace aits::execution
