#include "aits/session/session_metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "aits/persistence/codec.h"
#include "aits/persistence/event_store.h"
#include "aits/session/paper.h"
#include "aits/session/session_test_util.h"

namespace aits::session {
namespace {

using persistence::Event;
using persistence::EventStore;
using persistence::EventType;

// The one child of `name` whose labels are `labels` (name -> value), as a scrape would read it:
// a counter's count, a gauge's value, a histogram's count.
double Value(const Registry& registry, const std::string& name,
             const std::map<std::string, std::string>& labels = {}) {
  for (const FamilySnapshot& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const FamilySnapshot::Child& child : family.children) {
      std::map<std::string, std::string> mine;
      for (size_t k = 0; k < family.label_names.size(); ++k) {
        mine[family.label_names[k]] = child.label_values[k];
      }
      if (mine != labels) continue;
      switch (family.type) {
        case MetricType::kCounter:
          return static_cast<double>(child.counter);
        case MetricType::kGauge:
          return child.gauge;
        case MetricType::kHistogram:
          return static_cast<double>(child.histogram.count);
      }
    }
    ADD_FAILURE() << name << " has no child with these labels";
    return -1;
  }
  ADD_FAILURE() << "no family " << name;
  return -1;
}

double Sum(const Registry& registry, const std::string& name) {
  double sum = 0;
  for (const FamilySnapshot& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const FamilySnapshot::Child& child : family.children) {
      sum += family.type == MetricType::kCounter ? static_cast<double>(child.counter)
                                                 : static_cast<double>(child.histogram.count);
    }
  }
  return sum;
}

