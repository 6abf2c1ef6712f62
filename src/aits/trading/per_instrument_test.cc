#include "aits/trading/per_instrument.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace aits::strategy {
namespace {

// Records what reached it, as "name:event".
class Recorder final : public Strategy {
 public:
  Recorder(std::string label, std::vector<std::string>& log)
      : label_(std::move(label)), log_(log) {}
  std::string_view name() const override { return "recorder"; }
  void OnStart(StrategyContext& context) override {
    Strategy::OnStart(context);
    log_.push_back(label_ + ":start");
    context.SetTimer(Timestamp{5}, 1);  // both instances use id 1
  }
  void OnTick(const Tick& tick) override {
    log_.push_back(label_ + ":tick" + std::to_string(tick.instrument.value));
  }
  void OnBar(const Bar& bar) override {
    log_.push_back(label_ + ":bar" + std::to_string(bar.instrument.value));
  }
  void OnFill(const Fill& fill) override {
    log_.push_back(label_ + ":fill" + std::to_string(fill.instrument.value));
  }
  void OnOrderUpdate(const Order& order) override {
    log_.push_back(label_ + ":order" + std::to_string(order.request.instrument.value));
  }
  void OnTimer(const TimerEvent& timer) override {
    log_.push_back(label_ + ":timer" + std::to_string(timer.id));
  }
  void OnStop() override { log_.push_back(label_ + ":stop"); }

 private:
  std::string label_;
  std::vector<std::string>& log_;
};

// Keeps the timers it is asked for; everything else is unused here.
class TimerContext final : public StrategyContext {
 public:
  Timestamp Now() const override { return Timestamp{}; }
  OrderId Submit(const OrderRequest&) override { return OrderId{1}; }
  Status Cancel(OrderId) override { return Status::Ok(); }
  const Position& position(InstrumentId) const override { return position_; }
  Quantity PendingLots(InstrumentId) const override { return Quantity(); }
  Account account() const override { return Account{}; }
  const Instrument& instrument(InstrumentId) const override { return instrument_; }
  std::optional<Tick> LastQuote(InstrumentId) const override { return std::nullopt; }
  Money ToAccount(InstrumentId, Money amount) const override { return amount; }
  void SetTimer(Timestamp, uint64_t id) override { timers.push_back(id); }
  std::vector<uint64_t> timers;

 private:
  Position position_;
  Instrument instrument_;
};

TEST(PerInstrumentStrategyTest, RoutesEveryEventToItsInstrumentsInstance) {
  std::vector<std::string> log;
  std::vector<std::unique_ptr<Strategy>> instances;
  instances.push_back(std::make_unique<Recorder>("a", log));
  instances.push_back(nullptr);  // a conversion-only instrument
  instances.push_back(std::make_unique<Recorder>("c", log));
  PerInstrumentStrategy strategy(std::move(instances));
  EXPECT_EQ(strategy.name(), "recorder");
  EXPECT_EQ(strategy.instance(InstrumentId{1}), nullptr);
  EXPECT_NE(strategy.instance(InstrumentId{2}), nullptr);
  TimerContext context;
  strategy.OnStart(context);
  ASSERT_EQ(context.timers.size(), 2u);
  EXPECT_NE(context.timers[0], context.timers[1]) << "the kernel must see distinct timer ids";

  Tick tick;
  tick.instrument = InstrumentId{2};
  strategy.OnTick(tick);
  tick.instrument = InstrumentId{1};
  strategy.OnTick(tick);  // nobody trades instrument 1
  tick.instrument = InstrumentId{7};
  strategy.OnTick(tick);  // unknown instrument: ignored, not a crash
  Bar bar;
  bar.instrument = InstrumentId{0};
  strategy.OnBar(bar);
  Fill fill;
  fill.instrument = InstrumentId{2};
  strategy.OnFill(fill);
  Order order;
  order.request.instrument = InstrumentId{0};
  strategy.OnOrderUpdate(order);
  strategy.OnTimer(TimerEvent{context.timers[1], Timestamp{5}});
  strategy.OnTimer(TimerEvent{context.timers[1], Timestamp{5}});  // fired once only
  strategy.OnTimer(TimerEvent{context.timers[0], Timestamp{5}});
  strategy.OnStop();
  const std::vector<std::string> expected = {"a:start", "c:start",  "c:tick2",  "a:bar0",
                                             "c:fill2", "a:order0", "c:timer1", "a:timer1",
                                             "a:stop",  "c:stop"};
  EXPECT_EQ(log, expected);
}

// The kernel skips OnTick for a strategy that does not want ticks: the router wants them if any
// of its instances does (the recorder keeps the default), and not when none does.
TEST(PerInstrumentStrategyTest, WantsTicksIfAnyInstanceDoes) {
  class BarsOnly final : public Strategy {
   public:
    std::string_view name() const override { return "bars_only"; }
    bool WantsTicks() const override { return false; }
  };
  std::vector<std::string> log;
  std::vector<std::unique_ptr<Strategy>> mixed;
  mixed.push_back(std::make_unique<BarsOnly>());
  mixed.push_back(nullptr);
  mixed.push_back(std::make_unique<Recorder>("c", log));
  EXPECT_TRUE(PerInstrumentStrategy(std::move(mixed)).WantsTicks());
  std::vector<std::unique_ptr<Strategy>> bars_only;
  bars_only.push_back(std::make_unique<BarsOnly>());
  bars_only.push_back(std::make_unique<BarsOnly>());
  EXPECT_FALSE(PerInstrumentStrategy(std::move(bars_only)).WantsTicks());
}

}  // namespace
}  // namespace aits::strategy
