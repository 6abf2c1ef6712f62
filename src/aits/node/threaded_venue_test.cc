// The asynchronous execution path end to end: a kernel whose execution client is the simulated
// venue on its own thread (ThreadedVenue), its reports coming back through the node's inbox and
// the event loop. Orders placed at fixed ticks must fill exactly as with the synchronous venue,
// whatever the link's delay; and the kernel must go on with later ticks while a report travels.
// Built and run under the tsan preset (label tsan) and asan.
#include "aits/node/threaded_venue.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aits/core/clock.h"
#include "aits/kernel/kernel.h"
#include "aits/node/event_loop.h"

namespace aits::node {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

constexpr size_t kTicks = 3'000;

std::vector<Tick> Market() {
  std::vector<Tick> ticks;
  const Timestamp start = FromCivil(2024, 1, 8, 10, 0, 0);
  for (size_t idx = 0; idx < kTicks; ++idx) {
    Tick tick;
    tick.ts = start + Duration::Millis(static_cast<int64_t>(idx) * 250);
    const auto wave =
        static_cast<int64_t>(std::lround(300 * std::sin(static_cast<double>(idx) / 40.0)));
    tick.bid = Price::FromRaw(110'000 + wave, 5);
    tick.ask = Price::FromRaw(110'002 + wave, 5);
    ticks.push_back(tick);
  }
  return ticks;
}

class TickSourceOf final : public data::TickSource {
 public:
  explicit TickSourceOf(std::vector<Tick> ticks) : ticks_(std::move(ticks)) {}
  Result<size_t> Read(std::span<Tick> out) override {
    size_t count = 0;
    while (count < out.size() && next_ < ticks_.size()) out[count++] = ticks_[next_++];
    return count;
  }
  const data::ReadStats& stats() const override { return stats_; }
  double Progress() const override {
    return static_cast<double>(next_) / static_cast<double>(ticks_.size());
  }

 private:
  std::vector<Tick> ticks_;
  size_t next_ = 0;
  data::ReadStats stats_;
};

// Places orders at fixed ticks, whatever it has heard of its earlier ones: market orders both
// ways, limits that fill later, a limit it cancels while it rests, a stop, and SL/TP.
class Schedule final : public strategy::Strategy {
 public:
  std::string_view name() const override { return "schedule"; }
  void OnTick(const Tick& tick) override {
    ++ticks_;
    OrderRequest request;
    request.instrument = InstrumentId{0};
    request.quantity = *Quantity::Parse("1.00", 2);
    if (ticks_ % 200 == 50) {
      request.side = (ticks_ / 200) % 2 == 0 ? Side::kBuy : Side::kSell;
      request.stop_loss = Price::FromRaw(
          request.side == Side::kBuy ? tick.bid.raw() - 500 : tick.ask.raw() + 500, 5);
      (void)context().Submit(request);
    } else if (ticks_ % 200 == 120) {
      request.side = Side::kSell;
      request.type = OrderType::kLimit;
      request.price = Price::FromRaw(tick.bid.raw() + 150, 5);
      (void)context().Submit(request);
    } else if (ticks_ % 200 == 130) {
      request.side = Side::kBuy;
      request.type = OrderType::kLimit;
      request.price = Price::FromRaw(tick.ask.raw() - 2'000, 5);  // far away: rests
      resting_ = context().Submit(request);
    } else if (ticks_ % 200 == 140) {
      (void)context().Cancel(resting_);
    } else if (ticks_ % 200 == 160) {
      request.side = Side::kBuy;
      request.type = OrderType::kStop;
      request.price = Price::FromRaw(tick.ask.raw() + 100, 5);
      (void)context().Submit(request);
    }
  }

 private:
  uint64_t ticks_ = 0;
  OrderId resting_;
};

kernel::KernelConfig Config() {
  kernel::KernelConfig config;
  config.venue.latency = Duration::Millis(300);  // in the data's time: an order arrives later
  return config;
}

// The kernel's side of the loop: ticks into the kernel on its clock, the venue's reports into its
// order manager; anything the order manager could not apply is logged here.
class KernelTarget : public LoopTarget {
 public:
  KernelTarget(kernel::Kernel& kernel, SimulatedClock& clock) : kernel_(kernel), clock_(clock) {}
  Status OnMarketData(const MarketData& data) override {
    clock_.AdvanceTo(data.tick.ts);
    kernel_.OnTick(data.tick);
    ++ticks;
    return Status::Ok();
  }
  Status OnCommand(const OperatorCommand& /*command*/, Status* outcome) override {
    *outcome = InvalidArgument("no commands here");
    return Status::Ok();
  }
  Status OnProducerStatus(const ProducerStatus& status, std::string_view /*name*/) override {
    return status.error;
  }
  std::optional<Timestamp> NextTimer() const override { return kernel_.NextTimer(); }
  Status AdvanceTo(Timestamp time) override {
    clock_.AdvanceTo(time);
    kernel_.AdvanceTo(time);
    return Status::Ok();
  }
  Status OnIdle() override { return Status::Ok(); }
  bool done() const override { return false; }
  Status OnExecutionReport(const ExecutionReportEvent& event) override {
    const execution::ReportOutcome outcome = kernel_.OnExecutionReport(*event.report);
    if (outcome != execution::ReportOutcome::kApplied) {
      log.push_back(execution::OrderManager::Describe(*event.report, outcome));
    }
    return Status::Ok();
  }
  Status OnAccountReport(const AccountReportEvent& event) override {
    kernel_.OnAccountReport(*event.report);
    return Status::Ok();
  }

  uint64_t ticks = 0;
  std::vector<std::string> log;

 protected:
  kernel::Kernel& kernel() { return kernel_; }

 private:
  kernel::Kernel& kernel_;
  SimulatedClock& clock_;
};

struct Outcome {
  std::vector<Fill> fills;
  std::vector<Order> orders;
  Quantity position;
  Quantity pending;  // lots of unfinished orders (a limit still resting at the end)
  Money balance;
};

Outcome Collect(const kernel::Kernel& kernel) {
  Outcome outcome;
  for (size_t idx = 0; idx < kernel.fills().size(); ++idx)
    outcome.fills.push_back(kernel.fills()[idx]);
  for (size_t idx = 0; idx < kernel.orders().size(); ++idx) {
    outcome.orders.push_back(kernel.orders()[idx]);
  }
  outcome.position = kernel.position(InstrumentId{0}).quantity;
  outcome.pending = kernel.PendingLots(InstrumentId{0});
  outcome.balance = kernel.account().balance;
  return outcome;
}

Outcome RunSynchronous() {
  SimulatedClock clock;
  kernel::Kernel kernel(Config(), clock);
  EXPECT_TRUE(kernel.AddInstrument(Instrument::Infer("EURUSD")).ok());
  kernel.SetStrategy(std::make_unique<Schedule>());
  kernel.Start();
  for (const Tick& tick : Market()) {
    clock.AdvanceTo(tick.ts);
    kernel.OnTick(tick);
  }
  kernel.Stop();
  return Collect(kernel);
}

void ExpectSameTrading(const Outcome& threaded, const Outcome& synchronous) {
  ASSERT_EQ(threaded.fills.size(), synchronous.fills.size());
  for (size_t idx = 0; idx < threaded.fills.size(); ++idx) {
    SCOPED_TRACE("fill " + std::to_string(idx));
    // Not the order ids: an order the venue opens (an SL close) gets its id when its report
    // reaches the kernel, later than on the synchronous path, so the kernel's own orders may take
    // ids before it. The venue's tickets are the same.
    const Fill& a = threaded.fills[idx];
    const Fill& b = synchronous.fills[idx];
    EXPECT_EQ(a.side, b.side);
    EXPECT_EQ(a.quantity.raw(), b.quantity.raw());
    EXPECT_EQ(a.price.raw(), b.price.raw());
    EXPECT_EQ(a.commission.raw(), b.commission.raw());
    EXPECT_EQ(a.ts, b.ts);
    EXPECT_EQ(a.reason, b.reason);
  }
  ASSERT_EQ(threaded.orders.size(), synchronous.orders.size());
  std::map<uint64_t, const Order*> by_ticket;
  for (const Order& order : synchronous.orders) by_ticket[order.venue_order_id] = &order;
  ASSERT_EQ(by_ticket.size(), synchronous.orders.size());  // every order reached the venue
  for (const Order& order : threaded.orders) {
    SCOPED_TRACE("ticket " + std::to_string(order.venue_order_id));
    ASSERT_EQ(by_ticket.count(order.venue_order_id), 1u);
    const Order& same = *by_ticket[order.venue_order_id];
    EXPECT_EQ(order.status, same.status);
    EXPECT_EQ(order.request.side, same.request.side);
    EXPECT_EQ(order.request.type, same.request.type);
    EXPECT_EQ(order.request.tag, same.request.tag);
    EXPECT_EQ(order.filled.raw(), same.filled.raw());
    EXPECT_EQ(order.avg_fill_price.raw(), same.avg_fill_price.raw());
    EXPECT_EQ(order.position_ticket, same.position_ticket);
  }
  EXPECT_EQ(threaded.position.raw(), synchronous.position.raw());
  EXPECT_EQ(threaded.pending.raw(), synchronous.pending.raw());
  EXPECT_EQ(threaded.balance.raw(), synchronous.balance.raw());
}

class ThreadedVenueTest : public ::testing::TestWithParam<int64_t> {};

// The venue sees the kernel's ticks and orders in the kernel's order, so the fills are the
// synchronous venue's; only when the kernel hears of them differs. Every report held by the venue
// when the data ends still reaches the kernel (the loop stops the venue before it closes).
TEST_P(ThreadedVenueTest, FillsAsTheSynchronousVenueWhateverTheLinksDelay) {
  const Outcome synchronous = RunSynchronous();
  ASSERT_GT(synchronous.fills.size(), 20u);

  SimulatedClock clock;
  ThreadedVenue* venue = nullptr;
  ThreadedVenueConfig venue_config;
  venue_config.venue = Config().venue;
  venue_config.report_latency = microseconds(GetParam());
  ASSERT_TRUE(venue_config.Validate().ok());
  kernel::Kernel kernel(
      Config(), clock,
      [&](execution::ExecutionEvents& /*events*/, const execution::AccountOracle& /*account*/) {
        auto made = std::make_unique<ThreadedVenue>(venue_config);
        venue = made.get();
        return made;
      });
  ASSERT_NE(venue, nullptr);
  ASSERT_TRUE(kernel.AddInstrument(Instrument::Infer("EURUSD")).ok());
  kernel.SetStrategy(std::make_unique<Schedule>());
  kernel.Start();

  KernelTarget target(kernel, clock);
  uint64_t handed = 0;
  {
    ReplayOptions replay;
    replay.speed = 0;
    auto feed = ReplayClient::Create("feed", std::make_unique<TickSourceOf>(Market()), replay);
    ASSERT_TRUE(feed.ok());
    EventLoop loop(target);  // after the feed: the loop stops its producers when destroyed
    loop.AddClient(**feed);
    loop.AddProducer(*venue);
    auto exit = loop.RunPulled();
    ASSERT_TRUE(exit.ok()) << exit.status().message();
    EXPECT_EQ(*exit, LoopExit::kEndOfData);
    EXPECT_EQ(target.ticks, kTicks);
    EXPECT_GT(loop.stats().execution_reports, 0u);
    EXPECT_EQ(loop.stats().report_hand_off.count(), loop.stats().execution_reports);
    EXPECT_EQ(loop.stats().discarded_execution, 0u);
    handed = loop.stats().execution_reports + loop.stats().account_reports;
  }
  kernel.Stop();
  EXPECT_TRUE(target.log.empty()) << target.log.front();
  EXPECT_EQ(venue->lost_reports(), 0u);
  EXPECT_EQ(venue->refused_calls(), 0u);
  EXPECT_EQ(venue->reports_posted(), handed);  // every report the venue made reached the kernel
  ExpectSameTrading(Collect(kernel), synchronous);
}

// 0: posted as soon as made; 200 us: some while the kernel reads on; 50 ms: longer than the whole
// run, so every report arrives as the venue stops.
INSTANTIATE_TEST_SUITE_P(Latencies, ThreadedVenueTest, ::testing::Values(0, 200, 50'000));

// A started kernel trading EURUSD whose execution client is a ThreadedVenue made with
// `venue_config` (`*venue` points at it).
std::unique_ptr<kernel::Kernel> StartThreaded(const kernel::KernelConfig& config,
                                              const ThreadedVenueConfig& venue_config,
                                              SimulatedClock& clock, ThreadedVenue** venue) {
  auto made_kernel = std::make_unique<kernel::Kernel>(
      config, clock, [&](execution::ExecutionEvents&, const execution::AccountOracle&) {
        auto made = std::make_unique<ThreadedVenue>(venue_config);
        *venue = made.get();
        return made;
      });
  EXPECT_TRUE(made_kernel->AddInstrument(Instrument::Infer("EURUSD")).ok());
  made_kernel->Start();
  return made_kernel;
}

// While a report travels the kernel goes on: an order is pending_new, its lots pending, until
// the first report arrives; a threaded loop (data and venue on their own threads) delivers it.
TEST(ThreadedVenueLoopTest, AnOrderIsPendingUntilItsReportArrives) {
  SimulatedClock clock;
  ThreadedVenue* venue = nullptr;
  ThreadedVenueConfig venue_config;
  venue_config.report_latency = milliseconds(20);
  const std::unique_ptr<kernel::Kernel> started =
      StartThreaded(kernel::KernelConfig{}, venue_config, clock, &venue);
  kernel::Kernel& kernel = *started;

  // The kernel thread's view, sampled when the first tick is handled and at each report.
  // The kernel thread's view, sampled when the order is submitted (at the first tick) and at
  // each report; done once the order has filled.
  class Probe final : public KernelTarget {
   public:
    Probe(kernel::Kernel& kernel, SimulatedClock& clock) : KernelTarget(kernel, clock) {}
    Status OnMarketData(const MarketData& data) override {
      AITS_RETURN_IF_ERROR(KernelTarget::OnMarketData(data));
      if (!submitted) {
        OrderRequest request;
        request.instrument = InstrumentId{0};
        request.side = Side::kBuy;
        request.quantity = *Quantity::Parse("0.50", 2);
        order = kernel().Submit(request);
        submitted = true;
        status_after_submit = kernel().FindOrder(order)->status;
        pending_after_submit = kernel().PendingLots(InstrumentId{0}).ToString();
      }
      return Status::Ok();
    }
    bool done() const override { return filled; }
    Status OnExecutionReport(const ExecutionReportEvent& event) override {
      AITS_RETURN_IF_ERROR(KernelTarget::OnExecutionReport(event));
      filled = kernel().FindOrder(order)->status == OrderStatus::kFilled;
      if (filled) ticks_when_filled = ticks;
      return Status::Ok();
    }

    uint64_t ticks_when_filled = 0;
    bool submitted = false;
    bool filled = false;
    OrderId order;
    OrderStatus status_after_submit = OrderStatus::kRejected;
    std::string pending_after_submit;
  };
  Probe probe(kernel, clock);
  ReplayOptions replay;
  replay.speed = 1;  // a tick every 250 ms of data time is 250 ms of wall time
  auto feed = ReplayClient::Create("feed", std::make_unique<TickSourceOf>(Market()), replay);
  ASSERT_TRUE(feed.ok());
  EventLoop loop(probe);
  loop.AddClient(**feed);
  loop.AddProducer(*venue);
  auto exit = loop.Run();
  ASSERT_TRUE(exit.ok()) << exit.status().message();
  EXPECT_EQ(*exit, LoopExit::kDone);
  EXPECT_EQ(probe.status_after_submit, OrderStatus::kPendingNew);
  EXPECT_EQ(probe.pending_after_submit, "0.50");
  EXPECT_EQ(kernel.FindOrder(probe.order)->status, OrderStatus::kFilled);
  EXPECT_EQ(kernel.PendingLots(InstrumentId{0}).raw(), 0);
  EXPECT_EQ(kernel.position(InstrumentId{0}).quantity.ToString(), "0.50");
  // Filled at the first tick's ask (zero venue latency): the report took its 20 ms, and the data
  // was paced, so the kernel handled the fill between ticks.
  EXPECT_EQ(kernel.fills().back().price.raw(), Market()[0].ask.raw());
  EXPECT_EQ(probe.ticks_when_filled, 1u);
  EXPECT_TRUE(probe.log.empty());
  EXPECT_GE(loop.stats().report_hand_off.count(), 1u);
}

// A hedging account through the thread: each fill names its position (the kernel's portfolio
// books the long and the short apart), and SL/TP set by ticket reach the venue, which refuses a
// ticket it does not hold (counted) and closes the named position at its TP.
TEST(ThreadedVenueLoopTest, HedgingFillsNamePositionsAndProtectionGoesByTicket) {
  SimulatedClock clock;
  ThreadedVenue* venue = nullptr;
  kernel::KernelConfig config;
  config.venue.account_mode = AccountMode::kHedging;
  ThreadedVenueConfig venue_config;
  venue_config.venue = config.venue;
  venue_config.report_latency = microseconds(100);
  const std::unique_ptr<kernel::Kernel> started =
      StartThreaded(config, venue_config, clock, &venue);
  kernel::Kernel& kernel = *started;

  class Hedger final : public KernelTarget {
   public:
    Hedger(kernel::Kernel& kernel, SimulatedClock& clock) : KernelTarget(kernel, clock) {}
    Status OnMarketData(const MarketData& data) override {
      AITS_RETURN_IF_ERROR(KernelTarget::OnMarketData(data));
      if (!submitted) {
        OrderRequest request;
        request.instrument = InstrumentId{0};
        request.side = Side::kBuy;
        request.quantity = *Quantity::Parse("1.00", 2);
        long_order = kernel().Submit(request);
        request.side = Side::kSell;
        request.quantity = *Quantity::Parse("0.50", 2);
        short_order = kernel().Submit(request);  // a position beside the long
        submitted = true;
      }
      return Status::Ok();
    }
    bool done() const override { return took_profit; }
    Status OnExecutionReport(const ExecutionReportEvent& event) override {
      AITS_RETURN_IF_ERROR(KernelTarget::OnExecutionReport(event));
      const Order* held_short = kernel().FindOrder(short_order);
      const Order* held_long = kernel().FindOrder(long_order);
      if (!protected_ && held_short->status == OrderStatus::kFilled &&
          held_long->status == OrderStatus::kFilled) {
        short_ticket = held_short->position_ticket;
        long_ticket = held_long->position_ticket;
        execution::ExecutionClient& client = kernel().execution();
        (void)client.SetPositionProtection(InstrumentId{0}, 999, std::nullopt,
                                           Price::FromRaw(109'900, 5));  // no such position
        (void)client.SetPositionProtection(InstrumentId{0}, short_ticket, std::nullopt,
                                           Price::FromRaw(109'900, 5));
        protected_ = true;
      }
      for (size_t idx = 0; idx < kernel().fills().size(); ++idx) {
        if (kernel().fills()[idx].reason == FillReason::kTakeProfit) took_profit = true;
      }
      return Status::Ok();
    }

    bool submitted = false;
    bool protected_ = false;
    bool took_profit = false;
    OrderId long_order;
    OrderId short_order;
    uint64_t long_ticket = 0;
    uint64_t short_ticket = 0;
  };
  Hedger hedger(kernel, clock);
  {
    // Paced (a tick every 0.5 ms of wall time), so that the fills reach the kernel, and the
    // protection the venue, while the market still moves.
    ReplayOptions replay;
    replay.speed = 500;
    auto feed = ReplayClient::Create("feed", std::make_unique<TickSourceOf>(Market()), replay);
    ASSERT_TRUE(feed.ok());
    EventLoop loop(hedger);
    loop.AddClient(**feed);
    loop.AddProducer(*venue);
    auto exit = loop.Run();
    ASSERT_TRUE(exit.ok()) << exit.status().message();
    EXPECT_EQ(*exit, LoopExit::kDone);
  }
  kernel.Stop();
  EXPECT_TRUE(hedger.log.empty()) << hedger.log.front();
  ASSERT_TRUE(hedger.took_profit) << "fills " << kernel.fills().size();
  EXPECT_NE(hedger.long_ticket, 0u);
  EXPECT_NE(hedger.short_ticket, 0u);
  EXPECT_NE(hedger.long_ticket, hedger.short_ticket);
  EXPECT_EQ(venue->refused_protections(), 1u);  // ticket 999
  const Fill& tp = kernel.fills()[kernel.fills().size() - 1];
  EXPECT_EQ(tp.reason, FillReason::kTakeProfit);
  EXPECT_EQ(tp.position_ticket, hedger.short_ticket);
  EXPECT_EQ(tp.side, Side::kBuy);
  EXPECT_EQ(tp.quantity.ToString(), "0.50");
  const std::vector<HedgedPosition>& positions = kernel.portfolio().positions(InstrumentId{0});
  ASSERT_EQ(positions.size(), 1u);
  EXPECT_EQ(positions[0].ticket, hedger.long_ticket);
  EXPECT_EQ(positions[0].quantity.ToString(), "1.00");
  EXPECT_EQ(kernel.position(InstrumentId{0}).quantity.ToString(), "1.00");
  EXPECT_EQ(kernel.portfolio().trades().size(), 1u);
}

// A kernel thread that runs `on_tick` at each tick and `on_report` after each execution report
// is applied, until `finished`.
class Driver final : public KernelTarget {
 public:
  Driver(kernel::Kernel& kernel, SimulatedClock& clock) : KernelTarget(kernel, clock) {}
  Status OnMarketData(const MarketData& data) override {
    AITS_RETURN_IF_ERROR(KernelTarget::OnMarketData(data));
    if (on_tick) on_tick(kernel(), data.tick);
    return Status::Ok();
  }
  Status OnExecutionReport(const ExecutionReportEvent& event) override {
    AITS_RETURN_IF_ERROR(KernelTarget::OnExecutionReport(event));
    if (on_report) on_report(kernel());
    return Status::Ok();
  }
  bool done() const override { return finished; }

  std::function<void(kernel::Kernel&, const Tick&)> on_tick;
  std::function<void(kernel::Kernel&)> on_report;
  bool finished = false;
};

// Runs `driver` over the paced market with the venue as a producer (data and venue on threads of
// their own); the loop stops the venue when it ends.
void RunLoop(Driver& driver, ThreadedVenue& venue) {
  ReplayOptions replay;
  replay.speed = 20;  // a tick every 12.5 ms of wall time
  auto feed = ReplayClient::Create("feed", std::make_unique<TickSourceOf>(Market()), replay);
  ASSERT_TRUE(feed.ok());
  EventLoop loop(driver);
  loop.AddClient(**feed);
  loop.AddProducer(venue);
  auto exit = loop.Run();
  ASSERT_TRUE(exit.ok()) << exit.status().message();
  EXPECT_EQ(*exit, LoopExit::kDone);
}

OrderRequest Market(Side side, const char* lots) {
  OrderRequest request;
  request.instrument = InstrumentId{0};
  request.side = side;
  request.quantity = *Quantity::Parse(lots, 2);
  return request;
}

// Before Start the caller's thread answers (so a node reconciles before its loop starts the
// venue); while the venue's thread runs, the query goes through its queue behind the calls before
// it, and the answer is the venue's own account; after Stop it is refused.
TEST(ThreadedVenueSnapshotTest, AnswersBeforeStartThroughTheQueueAndNotAfterStop) {
  SimulatedClock clock;
  ThreadedVenue* venue = nullptr;
  ThreadedVenueConfig venue_config;
  venue_config.report_latency = milliseconds(2);
  venue_config.venue.commission.kind = execution::CommissionKind::kPerLot;
  venue_config.venue.commission.rate = 3.5;
  kernel::KernelConfig config;
  config.venue = venue_config.venue;
  const std::unique_ptr<kernel::Kernel> started =
      StartThreaded(config, venue_config, clock, &venue);
  kernel::Kernel& kernel = *started;

  auto before = venue->Snapshot();
  ASSERT_TRUE(before.ok()) << before.status().message();
  EXPECT_TRUE(before->positions.empty());
  ASSERT_TRUE(before->balance.has_value());
  EXPECT_EQ(before->balance->ToString(), "100000.00");
  auto plan = kernel.PlanReconciliation(execution::ReconcilePolicy::kRefuse);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_TRUE(plan->report.clean());

  Driver driver(kernel, clock);
  std::optional<Result<execution::AccountState>> during;
  std::optional<Result<kernel::Reconciliation>> reconciled;
  OrderId order;
  driver.on_tick = [&](kernel::Kernel& k, const Tick&) {
    if (order.value == 0) order = k.Submit(Market(Side::kBuy, "0.50"));
  };
  driver.on_report = [&](kernel::Kernel& k) {
    if (driver.finished || k.FindOrder(order)->status != OrderStatus::kFilled) return;
    during = venue->Snapshot();  // the kernel thread waits for the venue's thread
    reconciled = k.PlanReconciliation(execution::ReconcilePolicy::kRefuse);
    driver.finished = true;
  };
  RunLoop(driver, *venue);
  ASSERT_TRUE(during.has_value());
  ASSERT_TRUE(during->ok()) << during->status().message();
  ASSERT_EQ((*during)->positions.size(), 1u);
  EXPECT_EQ((*during)->positions[0].quantity.ToString(), "0.50");
  EXPECT_EQ((*during)->balance->ToString(), "99998.25");  // 0.5 lots x 3.50 commission
  EXPECT_EQ((*during)->balance->raw(), kernel.account().balance.raw());
  ASSERT_TRUE(reconciled->ok()) << reconciled->status().message();
  EXPECT_TRUE((*reconciled)->report.clean()) << (*reconciled)->lines.front();

  auto after = venue->Snapshot();
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(after.status().message().find("stopped"), std::string::npos);
}

// A venue seeded with a broker's account (a resumed node seeds a fresh venue with what its log
// implies): its books and its own account take the positions and the balance, the kernel adopts
// them, and trading on keeps the two in step.
TEST(ThreadedVenueSnapshotTest, SeedSetsTheBooksAndTheAccount) {
  SimulatedClock clock;
  ThreadedVenue* venue = nullptr;
  ThreadedVenueConfig venue_config;
  const std::unique_ptr<kernel::Kernel> started =
      StartThreaded(kernel::KernelConfig{}, venue_config, clock, &venue);
  kernel::Kernel& kernel = *started;
  execution::AccountState broker;
  // Opened 0.00098 above the first tick's ask, where the kernel will close it.
  const Price opened = Price::FromRaw(Market()[0].ask.raw() + Price::Parse("0.00098", 5)->raw(), 5);
  broker.positions.push_back(execution::HeldPosition{.ticket = 40,
                                                     .instrument = InstrumentId{0},
                                                     .quantity = *Quantity::Parse("-0.30", 2),
                                                     .open_price = opened});
  broker.balance = *Money::Parse("99000");
  ASSERT_TRUE(venue->Seed(broker, clock.Now()).ok());
  auto plan = kernel.PlanReconciliation(execution::ReconcilePolicy::kAdopt);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  ASSERT_EQ(plan->lines.size(), 2u);
  EXPECT_EQ(plan->lines[0], "balance differs: log 100000.00, venue 99000.00");
  EXPECT_EQ(plan->lines[1], "unknown position: EURUSD: log none, venue -0.30 lots");
  ASSERT_TRUE(kernel.ApplyReconciliation(*plan).ok());
  EXPECT_EQ(kernel.account().balance.ToString(), "99000.00");
  EXPECT_EQ(kernel.position(InstrumentId{0}).quantity.ToString(), "-0.30");

  // A bad seed is refused whole, naming the item.
  execution::AccountState twice = broker;
  twice.positions.push_back(twice.positions.front());
  const Status refused = venue->Seed(twice, clock.Now());
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("position"), std::string::npos) << refused.message();

  Driver driver(kernel, clock);
  std::optional<Result<kernel::Reconciliation>> reconciled;
  OrderId close;
  driver.on_tick = [&](kernel::Kernel& k, const Tick&) {
    if (close.value == 0) close = k.Submit(Market(Side::kBuy, "0.30"));
  };
  driver.on_report = [&](kernel::Kernel& k) {
    if (driver.finished || k.FindOrder(close)->status != OrderStatus::kFilled) return;
    reconciled = k.PlanReconciliation(execution::ReconcilePolicy::kRefuse);
    driver.finished = true;
  };
  RunLoop(driver, *venue);
  ASSERT_TRUE(reconciled.has_value());
  ASSERT_TRUE(reconciled->ok()) << reconciled->status().message();
  EXPECT_TRUE((*reconciled)->report.clean());
  EXPECT_TRUE(kernel.position(InstrumentId{0}).IsFlat());
  // Closed at the first tick's ask: 0.00098 on 30,000 units.
  ASSERT_EQ(kernel.fills().size(), 1u);
  EXPECT_EQ(kernel.fills()[0].price.raw(), Market()[0].ask.raw());
  EXPECT_EQ(kernel.account().balance.ToString(), "99029.40");
}

// A venue thread that cannot answer in time (a slow venue: 300 ms over each call, against an
// answer timeout of 20 ms) gives a clear error instead of holding the kernel thread.
TEST(ThreadedVenueSnapshotTest, ATimeoutIsAClearError) {
  SimulatedClock clock;
  ThreadedVenue* venue = nullptr;
  ThreadedVenueConfig venue_config;
  venue_config.processing_delay = milliseconds(300);
  venue_config.answer_timeout = milliseconds(20);
  const std::unique_ptr<kernel::Kernel> started =
      StartThreaded(kernel::KernelConfig{}, venue_config, clock, &venue);
  Driver driver(*started, clock);
  std::optional<Status> late;
  driver.on_tick = [&](kernel::Kernel&, const Tick&) {
    late = venue->Snapshot().status();
    driver.finished = true;
  };
  RunLoop(driver, *venue);
  ASSERT_TRUE(late.has_value());
  EXPECT_EQ(late->code(), StatusCode::kInternal);
  EXPECT_EQ(late->message(), "venue: no answer to an account query within 20 ms (answer_timeout)");
}

TEST(ThreadedVenueConfigTest, RefusesBadSettingsNamingThem) {
  ThreadedVenueConfig config;
  EXPECT_TRUE(config.Validate().ok());
  config.report_latency = std::chrono::nanoseconds(-1);
  EXPECT_NE(config.Validate().message().find("report latency"), std::string::npos);
  config = ThreadedVenueConfig{};
  config.queue_capacity = 1;
  EXPECT_NE(config.Validate().message().find("queue capacity"), std::string::npos);
  config = ThreadedVenueConfig{};
  config.leverage = 0;
  EXPECT_NE(config.Validate().message().find("leverage"), std::string::npos);
  config = ThreadedVenueConfig{};
  config.answer_timeout = std::chrono::nanoseconds(0);
  EXPECT_NE(config.Validate().message().find("answer timeout"), std::string::npos);
  config = ThreadedVenueConfig{};
  config.processing_delay = std::chrono::nanoseconds(-1);
  EXPECT_NE(config.Validate().message().find("processing delay"), std::string::npos);
}

// Before Start nothing drains the venue's queue: a call that finds it full is refused and counted
// rather than waiting for ever.
TEST(ThreadedVenueConfigTest, CallsBeforeStartNeverWaitForever) {
  ThreadedVenueConfig config;
  config.queue_capacity = 4;
  ThreadedVenue venue(config);
  Tick tick;
  for (int idx = 0; idx < 10; ++idx) venue.OnTick(tick);
  EXPECT_EQ(venue.refused_calls(), 6u);
}

// Calls after the venue stopped are refused and counted, never lost silently; a venue never
// started may be stopped, twice.
TEST(ThreadedVenueConfigTest, CallsAfterStopAreCounted) {
  ThreadedVenue venue(ThreadedVenueConfig{});
  venue.Stop();
  venue.Stop();
  Order order;
  EXPECT_EQ(venue.Submit(order), 0u);
  EXPECT_TRUE(venue.Cancel(OrderId{1}, 0, Timestamp{}).ok());
  EXPECT_EQ(venue.refused_calls(), 2u);
  EXPECT_EQ(venue.Snapshot().status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(venue.Seed(execution::AccountState{}, Timestamp{}).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(venue.refused_calls(), 4u);
}

}  // namespace
}  // namespace aits::node
