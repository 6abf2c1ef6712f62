// Faults on the MetaTrader 5 link (docs/metatrader.md, "Gateway"): the real gateway, the real
// terminal simulator and a real kernel trade real EUR/USD ticks while the simulator drops the link
// at least 20 times a run — at seeded random moments, and right when a trade request has reached
// it, either before it handles the request (the request is lost on the way) or after (the trade is
// done, its reply lost). The kernel keeps several orders in flight: market orders that open and
// close, pending orders, SL/TP set with the orders and moved later, cancels. At the end:
//   - every order the kernel sent reached the terminal at most once (no comment twice in its
//     orders and history), exactly once if it traded, and none is left of unknown fate: each
//     kernel order's final state is the terminal's (filled with the terminal's deals, cancelled,
//     or rejected and absent);
//   - every deal of the terminal is a fill of the kernel's (the SL/TP closes as orders the venue
//     opened), once;
//   - the kernel's positions (per ticket on a hedging account) and balance equal the simulator's,
//     to the cent.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "aits/core/clock.h"
#include "aits/gateway/gateway.h"
#include "aits/gateway/gateway_test_util.h"
#include "aits/kernel/kernel.h"
#include "aits/log/log.h"
#include "aits/mt5sim/terminal.h"
#include "aits/mt5sim/terminal_link.h"
#include "aits/mt5sim/trade_server.h"
#include "aits/node/event_loop.h"
#include "aits/portfolio/portfolio.h"

namespace aits::gateway {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr char kToken[] = "fault-token";
constexpr int64_t kDayMs = 86'400'000;
bool IsFinished(OrderStatus status) {
  return status == OrderStatus::kFilled || status == OrderStatus::kCanceled ||
         status == OrderStatus::kExpired || status == OrderStatus::kRejected;
}

// Links dropped at least this often per run (issue 10), and orders at least this many.
constexpr uint64_t kMinDrops = 20;
constexpr size_t kMinOrders = 150;
constexpr uint64_t kMinLostInFlight = 8;
// Drops at these frame counts (over all sessions), tied to no trade request: the random ones
// alone came to 2 in one slow sanitizer run, when trade drops ended most sessions first.
const std::vector<uint64_t> kChosenFrameDrops = {150, 300, 450};

// The real EUR/USD ticks of 2020-01-01 (9,500), replayed `copies` times, each copy a day after
// the one before: at speed 0 a run takes more ticks than one day holds. The day ends within a
// point of where it began, so a copy's seam is an ordinary tick.
std::vector<mt5::TickData> RealTicks(int copies) {
  static const std::vector<mt5::TickData> day = [] {
    auto read =
        mt5sim::ReadTickFile(std::string(AITS_SHARED_DATA_DIR) + "/eurusd-ticks-2020-01-01.csv", 5);
    EXPECT_TRUE(read.ok()) << read.status().message();
    return read.ok() ? *read : std::vector<mt5::TickData>{};
  }();
  std::vector<mt5::TickData> ticks;
  ticks.reserve(day.size() * static_cast<size_t>(copies));
  for (int copy = 0; copy < copies; ++copy) {
    for (mt5::TickData tick : day) {
      tick.time_msc += copy * kDayMs;
      ticks.push_back(tick);
    }
  }
  return ticks;
}

struct FaultSetup {
  mt5::MarginMode mode = mt5::MarginMode::kRetailNetting;
  uint64_t seed = 1;
  int copies = 40;
};

struct Outcome {
  uint64_t ticks = 0;
  size_t orders = 0;
  uint64_t counters[static_cast<size_t>(Counter::kCount_)] = {};
  mt5sim::RunnerStats link;
  std::vector<std::string> unapplied;  // reports the kernel could not apply
  bool wound_down = false;
  std::string why_not;
  double seconds = 0;
};

// The kernel's side of the run: a strategy that keeps orders in flight, then winds down (cancels
// what works, clears every SL/TP) so that nothing changes at the terminal once it has stopped.
class Trader {
 public:
  Trader(kernel::Kernel& kernel, bool hedging, uint64_t seed)
      : kernel_(kernel), hedging_(hedging), rng_(seed) {
    kernel_.bus().Subscribe<ExecutionReport>([this](const ExecutionReport& report) {
      if (report.kind != ExecKind::kModified) return;
      ++modified_;
      protection_[hedging_ ? report.position_ticket : 0] =
          Protection{!report.stop_loss && !report.take_profit, kernel_.fill_count()};
    });
  }

