// The gateway against the terminal simulator: the two sides of the MT5 protocol written apart
// (the gateway, and the simulator that behaves as the EA and a trade server do) meet in a node.
// Real EUR/USD ticks stream from the simulator through the gateway into a kernel, which buys and
// sells through the gateway's execution client; at the end the kernel's position and the
// simulator's account agree, and every report applied.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "aits/core/clock.h"
#include "aits/gateway/gateway.h"
#include "aits/gateway/gateway_test_util.h"
#include "aits/kernel/kernel.h"
#include "aits/mt5sim/mt5sim_test_util.h"
#include "aits/mt5sim/terminal.h"
#include "aits/mt5sim/terminal_link.h"
#include "aits/mt5sim/trade_server.h"
#include "aits/node/event_loop.h"

namespace aits::gateway {
namespace {

constexpr char kToken[] = "sim-token";

struct Run {
  uint64_t ticks = 0;
  std::vector<Fill> fills;
  Quantity position;
  std::vector<mt5::PositionInfo> terminal_positions;
  double terminal_balance = 0;
  uint64_t rejected_reports = 0;
  uint64_t refused_ticks = 0;
};

// Buys 0.30 lots after 20 ticks, sells them back once filled, buys 0.10 again and stops once
// that fill is in: the kernel ends long 0.10 at the simulator's prices.
Run Trade(mt5::MarginMode mode) {
  Run run;
  GatewayConfig config;
  config.token = kToken;
  Instrument eurusd = Instrument::Infer("EURUSD");
  eurusd.id = InstrumentId{0};
  config.instruments = {eurusd};
  auto made = Gateway::Create(config);
  EXPECT_TRUE(made.ok()) << made.status().message();
  Gateway& gateway = **made;
  EXPECT_TRUE(gateway.Listen().ok());

  mt5sim::ServerConfig server_config;
  server_config.account.margin_mode = mode;
  server_config.account.balance = 100'000;
  mt5sim::TradeServer server(server_config);
  EXPECT_TRUE(server.AddSymbol(mt5sim::ForexSymbol("EURUSD")).ok());
  mt5sim::Terminal terminal(mt5sim::TerminalConfig{.token = kToken}, server);
  EXPECT_TRUE(terminal.AddTicks("EURUSD", mt5sim::testing::Walk(20'000, 100)).ok());
  mt5sim::RunnerConfig runner_config;
  runner_config.gateway = net::Endpoint{.host = "127.0.0.1", .port = gateway.port()};
  runner_config.speed = 0;  // as fast as the link takes them, while subscribed
  runner_config.ticks_per_step = 64;
  mt5sim::TerminalRunner runner(runner_config, terminal);
  std::thread terminal_thread([&] { EXPECT_TRUE(runner.Run().ok()); });

  SimulatedClock clock;
  kernel::KernelConfig kernel_config;
  kernel_config.venue.account_mode =
      mode == mt5::MarginMode::kRetailHedging ? AccountMode::kHedging : AccountMode::kNetting;
  kernel::Kernel kernel(kernel_config, clock,
                        [&](execution::ExecutionEvents&, const execution::AccountOracle&) {
                          return gateway.MakeExecutionClient();
                        });
  EXPECT_TRUE(kernel.AddInstrument(eurusd).ok());
  kernel.Start();
  testing::Driver driver(kernel, clock);
  std::vector<OrderId> orders;
  const auto submit = [&](kernel::Kernel& k, Side side, const char* lots, const char* id,
                          uint64_t position_ticket) {
    OrderRequest request;
    request.instrument = InstrumentId{0};
    request.side = side;
    request.quantity = *Quantity::Parse(lots, 2);
    request.client_order_id = id;
    request.position_ticket = position_ticket;
    orders.push_back(k.Submit(request));
  };
  driver.on_tick = [&](kernel::Kernel& k) {
    if (orders.empty() && driver.ticks >= 20) submit(k, Side::kBuy, "0.30", "sim-1", 0);
  };
  driver.on_report = [&](kernel::Kernel& k) {
    const auto filled = [&](size_t i) {
      return orders.size() > i && k.FindOrder(orders[i])->status == OrderStatus::kFilled;
    };
    if (orders.size() == 1 && filled(0)) {
      // On a hedging account the sell closes the position by its ticket.
      submit(k, Side::kSell, "0.30", "sim-2", k.FindOrder(orders[0])->position_ticket);
    } else if (orders.size() == 2 && filled(1)) {
      submit(k, Side::kBuy, "0.10", "sim-3", 0);
    } else if (orders.size() == 3 && filled(2)) {
      driver.finished = true;
    }
  };
  Result<node::LoopExit> exit = node::LoopExit::kDone;
  {
    node::EventLoop loop(driver);
    loop.AddClient(gateway);
    exit = loop.Run();
  }
  EXPECT_TRUE(exit.ok()) << exit.status().message();
  runner.Stop();
  terminal_thread.join();
  kernel.Stop();
  run.ticks = driver.ticks;
  run.fills.assign(kernel.fills().begin(), kernel.fills().end());
  run.position = kernel.position(InstrumentId{0}).quantity;
  run.terminal_positions = server.Positions();
  run.terminal_balance = server.AccountInfo().balance;
  run.rejected_reports = driver.log.size();
  run.refused_ticks = gateway.count(Counter::kRefusedTicks);
  return run;
}

void ExpectAgreement(const Run& run) {
  EXPECT_GT(run.ticks, 20u);
  EXPECT_EQ(run.rejected_reports, 0u);
  EXPECT_EQ(run.refused_ticks, 0u);
  ASSERT_EQ(run.fills.size(), 3u);
  EXPECT_EQ(run.fills[0].client_order_id, "sim-1");
  EXPECT_EQ(run.fills[1].side, Side::kSell);
  EXPECT_EQ(run.position.ToString(), "0.10");
  // The terminal holds what the kernel holds: one long position of 0.10 at the last fill's price.
  ASSERT_EQ(run.terminal_positions.size(), 1u);
  EXPECT_EQ(run.terminal_positions[0].type, static_cast<uint32_t>(mt5::PositionType::kBuy));
  EXPECT_DOUBLE_EQ(run.terminal_positions[0].volume, 0.10);
  EXPECT_NEAR(run.terminal_positions[0].price_open, run.fills[2].price.AsDouble(), 1e-9);
  // The round trip's profit is the same on both sides: (sell - buy) x 0.30 x 100,000.
  const double pnl =
      (run.fills[1].price.AsDouble() - run.fills[0].price.AsDouble()) * 0.30 * 100'000;
  EXPECT_NEAR(run.terminal_balance, 100'000 + pnl, 0.01);
}

TEST(GatewaySimTest, ANettingAccountTradedThroughTheGatewayEndsAsTheKernelSays) {
  ExpectAgreement(Trade(mt5::MarginMode::kRetailNetting));
}

TEST(GatewaySimTest, AHedgingAccountClosesByTicketAndEndsAsTheKernelSays) {
  ExpectAgreement(Trade(mt5::MarginMode::kRetailHedging));
}

}  // namespace
}  // namespace aits::gateway
