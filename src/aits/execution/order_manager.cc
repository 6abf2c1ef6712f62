#include "aits/execution/order_manager.h"

#include <algorithm>
#include <string>
#include <utility>

namespace aits::execution {
namespace {

__extension__ typedef __int128 Int128;  // GCC extension: exact 128-bit intermediates

bool IsFinished(OrderStatus status) {
  return status == OrderStatus::kFilled || status == OrderStatus::kCanceled ||
         status == OrderStatus::kExpired || status == OrderStatus::kRejected;
}

}  // namespace

std::string_view ToString(ReportOutcome outcome) {
  switch (outcome) {
    case ReportOutcome::kApplied:
      return "applied";
    case ReportOutcome::kUnknownOrder:
      return "unknown_order";
    case ReportOutcome::kStale:
      return "stale";
    case ReportOutcome::kDuplicate:
      return "duplicate";
    case ReportOutcome::kOverfill:
      return "overfill";
  }
  return "unknown";
}

std::string OrderManager::Describe(const ExecutionReport& report, ReportOutcome outcome) {
  std::string text = "execution report not applied (" + std::string(ToString(outcome)) +
                     "): " + std::string(ToString(report.kind)) + " order " +
                     std::to_string(report.order_id.value) + " ticket " +
                     std::to_string(report.venue_order_id);
  if (report.exec_id != 0) text += " exec " + std::to_string(report.exec_id);
  if (!report.client_order_id.empty()) text += " client id '" + report.client_order_id + "'";
  if (report.kind == ExecKind::kPartiallyFilled || report.kind == ExecKind::kFilled) {
    text += " lots " + report.quantity.ToString() + " at " + report.price.ToString();
  }
  return text;
}

OrderManager::OrderManager(Bus& bus) : bus_(bus) {}

Order& OrderManager::NewOrder(const OrderRequest& request, Timestamp now) {
  // A reused slot: every field of Order is assigned here.
  Order& order = orders_.push_back_slot();
  order.id = OrderId{next_id_++};
  order.request = request;
  order.status = OrderStatus::kPendingNew;
  order.reject_reason = RejectReason::kNone;
  order.reject_detail.clear();
  order.created = now;
  order.arrives = now + (client_ != nullptr ? client_->ExpectedLatency() : Duration());
  order.updated = now;
  order.filled = Quantity::FromRaw(0, request.quantity.precision());
  order.avg_fill_price = Price();
  order.venue_order_id = 0;
  order.position_ticket = 0;
  return order;
}

OrderId OrderManager::Submit(const OrderRequest& request, Timestamp now) {
  const OrderId id = NewOrder(request, now).id;
  // The client may report (and so publish, and a handler submit more orders) before it returns:
  // the order is found again afterwards rather than held by reference across the call.
  const uint64_t ticket = client_->Submit(*FindMutable(id));
  if (ticket != 0) {
    Order* order = FindMutable(id);
    if (order != nullptr && order->venue_order_id == 0) {
      order->venue_order_id = ticket;
      if (!IsFinished(order->status)) tickets_.emplace(ticket, id.value);
    }
  }
  return id;
}

OrderId OrderManager::Reject(const OrderRequest& request, RejectReason reason, std::string detail,
                             Timestamp now) {
  Order& order = NewOrder(request, now);
  order.status = OrderStatus::kRejected;
  order.reject_reason = reason;
  order.reject_detail = std::move(detail);
  const OrderId id = order.id;
  Publish(order);
  return id;
}

Status OrderManager::Cancel(OrderId id, Timestamp now) {
  const Order* order = Find(id);
  if (order == nullptr) {
    return NotFound("cancel: order " + std::to_string(id.value) + " is unknown");
  }
  if (IsFinished(order->status)) {
    return FailedPrecondition("cancel: order " + std::to_string(id.value) + " is already " +
                              std::string(ToString(order->status)));
  }
  return client_->Cancel(id, order->venue_order_id, now);
}

OrderId OrderManager::Adopt(const WorkingOrder& working, Timestamp now) {
  const Order* found = working.ticket != 0 ? FindByTicket(working.ticket) : nullptr;
  if (found == nullptr && !working.client_order_id.empty()) {
    found = FindLiveByClientId(working.client_order_id);
  }
  Order* order = found != nullptr ? FindMutable(found->id) : nullptr;
  if (order == nullptr) {
    OrderRequest request;
    request.instrument = working.instrument;
    request.side = working.side;
    request.type = working.type;
    request.price = working.price;
    request.tif = working.tif;
    request.quantity = working.quantity;
    request.client_order_id = working.client_order_id;
    order = &NewOrder(request, now);
    order->arrives = now;  // at the venue already
  }
  if (working.ticket != 0 && order->venue_order_id != working.ticket) {
    if (order->venue_order_id != 0) tickets_.erase(order->venue_order_id);
    order->venue_order_id = working.ticket;
  }
  if (order->venue_order_id != 0) tickets_[order->venue_order_id] = order->id.value;
  order->status = OrderStatus::kAccepted;
  order->filled = Quantity::FromRaw(working.filled.raw(), order->request.quantity.precision());
  // The venue's snapshot has no average fill price: a limit or stop's own price stands in for
  // fills the table never saw, so that later fills average from there, not from zero.
  if (order->filled.IsPositive() && !order->avg_fill_price.IsPositive() && working.price) {
    order->avg_fill_price = *working.price;
  }
  order->updated = now;
  const OrderId id = order->id;
  Publish(*order);
  return id;
}

Status OrderManager::Abandon(OrderId id, std::string detail, Timestamp now) {
  Order* order = FindMutable(id);
  if (order == nullptr) {
    return NotFound("abandon: order " + std::to_string(id.value) + " is unknown");
  }
  if (IsFinished(order->status)) {
    return FailedPrecondition("abandon: order " + std::to_string(id.value) + " is already " +
                              std::string(ToString(order->status)));
  }
  order->status = OrderStatus::kCanceled;
  order->reject_detail = std::move(detail);
  order->updated = now;
  Publish(*order);
  return Status::Ok();
}

const Order* OrderManager::FindLiveByClientId(std::string_view client_order_id) const {
  for (size_t index = orders_.size(); index-- > 0;) {
    const Order& order = orders_[index];
    if (!IsFinished(order.status) && order.request.client_order_id == client_order_id) {
      return &order;
    }
  }
  return nullptr;
}

void OrderManager::AppendLive(std::vector<const Order*>* live) const {
  for (size_t index = 0; index < orders_.size(); ++index) {
    if (!IsFinished(orders_[index].status)) live->push_back(&orders_[index]);
  }
}

Order* OrderManager::FindMutable(OrderId id) {
  if (id.value < base_ || id.value - base_ >= orders_.size()) return nullptr;
  return &orders_[id.value - base_];
}

const Order* OrderManager::Find(OrderId id) const {
  return const_cast<OrderManager*>(this)->FindMutable(id);
}

const Order* OrderManager::FindByTicket(uint64_t venue_order_id) const {
  auto it = tickets_.find(venue_order_id);
  return it == tickets_.end() ? nullptr : Find(OrderId{it->second});
}

void OrderManager::Trim(size_t keep) {
  // In batches: the oldest order is cold in cache, and touching it on every submission cost
  // more than the rest of the order path; a batch walks the old end sequentially.
  if (keep == 0 || orders_.size() < keep + std::min<size_t>(1024, keep)) return;
  // Only finished orders leave, oldest first; a long-resting order holds the window open.
  while (orders_.size() > keep && IsFinished(orders_.front().status)) {
    orders_.pop_front();
    ++base_;
  }
}

void OrderManager::Forget(const Order& order) {
  if (order.venue_order_id != 0 && !tickets_.empty()) tickets_.erase(order.venue_order_id);
  if (!partial_exec_ids_.empty()) partial_exec_ids_.erase(order.id.value);
}

void OrderManager::Publish(Order& order) {
  if (IsFinished(order.status)) Forget(order);
  bus_.Publish(OrderUpdate{order});
}

Order& OrderManager::OpenVenueOrder(const ExecutionReport& report) {
  OrderRequest request;
  request.instrument = report.instrument;
  request.side = report.side;
  request.type = report.type;
  request.tif = report.tif;
  request.quantity = report.quantity;
  request.tag = report.text;
  request.position_ticket = report.position_ticket;  // the position it closes (hedging)
  Order& order = NewOrder(request, report.ts);
  order.arrives = report.ts;  // opened at the venue: it has nowhere to travel
  opened_.push_back(order.id.value);
  // Named after its comment, so that it can be told apart from the strategy's ids ("sl-7").
  if (!report.text.empty()) {
    order.request.client_order_id = report.text + "-" + std::to_string(order.id.value);
  }
  return order;
}

void OrderManager::OnExecutionReport(const ExecutionReport& report) { (void)Apply(report); }

ReportOutcome OrderManager::Apply(const ExecutionReport& report) {
  if (bus_.HasSubscribers<ExecutionReport>()) bus_.Publish(report);
  Order* order = nullptr;
  if (report.order_id.value != 0) {
    order = FindMutable(report.order_id);
  } else if (report.venue_order_id != 0 && !tickets_.empty()) {
    auto it = tickets_.find(report.venue_order_id);
    if (it != tickets_.end()) order = FindMutable(OrderId{it->second});
  }
  if (report.kind == ExecKind::kNew) {
    if (order != nullptr) {  // announced twice: the order exists
      ++duplicate_reports_;
      return ReportOutcome::kDuplicate;
    }
    order = &OpenVenueOrder(report);
  } else if (order == nullptr) {
    // A position-level modification names no order; anything else the table cannot place is
    // counted, not guessed at (a live venue's reconciliation resolves it).
    if (report.kind == ExecKind::kModified) return ReportOutcome::kApplied;
    ++unknown_reports_;
    return ReportOutcome::kUnknownOrder;
  }
  if (report.venue_order_id != 0 && order->venue_order_id == 0) {
    order->venue_order_id = report.venue_order_id;
    if (!IsFinished(order->status)) tickets_.emplace(report.venue_order_id, order->id.value);
  }
  if (IsFinished(order->status)) {
    ++stale_reports_;  // nothing may follow a final state
    return ReportOutcome::kStale;
  }
  switch (report.kind) {
    case ExecKind::kNew:
      // Not published: like an order of the kernel's still travelling, it is in the table as
      // pending_new and is heard of at its fill.
      return ReportOutcome::kApplied;
    case ExecKind::kAccepted:
      // A repeat says nothing new. After a partial fill (which may overtake the accept) the
      // order is still open, and the accept says it rests.
      if (order->status == OrderStatus::kAccepted) {
        ++duplicate_reports_;
        return ReportOutcome::kDuplicate;
      }
      order->status = OrderStatus::kAccepted;
      order->updated = report.ts;
      Publish(*order);
      return ReportOutcome::kApplied;
    case ExecKind::kRejected:
      order->status = OrderStatus::kRejected;
      order->reject_reason = report.reject_reason;
      order->reject_detail = report.text;
      order->updated = report.ts;
      Publish(*order);
      return ReportOutcome::kApplied;
    case ExecKind::kPartiallyFilled:
    case ExecKind::kFilled:
      return ApplyFill(*order, report);
    case ExecKind::kCanceled:
    case ExecKind::kExpired:
      order->status =
          report.kind == ExecKind::kCanceled ? OrderStatus::kCanceled : OrderStatus::kExpired;
      order->updated = report.ts;
      Publish(*order);
      return ReportOutcome::kApplied;
    case ExecKind::kModified:
      order->request.stop_loss = report.stop_loss;
      order->request.take_profit = report.take_profit;
      order->updated = report.ts;
      Publish(*order);
      return ReportOutcome::kApplied;
  }
  return ReportOutcome::kApplied;
}

ReportOutcome OrderManager::ApplyFill(Order& order, const ExecutionReport& report) {
  if (report.exec_id != 0 && !partial_exec_ids_.empty()) {
    auto seen = partial_exec_ids_.find(order.id.value);
    if (seen != partial_exec_ids_.end() &&
        std::find(seen->second.begin(), seen->second.end(), report.exec_id) != seen->second.end()) {
      ++duplicate_reports_;
      return ReportOutcome::kDuplicate;
    }
  }
  const int64_t before = order.filled.raw();
  const int64_t after = before + report.quantity.raw();
  // Lots in the same precision compare by their raw values (a report in another precision is
  // not compared; its arithmetic below is the venue's lot precision's, as it always was).
  if (report.quantity.precision() == order.request.quantity.precision() &&
      after > order.request.quantity.raw()) {
    ++overfill_reports_;
    return ReportOutcome::kOverfill;
  }
  if (report.kind == ExecKind::kPartiallyFilled && report.exec_id != 0) {
    partial_exec_ids_[order.id.value].push_back(report.exec_id);
  }
  if (before == 0) {
    order.avg_fill_price = report.price;
  } else if (after > 0) {
    // Volume-weighted, in 128 bits: raw lots x raw price overflows 64.
    const Int128 weighted = static_cast<Int128>(order.avg_fill_price.raw()) * before +
                            static_cast<Int128>(report.price.raw()) * report.quantity.raw();
    order.avg_fill_price =
        Price::FromRaw(static_cast<int64_t>(weighted / after),
                       std::max(report.price.precision(), order.avg_fill_price.precision()));
  }
  order.filled = Quantity::FromRaw(after, order.request.quantity.precision());
  if (report.kind == ExecKind::kFilled) order.status = OrderStatus::kFilled;
  order.reject_reason = RejectReason::kNone;
  order.updated = report.ts;
  if (report.position_ticket != 0) order.position_ticket = report.position_ticket;

  Fill fill;
  fill.order_id = order.id;
  fill.client_order_id = order.request.client_order_id;
  fill.instrument = order.request.instrument;
  fill.side = order.request.side;
  fill.quantity = report.quantity;
  fill.price = report.price;
  fill.commission = report.commission;
  fill.ts = report.ts;
  fill.reason = report.fill_reason;
  fill.position_ticket = report.position_ticket;
  if (IsFinished(order.status)) Forget(order);
  // Copied first: a fill handler may submit orders, which may grow the table and move this one.
  const OrderUpdate update{order};
  bus_.Publish(fill);
  bus_.Publish(update);
  return ReportOutcome::kApplied;
}

void OrderManager::OnAccountReport(const AccountReport& report) {
  venue_account_ = report;
  if (report.reason == AccountReportReason::kStopOut) ++stop_outs_;
  if (bus_.HasSubscribers<AccountReport>()) bus_.Publish(report);
}

}  // namespace aits::execution
