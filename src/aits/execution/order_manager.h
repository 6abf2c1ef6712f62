// OrderManager: the kernel's order table, the one copy of every order (docs/architecture.md,
// "How an order travels"; docs/execution.md, "Orders and execution reports").
//
// It assigns each order its OrderId (1, 2, ... in submission order, one id space for orders the
// kernel refused, orders it sent and orders the venue opened itself), keeps the order, sends it
// to the ExecutionClient, and applies the client's ExecutionReports to it: each report changes
// the order's state and is published on the kernel's bus as the aits::Fill and OrderUpdate that
// the portfolio, the risk manager, strategies and the session recorder consume (a fill before
// the update of the order it fills). A report names its order by the kernel's id, or by the
// venue's ticket for a venue that does not know the id (the map holds the tickets of live
// orders only). Reports are also published as they came, for whoever subscribes to them.
//
// History: orders are kept oldest first in a HistoryRing; Trim(keep) drops finished ones beyond
// the latest `keep` (in batches), so a long session runs in flat memory. Live orders are never
// dropped.
//
// Reports it cannot apply (ReportOutcome) are counted and dropped, never guessed at: a report
// naming no order it knows, one that follows its order's final state (a late accept after the
// fill, a repeated cancel), a fill whose execution id it has already applied, a fill beyond the
// order's quantity. A remote venue's reports may come late, twice or out of order
// (execution_client.h): a fill before the accept fills the order, and the accept that follows
// moves it to accepted if it is still open, or is counted as stale if the fill finished it.
//
// Single-threaded: called from the kernel's thread only; reports may arrive re-entrantly from
// inside Submit and Cancel (the simulated venue answers at once).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "aits/bus/bus.h"
#include "aits/core/history_ring.h"
#include "aits/core/status.h"
#include "aits/execution/execution_client.h"
#include "aits/execution/reconciliation.h"
#include "aits/model/events.h"
#include "aits/model/order.h"

namespace aits::execution {

// What became of one report (OrderManager::Apply).
enum class ReportOutcome : uint8_t {
  kApplied,       // the order changed (or a venue order was announced, or a position modified)
  kUnknownOrder,  // it named no order the table holds (an unknown id, a ticket of no live order)
  kStale,         // its order had already reached a final state (filled, canceled, ...)
  kDuplicate,     // already applied: a fill's execution id, a second accept, a second kNew
  kOverfill,      // a fill beyond the order's quantity: not applied (reconciliation resolves it)
};
std::string_view ToString(ReportOutcome outcome);

class OrderManager final : public ExecutionEvents {
 public:
  explicit OrderManager(Bus& bus);
  OrderManager(const OrderManager&) = delete;
  OrderManager& operator=(const OrderManager&) = delete;

  // The client orders go to; must be set before Submit or Cancel, and outlive this.
  void Connect(ExecutionClient& client) { client_ = &client; }

  // Creates the order (next id, status pending_new), sends it to the client and returns its id.
  // `arrives` is `now` plus the client's expected latency.
  OrderId Submit(const OrderRequest& request, Timestamp now);
  // Records an order refused before it was sent (a duplicate client id, a risk check): it gets
  // the next id like any other, and its rejection is published as an OrderUpdate.
  OrderId Reject(const OrderRequest& request, RejectReason reason, std::string detail,
                 Timestamp now);
  // Asks the client to cancel a live order. NotFound if the id is unknown (or dropped from the
  // history), FailedPrecondition if the order is already finished.
  Status Cancel(OrderId id, Timestamp now);

  // Reconciliation at start (docs/execution.md, "Reconciliation"), each change published as the
  // order's OrderUpdate like any other:
  // Adopt takes a working order the venue holds as the table's own. The live order with the
  // same ticket, or else with the same client order id, takes the venue's ticket and filled
  // lots; without one, a new order gets the next id (accepted, the venue's ticket, type, price,
  // lots and fills; its average fill price, which a snapshot does not carry, is taken as the
  // order's price). Returns the order's id.
  OrderId Adopt(const WorkingOrder& working, Timestamp now);
  // Abandon finishes a live order the venue no longer works: canceled, with `detail` saying
  // why; the venue is not asked (it has nothing to cancel). NotFound if the id is unknown,
  // FailedPrecondition if the order is already finished.
  Status Abandon(OrderId id, std::string detail, Timestamp now);
  // The live order with this client order id (or nullptr): a walk back through the table,
  // for the start only.
  const Order* FindLiveByClientId(std::string_view client_order_id) const;
  // Appends every unfinished order, oldest first (the kernel's side of a reconciliation).
  void AppendLive(std::vector<const Order*>* live) const;

