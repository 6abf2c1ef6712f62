// Live against backtest: a session on the asynchronous venue (standing in for a live broker)
// re-run as a backtest on its own recorded ticks, compared order by order.
#include "aits/session/live_compare.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "aits/persistence/event_store.h"
#include "aits/session/paper.h"
#include "aits/session/session_test_util.h"

namespace aits::session {
namespace {

using persistence::EventStore;

Result<LiveComparison> CompareDir(const std::string& dir, const CompareOptions& options = {}) {
  auto store = EventStore::OpenReadOnly(dir + "/events.db");
  if (!store.ok()) return store.status();
  return CompareWithBacktest(**store, MakeRuleSignalFor, options);
}

TEST(LiveCompare, ASessionOnTheBacktestsOwnVenueComparesEqual) {
  TempDir tmp;
  auto run = RunPaper(MaxSpeed(BusySpec(20'000), tmp.Sub("s")));
  ASSERT_TRUE(run.ok()) << run.status().message();
  ASSERT_GT(run->fills, 5u);
  auto c = CompareDir(tmp.Sub("s"));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->ticks, 20'000u);
  EXPECT_EQ(c->live_only, 0u);
  EXPECT_EQ(c->backtest_only, 0u);
  EXPECT_EQ(c->paired, run->orders) << ToCsv(*c);
  EXPECT_EQ(c->paired_filled, run->fills) << ToCsv(*c);  // one fill per market order
  EXPECT_EQ(c->gap, Money());
  EXPECT_EQ(c->fill_effects, Money());
  EXPECT_EQ(c->rest, Money());
  EXPECT_EQ(c->max_abs_slippage_points, 0);
  EXPECT_EQ(c->live_equity, run->account.equity);
}

// The live venue slips every market fill by 3 points; the backtest's venue model has none. Each
// paired fill shows the 3 points and what they cost; the rest of the gap is what the worse
// prices changed afterwards (SL/TP levels move with the fill price).
TEST(LiveCompare, LiveSlippageIsMeasuredOrderByOrderAndPricedInTheAccountCurrency) {
  TempDir tmp;
  SessionSpec spec = BusySpec(20'000);
  spec.venue = "threaded";
  spec.slippage_points = 3;
  auto run = RunPaper(MaxSpeed(spec, tmp.Sub("s")));
  ASSERT_TRUE(run.ok()) << run.status().message();
  ASSERT_GT(run->fills, 5u);
  CompareOptions options;
  options.slippage_points = 0;
  auto c = CompareDir(tmp.Sub("s"), options);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->venue, "threaded");
  ASSERT_GT(c->paired_filled, 5u);
  Money effects;
  for (const OrderComparison& o : c->orders) {
    if (o.kind != CompareKind::kPaired || !o.live->price || !o.backtest->price) continue;
    if (o.origin != "strategy") continue;
    EXPECT_NEAR(o.slippage_points, 3.0, 1e-6) << o.live->client_order_id;
    // EURUSD on a USD account: 3 points (0.00003) x 100,000 on the lots both runs filled (the
    // runs' positions differ once their fills do, so a reversal may be larger in one of them):
    // 0.90 USD per 0.3 lots.
    const double common = std::min(o.live->filled.AsDouble(), o.backtest->filled.AsDouble());
    EXPECT_EQ(o.fill_effect, *Money::FromDouble(-3.0 * common)) << o.live->client_order_id;
    // Paired by the tick they were decided on, whatever the runs numbered them.
    EXPECT_EQ(o.live->filled_at, o.backtest->filled_at);
    effects = effects + o.fill_effect;
  }
  EXPECT_LT(c->fill_effects.AsDouble(), 0);
  EXPECT_EQ(c->gap, c->fill_effects + c->commission_effect + c->rest);
  // Not asserted: that the whole gap is negative. The fills cost the live run, but what the rest
  // holds depends on which tick each report landed on, which on the threaded venue depends on the
  // machine's load: once in 15 runs beside a training job the rest outweighed the fills (+1.50).
  EXPECT_NEAR(c->mean_slippage_points, 3.0, 1e-6);
  EXPECT_NEAR(c->max_abs_slippage_points, 3.0, 1e-6);

  // The backtest re-run with the live slippage explains the fills: none slip any more.
  options.slippage_points = 3;
  auto calibrated = CompareDir(tmp.Sub("s"), options);
  ASSERT_TRUE(calibrated.ok());
  for (const OrderComparison& o : calibrated->orders) {
    if (o.kind == CompareKind::kPaired && o.origin == "strategy" && o.live->price &&
        o.backtest->price) {
      EXPECT_NEAR(o.slippage_points, 0.0, 1e-6) << o.live->client_order_id;
    }
  }
  // What the fills explain shrinks. (Not the whole gap: on the threaded venue, which tick a
  // report lands on depends on the machine's load, and with it what the rest of the gap holds;
  // under load the calibrated gap was seen larger.)
  EXPECT_LT(std::fabs(calibrated->fill_effects.AsDouble()), std::fabs(c->fill_effects.AsDouble()));

  const auto json = nlohmann::json::parse(ToJson(*c));
  EXPECT_EQ(json["paired"], c->paired);
  EXPECT_EQ(json["orders"].size(), c->orders.size());
  const std::string csv = ToCsv(*c);
  EXPECT_EQ(csv.rfind("created,kind,symbol,side,origin,", 0), 0u);
  EXPECT_EQ(static_cast<size_t>(std::count(csv.begin(), csv.end(), '\n')), c->orders.size() + 1);
}

TEST(LiveCompare, ABadBacktestVenueSettingIsNamed) {
  TempDir tmp;
  ASSERT_TRUE(RunPaper(MaxSpeed(BusySpec(500), tmp.Sub("s"))).ok());
  CompareOptions options;
  options.commission = "per_lot:x";
  auto c = CompareDir(tmp.Sub("s"), options);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("the backtest of the session"), std::string::npos)
      << c.status().message();
  EXPECT_FALSE(CompareDir(tmp.Sub("missing")).ok());
}

}  // namespace
}  // namespace aits::session
