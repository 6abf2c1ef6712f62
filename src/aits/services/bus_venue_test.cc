// The account's venue over the bus, against both buses: the owner's BusVenue on one connection,
// the gateway role's RunVenueBridge on another, with the simulated venue on its own thread
// (node::ThreadedVenue) where the MetaTrader gateway would be. Orders, cancels and SL/TP changes
// travel and their reports come back in the venue's order; a command stored twice is applied
// once; a bridge restarted resumes; snapshot and recover travel, and time out without a bridge;
// malformed messages on both subjects are dead-lettered and counted; traced, a decision's order
// and its reports carry their spans from the owner to the gateway and back.
#include "aits/services/bus_venue.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "aits/bus/nats_bus.h"
#include "aits/node/threaded_venue.h"
#include "aits/proto/messages.h"
#include "aits/services/market_stream.h"
#include "aits/testing/servers.h"
#include "aits/trace/tracer.h"

namespace aits::services {
namespace {

using Steady = std::chrono::steady_clock;

// NATS twice: the consumers pulled (a request per fetch) and pushed by the server.
enum class Backend { kInProcess, kNats, kNatsPush };

// A failure bound, never a measure: every wait ends as soon as what it waits for is there.
constexpr std::chrono::seconds kPatience{20};

const Timestamp kStart = FromCivil(2024, 1, 8, 10, 0, 0);
const InstrumentId kEurusd{0};

Tick Quote(int64_t bid_raw, int seconds = 0) {
  Tick tick;
  tick.ts = kStart + Duration::Seconds(seconds);
  tick.instrument = kEurusd;
  tick.bid = Price::FromRaw(bid_raw, 5);
  tick.ask = Price::FromRaw(bid_raw + 2, 5);
  return tick;
}

Order MakeOrder(uint64_t id, Side side, OrderType type, std::optional<int64_t> price_raw = {}) {
  Order order;
  order.id = OrderId{id};
  order.request.instrument = kEurusd;
  order.request.side = side;
  order.request.type = type;
  order.request.quantity = *Quantity::Parse("1.00", 2);
  if (price_raw) order.request.price = Price::FromRaw(*price_raw, 5);
  order.request.client_order_id = "c" + std::to_string(id);
  order.created = kStart;
  return order;
}

bool WaitUntil(const std::function<bool()>& done) {
  const Steady::time_point give_up = Steady::now() + kPatience;
  while (!done()) {
    if (Steady::now() >= give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// The venue as the bridge sees it: the threaded simulated venue, with the submits counted per
// order and a Recover that answers what it was asked (the simulated venue has nothing to tell).
class GatewayVenue final : public execution::ForwardingClient {
 public:
  explicit GatewayVenue(node::ThreadedVenue& venue) : ForwardingClient(venue) {}
  uint64_t Submit(const Order& order) override {
    submits_[order.id.value].fetch_add(1);
    return ForwardingClient::Submit(order);
  }
  // One report per unfinished order: cancelled, its text the venue time and the fills known.
  Result<std::vector<ExecutionReport>> Recover(std::span<const Order> unfinished,
                                               int64_t venue_from_msc,
                                               std::span<const uint64_t> known) override {
    std::vector<ExecutionReport> reports;
    for (const Order& order : unfinished) {
      ExecutionReport report;
      report.kind = ExecKind::kCanceled;
      report.order_id = order.id;
      report.client_order_id = order.request.client_order_id;
      report.instrument = order.request.instrument;
      report.text = std::to_string(venue_from_msc) + "/" + std::to_string(known.size());
      reports.push_back(report);
    }
    return reports;
  }
  int submits(uint64_t order_id) const {
    const auto found = submits_.find(order_id);
    return found == submits_.end() ? 0 : found->second.load();
  }

 private:
  std::map<uint64_t, std::atomic<int>> submits_;  // the bridge thread's; read after it stops
};

// The gateway role: the threaded venue reporting into the bridge's inbox, and the bridge on a
// thread of its own, which may be stopped and started again on the same venue and inbox.
class GatewaySide {
 public:
  GatewaySide(bus::MessageBus& bus, std::string market, bool push)
      : bus_(bus), inbox_(1024), venue_(node::ThreadedVenueConfig{}), gateway_(venue_) {
    options_.market = std::move(market);
    options_.push = push;
    Instrument eurusd = Instrument::Infer("EURUSD");
    eurusd.id = kEurusd;
    venue_.AddInstrument(eurusd);
    venue_.OnTick(Quote(110'000));
    EXPECT_TRUE(venue_.Start(node::ProducerLink(&inbox_, 0)).ok());
  }
  ~GatewaySide() {
    (void)StopBridge();
    venue_.Stop();
  }

  void StartBridge() {
    stop_.store(false);
    thread_ = std::thread([this] {
      stats_ = RunVenueBridge(bus_, gateway_, inbox_, options_);
      EXPECT_TRUE(stats_.ok()) << stats_.status().ToString();
    });
  }
  VenueBridgeStats StopBridge() {
    stop_.store(true);
    if (!thread_.joinable()) return {};
    thread_.join();
    return stats_.ok() ? *stats_ : VenueBridgeStats{};
  }

  void SetTracer(trace::Tracer* tracer) { options_.tracer = tracer; }

  void SetTerms(VenueTerms terms) {
    options_.terms = [terms] { return std::optional<VenueTerms>(terms); };
  }

  // The market moves: only while no bridge runs, or before the first (the bridge is then the
  // venue's one caller).
  void Tick(const Tick& tick) { venue_.OnTick(tick); }
  node::ThreadedVenue& venue() { return venue_; }
  const GatewayVenue& gateway() const { return gateway_; }

 private:
  bus::MessageBus& bus_;
  node::Inbox<node::NodeEvent> inbox_;
  node::ThreadedVenue venue_;
  GatewayVenue gateway_;
  std::atomic<bool> stop_{false};
  // A command a bridge left unacknowledged comes again to the next one within a second.
  VenueBridgeOptions options_{.stop = &stop_, .ack_wait = Duration::Seconds(1)};
  Result<VenueBridgeStats> stats_ = VenueBridgeStats{};
  std::thread thread_;
};

class BusVenueTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    owner_bus_ = Connect();
    gateway_bus_ = Connect();
    ASSERT_NE(owner_bus_, nullptr);
    ASSERT_NE(gateway_bus_, nullptr);
    ASSERT_TRUE(EnsureExecStream(*owner_bus_).ok());
    // Every test its own market: the NATS server is shared by the binary.
    static std::atomic<int> counter{0};
    market_ = "V" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    // The gateway role with its bridge not started yet, and the owner's client, started.
    gateway_.emplace(*gateway_bus_, market_, Push());
    owner_ = Owner();
    ASSERT_NE(owner_, nullptr);
  }

  bool Push() const { return GetParam() == Backend::kNatsPush; }

  std::shared_ptr<bus::MessageBus> Connect() {
    if (GetParam() == Backend::kInProcess) {
      if (!in_process_) in_process_ = bus::MakeInProcessBus();
      return in_process_;
    }
    bus::NatsOptions options;
    options.servers = {test_servers::SharedNatsServer().url()};
    Result<std::unique_ptr<bus::MessageBus>> bus = bus::ConnectNats(options);
    EXPECT_TRUE(bus.ok()) << bus.status().ToString();
    return bus.ok() ? std::shared_ptr<bus::MessageBus>(std::move(bus).value()) : nullptr;
  }

  // The owner's client, started on its inbox (or not yet: a restarted owner's before its loop).
  std::unique_ptr<BusVenue> Owner(Duration answer_timeout = Duration::Seconds(10),
                                  bool start = true) {
    BusVenueOptions options;
    options.market = market_;
    options.scope = "session1";
    options.answer_timeout = answer_timeout;
    options.push = Push();
    options.tracer = owner_tracer_;
    Result<std::unique_ptr<BusVenue>> venue = BusVenue::Create(*owner_bus_, options);
    EXPECT_TRUE(venue.ok()) << venue.status().ToString();
    if (!venue.ok()) return nullptr;
    if (start) {
      EXPECT_TRUE((*venue)->Start(node::ProducerLink(&owner_inbox_, 1)).ok());
    }
    return std::move(venue).value();
  }

  // The next `count` execution reports in the owner's inbox (account reports skipped); fewer if
  // they do not come.
  std::vector<ExecutionReport> Reports(size_t count) {
    std::vector<ExecutionReport> reports;
    const Steady::time_point give_up = Steady::now() + kPatience;
    node::NodeEvent event;
    while (reports.size() < count &&
           owner_inbox_.WaitPop(event, give_up) == node::PopResult::kEvent) {
      if (auto* report = std::get_if<node::ExecutionReportEvent>(&event)) {
        EXPECT_EQ(report->client, 1u);
        reports.push_back(*report->report);
      }
    }
    EXPECT_EQ(reports.size(), count) << "reports that did not reach the owner";
    return reports;
  }

  // Nothing more in the owner's inbox but account reports.
  void ExpectNoMoreExecutionReports() {
    node::NodeEvent event;
    while (owner_inbox_.TryPop(event)) {
      EXPECT_FALSE(std::holds_alternative<node::ExecutionReportEvent>(event))
          << "an execution report more than the venue made";
    }
  }

  // Every message the DEAD stream holds on dead.<subject>.
  std::vector<bus::Delivery> DeadLettered(const std::string& subject) {
    bus::ConsumerConfig config;
    config.stream = std::string(kDeadLetterStream);
    config.filter_subject = "dead." + subject;
    auto consumer = owner_bus_->Consume(config);
    EXPECT_TRUE(consumer.ok()) << consumer.status().ToString();
    std::vector<bus::Delivery> all;
    if (!consumer.ok()) return all;
    for (;;) {
      auto got = (*consumer)->Fetch(64, Duration::Millis(300));
      EXPECT_TRUE(got.ok()) << got.status().ToString();
      if (!got.ok() || got->empty()) return all;
      for (bus::Delivery& delivery : *got) {
        EXPECT_TRUE((*consumer)->Ack(delivery.sequence).ok());
        all.push_back(std::move(delivery));
      }
    }
  }

  std::string Subject(const Result<std::string>& subject) const { return subject.value(); }

  std::shared_ptr<bus::MessageBus> in_process_;
  std::shared_ptr<bus::MessageBus> owner_bus_;
  std::shared_ptr<bus::MessageBus> gateway_bus_;
  std::string market_;
  node::Inbox<node::NodeEvent> owner_inbox_{1024};
  std::optional<GatewaySide> gateway_;
  std::unique_ptr<BusVenue> owner_;
  trace::Tracer* owner_tracer_ = nullptr;  // for the owners made from then on
};

std::string BusName(const ::testing::TestParamInfo<Backend>& param) {
  switch (param.param) {
    case Backend::kInProcess:
      return "InProcess";
    case Backend::kNats:
      return "Nats";
    case Backend::kNatsPush:
      return "NatsPush";
  }
  return "?";
}

INSTANTIATE_TEST_SUITE_P(Buses, BusVenueTest,
                         ::testing::Values(Backend::kInProcess, Backend::kNats, Backend::kNatsPush),
                         BusName);

// The same calls on a threaded venue of the test's own, its reports read from its own inbox:
// what the owner must receive, in this order.
std::vector<ExecutionReport> Expected(const std::function<void(execution::ExecutionClient&)>& calls,
                                      size_t count) {
  node::Inbox<node::NodeEvent> inbox(1024);
  node::ThreadedVenue venue{node::ThreadedVenueConfig{}};
  Instrument eurusd = Instrument::Infer("EURUSD");
  eurusd.id = kEurusd;
  venue.AddInstrument(eurusd);
  venue.OnTick(Quote(110'000));
  EXPECT_TRUE(venue.Start(node::ProducerLink(&inbox, 0)).ok());
  calls(venue);
  std::vector<ExecutionReport> reports;
  node::NodeEvent event;
  while (reports.size() < count &&
         inbox.WaitPop(event, Steady::now() + kPatience) == node::PopResult::kEvent) {
    if (auto* report = std::get_if<node::ExecutionReportEvent>(&event)) {
      reports.push_back(*report->report);
    }
  }
  venue.Stop();
  return reports;
}

void ExpectSameReports(const std::vector<ExecutionReport>& got,
                       const std::vector<ExecutionReport>& expected) {
  ASSERT_EQ(got.size(), expected.size());
  for (size_t idx = 0; idx < got.size(); ++idx) {
    SCOPED_TRACE("report " + std::to_string(idx));
    EXPECT_EQ(got[idx].kind, expected[idx].kind);
    EXPECT_EQ(got[idx].order_id, expected[idx].order_id);
    EXPECT_EQ(got[idx].client_order_id, expected[idx].client_order_id);
    EXPECT_EQ(got[idx].venue_order_id, expected[idx].venue_order_id);
    EXPECT_EQ(got[idx].position_ticket, expected[idx].position_ticket);
    EXPECT_EQ(got[idx].quantity, expected[idx].quantity);
    EXPECT_EQ(got[idx].price, expected[idx].price);
    EXPECT_EQ(got[idx].commission, expected[idx].commission);
    EXPECT_EQ(got[idx].exec_id, expected[idx].exec_id);
    EXPECT_EQ(got[idx].stop_loss, expected[idx].stop_loss);
    EXPECT_EQ(got[idx].take_profit, expected[idx].take_profit);
  }
}

TEST_P(BusVenueTest, OrdersSubmittedAreFilledAndTheirReportsReachTheOwnerInTheVenuesOrder) {
  gateway_->StartBridge();
  const auto calls = [](execution::ExecutionClient& venue) {
    EXPECT_EQ(venue.Submit(MakeOrder(1, Side::kBuy, OrderType::kMarket)), 0u);
    (void)venue.Submit(MakeOrder(2, Side::kBuy, OrderType::kLimit, 109'000));  // rests
    (void)venue.Submit(MakeOrder(3, Side::kSell, OrderType::kMarket));
    (void)venue.Submit(MakeOrder(4, Side::kSell, OrderType::kMarket));
  };
  const std::vector<ExecutionReport> expected = Expected(calls, 4);
  ASSERT_EQ(expected.size(), 4u);
  EXPECT_EQ(expected[0].kind, ExecKind::kFilled);
  EXPECT_EQ(expected[1].kind, ExecKind::kAccepted);
  calls(*owner_);
  ExpectSameReports(Reports(4), expected);
  const VenueBridgeStats stats = gateway_->StopBridge();
  EXPECT_EQ(stats.applied, 4u);
  EXPECT_EQ(stats.duplicates, 0u);
  EXPECT_EQ(owner_->commands_sent(), 4u);
  EXPECT_EQ(owner_->failed_commands(), 0u);
  EXPECT_EQ(owner_->dead_lettered(), 0u);
  ExpectNoMoreExecutionReports();
}

TEST_P(BusVenueTest, ACancelAndSlTpChangesTravel) {
  gateway_->StartBridge();

  (void)owner_->Submit(MakeOrder(1, Side::kBuy, OrderType::kLimit, 109'000));
  const std::vector<ExecutionReport> accepted = Reports(1);
  ASSERT_EQ(accepted.size(), 1u);
  ASSERT_EQ(accepted[0].kind, ExecKind::kAccepted);
  EXPECT_TRUE(owner_->Cancel(OrderId{1}, accepted[0].venue_order_id, kStart).ok());
  const std::vector<ExecutionReport> canceled = Reports(1);
  ASSERT_EQ(canceled.size(), 1u);
  EXPECT_EQ(canceled[0].kind, ExecKind::kCanceled);
  EXPECT_EQ(canceled[0].order_id, OrderId{1});

  (void)owner_->Submit(MakeOrder(2, Side::kBuy, OrderType::kMarket));
  const std::vector<ExecutionReport> filled = Reports(1);
  ASSERT_EQ(filled.size(), 1u);
  ASSERT_EQ(filled[0].kind, ExecKind::kFilled);
  const uint64_t position = filled[0].position_ticket;
  ASSERT_NE(position, 0u);

  const Price sl = Price::FromRaw(109'500, 5);
  const Price tp = Price::FromRaw(110'500, 5);
  EXPECT_TRUE(owner_->SetProtection(kEurusd, sl, tp).ok());
  EXPECT_TRUE(owner_->SetPositionProtection(kEurusd, position, sl, std::nullopt).ok());
  const std::vector<ExecutionReport> modified = Reports(2);
  ASSERT_EQ(modified.size(), 2u);
  EXPECT_EQ(modified[0].kind, ExecKind::kModified);
  EXPECT_EQ(modified[0].position_ticket, position);
  EXPECT_EQ(modified[0].stop_loss, sl);
  EXPECT_EQ(modified[0].take_profit, tp);
  EXPECT_EQ(modified[1].kind, ExecKind::kModified);
  EXPECT_EQ(modified[1].stop_loss, sl);
  EXPECT_EQ(modified[1].take_profit, std::nullopt);

  const VenueBridgeStats stats = gateway_->StopBridge();
  EXPECT_EQ(stats.applied, 5u);
  EXPECT_EQ(stats.refused, 0u);
  EXPECT_EQ(gateway_->venue().refused_cancels(), 0u);
  EXPECT_EQ(gateway_->venue().refused_protections(), 0u);
}

TEST_P(BusVenueTest, ACommandPublishedTwiceReachesTheVenueOnce) {
  const std::string commands = Subject(ExecCommandsSubject(market_));
  VenueCommand command;
  command.kind = VenueCommand::Kind::kSubmit;
  command.id = market_ + ":session1:submit:7:c7";
  command.order = MakeOrder(7, Side::kBuy, OrderType::kLimit, 109'000);
  const std::string payload = proto::Encode(command);
  // A publisher that timed out and sent it again: the stream stores it once.
  auto first = owner_bus_->Publish(commands, command.id, payload);
  auto again = owner_bus_->Publish(commands, command.id, payload);
  ASSERT_TRUE(first.ok() && again.ok());
  EXPECT_FALSE(first->duplicate);
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->sequence, first->sequence);
  // Stored again under another publish id (after the duplicate window): the bridge knows the
  // command's id.
  ASSERT_TRUE(owner_bus_->Publish(commands, market_ + ":later-copy", payload).ok());
  gateway_->StartBridge();

  const std::vector<ExecutionReport> accepted = Reports(1);
  ASSERT_EQ(accepted.size(), 1u);
  EXPECT_EQ(accepted[0].order_id, OrderId{7});
  Result<execution::AccountState> held = owner_->Snapshot();  // behind both copies
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  ASSERT_EQ(held->orders.size(), 1u);
  EXPECT_EQ(held->orders[0].client_order_id, "c7");
  const VenueBridgeStats stats = gateway_->StopBridge();
  EXPECT_EQ(stats.commands, 3u);  // two copies and the snapshot request
  EXPECT_EQ(stats.duplicates, 1u);
  EXPECT_EQ(gateway_->gateway().submits(7), 1);
  ExpectNoMoreExecutionReports();
}

TEST_P(BusVenueTest, ABridgeRestartedMidStreamAppliesNothingTwiceAndLosesNoReport) {
  gateway_->StartBridge();
  for (uint64_t id = 1; id <= 3; ++id) {
    (void)owner_->Submit(MakeOrder(id, Side::kBuy, OrderType::kLimit, 109'000 - 10 * id));
  }
  ASSERT_EQ(Reports(3).size(), 3u);
  const VenueBridgeStats first = gateway_->StopBridge();
  EXPECT_EQ(first.applied, 3u);

  // While no bridge runs: the owner goes on sending, and the market fills order 1 (the venue
  // reports into the bridge's inbox, which nobody reads now).
  for (uint64_t id = 4; id <= 6; ++id) {
    (void)owner_->Submit(MakeOrder(id, Side::kBuy, OrderType::kLimit, 109'000 - 10 * id));
  }
  ASSERT_TRUE(WaitUntil([&] { return owner_->commands_sent() == 6; }));
  gateway_->Tick(Quote(108'985, 1));  // ask 1.08987: order 1 (1.08990) fills, 2 (1.08980) rests
  ASSERT_TRUE(WaitUntil([&] { return gateway_->venue().calls() >= 6; }));  // 2 + 3 orders + tick
  // Past the durable's ack_wait: a command the first bridge had not acknowledged would now come
  // to the second before the snapshot below, and be applied again.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));

  gateway_->StartBridge();
  const std::vector<ExecutionReport> after = Reports(4);
  ASSERT_EQ(after.size(), 4u);
  EXPECT_EQ(after[0].kind, ExecKind::kFilled);
  EXPECT_EQ(after[0].order_id, OrderId{1});
  for (size_t idx = 1; idx < 4; ++idx) {
    EXPECT_EQ(after[idx].kind, ExecKind::kAccepted);
    EXPECT_EQ(after[idx].order_id, OrderId{idx + 3});
  }
  Result<execution::AccountState> held = owner_->Snapshot();
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  EXPECT_EQ(held->orders.size(), 5u);  // 2..6
  EXPECT_EQ(held->positions.size(), 1u);
  const VenueBridgeStats second = gateway_->StopBridge();
  EXPECT_EQ(second.applied, 4u);  // three orders and the snapshot
  EXPECT_EQ(second.duplicates, 0u);
  EXPECT_EQ(second.reports, 4u);
  for (uint64_t id = 1; id <= 6; ++id) EXPECT_EQ(gateway_->gateway().submits(id), 1) << id;
  ExpectNoMoreExecutionReports();
}

TEST_P(BusVenueTest, ARestartedOwnersRecoverReturnsTheReportsStoredWhileItWasDown) {
  gateway_->StartBridge();
  (void)owner_->Submit(MakeOrder(1, Side::kBuy, OrderType::kLimit, 108'990));
  ASSERT_EQ(Reports(1).size(), 1u);  // accepted: pushed and acknowledged
  const VenueBridgeStats first = gateway_->StopBridge();
  // The owner sends two more orders and stops; the market fills order 1. The next bridge
  // applies the orders and publishes the three fills while no owner reads them.
  (void)owner_->Submit(MakeOrder(2, Side::kBuy, OrderType::kMarket));
  (void)owner_->Submit(MakeOrder(3, Side::kSell, OrderType::kMarket));
  ASSERT_TRUE(WaitUntil([&] { return owner_->commands_sent() == 3; }));
  owner_.reset();
  gateway_->Tick(Quote(108'985, 1));  // ask 1.08987: order 1 (1.08990) fills
  gateway_->StartBridge();

  std::unique_ptr<BusVenue> restarted = Owner(Duration::Seconds(10), /*start=*/false);
  ASSERT_NE(restarted, nullptr);
  std::vector<ExecutionReport> stored;
  ASSERT_TRUE(WaitUntil([&] {
    Result<std::vector<ExecutionReport>> got = restarted->Recover({}, 0, {});
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    if (got.ok()) stored.insert(stored.end(), got->begin(), got->end());
    return stored.size() >= 3;
  }));
  ASSERT_EQ(stored.size(), 3u);
  std::vector<uint64_t> filled;
  for (const ExecutionReport& report : stored) {
    EXPECT_EQ(report.kind, ExecKind::kFilled);
    filled.push_back(report.order_id.value);
  }
  // In the venue's order: 2 before 3 (order 1's fill came first or between, as it happened).
  EXPECT_LT(std::find(filled.begin(), filled.end(), 2u),
            std::find(filled.begin(), filled.end(), 3u));
  std::sort(filled.begin(), filled.end());
  EXPECT_EQ(filled, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(restarted->drained_reports(), 3u);
  // Started, the reader takes what comes next, not the drained reports again.
  ASSERT_TRUE(restarted->Start(node::ProducerLink(&owner_inbox_, 1)).ok());
  (void)restarted->Submit(MakeOrder(4, Side::kSell, OrderType::kMarket));
  const std::vector<ExecutionReport> after = Reports(1);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].order_id, OrderId{4});
  const VenueBridgeStats second = gateway_->StopBridge();
  EXPECT_EQ(first.applied + second.applied, 4u);
  ExpectNoMoreExecutionReports();
}

TEST_P(BusVenueTest, TheOrdersALastBridgeLeftUnfinishedAreFoundOnTheStream) {
  // No bridge ever ran: nothing to ask about.
  Result<SentOrders> none = SentOrdersOfLastBridge(*gateway_bus_, market_);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->unfinished.empty());
  EXPECT_EQ(none->delivered, 0u);

  gateway_->StartBridge();
  (void)owner_->Submit(MakeOrder(1, Side::kBuy, OrderType::kLimit, 109'000));   // rests
  (void)owner_->Submit(MakeOrder(2, Side::kBuy, OrderType::kMarket));           // fills
  (void)owner_->Submit(MakeOrder(3, Side::kSell, OrderType::kLimit, 111'000));  // rests
  ASSERT_EQ(Reports(3).size(), 3u);
  (void)gateway_->StopBridge();
  // Sent while no bridge ran: no venue has it, so it would not be asked about.
  (void)owner_->Submit(MakeOrder(4, Side::kBuy, OrderType::kMarket));
  ASSERT_TRUE(WaitUntil([&] { return owner_->commands_sent() == 4; }));
  Result<SentOrders> before = SentOrdersOfLastBridge(*gateway_bus_, market_);
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_EQ(before->unfinished.size(), 2u);  // 1 and 3, not 4

  // More messages after them than a reader may hold unacknowledged (max_ack_pending 1,024):
  // the scan reads to the stream's end all the same.
  const std::string answers = Subject(ExecAnswersSubject(market_));
  for (int idx = 0; idx < 1'100; ++idx) {
    ASSERT_TRUE(owner_bus_->Publish(answers, "", "nobody asked").ok());
  }
  (void)owner_->Submit(MakeOrder(5, Side::kBuy, OrderType::kMarket));
  ASSERT_TRUE(WaitUntil([&] { return owner_->commands_sent() == 5; }));
  // The bridge again: orders 4 and 5 fill, their reports after the 1,100 messages.
  gateway_->StartBridge();
  ASSERT_TRUE(WaitUntil([&] { return owner_->reports_pushed() >= 5; }));
  (void)gateway_->StopBridge();

  Result<SentOrders> sent = SentOrdersOfLastBridge(*gateway_bus_, market_);
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  ASSERT_EQ(sent->unfinished.size(), 2u);
  EXPECT_EQ(sent->unfinished[0].id, OrderId{1});
  EXPECT_EQ(sent->unfinished[1].id, OrderId{3});
  for (const Order& order : sent->unfinished) {
    EXPECT_EQ(order.status, OrderStatus::kAccepted);
    EXPECT_NE(order.venue_order_id, 0u);
  }
  ASSERT_EQ(sent->command_ids.size(), 2u);
  EXPECT_NE(sent->command_ids[0].find(":submit:1:"), std::string::npos);
  EXPECT_EQ(sent->exec_ids.size(), 3u);  // orders 2, 4 and 5's fills
  EXPECT_GE(sent->delivered, 3u);
}

TEST_P(BusVenueTest, SnapshotAndRecoverAreRoundTripsThroughTheBridge) {
  // The account's terms travel with the snapshot (the gateway role states its terminal's).
  gateway_->SetTerms(VenueTerms{"EUR", 30, true});
  gateway_->StartBridge();
  (void)owner_->Submit(MakeOrder(1, Side::kBuy, OrderType::kMarket));
  (void)owner_->Submit(MakeOrder(2, Side::kSell, OrderType::kLimit, 111'000));
  ASSERT_EQ(Reports(2).size(), 2u);

  EXPECT_FALSE(owner_->terms().has_value());
  Result<execution::AccountState> held = owner_->Snapshot();
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  EXPECT_EQ(owner_->terms(), (VenueTerms{"EUR", 30, true}));

  const std::vector<Order> unfinished = {MakeOrder(8, Side::kBuy, OrderType::kMarket),
                                         MakeOrder(9, Side::kSell, OrderType::kMarket)};
  const std::vector<uint64_t> known = {11, 12, 13};
  Result<std::vector<ExecutionReport>> recovered = owner_->Recover(unfinished, 1234, known);
  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  const VenueBridgeStats stats = gateway_->StopBridge();
  EXPECT_EQ(stats.answers, 2u);

  // What the venue itself holds (asked now that the bridge is no longer its caller).
  Result<execution::AccountState> direct = gateway_->venue().Snapshot();
  ASSERT_TRUE(direct.ok()) << direct.status().ToString();
  ASSERT_EQ(held->positions.size(), 1u);
  ASSERT_EQ(direct->positions.size(), 1u);
  EXPECT_EQ(held->positions[0].ticket, direct->positions[0].ticket);
  EXPECT_EQ(held->positions[0].quantity, direct->positions[0].quantity);
  EXPECT_EQ(held->positions[0].open_price, direct->positions[0].open_price);
  ASSERT_EQ(held->orders.size(), 1u);
  EXPECT_EQ(held->orders[0].client_order_id, "c2");
  EXPECT_EQ(held->orders[0].ticket, direct->orders[0].ticket);
  EXPECT_EQ(held->orders[0].price, direct->orders[0].price);
  EXPECT_EQ(held->orders[0].side, Side::kSell);
  EXPECT_EQ(held->balance, direct->balance);

  ASSERT_EQ(recovered->size(), 2u);
  EXPECT_EQ((*recovered)[0].order_id, OrderId{8});
  EXPECT_EQ((*recovered)[1].client_order_id, "c9");
  EXPECT_EQ((*recovered)[1].kind, ExecKind::kCanceled);
  EXPECT_EQ((*recovered)[1].text, "1234/3");
  ExpectNoMoreExecutionReports();  // answers go to the caller, not to the inbox
}

TEST_P(BusVenueTest, WithoutABridgeSnapshotAndRecoverTimeOutAndALaterBridgeDropsThem) {
  // Without a session scope, a new session's order 1 would be taken for an earlier one's.
  EXPECT_EQ(BusVenue::Create(*owner_bus_, {.market = market_}).status().code(),
            StatusCode::kInvalidArgument);
  // The owner again, impatient: one reader of the market's reports at a time.
  owner_.reset();
  std::unique_ptr<BusVenue> impatient = Owner(Duration::Millis(300));
  ASSERT_NE(impatient, nullptr);
  Result<execution::AccountState> held = impatient->Snapshot();
  ASSERT_EQ(held.status().code(), StatusCode::kDeadlineExceeded) << held.status().ToString();
  EXPECT_NE(held.status().message().find("snapshot request"), std::string::npos);
  EXPECT_NE(held.status().message().find(Subject(ExecAnswersSubject(market_))), std::string::npos);
  // From a server time on (or with orders unfinished) a recover asks the bridge.
  Result<std::vector<ExecutionReport>> recovered = impatient->Recover({}, 1, {});
  ASSERT_EQ(recovered.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(recovered.status().message().find("recover request"), std::string::npos);

  // A bridge that comes later drops the requests nobody waits for, and goes on.
  gateway_->StartBridge();
  (void)impatient->Submit(MakeOrder(1, Side::kBuy, OrderType::kMarket));
  ASSERT_EQ(Reports(1).size(), 1u);
  const VenueBridgeStats stats = gateway_->StopBridge();
  EXPECT_EQ(stats.expired, 2u);
  EXPECT_EQ(stats.answers, 0u);
  EXPECT_EQ(stats.applied, 1u);
}

TEST_P(BusVenueTest, MalformedCommandsAndReportsAreDeadLetteredAndCounted) {
  const std::string commands = Subject(ExecCommandsSubject(market_));
  const std::string reports = Subject(ExecReportsSubject(market_));

  VenueCommand unknown;
  unknown.kind = static_cast<VenueCommand::Kind>(9);
  unknown.id = "x";
  VenueCommand nameless;
  nameless.kind = VenueCommand::Kind::kSnapshot;
  ASSERT_TRUE(owner_bus_->Publish(commands, "", "not an envelope").ok());
  ASSERT_TRUE(owner_bus_->Publish(commands, "", proto::Encode(Quote(110'000))).ok());
  ASSERT_TRUE(owner_bus_->Publish(commands, "", proto::Encode(unknown)).ok());
  ASSERT_TRUE(owner_bus_->Publish(commands, "", proto::Encode(nameless)).ok());

  VenueReport answer;
  answer.kind = VenueReport::Kind::kSnapshot;
  answer.answers = "snapshot:someone:1";
  VenueReport bad_kind;  // an execution report of no kind the model knows
  bad_kind.execution.kind = static_cast<ExecKind>(99);
  const std::string no_kind = proto::Encode(bad_kind);
  ASSERT_TRUE(gateway_bus_->Publish(reports, "", "\x08\x96\x01garbage").ok());
  ASSERT_TRUE(gateway_bus_->Publish(reports, "", proto::Encode(answer)).ok());
  ASSERT_TRUE(gateway_bus_->Publish(reports, "", no_kind).ok());

  // Both sides go on: an order after the garbage is applied and reported.
  gateway_->StartBridge();
  (void)owner_->Submit(MakeOrder(1, Side::kBuy, OrderType::kMarket));
  const std::vector<ExecutionReport> filled = Reports(1);
  ASSERT_EQ(filled.size(), 1u);
  EXPECT_EQ(filled[0].kind, ExecKind::kFilled);
  EXPECT_TRUE(WaitUntil([&] { return owner_->dead_lettered() == 3; })) << owner_->dead_lettered();
  const VenueBridgeStats stats = gateway_->StopBridge();
  EXPECT_EQ(stats.dead_lettered, 4u);
  EXPECT_EQ(stats.applied, 1u);
  EXPECT_TRUE(owner_->reader_status().ok()) << owner_->reader_status().ToString();

  const std::vector<bus::Delivery> dead_commands = DeadLettered(commands);
  ASSERT_EQ(dead_commands.size(), 4u);
  EXPECT_EQ(dead_commands[0].payload, "not an envelope");
  EXPECT_EQ(dead_commands[0].id.rfind(commands + ".", 0), 0u) << dead_commands[0].id;
  const std::vector<bus::Delivery> dead_reports = DeadLettered(reports);
  ASSERT_EQ(dead_reports.size(), 3u);
  EXPECT_EQ(dead_reports[1].payload, proto::Encode(answer));
}

}  // namespace
}  // namespace aits::services

namespace aits::services {
namespace {

// The spans a tracer wrote to its file (OTLP/JSON lines), each with its attributes flattened
// into "attr.<key>" (string values; numbers as OTLP writes them, strings too).
std::vector<nlohmann::json> SpansOf(const std::string& file) {
  std::vector<nlohmann::json> spans;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json request = nlohmann::json::parse(line);
    for (const auto& resource : request.at("resourceSpans")) {
      for (const auto& scope : resource.at("scopeSpans")) {
        for (nlohmann::json span : scope.at("spans")) {
          for (const auto& attribute : span.value("attributes", nlohmann::json::array())) {
            const nlohmann::json& value = attribute.at("value");
            span["attr." + attribute.at("key").get<std::string>()] =
                value.contains("stringValue") ? value.at("stringValue") : value.at("intValue");
          }
          spans.push_back(std::move(span));
        }
      }
    }
  }
  return spans;
}

// The one span of `spans` named `name` whose attribute `key` is `value`.
nlohmann::json Find(const std::vector<nlohmann::json>& spans, const std::string& name,
                    const std::string& key, const std::string& value) {
  std::vector<nlohmann::json> found;
  for (const nlohmann::json& span : spans) {
    if (span.at("name") == name && span.contains("attr." + key) &&
        span.at("attr." + key) == value) {
      found.push_back(span);
    }
  }
  EXPECT_EQ(found.size(), 1u) << name << " with " << key << " = " << value;
  return found.empty() ? nlohmann::json::object() : found.front();
}

TEST_P(BusVenueTest, ADecisionsOrderAndItsReportsCarryTheirSpansThroughTheGatewayAndBack) {
  const std::string dir = ::testing::TempDir() + "/bus_venue_trace_" + market_;
  std::filesystem::create_directories(dir);
  const auto tracer = [&](const std::string& role) {
    Result<std::unique_ptr<trace::Tracer>> opened = trace::Tracer::Open(
        {.service_name = role, .sample_ratio = 1, .file = dir + "/" + role + ".jsonl"});
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    return opened.ok() ? std::move(opened).value() : nullptr;
  };
  const std::unique_ptr<trace::Tracer> owner_tracer = tracer("owner");
  const std::unique_ptr<trace::Tracer> gateway_tracer = tracer("gateway");
  ASSERT_NE(owner_tracer, nullptr);
  ASSERT_NE(gateway_tracer, nullptr);
  owner_.reset();
  owner_tracer_ = owner_tracer.get();
  owner_ = Owner();
  gateway_->SetTracer(gateway_tracer.get());
  gateway_->StartBridge();

  // The owner's decider: its span is the thread's current one while the kernel submits.
  trace::Span decision = owner_tracer->StartRoot("decision", trace::SpanKind::kInternal);
  owner_tracer->End(decision);
  trace::SetCurrent(decision.context);
  (void)owner_->Submit(MakeOrder(1, Side::kBuy, OrderType::kMarket));          // filled
  (void)owner_->Submit(MakeOrder(2, Side::kBuy, OrderType::kLimit, 109'000));  // rests
  trace::SetCurrent({});
  (void)owner_->Submit(MakeOrder(3, Side::kSell, OrderType::kMarket));  // none decided it

  std::map<uint64_t, trace::SpanContext> arrived;  // order id -> the report event's span
  const Steady::time_point give_up = Steady::now() + kPatience;
  node::NodeEvent event;
  while (arrived.size() < 3 && owner_inbox_.WaitPop(event, give_up) == node::PopResult::kEvent) {
    if (auto* report = std::get_if<node::ExecutionReportEvent>(&event)) {
      arrived[report->report->order_id.value] = report->trace;
    }
  }
  ASSERT_EQ(arrived.size(), 3u);
  gateway_->StopBridge();
  owner_tracer->Flush();
  gateway_tracer->Flush();
  const std::vector<nlohmann::json> owner_spans = SpansOf(dir + "/owner.jsonl");
  const std::vector<nlohmann::json> gateway_spans = SpansOf(dir + "/gateway.jsonl");
  const std::string trace_id = trace::HexTraceId(decision.context.trace_id);
  const std::string decision_id = trace::HexSpanId(decision.context.span_id);

  for (const char* id : {"1", "2"}) {
    SCOPED_TRACE(std::string("order ") + id);
    // owner: decision -> exec.command; gateway: -> gateway.command -> gateway.report;
    // owner: -> exec.report, the span the report's event carries into the loop.
    const nlohmann::json command = Find(owner_spans, "exec.command", "aits.order_id", id);
    const nlohmann::json applied = Find(gateway_spans, "gateway.command", "aits.order_id", id);
    const nlohmann::json published = Find(gateway_spans, "gateway.report", "aits.order_id", id);
    const nlohmann::json received = Find(owner_spans, "exec.report", "aits.order_id", id);
    EXPECT_EQ(command.value("parentSpanId", ""), decision_id);
    EXPECT_EQ(applied.value("parentSpanId", ""), command.value("spanId", "?"));
    EXPECT_EQ(published.value("parentSpanId", ""), applied.value("spanId", "?"));
    EXPECT_EQ(received.value("parentSpanId", ""), published.value("spanId", "?"));
    for (const nlohmann::json* span : {&command, &applied, &published, &received}) {
      EXPECT_EQ(span->value("traceId", ""), trace_id);
    }
    EXPECT_EQ(received.value("spanId", ""),
              trace::HexSpanId(arrived[static_cast<uint64_t>(std::stoi(id))].span_id));
    EXPECT_EQ(published.value("attr.aits.exec_kind", ""),
              id == std::string("1") ? "filled" : "accepted");
  }
  // A command no decision caused starts a trace of its own, which its report follows.
  const nlohmann::json root = Find(owner_spans, "exec.command", "aits.order_id", "3");
  EXPECT_FALSE(root.contains("parentSpanId"));
  EXPECT_NE(root.value("traceId", ""), trace_id);
  EXPECT_EQ(Find(owner_spans, "exec.report", "aits.order_id", "3").value("traceId", ""),
            root.value("traceId", "?"));
}

}  // namespace
}  // namespace aits::services