  // The order, or nullptr if unknown or dropped. Valid until the next call that adds an order.
  const Order* Find(OrderId id) const;
  // The live order the venue knows by this ticket, or nullptr.
  const Order* FindByTicket(uint64_t venue_order_id) const;
  const HistoryRing<Order>& orders() const { return orders_; }
  uint64_t base() const { return base_; }          // id of orders().front()
  uint64_t count() const { return next_id_ - 1; }  // ids handed out
  // Appends the ids of the live orders the venue has named by ticket (its own among them).
  void AppendLiveIds(std::vector<uint64_t>* ids) const {
    for (const auto& [ticket, id] : tickets_) ids->push_back(id);
  }
  // Hands over (and forgets) the ids of the orders the venue opened since the last call, oldest
  // first: the kernel counts those still live as pending, as it does its own.
  void TakeOpened(std::vector<uint64_t>* ids) {
    ids->swap(opened_);
    opened_.clear();
  }
  bool has_opened() const { return !opened_.empty(); }
  // Drops finished orders older than the latest `keep` (0 keeps everything), in batches.
  void Trim(size_t keep);

  // Applies one report (as OnExecutionReport does) and says what became of it: anything but
  // kApplied left the table and the bus untouched, and is counted below.
  ReportOutcome Apply(const ExecutionReport& report);
  // A line for the log about a report that was not applied: the outcome, the report's kind, ids
  // and ticket.
  static std::string Describe(const ExecutionReport& report, ReportOutcome outcome);

  // Reports that named no order this table knows (counted and dropped).
  uint64_t unknown_reports() const { return unknown_reports_; }
  // Reports after their order's final state; repeated reports (a fill's execution id seen
  // before, a second accept); fills beyond the order's quantity. Counted and dropped.
  uint64_t stale_reports() const { return stale_reports_; }
  uint64_t duplicate_reports() const { return duplicate_reports_; }
  uint64_t overfill_reports() const { return overfill_reports_; }
  // The latest account report from the venue, and how many stop-outs it reported.
  const AccountReport& venue_account() const { return venue_account_; }
  uint64_t stop_outs() const { return stop_outs_; }

  // ExecutionEvents
  void OnExecutionReport(const ExecutionReport& report) override;
  void OnAccountReport(const AccountReport& report) override;

 private:
  Order* FindMutable(OrderId id);
  Order& NewOrder(const OrderRequest& request, Timestamp now);
  // An order the venue opened itself (kNew): same id space; a comment-derived client order id.
  Order& OpenVenueOrder(const ExecutionReport& report);
  ReportOutcome ApplyFill(Order& order, const ExecutionReport& report);
  void Publish(Order& order);       // the OrderUpdate of the order as it now is
  void Forget(const Order& order);  // a finished order leaves the ticket map

  Bus& bus_;
  ExecutionClient* client_ = nullptr;
  HistoryRing<Order> orders_;
  uint64_t base_ = 1;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, uint64_t> tickets_;  // venue ticket -> order id, live orders
  std::vector<uint64_t> opened_;  // venue-opened orders not yet handed over (TakeOpened)
  // Execution ids applied to live orders that have been partly filled, by order id: the only
  // fills a repeat could apply twice (a repeat after the final fill is stale). Usually empty.
  std::unordered_map<uint64_t, std::vector<uint64_t>> partial_exec_ids_;
  uint64_t unknown_reports_ = 0;
  uint64_t stale_reports_ = 0;
  uint64_t duplicate_reports_ = 0;
  uint64_t overfill_reports_ = 0;
  AccountReport venue_account_;
  uint64_t stop_outs_ = 0;
};

}  // namespace aits::execution
