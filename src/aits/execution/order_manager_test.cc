// The order manager under the reports of a remote venue (execution_client.h, "Asynchronous
// clients"): late, repeated, reordered, and naming orders it does not know. Each report either
// changes the order and is published, or changes nothing and is counted.
#include "aits/execution/order_manager.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace aits::execution {
namespace {

// Takes orders and answers nothing: the test plays the venue's reports, in whatever order.
class RemoteVenue final : public ExecutionClient {
 public:
  void AddInstrument(const Instrument& /*instrument*/) override {}
  uint64_t Submit(const Order& order) override {
    sent.push_back(order.id);
    return 0;  // the ticket comes with the first report
  }
  Status Cancel(OrderId id, uint64_t /*ticket*/, Timestamp /*now*/) override {
    cancels.push_back(id);
    return Status::Ok();
  }
  Status SetProtection(InstrumentId /*instrument*/, std::optional<Price> /*stop_loss*/,
                       std::optional<Price> /*take_profit*/) override {
    return Status::Ok();
  }
  std::vector<OrderId> sent;
  std::vector<OrderId> cancels;
};

class OrderManagerTest : public ::testing::Test {
 protected:
  OrderManagerTest() {
    manager_.Connect(venue_);
    bus_.Subscribe<Fill>([this](const Fill& fill) { fills_.push_back(fill); });
    bus_.Subscribe<OrderUpdate>([this](const OrderUpdate& update) {
      updates_.push_back(std::string(ToString(update.order.status)));
    });
  }

