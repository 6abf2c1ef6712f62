#include "aits/kernel/kernel.h"

#include <gtest/gtest.h>

#include <vector>

#include "aits/data/synthetic.h"

namespace aits::kernel {
namespace {

// Records what the kernel delivers, in order, and trades on a schedule.
class Probe final : public strategy::Strategy {
 public:
  std::string_view name() const override { return "probe"; }
  void OnStart(strategy::StrategyContext& context) override {
    Strategy::OnStart(context);
    context.SetTimer(Timestamp{FromCivil(2020, 1, 6, 1, 0).ns}, 7);
  }
  void OnBar(const Bar& bar) override {
    log.push_back("bar");
    ++bars;
    // Alternate long and short every 5 bars: a steady stream of orders and fills.
    if (bars % 5 == 0) {
      const Quantity target = Quantity::FromRaw((bars / 5) % 2 ? kFixedScale : -kFixedScale, 2);
      MoveToTarget(bar.instrument, target, "probe");
    }
  }
  void OnFill(const Fill& fill) override {
    log.push_back("fill");
    // The portfolio has booked the fill before the strategy hears of it.
    position_seen.push_back(context().position(fill.instrument).quantity);
  }
  void OnTimer(const strategy::TimerEvent& timer) override {
    log.push_back("timer" + std::to_string(timer.id));
    timer_at = context().Now();
  }