// The run's figures, as PaperResult and the log tell them, are what a scrape at its end reads.
TEST(SessionMetricsTest, ARunsCountersAndGaugesAgreeWithItsResult) {
  TempDir tmp;
  Registry registry;
  PaperOptions options = MaxSpeed(BusySpec(20'000), tmp.Sub("s"));
  options.metrics = &registry;
  auto result = RunPaper(options);
  ASSERT_TRUE(result.ok()) << result.status().message();
  ASSERT_GT(result->fills, 0u);
  const std::map<std::string, std::string> eurusd = {{"symbol", "EURUSD"}};
  EXPECT_EQ(Value(registry, "aits_ticks_total", eurusd), 20'000);
  EXPECT_EQ(Value(registry, "aits_orders_total", eurusd), static_cast<double>(result->orders));
  EXPECT_EQ(Value(registry, "aits_fills_total", eurusd), static_cast<double>(result->fills));
  EXPECT_EQ(Sum(registry, "aits_decisions_total"), static_cast<double>(result->decisions));
  EXPECT_GT(Value(registry, "aits_decisions_total", {{"symbol", "EURUSD"}, {"action", "BUY"}}), 0);
  // The last decision's signal: a strength within [-1, 1]; sma_cross is always sure of itself.
  const double strength = Value(registry, "aits_signal_strength", eurusd);
  EXPECT_GE(strength, -1.0);
  EXPECT_LE(strength, 1.0);
  EXPECT_EQ(Value(registry, "aits_signal_confidence", eurusd), 1.0);
  // A decision per bar once the signal has warmed up.
  EXPECT_EQ(Value(registry, "aits_bars_total", eurusd),
            static_cast<double>(result->bar_ticks.count()));
  EXPECT_LT(result->decisions, result->bar_ticks.count());
  // Every tick in one of the two processing histograms; an order's latency only where one came.
  EXPECT_EQ(Sum(registry, "aits_tick_processing_seconds"), 20'000);
  EXPECT_GT(Sum(registry, "aits_tick_to_order_seconds"), 0);
  EXPECT_LE(Sum(registry, "aits_tick_to_order_seconds"), static_cast<double>(result->orders));
  EXPECT_EQ(Value(registry, "aits_tick_processing_seconds", {{"bar_close", "true"}}),
            static_cast<double>(result->bar_ticks.count()));
  const std::map<std::string, std::string> usd = {{"currency", "USD"}};
  EXPECT_DOUBLE_EQ(Value(registry, "aits_account_equity", usd), result->account.equity.AsDouble());
  EXPECT_DOUBLE_EQ(Value(registry, "aits_account_balance", usd),
                   result->account.balance.AsDouble());
  EXPECT_DOUBLE_EQ(Value(registry, "aits_position_lots", eurusd), result->position.AsDouble());
  EXPECT_EQ(Value(registry, "aits_breaker_state", {{"state", "normal"}}), 1);
  EXPECT_EQ(Value(registry, "aits_breaker_state", {{"state", "halted"}}), 0);
  EXPECT_GT(Value(registry, "aits_event_store_commit_seconds"), 0);
  EXPECT_EQ(Value(registry, "aits_event_store_errors_total"), 0);
  EXPECT_GT(Value(registry, "aits_feed_last_tick_timestamp_seconds", eurusd), 1e9);
}

// A resumed session counts what this process does, not what the log replays; its gauges show
// the state the resume rebuilt; operator commands, the breaker and rejections by reason count
// as they happen, and agree with the log.
TEST(SessionMetricsTest, AResumeCountsItsOwnWorkAndRejectionsByReason) {
  TempDir tmp;
  PaperOptions options = MaxSpeed(BusySpec(8'000), tmp.Sub("s"));
  options.stop_after = 4'000;
  auto first = RunPaper(options);
  ASSERT_TRUE(first.ok()) << first.status().message();
  {
    auto store = EventStore::Open(tmp.Sub("s") + "/events.db");
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(
        (*store)->AddCommand(R"({"command":"breaker","state":"halted","reason":"test"})").ok());
    ASSERT_TRUE((*store)
                    ->AddCommand(R"({"command":"order","symbol":"EURUSD","side":"buy",)"
                                 R"("lots":0.1,"reason":"t"})")
                    .ok());
    ASSERT_TRUE((*store)->AddCommand(R"({"command":"nonsense"})").ok());
  }
  Registry registry;
  options.metrics = &registry;
  options.spec_given = false;
  options.stop_after = 500;
  auto second = RunPaper(options);
  ASSERT_TRUE(second.ok()) << second.status().message();

  // What the second run added to the log.
  uint64_t rejected = 0;
  std::map<std::string, uint64_t> by_reason;
  auto store = EventStore::OpenReadOnly(tmp.Sub("s") + "/events.db");
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)
                  ->Scan(first->last_seq + 1,
                         [&](const Event& event) {
                           if (event.type != EventType::kOrderUpdate) return Status::Ok();
                           auto order = persistence::DecodeOrder(event.payload);
                           if (order.ok() && order->status == OrderStatus::kRejected) {
                             ++rejected;
                             ++by_reason[std::string(ToString(order->reject_reason))];
                           }
                           return Status::Ok();
                         })
                  .ok());
  ASSERT_GE(by_reason["risk_halted"], 1u);  // at least the operator's order

  const std::map<std::string, std::string> eurusd = {{"symbol", "EURUSD"}};
  EXPECT_EQ(Value(registry, "aits_ticks_total", eurusd), 500);
  EXPECT_EQ(Value(registry, "aits_orders_total", eurusd),
            static_cast<double>(second->orders - first->orders));
  EXPECT_EQ(Value(registry, "aits_fills_total", eurusd),
            static_cast<double>(second->fills - first->fills));
  EXPECT_EQ(Sum(registry, "aits_orders_rejected_total"), static_cast<double>(rejected));
  for (const auto& [reason, count] : by_reason) {
    EXPECT_EQ(
        Value(registry, "aits_orders_rejected_total", {{"symbol", "EURUSD"}, {"reason", reason}}),
        static_cast<double>(count))
        << reason;
  }
  EXPECT_EQ(Value(registry, "aits_operator_commands_total", {{"result", "applied"}}), 2);
  EXPECT_EQ(Value(registry, "aits_operator_commands_total", {{"result", "refused"}}), 1);
  EXPECT_EQ(Value(registry, "aits_breaker_changes_total", {{"state", "halted"}}), 1);
  EXPECT_EQ(Value(registry, "aits_breaker_state", {{"state", "halted"}}), 1);
  EXPECT_EQ(Value(registry, "aits_breaker_state", {{"state", "normal"}}), 0);
  EXPECT_DOUBLE_EQ(Value(registry, "aits_account_equity", {{"currency", "USD"}}),
                   second->account.equity.AsDouble());
}

// Two sessions in one process cannot share a registry's names with different labels; the
// same session's families registered twice are the same families.
TEST(SessionMetricsTest, RegisteringTwiceReusesTheFamilies) {
  auto made = Session::Create(BusySpec(10));
  ASSERT_TRUE(made.ok());
  Registry registry;
  auto one = SessionMetrics::Create(registry, **made);
  ASSERT_TRUE(one.ok()) << one.status().message();
  auto two = SessionMetrics::Create(registry, **made);
  ASSERT_TRUE(two.ok()) << two.status().message();
  Registry clash;
  ASSERT_TRUE(clash.AddCounter("aits_ticks_total", "something else").ok());
  auto refused = SessionMetrics::Create(clash, **made);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("aits_ticks_total"), std::string::npos)
      << refused.status().message();
}

}  // namespace
}  // namespace aits::session
