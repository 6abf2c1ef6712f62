#include "aits/execution/reconciliation.h"

#include <gtest/gtest.h>

namespace aits::execution {
namespace {

Quantity Lots(double lots) { return *Quantity::FromDouble(lots, 2); }
Price Px(double price) { return *Price::FromDouble(price, 5); }

HeldPosition Pos(uint32_t instrument, double lots, uint64_t ticket = 0) {
  return HeldPosition{.ticket = ticket,
                      .instrument = InstrumentId{instrument},
                      .quantity = Lots(lots),
                      .open_price = Px(1.1)};
}

WorkingOrder Ord(std::string id, double filled, uint64_t ticket = 0, uint32_t instrument = 0) {
  return WorkingOrder{.client_order_id = std::move(id),
                      .ticket = ticket,
                      .instrument = InstrumentId{instrument},
                      .side = Side::kBuy,
                      .quantity = Lots(1),
                      .filled = Lots(filled)};
}

std::vector<Instrument> Instruments() {
  std::vector<Instrument> out(2);
  out[0].symbol = "EURUSD";
  out[1].symbol = "USDJPY";
  return out;
}

std::vector<ActionKind> Kinds(const std::vector<ReconcileAction>& plan) {
  std::vector<ActionKind> kinds;
  for (const auto& a : plan) kinds.push_back(a.kind);
  return kinds;
}

TEST(Reconciliation, MatchingStateIsCleanAndPlansNothing) {
  AccountState logged{.positions = {Pos(0, 0.5), Pos(1, -0.2)}, .orders = {Ord("n-1", 0)}};
  AccountState venue = logged;
  venue.positions[0].ticket = 11;  // netting: tickets do not matter
  const ReconcileReport report = Compare(logged, venue, /*hedging=*/false);
  EXPECT_TRUE(report.clean());
  EXPECT_EQ(report.matched_positions, 2u);
  EXPECT_EQ(report.matched_orders, 1u);
  for (ReconcilePolicy policy :
       {ReconcilePolicy::kAdopt, ReconcilePolicy::kFlatten, ReconcilePolicy::kRefuse}) {
    auto plan = Plan(report, logged, venue, policy, Instruments());
    ASSERT_TRUE(plan.ok()) << ToString(policy);
    EXPECT_TRUE(plan->empty());
  }
}

TEST(Reconciliation, NettingPositionsCompareByNetQuantity) {
  // Two venue positions on one symbol add up on a netting account.
  AccountState logged{.positions = {Pos(0, 0.5)}};
  AccountState venue{.positions = {Pos(0, 0.3), Pos(0, 0.2), Pos(1, 0.1)}};
  const ReconcileReport report = Compare(logged, venue, false);
  EXPECT_EQ(report.matched_positions, 1u);
  ASSERT_EQ(report.differences.size(), 1u);
  EXPECT_EQ(report.differences[0].kind, DifferenceKind::kUnknownPosition);
  EXPECT_EQ(report.differences[0].instrument.value, 1u);
  EXPECT_EQ(Describe(report, Instruments())[0],
            "unknown position: USDJPY: log none, venue +0.10 lots");

  auto adopt = Plan(report, logged, venue, ReconcilePolicy::kAdopt, Instruments());
  ASSERT_TRUE(adopt.ok());
  ASSERT_EQ(Kinds(*adopt), std::vector<ActionKind>{ActionKind::kAdoptPosition});
  EXPECT_EQ((*adopt)[0].position.quantity, Lots(0.1));
  auto flatten = Plan(report, logged, venue, ReconcilePolicy::kFlatten, Instruments());
  ASSERT_TRUE(flatten.ok());
  EXPECT_EQ(Kinds(*flatten), std::vector<ActionKind>{ActionKind::kClosePosition});
}

TEST(Reconciliation, QuantityAndMissingPositions) {
  AccountState logged{.positions = {Pos(0, 0.5), Pos(1, -0.4)}};
  AccountState venue{.positions = {Pos(0, 0.3)}};
  const ReconcileReport report = Compare(logged, venue, false);
  ASSERT_EQ(report.differences.size(), 2u);
  EXPECT_EQ(report.differences[0].kind, DifferenceKind::kPositionQuantity);
  EXPECT_EQ(report.differences[1].kind, DifferenceKind::kMissingPosition);
  const auto lines = Describe(report, Instruments());
  EXPECT_EQ(lines[0], "position quantity differs: EURUSD: log +0.50 lots, venue +0.30 lots");
  EXPECT_EQ(lines[1], "missing position: USDJPY: log -0.40 lots, venue none");

  auto adopt = Plan(report, logged, venue, ReconcilePolicy::kAdopt, Instruments());
  ASSERT_TRUE(adopt.ok());
  EXPECT_EQ(Kinds(*adopt),
            (std::vector<ActionKind>{ActionKind::kAdoptPosition, ActionKind::kForgetPosition}));
  auto flatten = Plan(report, logged, venue, ReconcilePolicy::kFlatten, Instruments());
  ASSERT_TRUE(flatten.ok());
  EXPECT_EQ(Kinds(*flatten),
            (std::vector<ActionKind>{ActionKind::kForgetPosition, ActionKind::kClosePosition,
                                     ActionKind::kForgetPosition}));
  EXPECT_EQ((*flatten)[1].position.quantity, Lots(0.3));  // closes what the venue holds
}

TEST(Reconciliation, RefuseListsEveryDifference) {
  AccountState logged{.positions = {Pos(0, 0.5)}, .orders = {Ord("n-1", 0)}};
  AccountState venue{.positions = {Pos(1, 0.1)}};
  const ReconcileReport report = Compare(logged, venue, false);
  auto refused = Plan(report, logged, venue, ReconcilePolicy::kRefuse, Instruments());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  const std::string& text = refused.status().message();
  EXPECT_NE(text.find("in 3 item(s)"), std::string::npos) << text;
  EXPECT_NE(text.find("missing position: EURUSD: log +0.50 lots, venue none"), std::string::npos);
  EXPECT_NE(text.find("unknown position: USDJPY"), std::string::npos);
  EXPECT_NE(text.find("missing order: EURUSD order \"n-1\""), std::string::npos) << text;
}

TEST(Reconciliation, HedgingPositionsMatchByTicket) {
  AccountState logged{.positions = {Pos(0, 1.0, 7), Pos(0, -1.0, 8)}};
  AccountState venue{.positions = {Pos(0, 1.0, 7), Pos(0, 0.2, 9)}};
  // Netting would see +0.00 against +1.20; hedging sees one match, one gone and one new.
  const ReconcileReport report = Compare(logged, venue, /*hedging=*/true);
  EXPECT_EQ(report.matched_positions, 1u);
  ASSERT_EQ(report.differences.size(), 2u);
  EXPECT_EQ(report.differences[0].kind, DifferenceKind::kMissingPosition);
  EXPECT_EQ(report.differences[0].ticket, 8u);
  EXPECT_EQ(report.differences[1].kind, DifferenceKind::kUnknownPosition);
  EXPECT_EQ(report.differences[1].ticket, 9u);
  EXPECT_EQ(Describe(report, Instruments())[1],
            "unknown position: EURUSD ticket 9: log none, venue +0.20 lots");
  auto flatten = Plan(report, logged, venue, ReconcilePolicy::kFlatten, Instruments());
  ASSERT_TRUE(flatten.ok());
  ASSERT_EQ(flatten->size(), 2u);
  EXPECT_EQ((*flatten)[0].kind, ActionKind::kForgetPosition);
  EXPECT_EQ((*flatten)[0].position.ticket, 8u);
  EXPECT_EQ((*flatten)[1].kind, ActionKind::kClosePosition);
  EXPECT_EQ((*flatten)[1].position.ticket, 9u);  // only ticket 9, not the matched ticket 7

  // The same state on a netting account.
  const ReconcileReport netting = Compare(logged, venue, false);
  ASSERT_EQ(netting.differences.size(), 1u);
  EXPECT_EQ(netting.differences[0].kind, DifferenceKind::kUnknownPosition);
  EXPECT_EQ(netting.differences[0].venue, Lots(1.2));
}

TEST(Reconciliation, HedgingWithoutTicketsFallsBackToNet) {
  AccountState logged{.positions = {Pos(0, 0.5)}};  // a log from before tickets
  AccountState venue{.positions = {Pos(0, 0.3, 4), Pos(0, 0.2, 5), Pos(1, 0.1, 6)}};
  const ReconcileReport report = Compare(logged, venue, true);
  EXPECT_EQ(report.matched_positions, 1u);   // EURUSD by net
  ASSERT_EQ(report.differences.size(), 1u);  // USDJPY ticket 6
  EXPECT_EQ(report.differences[0].ticket, 6u);
}

TEST(Reconciliation, OrdersMatchByClientId) {
  AccountState logged{.orders = {Ord("n-1", 0), Ord("n-2", 0)}};
  AccountState venue{.orders = {Ord("n-1", 0.2, 31), Ord("manual", 0, 32), Ord("", 0, 33)}};
  const ReconcileReport report = Compare(logged, venue, false);
  EXPECT_EQ(report.matched_orders, 0u);
  ASSERT_EQ(report.differences.size(), 4u);
  EXPECT_EQ(report.differences[0].kind, DifferenceKind::kOrderFilled);
  EXPECT_EQ(report.differences[1].kind, DifferenceKind::kMissingOrder);
  EXPECT_EQ(report.differences[2].kind, DifferenceKind::kUnknownOrder);
  EXPECT_EQ(report.differences[3].kind, DifferenceKind::kUnknownOrder);
  const auto lines = Describe(report, Instruments());
  EXPECT_EQ(lines[0],
            "order fills differ: EURUSD order \"n-1\": filled 0.00 lots in the log, "
            "0.20 at the venue");
  EXPECT_EQ(lines[3],
            "unknown order: EURUSD order (no client id) ticket 33: working at the venue "
            "(filled 0.00 lots), not in the log");

  auto adopt = Plan(report, logged, venue, ReconcilePolicy::kAdopt, Instruments());
  ASSERT_TRUE(adopt.ok());
  EXPECT_EQ(Kinds(*adopt),
            (std::vector<ActionKind>{ActionKind::kAdoptOrder, ActionKind::kForgetOrder,
                                     ActionKind::kAdoptOrder, ActionKind::kAdoptOrder}));
  EXPECT_EQ((*adopt)[0].order.filled, Lots(0.2));
  EXPECT_EQ((*adopt)[3].order.ticket, 33u);
  auto flatten = Plan(report, logged, venue, ReconcilePolicy::kFlatten, Instruments());
  ASSERT_TRUE(flatten.ok());
  EXPECT_EQ(Kinds(*flatten),
            (std::vector<ActionKind>{ActionKind::kForgetOrder, ActionKind::kCancelOrder,
                                     ActionKind::kForgetOrder, ActionKind::kCancelOrder,
                                     ActionKind::kCancelOrder}));
  EXPECT_EQ((*flatten)[3].order.ticket, 32u);
  EXPECT_EQ((*flatten)[4].order.ticket, 33u);
}

Money Cash(double amount) { return *Money::FromDouble(amount); }

TEST(Reconciliation, BalanceIsComparedWhenBothSidesKnowIt) {
  AccountState logged{.positions = {Pos(0, 0.5)}, .balance = Cash(100'000)};
  AccountState venue{.positions = {Pos(0, 0.5)}, .balance = Cash(99'875.25)};
  const ReconcileReport report = Compare(logged, venue, false);
  ASSERT_EQ(report.differences.size(), 1u);
  const Difference& d = report.differences.front();
  EXPECT_EQ(d.kind, DifferenceKind::kBalance);
  EXPECT_EQ(d.logged_balance.raw(), Cash(100'000).raw());
  EXPECT_EQ(d.venue_balance.raw(), Cash(99'875.25).raw());
  EXPECT_EQ(report.matched_positions, 1u);
  EXPECT_EQ(Describe(report, Instruments()),
            std::vector<std::string>{"balance differs: log 100000.00, venue 99875.25"});

  // Equal balances match; a side that cannot tell is not compared.
  venue.balance = Cash(100'000);
  EXPECT_TRUE(Compare(logged, venue, false).clean());
  venue.balance.reset();
  venue.positions.clear();
  EXPECT_EQ(Compare(logged, venue, false).differences.size(), 1u);  // the position only
  logged.balance.reset();
  venue.balance = Cash(1);
  venue.positions = logged.positions;
  EXPECT_TRUE(Compare(logged, venue, false).clean());
}

TEST(Reconciliation, EveryPolicyButRefuseAdoptsTheBalanceFirst) {
  AccountState logged{.balance = Cash(100'000)};
  AccountState venue{.positions = {Pos(0, 0.3, 7)}, .balance = Cash(99'000)};
  const ReconcileReport report = Compare(logged, venue, false);
  ASSERT_EQ(report.differences.size(), 2u);
  EXPECT_EQ(report.differences[0].kind, DifferenceKind::kBalance);  // before the positions

  auto adopt = Plan(report, logged, venue, ReconcilePolicy::kAdopt, Instruments());
  ASSERT_TRUE(adopt.ok());
  EXPECT_EQ(Kinds(*adopt),
            (std::vector<ActionKind>{ActionKind::kAdoptBalance, ActionKind::kAdoptPosition}));
  EXPECT_EQ(adopt->front().balance.raw(), Cash(99'000).raw());

  // Flatten closes the position but cannot undo cash: it takes the venue's balance too.
  auto flatten = Plan(report, logged, venue, ReconcilePolicy::kFlatten, Instruments());
  ASSERT_TRUE(flatten.ok());
  EXPECT_EQ(Kinds(*flatten),
            (std::vector<ActionKind>{ActionKind::kAdoptBalance, ActionKind::kClosePosition}));
  EXPECT_EQ(flatten->front().balance.raw(), Cash(99'000).raw());

  auto refuse = Plan(report, logged, venue, ReconcilePolicy::kRefuse, Instruments());
  ASSERT_FALSE(refuse.ok());
  EXPECT_NE(refuse.status().message().find("\n  balance differs: log 100000.00, venue 99000.00"),
            std::string::npos)
      << refuse.status().message();
  EXPECT_EQ(ToString(ActionKind::kAdoptBalance), "adopt balance");
  EXPECT_EQ(ToString(DifferenceKind::kBalance), "balance differs");
}

TEST(Reconciliation, PolicyNames) {
  EXPECT_EQ(*ParseReconcilePolicy("adopt"), ReconcilePolicy::kAdopt);
  EXPECT_EQ(*ParseReconcilePolicy("flatten"), ReconcilePolicy::kFlatten);
  EXPECT_EQ(*ParseReconcilePolicy("refuse"), ReconcilePolicy::kRefuse);
  auto bad = ParseReconcilePolicy("ignore");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("\"ignore\" is not one of adopt, flatten, refuse"),
            std::string::npos);
}

}  // namespace
}  // namespace aits::execution