  std::vector<std::string> log;
  std::vector<Quantity> position_seen;
  int bars = 0;
  Timestamp timer_at{};
};

struct RunOutput {
  std::vector<Fill> fills;
  Money equity;
  uint64_t bars = 0;
  std::vector<std::string> log;
  std::vector<Quantity> position_seen;
  Timestamp timer_at{};
};

RunOutput RunSynthetic(uint64_t ticks) {
  SimulatedClock clock;
  KernelConfig config;
  Kernel kernel(config, clock);
  Instrument inst = Instrument::Infer("EURUSD");
  EXPECT_TRUE(kernel.AddInstrument(inst).ok());
  auto probe = std::make_unique<Probe>();
  Probe* raw = probe.get();
  kernel.SetStrategy(std::move(probe));
  kernel.Start();
  data::SyntheticOptions options;
  options.count = ticks;
  options.seed = 9;
  auto source = data::SyntheticTickSource::Create(options);
  EXPECT_TRUE(source.ok());
  std::vector<Tick> batch(1000);
  while (true) {
    const size_t n = *(*source)->Read(batch);
    if (n == 0) break;
    for (size_t idx = 0; idx < n; ++idx) {
      clock.AdvanceTo(batch[idx].ts);
      kernel.OnTick(batch[idx]);
    }
  }
  kernel.Stop();
  return {std::vector<Fill>(kernel.fills().begin(), kernel.fills().end()),
          kernel.portfolio().Equity(),
          kernel.bars_processed(),
          raw->log,
          raw->position_seen,
          raw->timer_at};
}

TEST(KernelTest, IsDeterministic) {
  const RunOutput first = RunSynthetic(50'000);
  const RunOutput second = RunSynthetic(50'000);
  ASSERT_GT(first.fills.size(), 10u);
  ASSERT_EQ(first.fills.size(), second.fills.size());
  for (size_t idx = 0; idx < first.fills.size(); ++idx) {
    EXPECT_EQ(first.fills[idx].price, second.fills[idx].price);
    EXPECT_EQ(first.fills[idx].ts, second.fills[idx].ts);
  }
  EXPECT_EQ(first.equity, second.equity);
}

TEST(KernelTest, PortfolioBooksFillsBeforeTheStrategyHearsOfThem) {
  const RunOutput run = RunSynthetic(20'000);
  ASSERT_FALSE(run.position_seen.empty());
  EXPECT_EQ(run.position_seen[0].ToString(), "1.00");   // first target: long 1 lot
  EXPECT_EQ(run.position_seen[1].ToString(), "-1.00");  // then short 1 lot
}

TEST(KernelTest, TimersFireAtTheirSimulatedTime) {
  const RunOutput run = RunSynthetic(20'000);
  ASSERT_NE(std::find(run.log.begin(), run.log.end(), "timer7"), run.log.end());
  // Fired on the first tick at or after 01:00, never before.
  EXPECT_GE(run.timer_at, FromCivil(2020, 1, 6, 1, 0));
  EXPECT_LT(run.timer_at, FromCivil(2020, 1, 6, 1, 1));
}

// Between ticks the event loop moves the clock and lets the kernel fire what is due, exactly
// what is due: the timer's own time is reported, and a later timer waits.
TEST(KernelTest, AdvanceToFiresTimersDueWithoutATick) {
  SimulatedClock clock;
  Kernel kernel(KernelConfig{}, clock);
  ASSERT_TRUE(kernel.AddInstrument(Instrument::Infer("EURUSD")).ok());
  auto probe = std::make_unique<Probe>();
  Probe& seen = *probe;
  kernel.SetStrategy(std::move(probe));
  kernel.Start();
  const Timestamp first = FromCivil(2020, 1, 6, 1, 0);
  kernel.SetTimer(first + Duration::Seconds(30), 8);
  EXPECT_EQ(kernel.NextTimer(), first);
  clock.AdvanceTo(first - Duration::Nanos(1));
  EXPECT_EQ(kernel.AdvanceTo(clock.Now()), 0u);
  EXPECT_TRUE(seen.log.empty());
  clock.AdvanceTo(first + Duration::Seconds(10));
  EXPECT_EQ(kernel.AdvanceTo(clock.Now()), 1u);
  EXPECT_EQ(seen.log, std::vector<std::string>{"timer7"});
  EXPECT_EQ(seen.timer_at, first + Duration::Seconds(10));
  EXPECT_EQ(kernel.NextTimer(), first + Duration::Seconds(30));
  clock.AdvanceTo(first + Duration::Seconds(30));
  EXPECT_EQ(kernel.AdvanceTo(clock.Now()), 1u);
  EXPECT_FALSE(kernel.NextTimer().has_value());
  EXPECT_EQ(kernel.ticks_processed(), 0u);
}

TEST(KernelTest, RejectsAnInstrumentWithTheWrongIdOrBadFields) {
  SimulatedClock clock;
  Kernel kernel(KernelConfig{}, clock);
  Instrument inst = Instrument::Infer("EURUSD");
  inst.id = InstrumentId{3};
  EXPECT_FALSE(kernel.AddInstrument(inst).ok());
  inst.id = InstrumentId{0};
  inst.contract_size = 0;
  EXPECT_FALSE(kernel.AddInstrument(inst).ok());
}

// Live mode swaps only the execution client: a stand-in broker that fills every order at 1.5.
class FixedPriceBroker final : public execution::ExecutionClient {
 public:
  explicit FixedPriceBroker(execution::ExecutionEvents& events) : events_(events) {}
  void AddInstrument(const Instrument&) override {}
  uint64_t Submit(const Order& order) override {
    ExecutionReport report;
    report.kind = ExecKind::kFilled;
    report.order_id = order.id;
    report.venue_order_id = ++next_ticket_ + 1000;
    report.instrument = order.request.instrument;
    report.side = order.request.side;
    report.quantity = order.request.quantity;
    report.price = Price::FromRaw(1'500'000'000, 5);
    report.ts = order.created;
    events_.OnExecutionReport(report);
    return report.venue_order_id;
  }
  Status Cancel(OrderId, uint64_t, Timestamp) override { return FailedPrecondition("filled"); }
  Status SetProtection(InstrumentId, std::optional<Price>, std::optional<Price>) override {
    return Status::Ok();
  }

 private:
  execution::ExecutionEvents& events_;
  uint64_t next_ticket_ = 0;
};

TEST(KernelTest, ExecutionClientIsInjectedByTheCompositionRoot) {
  SimulatedClock clock;
  Kernel kernel(KernelConfig{}, clock,
                [](execution::ExecutionEvents& events, const execution::AccountOracle&) {
                  return std::make_unique<FixedPriceBroker>(events);
                });
  ASSERT_TRUE(kernel.AddInstrument(Instrument::Infer("EURUSD")).ok());
  kernel.Start();
  Tick tick{FromCivil(2020, 1, 6), *Price::Parse("1.10000", 5), *Price::Parse("1.10010", 5)};
  clock.AdvanceTo(tick.ts);
  kernel.OnTick(tick);
  OrderRequest request;
  request.quantity = *Quantity::Parse("1", 2);
  kernel.Submit(request);
  ASSERT_EQ(kernel.fills().size(), 1u);
  EXPECT_EQ(kernel.fills()[0].price.ToString(), "1.50000");
  EXPECT_EQ(kernel.position(InstrumentId{0}).quantity.ToString(), "1.00");
  ASSERT_EQ(kernel.orders().size(), 1u);
  EXPECT_EQ(kernel.orders()[0].status, OrderStatus::kFilled);
  EXPECT_EQ(kernel.orders()[0].venue_order_id, 1001u);
}

// The kernel asks WantsTicks() once and skips OnTick for a strategy that trades on bars only;
// its bars still come, and a strategy that wants ticks gets every one.
class TickCounter final : public strategy::Strategy {
 public:
  explicit TickCounter(bool wants) : wants_(wants) {}
  std::string_view name() const override { return "tick_counter"; }
  bool WantsTicks() const override { return wants_; }
  void OnTick(const Tick& /*tick*/) override { ++ticks; }
  void OnBar(const Bar& /*bar*/) override { ++bars; }
  int ticks = 0;
  int bars = 0;

 private:
  bool wants_;
};

TEST(KernelTest, TicksReachOnlyAStrategyThatWantsThem) {
  for (const bool wants : {true, false}) {
    SimulatedClock clock;
    Kernel kernel(KernelConfig{}, clock);
    ASSERT_TRUE(kernel.AddInstrument(Instrument::Infer("EURUSD")).ok());
    auto counter = std::make_unique<TickCounter>(wants);
    const TickCounter& seen = *counter;
    kernel.SetStrategy(std::move(counter));
    kernel.Start();
    for (int second = 0; second < 200; ++second) {
      Tick tick{FromCivil(2020, 1, 6) + Duration::Seconds(second), *Price::Parse("1.10000", 5),
                *Price::Parse("1.10010", 5)};
      clock.AdvanceTo(tick.ts);
      kernel.OnTick(tick);
    }
    EXPECT_EQ(seen.ticks, wants ? 200 : 0);
    EXPECT_EQ(seen.bars, 3);  // minutes 0, 1 and 2 finished; the fourth is in progress
  }
}

// A remote venue answers later, names orders by its own tickets only, and opens orders of its
// own: the kernel's order table follows all of it.
class LaterBroker final : public execution::ExecutionClient {
 public:
  explicit LaterBroker(execution::ExecutionEvents& events) : events_(events) {}
  void AddInstrument(const Instrument&) override {}
  uint64_t Submit(const Order& order) override {
    sent.push_back(order);
    return 0;  // the ticket comes with the answer
  }
  Status Cancel(OrderId, uint64_t ticket, Timestamp) override {
    cancels.push_back(ticket);
    return Status::Ok();
  }
  Status SetProtection(InstrumentId, std::optional<Price>, std::optional<Price>) override {
    return Status::Ok();
  }
  void Report(const ExecutionReport& report) { events_.OnExecutionReport(report); }

  std::vector<Order> sent;
  std::vector<uint64_t> cancels;

 private:
  execution::ExecutionEvents& events_;
};

TEST(KernelTest, ReportsArriveLaterByTicketAndForOrdersTheVenueOpened) {
  SimulatedClock clock;
  LaterBroker* broker = nullptr;
  Kernel kernel(KernelConfig{}, clock,
                [&broker](execution::ExecutionEvents& events, const execution::AccountOracle&) {
                  auto made = std::make_unique<LaterBroker>(events);
                  broker = made.get();
                  return made;
                });
  ASSERT_TRUE(kernel.AddInstrument(Instrument::Infer("EURUSD")).ok());
  kernel.Start();
  const Timestamp t0 = FromCivil(2020, 1, 6);
  clock.AdvanceTo(t0);
  OrderRequest request;
  request.quantity = *Quantity::Parse("1", 2);
  request.type = OrderType::kLimit;
  request.price = *Price::Parse("1.09000", 5);
  request.client_order_id = "c-1";
  const OrderId id = kernel.Submit(request);
  ASSERT_EQ(broker->sent.size(), 1u);
  EXPECT_EQ(broker->sent[0].id, id);
  EXPECT_EQ(kernel.FindOrder(id)->status, OrderStatus::kPendingNew);
  EXPECT_EQ(kernel.PendingLots(InstrumentId{0}).ToString(), "1.00");

  ExecutionReport accepted;  // by ticket and by the kernel's id (MT5: comment/magic)
  accepted.kind = ExecKind::kAccepted;
  accepted.order_id = id;
  accepted.venue_order_id = 555;
  accepted.ts = t0 + Duration::Millis(30);
  broker->Report(accepted);
  EXPECT_EQ(kernel.FindOrder(id)->status, OrderStatus::kAccepted);
  EXPECT_EQ(kernel.FindOrder(id)->venue_order_id, 555u);
  EXPECT_EQ(kernel.order_manager().FindByTicket(555), kernel.FindOrder(id));

  ExecutionReport fill;  // by ticket only
  fill.kind = ExecKind::kPartiallyFilled;
  fill.venue_order_id = 555;
  fill.position_ticket = 555;
  fill.quantity = *Quantity::Parse("0.4", 2);
  fill.price = *Price::Parse("1.09000", 5);
  fill.ts = t0 + Duration::Millis(40);
  broker->Report(fill);
  fill.kind = ExecKind::kFilled;
  fill.quantity = *Quantity::Parse("0.6", 2);
  fill.price = *Price::Parse("1.08990", 5);
  broker->Report(fill);
  const Order* order = kernel.FindOrder(id);
  EXPECT_EQ(order->status, OrderStatus::kFilled);
  EXPECT_EQ(order->filled.ToString(), "1.00");
  EXPECT_EQ(order->avg_fill_price.ToString(), "1.08994");  // 0.4 x 1.09000 + 0.6 x 1.08990
  EXPECT_EQ(order->position_ticket, 555u);
  ASSERT_EQ(kernel.fills().size(), 2u);
  EXPECT_EQ(kernel.fills()[1].client_order_id, "c-1");
  EXPECT_EQ(kernel.position(InstrumentId{0}).quantity.ToString(), "1.00");
  EXPECT_EQ(kernel.PendingLots(InstrumentId{0}).ToString(), "0.00");
  EXPECT_EQ(kernel.order_manager().FindByTicket(555), nullptr);  // finished: unmapped

  // The venue closes the position on its own (an SL at the broker): a new order, then its fill.
  ExecutionReport opened;
  opened.kind = ExecKind::kNew;
  opened.venue_order_id = 777;
  opened.side = Side::kSell;
  opened.tif = TimeInForce::kIoc;
  opened.quantity = *Quantity::Parse("1", 2);
  opened.text = "sl";
  opened.ts = t0 + Duration::Millis(90);
  broker->Report(opened);
  ExecutionReport closed = opened;
  closed.kind = ExecKind::kFilled;
  closed.price = *Price::Parse("1.08000", 5);
  closed.fill_reason = FillReason::kStopLoss;
  broker->Report(closed);
  ASSERT_EQ(kernel.order_count(), 2u);
  const Order* sl = kernel.FindOrder(OrderId{2});
  EXPECT_EQ(sl->request.client_order_id, "sl-2");
  EXPECT_EQ(sl->request.tag, "sl");
  EXPECT_EQ(sl->status, OrderStatus::kFilled);
  EXPECT_EQ(kernel.fills().back().reason, FillReason::kStopLoss);
  EXPECT_TRUE(kernel.position(InstrumentId{0}).IsFlat());

  // Reports the table cannot place, or that follow a final state, are counted, not applied.
  broker->Report(closed);
  ExecutionReport stray = closed;
  stray.venue_order_id = 999;
  broker->Report(stray);
  EXPECT_EQ(kernel.order_manager().unknown_reports(), 2u);
  EXPECT_EQ(kernel.fills().size(), 3u);

  // A cancel goes to the venue with its ticket; the cancellation is the venue's report.
  request.client_order_id = "c-2";
  const OrderId second = kernel.Submit(request);
  accepted.order_id = second;
  accepted.venue_order_id = 556;
  broker->Report(accepted);
  ASSERT_TRUE(kernel.Cancel(second).ok());
  ASSERT_EQ(broker->cancels.size(), 1u);
  EXPECT_EQ(broker->cancels[0], 556u);
  EXPECT_EQ(kernel.FindOrder(second)->status, OrderStatus::kAccepted);
  ExecutionReport canceled;
  canceled.kind = ExecKind::kCanceled;
  canceled.venue_order_id = 556;
  canceled.ts = t0 + Duration::Millis(120);
  broker->Report(canceled);
  EXPECT_EQ(kernel.FindOrder(second)->status, OrderStatus::kCanceled);
  EXPECT_EQ(kernel.Cancel(second).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(kernel.Cancel(OrderId{42}).code(), StatusCode::kNotFound);
}

// Regression (review of issue 2): in bar mode nothing a strategy sees while it hears of a fill
// at a bar's open may come from that bar's close.
class QuoteProbe final : public strategy::Strategy {
 public:
  std::string_view name() const override { return "quote_probe"; }
  void OnBar(const Bar& bar) override {
    if (++bars_ == 1) {
      OrderRequest request;
      request.instrument = bar.instrument;
      request.quantity = Quantity::FromRaw(kFixedScale, 2);
      context().Submit(request);
    }
  }
  void OnFill(const Fill&) override { quote_at_fill = context().LastQuote(InstrumentId{0}); }
  std::optional<Tick> quote_at_fill;

 private:
  int bars_ = 0;
};

TEST(KernelTest, BarModeFillsSeeTheOpenNotTheClose) {
  SimulatedClock clock;
  KernelConfig config;
  config.venue.fill_mode = execution::FillMode::kNextBarOpen;
  Kernel kernel(config, clock);
  ASSERT_TRUE(kernel.AddInstrument(Instrument::Infer("EURUSD")).ok());
  auto probe = std::make_unique<QuoteProbe>();
  QuoteProbe* raw = probe.get();
  kernel.SetStrategy(std::move(probe));
  kernel.Start();
  auto make_bar = [](int minute, const char* open, const char* close) {
    Bar bar;
    bar.period = Duration::Minutes(1);
    bar.open_time = FromCivil(2020, 1, 6) + Duration::Minutes(minute);
    const Price o = *Price::Parse(open, 5);
    const Price c = *Price::Parse(close, 5);
    const Price hi = o > c ? o : c;
    const Price lo = o > c ? c : o;
    bar.bid = bar.mid = Ohlc{o, hi, lo, c};
    bar.ask = Ohlc{o + Price::FromRaw(100'000, 5), hi + Price::FromRaw(100'000, 5),
                   lo + Price::FromRaw(100'000, 5), c + Price::FromRaw(100'000, 5)};
    return bar;
  };
  for (const Bar& bar : {make_bar(0, "1.10000", "1.10100"), make_bar(1, "1.10200", "1.10900")}) {
    clock.AdvanceTo(bar.CloseTime());
    kernel.OnBar(bar);
  }
  ASSERT_EQ(kernel.fills().size(), 1u);
  EXPECT_EQ(kernel.fills()[0].price.ToString(), "1.10210");  // the second bar's ask open
  ASSERT_TRUE(raw->quote_at_fill.has_value());
  EXPECT_EQ(raw->quote_at_fill->bid.ToString(), "1.10200");  // its open, not its close 1.10900
}

// Regression: the venue's stop-out closes travel like the kernel's own orders did, so a strategy
// deciding on the stop-out bar's close sees them as pending (a buy-and-hold then re-enters, as
// before the venue did the stop-out).
TEST(KernelTest, TheVenuesStopOutOrdersCountAsPendingWhileTheyTravel) {
  SimulatedClock clock;
  KernelConfig config;
  config.initial_balance = Money::FromRaw(1'000 * kMoneyScale);
  config.venue.fill_mode = execution::FillMode::kNextBarOpen;
  Kernel kernel(config, clock);
  ASSERT_TRUE(kernel.AddInstrument(Instrument::Infer("EURUSD")).ok());
  kernel.Start();
  auto make_bar = [](int minute, const char* close) {
    Bar bar;
    bar.period = Duration::Minutes(1);
    bar.open_time = FromCivil(2020, 1, 6) + Duration::Minutes(minute);
    const Price o = *Price::Parse("1.10000", 5);
    const Price c = *Price::Parse(close, 5);
    bar.bid = bar.mid = Ohlc{o, o, c, c};
    bar.ask = Ohlc{o + Price::FromRaw(100'000, 5), o + Price::FromRaw(100'000, 5),
                   c + Price::FromRaw(100'000, 5), c + Price::FromRaw(100'000, 5)};
    return bar;
  };
  auto feed = [&](const Bar& bar) {
    clock.AdvanceTo(bar.CloseTime());
    kernel.OnBar(bar);
  };
  feed(make_bar(0, "1.10000"));
  OrderRequest request;
  request.quantity = *Quantity::Parse("0.5", 2);
  kernel.Submit(request);
  feed(make_bar(1, "1.10000"));  // filled at the open: margin 550 USD
  ASSERT_EQ(kernel.fills().size(), 1u);
  feed(make_bar(2, "1.08500"));  // equity 245 at the close: 45 % < 50 %
  EXPECT_EQ(kernel.stop_outs(), 1u);
  EXPECT_EQ(kernel.position(InstrumentId{0}).quantity.ToString(), "0.50");
  EXPECT_EQ(kernel.PendingLots(InstrumentId{0}).ToString(), "-0.50");
  feed(make_bar(3, "1.08500"));
  EXPECT_TRUE(kernel.position(InstrumentId{0}).IsFlat());
  EXPECT_EQ(kernel.PendingLots(InstrumentId{0}).ToString(), "0.00");
  EXPECT_EQ(kernel.FindOrder(OrderId{2})->request.tag, "stop_out");
}

TEST(KernelTest, HedgingOpenPositionsLeaveOutWhatClosesInFlightAreClosing) {
  SimulatedClock clock;
  KernelConfig config;
  config.venue.account_mode = AccountMode::kHedging;
  config.venue.latency = Duration::Millis(10);
  Kernel kernel(config, clock);
  Instrument inst = Instrument::Infer("EURUSD");
  ASSERT_TRUE(kernel.AddInstrument(inst).ok());
  kernel.Start();
  EXPECT_EQ(kernel.account_mode(), AccountMode::kHedging);
  const Timestamp start = FromCivil(2024, 1, 8, 10);
  auto tick = [&](int64_t ms) {
    const Timestamp ts = start + Duration::Millis(ms);
    clock.AdvanceTo(ts);
    kernel.OnTick(
        Tick{ts, *Price::Parse("1.10000", 5), *Price::Parse("1.10010", 5), 0, 0, inst.id});
  };
  tick(0);
  OrderRequest buy;
  buy.instrument = inst.id;
  buy.quantity = *Quantity::Parse("1.00", 2);
  kernel.Submit(buy);
  kernel.Submit(buy);
  tick(10);  // both arrive: two longs
  std::vector<HedgedPosition> open = kernel.OpenPositions(inst.id);
  ASSERT_EQ(open.size(), 2u);
  const uint64_t first = open[0].ticket;
  const uint64_t second = open[1].ticket;
  OrderRequest close = buy;
  close.side = Side::kSell;
  close.quantity = *Quantity::Parse("0.40", 2);
  close.position_ticket = first;
  kernel.Submit(close);
  close.quantity = *Quantity::Parse("1.00", 2);
  close.position_ticket = second;
  kernel.Submit(close);
  // Travelling: the portfolio still holds both in full; the strategy's view does not.
  EXPECT_EQ(kernel.portfolio().positions(inst.id).size(), 2u);
  open = kernel.OpenPositions(inst.id);
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].ticket, first);
  EXPECT_EQ(open[0].quantity.ToString(), "0.60");
  EXPECT_EQ(kernel.PendingLots(inst.id).ToString(), "-1.40");
  tick(20);  // the closes arrive and fill
  open = kernel.OpenPositions(inst.id);
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].quantity.ToString(), "0.60");
  EXPECT_EQ(kernel.position(inst.id).quantity.ToString(), "0.60");
  EXPECT_TRUE(kernel.PendingLots(inst.id).IsZero());
}

TEST(KernelConfigTest, ValidatesEveryLimit) {
  KernelConfig config;
  EXPECT_TRUE(config.Validate().ok());
  config.leverage = -1;
  EXPECT_NE(config.Validate().message().find("leverage"), std::string::npos);
  config = KernelConfig{};
  config.initial_balance = Money();
  EXPECT_NE(config.Validate().message().find("cash"), std::string::npos);
  config = KernelConfig{};
  config.venue.latency = Duration{-1};
  EXPECT_FALSE(config.Validate().ok());
}

}  // namespace
}  // namespace aits::kernel

namespace aits::kernel {
namespace {

TEST(KernelTest, BoundedHistoryKeepsMemoryFlatAndCountsEverything) {
  SimulatedClock clock;
  KernelConfig config;
  config.history = 8;
  Kernel kernel(config, clock);
  ASSERT_TRUE(kernel.AddInstrument(Instrument::Infer("EURUSD")).ok());
  kernel.Start();
  Tick tick;
  tick.ts = FromCivil(2024, 3, 4, 10, 0);
  tick.bid = Price::FromRaw(1'100'000'000, 5);
  tick.ask = Price::FromRaw(1'100'100'000, 5);
  clock.AdvanceTo(tick.ts);
  kernel.OnTick(tick);
  for (int idx = 0; idx < 100; ++idx) {
    OrderRequest request;
    request.side = idx % 2 == 0 ? Side::kBuy : Side::kSell;
    request.quantity = Quantity::FromRaw(kFixedScale, 2);
    kernel.Submit(request);
  }
  EXPECT_EQ(kernel.order_count(), 100u);
  EXPECT_EQ(kernel.fill_count(), 100u);
  EXPECT_LE(kernel.orders().size(), 16u);  // dropped in batches: at most twice the history
  EXPECT_LE(kernel.fills().size(), 8u);
  EXPECT_LE(kernel.portfolio().trades().size(), 16u);
  EXPECT_EQ(kernel.FindOrder(OrderId{3}), nullptr);  // dropped
  ASSERT_NE(kernel.FindOrder(OrderId{100}), nullptr);
  EXPECT_EQ(kernel.FindOrder(OrderId{100})->status, OrderStatus::kFilled);
  EXPECT_EQ(kernel.fills().back().order_id.value, 100u);
  EXPECT_TRUE(kernel.position(InstrumentId{0}).IsFlat());
}

}  // namespace
}  // namespace aits::kernel

namespace aits::kernel {
namespace {

// A kernel with a risk manager (order size limit 1 lot), marked at one EURUSD quote.
class ClientIdTest : public ::testing::Test {
 protected:
  void SetUp() override { Build(65'536); }
  void Build(size_t window) {
    KernelConfig config;
    config.client_id_window = window;
    risk::RiskLimits limits = risk::RiskLimits::Defaults();
    limits.max_order_lots = 1;
    limits.max_orders_per_second = 1'000'000;
    config.risk = limits;
    kernel_ = std::make_unique<Kernel>(config, clock_);
    ASSERT_TRUE(kernel_->AddInstrument(Instrument::Infer("EURUSD")).ok());
    kernel_->Start();
    Tick tick;
    tick.ts = FromCivil(2024, 3, 4, 10, 0);
    tick.bid = Price::FromRaw(1'100'000'000, 5);
    tick.ask = tick.bid;
    clock_.AdvanceTo(tick.ts);
    kernel_->OnTick(tick);
  }
  // The status and reject reason of an order for `lots` with this client id.
  std::pair<OrderStatus, RejectReason> Send(const std::string& id, int64_t hundredths = 1) {
    OrderRequest request;
    request.side = (sent_++ % 2) == 0 ? Side::kBuy : Side::kSell;
    request.quantity = Quantity::FromRaw(hundredths * kFixedScale / 100, 2);
    request.client_order_id = id;
    const Order* order = kernel_->FindOrder(kernel_->Submit(request));
    EXPECT_NE(order, nullptr);
    return {order->status, order->reject_reason};
  }
  RejectReason Reason(const std::string& id, int64_t hundredths = 1) {
    return Send(id, hundredths).second;
  }

  SimulatedClock clock_;
  std::unique_ptr<Kernel> kernel_;
  int sent_ = 0;
};

TEST_F(ClientIdTest, RefusesAReusedIdOnce) {
  EXPECT_EQ(Send("abc").first, OrderStatus::kFilled);
  const auto dup = Send("abc");
  EXPECT_EQ(dup.first, OrderStatus::kRejected);
  EXPECT_EQ(dup.second, RejectReason::kDuplicateClientId);
  EXPECT_EQ(kernel_->fill_count(), 1u);
  // The refusal says which id.
  const Order* last = kernel_->FindOrder(OrderId{kernel_->order_count()});
  ASSERT_NE(last, nullptr);
  EXPECT_NE(last->reject_detail.find("'abc'"), std::string::npos) << last->reject_detail;
  // Neither the risk manager nor the venue looked at it: the kernel refused it first.
  EXPECT_EQ(kernel_->risk()->snapshot().orders_checked, 1u);
}

TEST_F(ClientIdTest, AnOrderRefusedByRiskDoesNotReserveItsId) {
  EXPECT_EQ(Reason("big", 200), RejectReason::kRiskOrderSize);
  EXPECT_EQ(Reason("big"), RejectReason::kNone);
  EXPECT_EQ(Reason("big"), RejectReason::kDuplicateClientId);
}

TEST_F(ClientIdTest, EmptyIdsAreNeverDuplicates) {
  EXPECT_EQ(Reason(""), RejectReason::kNone);
  EXPECT_EQ(Reason(""), RejectReason::kNone);
}

TEST_F(ClientIdTest, RememberedIdsAreRefused) {
  // Recovery re-registers the ids of the log before trading resumes.
  EXPECT_TRUE(kernel_->RememberClientId("logged-1"));
  EXPECT_FALSE(kernel_->RememberClientId("logged-1"));
  EXPECT_EQ(Reason("logged-1"), RejectReason::kDuplicateClientId);
}

TEST_F(ClientIdTest, ManyIdsAreAllFound) {
  for (int idx = 0; idx < 10'000; ++idx) {
    ASSERT_EQ(Reason("id-" + std::to_string(idx)), RejectReason::kNone) << idx;
  }
  for (int idx = 0; idx < 10'000; idx += 997) {
    EXPECT_EQ(Reason("id-" + std::to_string(idx)), RejectReason::kDuplicateClientId) << idx;
  }
}

TEST_F(ClientIdTest, TheWindowForgetsTheOldestIds) {
  Build(100);
  for (int idx = 0; idx < 150; ++idx) {
    ASSERT_EQ(Reason("w-" + std::to_string(idx)), RejectReason::kNone) << idx;
  }
  // The last 100 (w-50 .. w-149) are remembered; w-0 .. w-49 were forgotten.
  EXPECT_EQ(Reason("w-149"), RejectReason::kDuplicateClientId);
  EXPECT_EQ(Reason("w-50"), RejectReason::kDuplicateClientId);
  EXPECT_EQ(Reason("w-49"), RejectReason::kNone);
}

}  // namespace
}  // namespace aits::kernel