  // Called on every tick and report; the counts from the gateway (any thread's counters). Trades
  // on until the faults the test asserts have happened, so no check below depends on timing.
  void Act(uint64_t links_lost, uint64_t lost_in_flight) {
    if (!winding_down_) {
      if (links_lost >= kMinDrops && lost_in_flight >= kMinLostInFlight &&
          orders_.size() >= kMinOrders) {
        winding_down_ = true;
        wind_down_started_ = Steady::now();
      } else {
        Trade();
        return;
      }
    }
    WindDown();
  }

  bool finished() const { return finished_; }
  size_t orders() const { return orders_.size(); }
  uint64_t modified() const { return modified_; }
  const std::vector<OrderId>& order_ids() const { return orders_; }

 private:
  const Instrument& eurusd() const { return kernel_.instrument(InstrumentId{0}); }
  Price Points(Price from, int64_t points) const {
    // A point is the instrument's last digit.
    const int64_t step = Pow10(kFixedDigits - eurusd().digits);
    return Price::FromRaw(from.raw() + points * step, from.precision());
  }
  int64_t Uniform(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  Quantity Lots(int64_t hundredths) const {
    return Quantity::FromRaw(hundredths * Pow10(kFixedDigits - 2), 2);
  }

  size_t InFlight() const {
    size_t travelling = 0;
    for (OrderId id : orders_) {
      const Order* order = kernel_.FindOrder(id);
      travelling += order != nullptr && order->status == OrderStatus::kPendingNew ? 1 : 0;
    }
    return travelling;
  }
  std::vector<const Order*> Working() const {
    std::vector<const Order*> working;
    for (OrderId id : orders_) {
      const Order* order = kernel_.FindOrder(id);
      if (order != nullptr && order->status == OrderStatus::kAccepted) working.push_back(order);
    }
    return working;
  }
  bool AnyUnfinished() const {
    for (OrderId id : orders_) {
      const Order* order = kernel_.FindOrder(id);
      if (order != nullptr && !IsFinished(order->status)) return true;
    }
    for (const Order& order : kernel_.orders()) {
      if (!IsFinished(order.status)) return true;  // orders the venue opened (SL/TP closes)
    }
    return false;
  }
  // Tickets of the open positions as the kernel holds them.
  std::vector<uint64_t> OpenTickets() const {
    std::vector<uint64_t> tickets;
    if (hedging_) {
      for (const HedgedPosition& position : kernel_.portfolio().positions(InstrumentId{0})) {
        tickets.push_back(position.ticket);
      }
    } else if (!kernel_.position(InstrumentId{0}).IsFlat()) {
      tickets.push_back(0);  // the instrument's one position
    }
    return tickets;
  }

  OrderId Submit(OrderRequest request) {
    request.instrument = InstrumentId{0};
    request.client_order_id = "f" + std::to_string(++next_id_);
    const OrderId id = kernel_.Submit(request);
    orders_.push_back(id);
    return id;
  }

  void Trade() {
    // Several orders travel at once, so that a drop finds some in flight.
    if (InFlight() >= 3) return;
    const std::optional<Tick> quote = kernel_.LastQuote(InstrumentId{0});
    if (!quote) return;
    const int64_t dice = Uniform(0, 99);
    const Side side = Uniform(0, 1) == 0 ? Side::kBuy : Side::kSell;
    const bool buy = side == Side::kBuy;
    const Price entry = buy ? quote->ask : quote->bid;
    if (dice < 40) {
      OrderRequest request;
      request.side = side;
      request.quantity = Lots(Uniform(1, 30));
      if (Uniform(0, 2) == 0) {
        // Close enough to be hit now and then.
        request.stop_loss = Points(entry, buy ? -Uniform(30, 150) : Uniform(30, 150));
        request.take_profit = Points(entry, buy ? Uniform(30, 150) : -Uniform(30, 150));
      }
      Submit(request);
    } else if (dice < 65) {
      Close();
    } else if (dice < 80) {
      OrderRequest request;
      request.side = side;
      request.quantity = Lots(Uniform(1, 20));
      const bool limit = Uniform(0, 1) == 0;
      request.type = limit ? OrderType::kLimit : OrderType::kStop;
      const int64_t away = Uniform(20, 120);
      request.price = Points(entry, (limit == buy) ? -away : away);
      Submit(request);
    } else if (dice < 90) {
      const std::vector<const Order*> working = Working();
      if (!working.empty()) {
        (void)kernel_.Cancel(working[static_cast<size_t>(Uniform(0, working.size() - 1))]->id);
      }
    } else {
      Protect(*quote);
    }
  }

  // Closes a position (hedging: by its ticket; netting: trades against the net), all or part.
  void Close() {
    OrderRequest request;
    if (hedging_) {
      const std::vector<HedgedPosition> open = kernel_.OpenPositions(InstrumentId{0});
      if (open.empty()) return;
      const HedgedPosition& position = open[static_cast<size_t>(Uniform(0, open.size() - 1))];
      request.side = Opposite(position.side);
      request.position_ticket = position.ticket;
      const int64_t lots = position.quantity.raw() / Pow10(kFixedDigits - 2);
      request.quantity = Lots(Uniform(0, 1) == 0 ? lots : std::max<int64_t>(1, lots / 2));
    } else {
      const Quantity net = kernel_.position(InstrumentId{0}).quantity;
      if (net.IsZero()) return;
      request.side = net.IsPositive() ? Side::kSell : Side::kBuy;
      const int64_t lots = std::abs(net.raw()) / Pow10(kFixedDigits - 2);
      // Now and then more than the position: a netting account's reversal.
      request.quantity = Lots(Uniform(0, 3) == 0 ? lots + Uniform(1, 10) : lots);
    }
    Submit(request);
  }

  void Protect(const Tick& quote) {
    const std::vector<uint64_t> tickets = OpenTickets();
    if (tickets.empty()) return;
    const size_t pick = static_cast<size_t>(Uniform(0, tickets.size() - 1));
    bool long_side = kernel_.position(InstrumentId{0}).IsLong();
    if (hedging_) {
      for (const HedgedPosition& position : kernel_.portfolio().positions(InstrumentId{0})) {
        if (position.ticket == tickets[pick]) long_side = position.side == Side::kBuy;
      }
    }
    const Price mark = long_side ? quote.bid : quote.ask;
    const std::optional<Price> sl = Points(mark, long_side ? -Uniform(40, 200) : Uniform(40, 200));
    const std::optional<Price> tp = Points(mark, long_side ? Uniform(40, 200) : -Uniform(40, 200));
    if (hedging_) {
      (void)kernel_.execution().SetPositionProtection(InstrumentId{0}, tickets[pick], sl, tp);
    } else {
      (void)kernel_.execution().SetProtection(InstrumentId{0}, sl, tp);
    }
  }

  // Cancels what works, once each: a cancel whose reply a lost link swallowed is the gateway's to
  // carry through (sent again after the reconnect if the order still works), so an order left
  // working here is a cancel it lost. Clears every position's SL/TP, asking again what a lost
  // link or a refusal swallowed, until no order is unfinished and every open position's
  // protection is cleared as confirmed by the terminal.
  void WindDown() {
    const Steady::time_point now = Steady::now();
    if (now - last_ask_ < milliseconds(50)) {
      finished_ = Settled();
      return;
    }
    last_ask_ = now;
    for (const Order* order : Working()) {
      if (cancelled_.insert(order->id.value).second) (void)kernel_.Cancel(order->id);
    }
    for (uint64_t ticket : OpenTickets()) {
      if (Cleared(ticket)) continue;
      if (hedging_) {
        (void)kernel_.execution().SetPositionProtection(InstrumentId{0}, ticket, std::nullopt,
                                                        std::nullopt);
      } else {
        (void)kernel_.execution().SetProtection(InstrumentId{0}, std::nullopt, std::nullopt);
      }
    }
    finished_ = Settled();
  }
  // The terminal confirmed the position has no SL/TP: the last change it reported for it cleared
  // them, and (netting) no fill has changed the position since.
  bool Cleared(uint64_t ticket) const {
    auto found = protection_.find(hedging_ ? ticket : 0);
    return found != protection_.end() && found->second.cleared &&
           (hedging_ || found->second.fills == kernel_.fill_count());
  }
  bool Settled() const {
    if (AnyUnfinished()) return false;
    for (uint64_t ticket : OpenTickets()) {
      if (!Cleared(ticket)) return false;
    }
    return true;
  }

  kernel::Kernel& kernel_;
  bool hedging_;
  std::mt19937_64 rng_;
  std::vector<OrderId> orders_;
  uint64_t next_id_ = 0;
  bool winding_down_ = false;
  bool finished_ = false;
  Steady::time_point wind_down_started_;
  Steady::time_point last_ask_;
  struct Protection {
    bool cleared = false;
    uint64_t fills = 0;  // the kernel's fills when it was reported
  };
  std::map<uint64_t, Protection> protection_;  // by position ticket (netting: 0)
  std::set<uint64_t> cancelled_;               // orders the wind-down has asked to cancel
  uint64_t modified_ = 0;
};

// Drops at seeded trade-request numbers: about one request in `every` lost before the terminal
// handles it, and as many done with their reply lost, over the first `span` requests.
void ChooseTradeDrops(uint64_t seed, uint64_t span, uint64_t every, mt5sim::RunnerConfig& config) {
  std::mt19937_64 rng(seed * 7919 + 17);
  std::uniform_int_distribution<uint64_t> dice(0, 2 * every - 1);
  for (uint64_t number = 1; number <= span; ++number) {
    const uint64_t roll = dice(rng);
    if (roll == 0) config.drop_before_trade_requests.push_back(number);
    if (roll == 1) config.drop_after_trade_requests.push_back(number);
  }
}

std::string Describe(const Order& order) {
  return order.request.client_order_id + " (kernel #" + std::to_string(order.id.value) + ", " +
         std::string(ToString(order.status)) + ", filled " + order.filled.ToString() + " of " +
         order.request.quantity.ToString() + ")";
}

void RunAndCheck(const FaultSetup& setup) {
  if (const char* level = std::getenv("AITS_FAULT_LOG")) {
    // Debugging a failure: the gateway's and the simulator's sessions, line by line.
    ASSERT_TRUE(ConfigureLogging(LogOptions{.level = *ParseLogLevel(level)}).ok());
  }
  const bool hedging = setup.mode == mt5::MarginMode::kRetailHedging;
  const Steady::time_point started = Steady::now();
  Instrument eurusd = Instrument::Infer("EURUSD");
  eurusd.id = InstrumentId{0};
  GatewayConfig config;
  config.token = kToken;
  config.instruments = {eurusd};
  auto made = Gateway::Create(config);
  ASSERT_TRUE(made.ok()) << made.status().message();
  Gateway& gateway = **made;
  ASSERT_TRUE(gateway.Listen().ok());

  mt5sim::ServerConfig server_config;
  server_config.account.margin_mode = setup.mode;
  server_config.account.balance = 100'000;
  server_config.seed = setup.seed;
  mt5sim::TradeServer server(server_config);
  ASSERT_TRUE(server.AddSymbol(mt5sim::ForexSymbol("EURUSD")).ok());
  mt5sim::Terminal terminal(mt5sim::TerminalConfig{.token = kToken}, server);
  const std::vector<mt5::TickData> ticks = RealTicks(setup.copies);
  ASSERT_GT(ticks.size(), 9000u);
  ASSERT_TRUE(terminal.AddTicks("EURUSD", ticks).ok());
  mt5sim::RunnerConfig runner_config;
  runner_config.gateway = net::Endpoint{.host = "127.0.0.1", .port = gateway.port()};
  runner_config.speed = 0;  // as fast as the gateway takes them
  runner_config.ticks_per_step = 64;
  runner_config.processing_delay_ms = 1;  // every trade request is in flight for a while
  runner_config.backoff_initial_ms = 4;
  runner_config.backoff_max_ms = 20;
  runner_config.seed = setup.seed;
  runner_config.random_drop_mean_frames = 150;
  ChooseTradeDrops(setup.seed, 1000, 10, runner_config);
  runner_config.drop_after_frames = kChosenFrameDrops;
  mt5sim::TerminalRunner runner(runner_config, terminal);
  std::thread terminal_thread([&] { EXPECT_TRUE(runner.Run().ok()); });

  SimulatedClock clock;
  kernel::KernelConfig kernel_config;
  kernel_config.venue.account_mode = hedging ? AccountMode::kHedging : AccountMode::kNetting;
  kernel::Kernel kernel(kernel_config, clock,
                        [&](execution::ExecutionEvents&, const execution::AccountOracle&) {
                          return gateway.MakeExecutionClient();
                        });
  ASSERT_TRUE(kernel.AddInstrument(eurusd).ok());
  kernel.Start();
  Trader trader(kernel, hedging, setup.seed);
  testing::Driver driver(kernel, clock);
  driver.survive_disconnects = true;
  std::string timed_out;
  const auto act = [&](kernel::Kernel&) {
    if (driver.finished) return;
    if (Steady::now() - started > std::chrono::seconds(60)) {
      timed_out = "not settled after 60 s: " + std::to_string(trader.orders()) + " orders, " +
                  std::to_string(gateway.count(Counter::kLinksLost)) + " links lost";
      driver.finished = true;
      return;
    }
    trader.Act(gateway.count(Counter::kLinksLost), gateway.count(Counter::kLostInFlight));
    driver.finished = trader.finished();
  };
  driver.on_tick = act;
  driver.on_report = act;
  driver.on_idle = act;
  Result<node::LoopExit> exit = node::LoopExit::kDone;
  {
    node::EventLoop loop(driver);
    loop.AddClient(gateway);
    exit = loop.Run();
  }
  runner.Stop();
  terminal_thread.join();
  kernel.Stop();
  const double seconds = std::chrono::duration<double>(Steady::now() - started).count();
  ASSERT_TRUE(exit.ok()) << exit.status().message();
  EXPECT_TRUE(timed_out.empty()) << timed_out;

  // What happened, for the log.
  const mt5sim::RunnerStats& link = runner.stats();
  std::printf("%s, seed %llu: %.2f s, %llu ticks, %zu orders, %llu SL/TP changes confirmed\n",
              hedging ? "hedging" : "netting", static_cast<unsigned long long>(setup.seed), seconds,
              static_cast<unsigned long long>(driver.ticks), trader.orders(),
              static_cast<unsigned long long>(trader.modified()));
  std::printf(
      "  simulator: %llu drops (%llu before a trade request was handled, %llu after it, the "
      "rest at chosen or random frames), %llu sessions, %llu trade requests, %llu frames sent\n",
      static_cast<unsigned long long>(link.drops),
      static_cast<unsigned long long>(link.drops_before_trade),
      static_cast<unsigned long long>(link.drops_after_trade),
      static_cast<unsigned long long>(link.sessions),
      static_cast<unsigned long long>(link.trade_requests),
      static_cast<unsigned long long>(link.frames_sent));
  std::printf("  gateway:");
  for (size_t idx = 0; idx < static_cast<size_t>(Counter::kCount_); ++idx) {
    const auto counter = static_cast<Counter>(idx);
    if (counter == Counter::kTicks || counter == Counter::kHeartbeatsSent) continue;
    std::printf(" %s=%llu", std::string(ToString(counter)).c_str(),
                static_cast<unsigned long long>(gateway.count(counter)));
  }
  std::printf("\n");

  // The faults happened, and a good share of them with orders in flight.
  EXPECT_GE(gateway.count(Counter::kLinksLost), kMinDrops);
  // Every link but the last was lost (the last one too, when a drop came before the run's end),
  // and each loss handled once: also the one whose close the gateway saw in the same pass as the
  // next EA's hello (unhandled, its deals were caught up late; 1 to 6 a run were).
  EXPECT_GE(gateway.count(Counter::kLinksLost) + 1, gateway.count(Counter::kHandshakes));
  EXPECT_LE(gateway.count(Counter::kLinksLost), gateway.count(Counter::kHandshakes));
  EXPECT_GE(link.drops_before_trade + link.drops_after_trade, 8u);
  EXPECT_GE(link.drops - link.drops_before_trade - link.drops_after_trade,
            kChosenFrameDrops.size());
  EXPECT_GE(gateway.count(Counter::kLostInFlight), kMinLostInFlight);
  EXPECT_GE(gateway.count(Counter::kResolutions), gateway.count(Counter::kLostInFlight));
  EXPECT_TRUE(driver.log.empty()) << driver.log.size()
                                  << " reports not applied, the first: " << driver.log.front();

  // The terminal's orders (working and history) and deals, by comment and by order ticket.
  constexpr int64_t kAll = std::numeric_limits<int64_t>::max();
  std::vector<mt5::OrderInfo> terminal_orders = server.HistoryOrders(0, kAll);
  const std::vector<mt5::OrderInfo> working = server.Orders();
  EXPECT_TRUE(working.empty()) << working.size() << " orders still work at the terminal";
  terminal_orders.insert(terminal_orders.end(), working.begin(), working.end());
  const std::vector<mt5::DealInfo> deals = server.HistoryDeals(0, kAll);
  std::map<std::string, std::vector<const mt5::OrderInfo*>> by_comment;
  for (const mt5::OrderInfo& order : terminal_orders) by_comment[order.comment].push_back(&order);
  std::map<uint64_t, std::vector<const mt5::DealInfo*>> deals_of;
  for (const mt5::DealInfo& deal : deals) deals_of[deal.order].push_back(&deal);

  // Every kernel order: final, and as the terminal has it.
  std::map<std::string, const Order*> kernel_orders;
  size_t filled = 0;
  size_t cancelled = 0;
  size_t rejected = 0;
  size_t venue_opened = 0;
  std::map<std::string, size_t> rejections;  // why, for the log
  for (const Order& order : kernel.orders()) {
    EXPECT_TRUE(IsFinished(order.status)) << "unfinished: " << Describe(order);
    const std::string& id = order.request.client_order_id;
    if (id.empty() || id[0] != 'f') {
      ++venue_opened;  // an SL/TP close: its deal is checked below
      continue;
    }
    kernel_orders[id] = &order;
    auto found = by_comment.find(id);
    const size_t copies = found == by_comment.end() ? 0 : found->second.size();
    EXPECT_LE(copies, 1u) << "sent twice: " << Describe(order);
    const mt5::OrderInfo* at_terminal = copies == 0 ? nullptr : found->second.front();
    double dealt = 0;
    double notional = 0;
    if (at_terminal != nullptr) {
      for (const mt5::DealInfo* deal : deals_of[at_terminal->ticket]) {
        dealt += deal->volume;
        notional += deal->volume * deal->price;
      }
    }
    switch (order.status) {
      case OrderStatus::kFilled:
        ++filled;
        ASSERT_NE(at_terminal, nullptr) << "filled, unknown to the terminal: " << Describe(order);
        EXPECT_EQ(at_terminal->state, static_cast<uint32_t>(mt5::OrderState::kFilled))
            << Describe(order);
        EXPECT_NEAR(dealt, order.filled.AsDouble(), 1e-9) << Describe(order);
        EXPECT_NEAR(notional / dealt, order.avg_fill_price.AsDouble(), 1e-9) << Describe(order);
        break;
      case OrderStatus::kCanceled:
        ++cancelled;
        EXPECT_NEAR(dealt, order.filled.AsDouble(), 1e-9) << Describe(order);
        if (at_terminal != nullptr) {
          EXPECT_EQ(at_terminal->state, static_cast<uint32_t>(mt5::OrderState::kCanceled))
              << Describe(order);
        }
        break;
      case OrderStatus::kRejected:
        ++rejected;
        ++rejections[std::string(ToString(order.reject_reason)) + ": " +
                     order.reject_detail.substr(0, order.reject_detail.find(" ("))];
        EXPECT_EQ(at_terminal, nullptr)
            << "rejected, yet at the terminal: " << Describe(order) << ": " << order.reject_detail;
        break;
      default:
        ADD_FAILURE() << "unexpected final state: " << Describe(order);
    }
  }
  EXPECT_EQ(kernel_orders.size(), trader.orders());
  // Nothing at the terminal that the kernel did not send (or that the server did not open).
  for (const auto& [comment, orders] : by_comment) {
    if (comment.empty() || comment[0] != 'f') continue;
    EXPECT_TRUE(kernel_orders.count(comment) != 0)
        << "the terminal has an order " << comment << " the kernel never sent";
  }
  // Every deal is one fill of the kernel's; the server's SL/TP closes are the venue's orders.
  size_t server_closes = 0;
  for (const mt5::DealInfo& deal : deals) {
    const auto reason = static_cast<mt5::DealReason>(deal.reason);
    server_closes += reason == mt5::DealReason::kSl || reason == mt5::DealReason::kTp ? 1 : 0;
  }
  EXPECT_EQ(kernel.fill_count(), deals.size());
  EXPECT_EQ(venue_opened, server_closes);
  std::printf("  orders: %zu filled, %zu cancelled, %zu rejected; %zu SL/TP closes; %zu deals\n",
              filled, cancelled, rejected, venue_opened, deals.size());
  for (const auto& [why, count] : rejections)
    std::printf("    rejected %zu: %s\n", count, why.c_str());
  EXPECT_GT(filled, 50u);
  EXPECT_GT(cancelled, 5u);

  // Positions and balance.
  const std::vector<mt5::PositionInfo> positions = server.Positions();
  if (hedging) {
    std::map<uint64_t, const HedgedPosition*> ours;
    for (const HedgedPosition& position : kernel.portfolio().positions(InstrumentId{0})) {
      ours[position.ticket] = &position;
    }
    EXPECT_EQ(ours.size(), positions.size());
    for (const mt5::PositionInfo& position : positions) {
      auto found = ours.find(position.ticket);
      ASSERT_NE(found, ours.end()) << "the kernel lacks position " << position.ticket;
      const HedgedPosition& held = *found->second;
      EXPECT_EQ(held.side == Side::kBuy ? 0u : 1u, position.type) << position.ticket;
      EXPECT_NEAR(held.quantity.AsDouble(), position.volume, 1e-9) << position.ticket;
      EXPECT_NEAR(held.open_price.AsDouble(), position.price_open, 1e-9) << position.ticket;
    }
  } else {
    ASSERT_LE(positions.size(), 1u);
    const Position& net = kernel.position(InstrumentId{0});
    const double terminal_net =
        positions.empty() ? 0 : (positions[0].type == 0 ? 1 : -1) * positions[0].volume;
    EXPECT_NEAR(net.quantity.AsDouble(), terminal_net, 1e-9);
    if (!positions.empty()) {
      // The terminal keeps a netting position's mean price to digits + 3, rounding each new
      // mean from its rounded last one; the kernel keeps it to 9 digits. The roundings add up
      // over a position's deals (1.1e-8 apart in one run): a hundredth of a point is the bound.
      EXPECT_NEAR(net.avg_price.AsDouble(), positions[0].price_open, 1e-7);
    }
  }
  for (const mt5::PositionInfo& position : positions) {
    EXPECT_EQ(position.sl, 0) << position.ticket;  // the wind-down cleared every SL/TP
    EXPECT_EQ(position.tp, 0) << position.ticket;
  }
  // The balance. MT5 books each deal's profit rounded to the cent; the kernel books a trade's P&L
  // exactly. On a hedging account every position opens at a price on the grid, so each profit is
  // whole cents: the balances are equal to the cent, and so is every trade's P&L summed. On a
  // netting account the position's price is the mean of its deals, off the grid (the terminal
  // keeps it to digits + 3, the kernel to 9 digits), and the two balances may part by up to half a
  // cent per closing deal, and a little more for the mean's rounding.
  const double balance = kernel.portfolio().account().balance.AsDouble();
  const double terminal_balance = server.AccountInfo().balance;
  int64_t kernel_cents = 0;
  for (const portfolio::TradeRecord& trade : kernel.portfolio().trades()) {
    kernel_cents += std::llround(trade.gross_pnl.AsDouble() * 100);
  }
  int64_t terminal_cents = 0;
  size_t closing_deals = 0;
  for (const mt5::DealInfo& deal : deals) {
    terminal_cents += std::llround(deal.profit * 100);
    closing_deals += deal.entry != static_cast<uint32_t>(mt5::DealEntry::kIn) ? 1 : 0;
  }
  std::printf(
      "  positions: %zu at the terminal; balance: kernel %.6f, terminal %.2f; profits "
      "in cents: kernel's trades %lld, terminal's deals %lld over %zu closing deals\n",
      positions.size(), balance, terminal_balance, static_cast<long long>(kernel_cents),
      static_cast<long long>(terminal_cents), closing_deals);
  EXPECT_EQ(kernel.portfolio().trades().size(), closing_deals);
  if (kernel.portfolio().trades().size() != closing_deals) {
    // The order of fills decides which of them close: show both sequences where they part.
    std::map<uint64_t, std::string> comment_of;
    for (const mt5::OrderInfo& order : terminal_orders) comment_of[order.ticket] = order.comment;
    const size_t shown = std::min<size_t>(deals.size(), kernel.fills().size());
    for (size_t idx = 0; idx < shown; ++idx) {
      const mt5::DealInfo& deal = deals[idx];
      const Fill& fill = kernel.fills()[idx];
      std::printf("  #%zu terminal %s %s %.2f entry %u reason %u | kernel %s %s %s %s\n", idx,
                  comment_of[deal.order].c_str(), deal.type == 0 ? "buy" : "sell", deal.volume,
                  deal.entry, deal.reason, fill.client_order_id.c_str(),
                  std::string(ToString(fill.side)).c_str(), fill.quantity.ToString().c_str(),
                  std::string(ToString(fill.reason)).c_str());
    }
  }
  EXPECT_EQ(std::llround(terminal_balance * 100), 100'000 * 100 + terminal_cents);
  if (hedging) {
    EXPECT_EQ(kernel_cents, terminal_cents);
    EXPECT_EQ(std::llround(balance * 100), std::llround(terminal_balance * 100));
  } else {
    EXPECT_LE(std::fabs(balance - terminal_balance), 0.006 * static_cast<double>(closing_deals));
    EXPECT_LE(std::llabs(kernel_cents - terminal_cents),
              static_cast<int64_t>(closing_deals) / 20 + 1);
  }
}

TEST(GatewayFaultTest, NettingAccountLosesNoOrderAndDoublesNoneThroughTwentyDrops) {
  RunAndCheck(FaultSetup{.mode = mt5::MarginMode::kRetailNetting, .seed = 11});
}

TEST(GatewayFaultTest, HedgingAccountLosesNoOrderAndDoublesNoneThroughTwentyDrops) {
  RunAndCheck(FaultSetup{.mode = mt5::MarginMode::kRetailHedging, .seed = 12});
}

}  // namespace
}  // namespace aits::gateway