  OrderId SubmitOne(const char* lots = "1.00") {
    OrderRequest request;
    request.instrument = InstrumentId{0};
    request.side = Side::kBuy;
    request.type = OrderType::kLimit;
    request.price = *Price::Parse("1.10000", 5);
    request.quantity = *Quantity::Parse(lots, 2);
    request.client_order_id = "c-" + std::to_string(venue_.sent.size() + 1);
    return manager_.Submit(request, Timestamp{1'000});
  }

  static ExecutionReport Report(ExecKind kind, OrderId id, uint64_t ticket) {
    ExecutionReport report;
    report.kind = kind;
    report.order_id = id;
    report.venue_order_id = ticket;
    report.ts = Timestamp{2'000};
    return report;
  }
  static ExecutionReport FillOf(ExecKind kind, OrderId id, uint64_t ticket, const char* lots,
                                uint64_t exec_id) {
    ExecutionReport report = Report(kind, id, ticket);
    report.quantity = *Quantity::Parse(lots, 2);
    report.price = *Price::Parse("1.09990", 5);
    report.exec_id = exec_id;
    return report;
  }

  Bus bus_;
  OrderManager manager_{bus_};
  RemoteVenue venue_;
  std::vector<Fill> fills_;
  std::vector<std::string> updates_;
};

TEST_F(OrderManagerTest, AnOrderIsPendingNewUntilItsFirstReportWhichBringsTheTicket) {
  const OrderId id = SubmitOne();
  ASSERT_EQ(venue_.sent.size(), 1u);
  EXPECT_EQ(manager_.Find(id)->status, OrderStatus::kPendingNew);
  EXPECT_EQ(manager_.Find(id)->venue_order_id, 0u);
  EXPECT_TRUE(updates_.empty());

  EXPECT_EQ(manager_.Apply(Report(ExecKind::kAccepted, id, 41)), ReportOutcome::kApplied);
  EXPECT_EQ(manager_.Find(id)->status, OrderStatus::kAccepted);
  EXPECT_EQ(manager_.FindByTicket(41), manager_.Find(id));
  // A cancel while pending or resting goes to the venue; its outcome is the venue's report.
  EXPECT_TRUE(manager_.Cancel(id, Timestamp{3'000}).ok());
  EXPECT_EQ(venue_.cancels.size(), 1u);
  EXPECT_EQ(manager_.Find(id)->status, OrderStatus::kAccepted);
  EXPECT_EQ(manager_.Apply(Report(ExecKind::kCanceled, OrderId{0}, 41)), ReportOutcome::kApplied);
  EXPECT_EQ(manager_.Find(id)->status, OrderStatus::kCanceled);
  EXPECT_EQ(updates_, (std::vector<std::string>{"accepted", "canceled"}));
}

TEST_F(OrderManagerTest, AFillBeforeTheAcceptFillsAndTheLateAcceptIsStale) {
  const OrderId id = SubmitOne();
  EXPECT_EQ(manager_.Apply(FillOf(ExecKind::kFilled, id, 41, "1.00", 9)), ReportOutcome::kApplied);
  EXPECT_EQ(manager_.Find(id)->status, OrderStatus::kFilled);
  EXPECT_EQ(manager_.Find(id)->venue_order_id, 41u);
  EXPECT_EQ(manager_.Apply(Report(ExecKind::kAccepted, id, 41)), ReportOutcome::kStale);
  EXPECT_EQ(manager_.Find(id)->status, OrderStatus::kFilled);
  EXPECT_EQ(fills_.size(), 1u);
  EXPECT_EQ(updates_, (std::vector<std::string>{"filled"}));
  EXPECT_EQ(manager_.stale_reports(), 1u);
  EXPECT_EQ(manager_.unknown_reports(), 0u);
}

TEST_F(OrderManagerTest, APartialFillBeforeTheAcceptThenTheAcceptThenTheRest) {
  const OrderId id = SubmitOne();
  EXPECT_EQ(manager_.Apply(FillOf(ExecKind::kPartiallyFilled, id, 41, "0.40", 9)),
            ReportOutcome::kApplied);
  EXPECT_EQ(manager_.Find(id)->status, OrderStatus::kPendingNew);
  EXPECT_EQ(manager_.Apply(Report(ExecKind::kAccepted, id, 41)), ReportOutcome::kApplied);
  EXPECT_EQ(manager_.Find(id)->status, OrderStatus::kAccepted);
  EXPECT_EQ(manager_.Find(id)->filled.ToString(), "0.40");
  EXPECT_EQ(manager_.Apply(FillOf(ExecKind::kFilled, OrderId{0}, 41, "0.60", 10)),
            ReportOutcome::kApplied);
  EXPECT_EQ(manager_.Find(id)->status, OrderStatus::kFilled);
  EXPECT_EQ(manager_.Find(id)->filled.ToString(), "1.00");
  EXPECT_EQ(fills_.size(), 2u);
}

TEST_F(OrderManagerTest, RepeatedReportsChangeNothingAndAreCounted) {
  const OrderId id = SubmitOne();
  const ExecutionReport accepted = Report(ExecKind::kAccepted, id, 41);
  const ExecutionReport part = FillOf(ExecKind::kPartiallyFilled, id, 41, "0.40", 9);
  const ExecutionReport rest = FillOf(ExecKind::kFilled, id, 41, "0.60", 10);
  EXPECT_EQ(manager_.Apply(accepted), ReportOutcome::kApplied);
  EXPECT_EQ(manager_.Apply(accepted), ReportOutcome::kDuplicate);
  EXPECT_EQ(manager_.Apply(part), ReportOutcome::kApplied);
  EXPECT_EQ(manager_.Apply(part), ReportOutcome::kDuplicate);  // the same execution id
  EXPECT_EQ(manager_.Find(id)->filled.ToString(), "0.40");
  EXPECT_EQ(manager_.Apply(rest), ReportOutcome::kApplied);
  // After the final fill the order is no longer under its ticket: by id it is stale, by ticket
  // alone it is unknown. Either way, nothing changes.
  EXPECT_EQ(manager_.Apply(rest), ReportOutcome::kStale);
  ExecutionReport by_ticket = rest;
  by_ticket.order_id = OrderId{0};
  EXPECT_EQ(manager_.Apply(by_ticket), ReportOutcome::kUnknownOrder);
  EXPECT_EQ(manager_.Find(id)->filled.ToString(), "1.00");
  EXPECT_EQ(fills_.size(), 2u);
  EXPECT_EQ(updates_, (std::vector<std::string>{"accepted", "accepted", "filled"}));
  EXPECT_EQ(manager_.duplicate_reports(), 2u);
  EXPECT_EQ(manager_.stale_reports(), 1u);
  EXPECT_EQ(manager_.unknown_reports(), 1u);

  // A venue order announced twice is opened once.
  ExecutionReport opened = Report(ExecKind::kNew, OrderId{0}, 77);
  opened.quantity = *Quantity::Parse("1.00", 2);
  opened.text = "sl";
  EXPECT_EQ(manager_.Apply(opened), ReportOutcome::kApplied);
  EXPECT_EQ(manager_.Apply(opened), ReportOutcome::kDuplicate);
  EXPECT_EQ(manager_.count(), 2u);
}

TEST_F(OrderManagerTest, AFillBeyondTheOrdersLotsIsNotApplied) {
  const OrderId id = SubmitOne("1.00");
  EXPECT_EQ(manager_.Apply(FillOf(ExecKind::kPartiallyFilled, id, 41, "0.70", 9)),
            ReportOutcome::kApplied);
  // Without execution ids a repeat cannot be told from a second fill; the lots still can.
  EXPECT_EQ(manager_.Apply(FillOf(ExecKind::kPartiallyFilled, id, 41, "0.70", 0)),
            ReportOutcome::kOverfill);
  EXPECT_EQ(manager_.Find(id)->filled.ToString(), "0.70");
  EXPECT_EQ(manager_.overfill_reports(), 1u);
  EXPECT_EQ(fills_.size(), 1u);
}

TEST_F(OrderManagerTest, ReportsForOrdersItDoesNotKnowAreCountedNeverApplied) {
  const OrderId id = SubmitOne();
  EXPECT_EQ(manager_.Apply(Report(ExecKind::kAccepted, OrderId{99}, 0)),
            ReportOutcome::kUnknownOrder);
  EXPECT_EQ(manager_.Apply(FillOf(ExecKind::kFilled, OrderId{0}, 12345, "1.00", 3)),
            ReportOutcome::kUnknownOrder);
  EXPECT_EQ(manager_.Apply(Report(ExecKind::kCanceled, OrderId{0}, 0)),
            ReportOutcome::kUnknownOrder);
  EXPECT_EQ(manager_.unknown_reports(), 3u);
  EXPECT_EQ(manager_.Find(id)->status, OrderStatus::kPendingNew);
  EXPECT_TRUE(fills_.empty());
  EXPECT_TRUE(updates_.empty());
  const std::string line = OrderManager::Describe(
      FillOf(ExecKind::kFilled, OrderId{0}, 12345, "1.00", 3), ReportOutcome::kUnknownOrder);
  EXPECT_EQ(line,
            "execution report not applied (unknown_order): filled order 0 ticket 12345 exec 3 "
            "lots 1.00 at 1.09990");
}

}  // namespace
}  // namespace aits::execution
