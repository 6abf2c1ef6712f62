// The gateway in a node: the event loop runs it as the data client, the kernel owns its
// execution client, and a stand-in EA on a thread of its own plays the terminal (ticks streamed,
// each order done at the touch with its deal pushed). A round trip buy then sell must leave the
// kernel flat, with both fills at the terminal's prices and every report applied.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <functional>
#include <thread>

#include "aits/core/clock.h"
#include "aits/gateway/gateway.h"
#include "aits/gateway/gateway_test_util.h"
#include "aits/gateway/stand_in_ea.h"
#include "aits/kernel/kernel.h"
#include "aits/node/event_loop.h"

namespace aits::gateway {
namespace {

constexpr char kToken[] = "node-token";

TEST(GatewayNodeTest, ABuyThenASellThroughTheGatewayLeaveTheKernelFlat) {
  GatewayConfig config;
  config.token = kToken;
  Instrument eurusd = Instrument::Infer("EURUSD");
  eurusd.id = InstrumentId{0};
  config.instruments = {eurusd};
  auto made = Gateway::Create(config);
  ASSERT_TRUE(made.ok()) << made.status().message();
  Gateway& gateway = **made;
  ASSERT_TRUE(gateway.Listen().ok());

  SimulatedClock clock;
  kernel::Kernel kernel(kernel::KernelConfig{}, clock,
                        [&](execution::ExecutionEvents&, const execution::AccountOracle&) {
                          return gateway.MakeExecutionClient();
                        });
  ASSERT_TRUE(kernel.AddInstrument(Instrument::Infer("EURUSD")).ok());
  kernel.Start();

  // The terminal: streams a tick every millisecond; fills every order at the touch.
  std::atomic<bool> stop{false};
  std::atomic<double> ask{1.10002};
  std::thread terminal([&] {
    auto ea = StandInEa::Connect(gateway.port());
    ASSERT_TRUE(ea.ok());
    mt5::Account account;
    account.balance = account.equity = account.margin_free = 100'000;
    account.trade_allowed = account.expert_allowed = account.connected = true;
    ASSERT_TRUE(ea->Handshake(HelloWith(kToken), {FxSymbol("EURUSD")}, account).ok());
    int64_t time_msc = 1'700'000'000'000;
    uint64_t ticket = 100;
    for (int step = 0; step < 5'000 && !stop.load(); ++step) {
      const double bid = 1.1 + 1e-5 * static_cast<double>(step % 40);
      ask = bid + 0.00002;
      if (!ea->Send(mt5::Ticks{"EURUSD", true, {{++time_msc, bid, ask.load(), 0, 1, 6}}}).ok()) {
        break;
      }
      auto frame = ea->Next(std::chrono::milliseconds(1));
      if (!frame.ok()) {
        if (frame.status().code() == StatusCode::kIoError) break;
        continue;
      }
      auto place = frame->As<mt5::PlaceOrder>();
      if (!place.ok()) continue;
      const bool buy = place->type == static_cast<uint32_t>(mt5::OrderType::kBuy);
      const double price = buy ? ask.load() : bid;
      ++ticket;
      mt5::TradeResult result;
      result.client_order_id = place->client_order_id;
      result.retcode = mt5::retcode::kDone;
      result.order = ticket;
      result.deal = ticket + 1000;
      result.volume = place->volume;
      result.price = price;
      ASSERT_TRUE(ea->Send(result, frame->envelope.request_id).ok());
      mt5::Transaction deal;
      deal.type = static_cast<uint32_t>(mt5::TransactionType::kDealAdd);
      deal.deal = ticket + 1000;
      deal.order = ticket;
      deal.position = 100;
      deal.symbol = "EURUSD";
      deal.deal_type = buy ? 0 : 1;
      deal.volume = place->volume;
      deal.price = price;
      deal.magic = place->magic;
      deal.comment = place->client_order_id;
      deal.time_msc = time_msc;
      ASSERT_TRUE(ea->Send(deal).ok());
    }
  });

  testing::Driver driver(kernel, clock);
  OrderId buy;
  OrderId sell;
  driver.on_tick = [&](kernel::Kernel& k) {
    if (buy.value != 0 || driver.ticks < 5) return;
    OrderRequest request;
    request.instrument = InstrumentId{0};
    request.side = Side::kBuy;
    request.quantity = *Quantity::Parse("0.30", 2);
    request.client_order_id = "gw-buy";
    buy = k.Submit(request);
  };
  driver.on_report = [&](kernel::Kernel& k) {
    if (sell.value == 0 && k.FindOrder(buy)->status == OrderStatus::kFilled) {
      OrderRequest request;
      request.instrument = InstrumentId{0};
      request.side = Side::kSell;
      request.quantity = *Quantity::Parse("0.30", 2);
      request.client_order_id = "gw-sell";
      sell = k.Submit(request);
    }
    if (sell.value != 0 && k.FindOrder(sell)->status == OrderStatus::kFilled) {
      driver.finished = true;
    }
  };
  Result<node::LoopExit> exit = node::LoopExit::kDone;
  {
    node::EventLoop loop(driver);
    loop.AddClient(gateway);
    exit = loop.Run();
  }
  stop = true;
  terminal.join();
  ASSERT_TRUE(exit.ok()) << exit.status().message() << "; orders sent "
                         << gateway.count(Counter::kOrdersSent) << ", reports "
                         << gateway.count(Counter::kReports) << ", ticks " << driver.ticks
                         << ", kernel orders " << kernel.order_count();
  EXPECT_EQ(*exit, node::LoopExit::kDone);
  kernel.Stop();
  EXPECT_TRUE(driver.log.empty()) << driver.log.front();
  EXPECT_EQ(driver.connected, 1);
  EXPECT_GE(driver.accounts, 1);
  ASSERT_EQ(kernel.fills().size(), 2u);
  EXPECT_EQ(kernel.fills()[0].side, Side::kBuy);
  EXPECT_EQ(kernel.fills()[0].client_order_id, "gw-buy");
  EXPECT_EQ(kernel.fills()[0].quantity.ToString(), "0.30");
  EXPECT_EQ(kernel.fills()[1].side, Side::kSell);
  EXPECT_EQ(kernel.FindOrder(buy)->venue_order_id, 101u);
  EXPECT_TRUE(kernel.position(InstrumentId{0}).IsFlat());
  EXPECT_EQ(kernel.PendingLots(InstrumentId{0}).raw(), 0);
  EXPECT_GT(driver.ticks, 5u);
  EXPECT_EQ(gateway.count(Counter::kRefusedTicks), 0u);
}

}  // namespace
}  // namespace aits::gateway
