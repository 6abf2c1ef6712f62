// The gateway against a stand-in EA (stand_in_ea.h) on loopback: the handshake and every way a
// peer can break it, the dead-link rule, one EA at a time, ticks into a node inbox, every retcode
// end to end, requotes, back-off, resolution of orders lost with the link, cancels and SL/TP
// changes kept over a lost link, Snapshot. Threaded: built and run under the tsan preset too
// (label tsan).
#include "aits/gateway/gateway.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "aits/core/hash.h"
#include "aits/gateway/retcodes.h"
#include "aits/gateway/stand_in_ea.h"
#include "aits/log/log.h"
#include "aits/mt5/transcript.h"

namespace aits::gateway {
namespace {

using std::chrono::milliseconds;
using Steady = std::chrono::steady_clock;

constexpr char kToken[] = "s3cret-token";

Instrument Eurusd() {
  Instrument instrument = Instrument::Infer("EURUSD");
  instrument.id = InstrumentId{0};
  return instrument;
}

GatewayConfig TestConfig() {
  GatewayConfig config;
  config.token = kToken;
  config.instruments = {Eurusd()};
  config.backoff_initial = milliseconds(40);
  config.backoff_max = milliseconds(200);
  config.request_timeout = milliseconds(1000);
  config.trade_timeout = milliseconds(1000);
  config.answer_timeout = milliseconds(2000);
  return config;
}

mt5::Account SomeAccount(double balance = 10'000) {
  mt5::Account account;
  account.login = 5'001'234;
  account.currency = "USD";
  account.leverage = 100;
  account.balance = balance;
  account.equity = balance;
  account.margin_free = balance;
  account.trade_allowed = true;
  account.expert_allowed = true;
  account.connected = true;
  account.server_time_msc = 1'700'000'000'000;
  return account;
}

Order MarketOrder(uint64_t id, Side side = Side::kBuy, int64_t centilots = 10) {
  Order order;
  order.id = OrderId{id};
  order.request.instrument = InstrumentId{0};
  order.request.side = side;
  order.request.type = OrderType::kMarket;
  order.request.quantity = Quantity::FromRaw(centilots * 10'000'000, 2);
  order.request.client_order_id = "node-" + std::to_string(id);
  return order;
}

class GatewayTest : public ::testing::Test {
 protected:
  // `resume`: a resumed session's last logged tick and its server time (Gateway::ResumeAfter).
  void Start(const GatewayConfig& config = TestConfig(),
             std::optional<std::pair<Tick, int64_t>> resume = std::nullopt) {
    auto made = Gateway::Create(config);
    ASSERT_TRUE(made.ok()) << made.status().message();
    gateway_ = std::move(*made);
    execution_ = gateway_->MakeExecutionClient();
    if (resume) gateway_->ResumeAfter(resume->first, resume->second);
    ASSERT_TRUE(gateway_->Start(node::ProducerLink(&inbox_, 3)).ok());
    ASSERT_NE(gateway_->port(), 0);
  }
  // A gateway that listens with no node attached yet (a start, before its reconciliation).
  void Listen() {
    auto made = Gateway::Create(TestConfig());
    ASSERT_TRUE(made.ok()) << made.status().message();
    gateway_ = std::move(*made);
    execution_ = gateway_->MakeExecutionClient();
    ASSERT_TRUE(gateway_->Listen().ok());
  }
  void TearDown() override {
    execution_.reset();
    if (gateway_) gateway_->Stop();
  }

  StandInEa Connect() {
    auto ea = StandInEa::Connect(gateway_->port());
    EXPECT_TRUE(ea.ok()) << ea.status().message();
    return std::move(*ea);
  }
  StandInEa Connected(bool hedging = false,
                      std::vector<mt5::SymbolSpec> specs = {FxSymbol("EURUSD")}) {
    StandInEa ea = Connect();
    const Status shaken = ea.Handshake(HelloWith(kToken, hedging), specs, SomeAccount());
    EXPECT_TRUE(shaken.ok()) << shaken.message();
    return ea;
  }

  // The next event of a kind the test asks for, skipping the others; nullopt after `timeout`.
  template <typename T>
  std::optional<T> NextOf(milliseconds timeout = milliseconds(2000)) {
    const auto deadline = Steady::now() + timeout;
    node::NodeEvent event;
    while (inbox_.WaitPop(event, deadline) == node::PopResult::kEvent) {
      if (auto* item = std::get_if<T>(&event)) return std::move(*item);
    }
    return std::nullopt;
  }
  std::optional<ExecutionReport> NextReport(milliseconds timeout = milliseconds(2000)) {
    auto event = NextOf<node::ExecutionReportEvent>(timeout);
    if (!event) return std::nullopt;
    EXPECT_EQ(event->client, 3u);
    return *event->report;
  }

  // A tick at `tick_time`, then order 1 (a buy of 0.1 lots) done as order 4001 and filled by deal
  // 5001 (its report taken): the position a test then loses the link with. Its place_order and
  // the deal's transaction.
  std::pair<mt5::PlaceOrder, mt5::Transaction> OpenAfterATick(StandInEa& ea, int64_t tick_time);
  // The EA answers the modify_position `request_id` done: the report the node gets of it.
  std::optional<ExecutionReport> ModifyDone(StandInEa& ea, uint64_t request_id) {
    mt5::TradeResult done;
    done.retcode = mt5::retcode::kDone;
    EXPECT_TRUE(ea.Send(done, request_id).ok());
    return NextReport();
  }

  node::Inbox<node::NodeEvent> inbox_{1 << 16};
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<execution::ExecutionClient> execution_;
};

// --- the session ----------------------------------------------------------------------------

TEST_F(GatewayTest, HandshakeWelcomesTheEaThenAsksItsSymbolsAndAccount) {
  Start();
  StandInEa ea = Connect();
  ASSERT_TRUE(ea.Send(HelloWith(kToken)).ok());
  auto welcome = ea.Expect<mt5::Welcome>();
  ASSERT_TRUE(welcome.ok()) << welcome.status().message();
  EXPECT_EQ(welcome->first.protocol_version, mt5::kProtocolVersion);
  EXPECT_EQ(welcome->first.heartbeat_ms, 1000u);
  EXPECT_EQ(welcome->first.dead_after_ms, 3000u);
  std::set<mt5::MessageType> asked;
  for (int idx = 0; idx < 2; ++idx) {
    auto frame = ea.Next();
    ASSERT_TRUE(frame.ok());
    EXPECT_NE(frame->envelope.request_id, 0u);  // every request has an id
    asked.insert(frame->type());
    if (frame->type() == mt5::MessageType::kGetSymbol) {
      EXPECT_EQ(frame->As<mt5::GetSymbol>()->symbol, "EURUSD");
    }
  }
  EXPECT_EQ(asked, (std::set<mt5::MessageType>{mt5::MessageType::kGetSymbol,
                                               mt5::MessageType::kGetAccount}));
  auto status = NextOf<node::ProducerStatus>();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->state, node::ProducerState::kConnected);
  EXPECT_EQ(status->producer, 3u);
  EXPECT_TRUE(gateway_->connected());
  EXPECT_EQ(gateway_->count(Counter::kHandshakes), 1u);
}

TEST_F(GatewayTest, ATranscriptRecordsBothDirections) {
  GatewayConfig config = TestConfig();
  config.transcript = ::testing::TempDir() + "gateway_transcript.jsonl";
  std::remove(config.transcript.c_str());
  Start(config);
  {
    StandInEa ea = Connected();
    ea.Close("done");
    auto lost = NextOf<node::ProducerStatus>();
    while (lost && lost->state == node::ProducerState::kConnected) {
      lost = NextOf<node::ProducerStatus>();
    }
    ASSERT_TRUE(lost);
  }
  auto entries = mt5::ReadTranscript(config.transcript);
  ASSERT_TRUE(entries.ok()) << entries.status().message();
  ASSERT_GE(entries->size(), 6u);
  EXPECT_FALSE((*entries)[0].out);
  EXPECT_EQ((*entries)[0].type, "hello");
  EXPECT_TRUE((*entries)[1].out);
  EXPECT_EQ((*entries)[1].type, "welcome");
  EXPECT_EQ(entries->back().type, "bye");
}

struct BadHello {
  const char* name;
  mt5::Hello hello;
  mt5::ErrorCode code;
};

TEST_F(GatewayTest, AWrongSecretOrVersionIsAnErrorThenTheClose) {
  Start();
  mt5::Hello bad_token = HelloWith("s3cret-tokem");
  mt5::Hello short_token = HelloWith("s3cret");
  mt5::Hello bad_version = HelloWith(kToken);
  bad_version.protocol_version = mt5::kProtocolVersion + 1;
  const BadHello cases[] = {{"bad token", bad_token, mt5::ErrorCode::kBadToken},
                            {"short token", short_token, mt5::ErrorCode::kBadToken},
                            {"bad version", bad_version, mt5::ErrorCode::kBadVersion}};
  for (const BadHello& c : cases) {
    SCOPED_TRACE(c.name);
    StandInEa ea = Connect();
    ASSERT_TRUE(ea.Send(c.hello).ok());
    ASSERT_TRUE(ea.WaitClosed(milliseconds(2000)));
    ASSERT_EQ(ea.closing_frames().size(), 1u);
    auto error = ea.closing_frames()[0].As<mt5::Error>();
    ASSERT_TRUE(error.ok());
    EXPECT_EQ(error->code, static_cast<uint32_t>(c.code));
    EXPECT_FALSE(error->message.empty());
  }
  EXPECT_EQ(gateway_->rejections(mt5::ErrorCode::kBadToken), 2u);
  EXPECT_EQ(gateway_->rejections(mt5::ErrorCode::kBadVersion), 1u);
  EXPECT_FALSE(gateway_->connected());
  // And the next EA with the right secret gets in.
  StandInEa good = Connected();
  EXPECT_TRUE(gateway_->connected());
}

// A frame with a given envelope version and type around `payload`.
std::string RawFrame(uint16_t version, uint16_t type, uint64_t seq, std::string_view payload) {
  std::string out;
  const auto length = static_cast<uint32_t>(mt5::kEnvelopeBytes + payload.size());
  const uint64_t request_id = 0;
  out.append(reinterpret_cast<const char*>(&length), 4);
  out.append(reinterpret_cast<const char*>(&version), 2);
  out.append(reinterpret_cast<const char*>(&type), 2);
  out.append(reinterpret_cast<const char*>(&seq), 8);
  out.append(reinterpret_cast<const char*>(&request_id), 8);
  out.append(payload);
  return out;
}

std::string HelloPayload() {
  std::string payload;
  mt5::WireWriter writer(payload);
  mt5::Encode(HelloWith(kToken), writer);
  return payload;
}

TEST_F(GatewayTest, BadFramesAreAnErrorThenTheCloseNeverACrash) {
  GatewayConfig config = TestConfig();
  config.hello_timeout = milliseconds(300);
  Start(config);
  const std::string hello = HelloPayload();
  std::string huge(4, '\0');
  const uint32_t two_mib = 2u << 20;
  std::memcpy(huge.data(), &two_mib, 4);
  huge += std::string(32, 'x');
  std::string welcome_payload;
  mt5::WireWriter writer(welcome_payload);
  mt5::Encode(mt5::Welcome{mt5::kProtocolVersion, 1000, 3000, "x"}, writer);
  struct Case {
    const char* name;
    std::string bytes;
    mt5::ErrorCode code;
  };
  const Case cases[] = {
      {"garbage", std::string("\x05\x00\x00\x00garbage-bytes", 17),
       mt5::ErrorCode::kMalformedFrame},
      {"oversized", huge, mt5::ErrorCode::kFrameTooLarge},
      {"foreign version", RawFrame(7, 1, 1, hello), mt5::ErrorCode::kBadVersion},
      {"unknown type", RawFrame(mt5::kProtocolVersion, 999, 1, ""),
       mt5::ErrorCode::kUnknownMessage},
      {"truncated hello", RawFrame(mt5::kProtocolVersion, 1, 1, hello.substr(0, hello.size() - 5)),
       mt5::ErrorCode::kMalformedFrame},
      {"hello with bytes left over", RawFrame(mt5::kProtocolVersion, 1, 1, hello + "zz"),
       mt5::ErrorCode::kMalformedFrame},
      {"the gateway's message", RawFrame(mt5::kProtocolVersion, 2, 1, welcome_payload),
       mt5::ErrorCode::kUnexpectedMessage},
      {"before the hello", RawFrame(mt5::kProtocolVersion, 3, 1, std::string(8, '\0')),
       mt5::ErrorCode::kUnexpectedMessage},
      {"sequence gap", RawFrame(mt5::kProtocolVersion, 1, 2, hello),
       mt5::ErrorCode::kMalformedFrame},
      {"no hello at all", "", mt5::ErrorCode::kTimeout},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto answer = SendRaw(gateway_->port(), c.bytes, milliseconds(2000));
    ASSERT_TRUE(answer.ok()) << answer.status().message();
    EXPECT_TRUE(answer->closed);
    ASSERT_EQ(answer->frames.size(), 1u);
    auto error = answer->frames[0].As<mt5::Error>();
    ASSERT_TRUE(error.ok()) << error.status().message();
    EXPECT_EQ(error->code, static_cast<uint32_t>(c.code)) << error->message;
    EXPECT_FALSE(error->message.empty());
  }
  EXPECT_EQ(gateway_->rejections(mt5::ErrorCode::kMalformedFrame), 4u);
  EXPECT_EQ(gateway_->rejections(mt5::ErrorCode::kFrameTooLarge), 1u);
  EXPECT_EQ(gateway_->rejections(mt5::ErrorCode::kBadVersion), 1u);
  EXPECT_EQ(gateway_->rejections(mt5::ErrorCode::kUnknownMessage), 1u);
  EXPECT_EQ(gateway_->rejections(mt5::ErrorCode::kUnexpectedMessage), 2u);
  EXPECT_EQ(gateway_->rejections(mt5::ErrorCode::kTimeout), 1u);
  StandInEa good = Connected();
  EXPECT_TRUE(gateway_->connected());
}

TEST_F(GatewayTest, ALiveLinkThatBreaksTheRulesIsClosedAndReported) {
  Start();
  StandInEa ea = Connected();
  ASSERT_TRUE(ea.Send(HelloWith(kToken)).ok());  // a second hello on a live link
  ASSERT_TRUE(ea.WaitClosed(milliseconds(2000)));
  auto status = NextOf<node::ProducerStatus>();  // connected
  ASSERT_TRUE(status);
  status = NextOf<node::ProducerStatus>();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->state, node::ProducerState::kDisconnected);
  EXPECT_NE(status->error.message().find("second hello"), std::string::npos);
  EXPECT_EQ(gateway_->rejections(mt5::ErrorCode::kUnexpectedMessage), 1u);
}

TEST_F(GatewayTest, ADeadLinkIsDetectedWithinThreeSeconds) {
  Start();
  StandInEa ea = Connected();
  const auto silent_from = Steady::now();
  // The stand-in goes silent: it reads (the gateway's heartbeats) but never answers.
  ASSERT_TRUE(ea.WaitClosed(milliseconds(5000)));
  const auto detected = Steady::now() - silent_from;
  EXPECT_LE(detected, milliseconds(3400));  // 3 s, and a loaded machine's scheduling
  EXPECT_GE(detected, milliseconds(2900));
  size_t heartbeats = 0;
  bool lost = false;
  for (const Received& frame : ea.closing_frames()) {
    heartbeats += frame.type() == mt5::MessageType::kHeartbeat;
    if (auto error = frame.As<mt5::Error>(); error.ok()) {
      lost = error->code == static_cast<uint32_t>(mt5::ErrorCode::kHeartbeatLost);
    }
  }
  EXPECT_GE(heartbeats, 2u);  // sent when idle, every heartbeat_ms
  EXPECT_TRUE(lost);
  auto status = NextOf<node::ProducerStatus>();
  while (status && status->state == node::ProducerState::kConnected) {
    status = NextOf<node::ProducerStatus>();
  }
  ASSERT_TRUE(status);
  EXPECT_EQ(status->state, node::ProducerState::kDisconnected);
  EXPECT_NE(status->error.message().find("heartbeat_lost"), std::string::npos)
      << status->error.message();
  EXPECT_EQ(gateway_->count(Counter::kLinksLost), 1u);
}

TEST_F(GatewayTest, ASecondEaIsRefusedWhileTheFirstLives) {
  Start();
  StandInEa first = Connected();
  StandInEa second = Connect();
  ASSERT_TRUE(second.Send(HelloWith(kToken)).ok());
  ASSERT_TRUE(second.WaitClosed(milliseconds(2000)));
  ASSERT_EQ(second.closing_frames().size(), 1u);
  auto error = second.closing_frames()[0].As<mt5::Error>();
  ASSERT_TRUE(error.ok());
  EXPECT_EQ(error->code, static_cast<uint32_t>(mt5::ErrorCode::kBusy));
  EXPECT_NE(error->message.find("another EA"), std::string::npos);
  // The first link still works.
  ASSERT_TRUE(first.Send(mt5::Heartbeat{1}).ok());
  ASSERT_TRUE(
      first.Send(mt5::Ticks{"EURUSD", true, {{1'700'000'000'100, 1.1, 1.1001, 0, 1, 6}}}).ok());
  auto data = NextOf<node::MarketData>();
  ASSERT_TRUE(data);
  EXPECT_TRUE(gateway_->connected());
}

// --- market data ----------------------------------------------------------------------------

TEST_F(GatewayTest, TicksReachTheInboxWithTheInstrumentsDigitsAndBadOnesAreCounted) {
  Start();
  std::vector<std::pair<std::string, int64_t>> subscribed;
  StandInEa ea = Connect();
  ASSERT_TRUE(
      ea.Handshake(HelloWith(kToken), {FxSymbol("EURUSD")}, SomeAccount(), &subscribed).ok());
  ASSERT_EQ(subscribed.size(), 1u);
  EXPECT_EQ(subscribed[0], (std::pair<std::string, int64_t>("EURUSD", 0)));
  const int64_t t0 = 1'700'000'000'000;
  mt5::Ticks ticks{"EURUSD", true, {}};
  ticks.ticks.push_back({t0 + 1, 1.08123, 1.08125, 0, 1, 6});
  ticks.ticks.push_back({t0 + 2, 1.08130, 1.08120, 0, 1, 6});   // crossed: refused
  ticks.ticks.push_back({t0 + 2, 0, 1.08120, 0, 1, 6});         // no bid: refused
  ticks.ticks.push_back({t0 + 3, 1.081237, 1.08126, 0, 1, 6});  // off the 5-digit grid
  ticks.ticks.push_back({t0 + 3, 1.08125, 1.08127, 0, 1, 6});   // same time, new prices: kept
  ticks.ticks.push_back({t0 + 3, 1.08125, 1.08127, 0, 1, 6});   // repeated: stale
  ticks.ticks.push_back({t0 + 1, 1.08100, 1.08102, 0, 1, 6});   // older: stale
  ASSERT_TRUE(ea.Send(ticks).ok());
  std::vector<Tick> got;
  while (got.size() < 3) {
    auto data = NextOf<node::MarketData>();
    ASSERT_TRUE(data);
    EXPECT_EQ(data->client, 3u);
    EXPECT_GT(data->pushed_ns, 0);
    EXPECT_EQ(data->source_msc, got.empty() ? t0 + 1 : t0 + 3);  // the server's time of it
    got.push_back(data->tick);
  }
  EXPECT_EQ(got[0].bid, Price::FromRaw(108'123 * 10'000, 5));
  EXPECT_EQ(got[0].ask, Price::FromRaw(108'125 * 10'000, 5));
  EXPECT_EQ(got[0].bid.precision(), 5);
  EXPECT_EQ(got[1].bid, Price::FromRaw(108'124 * 10'000, 5));  // rounded to the grid, counted
  EXPECT_EQ(got[2].bid, Price::FromRaw(108'125 * 10'000, 5));
  for (const Tick& tick : got) EXPECT_EQ(tick.instrument, InstrumentId{0});
  EXPECT_LE(got[0].ts, got[1].ts);
  EXPECT_FALSE(NextOf<node::MarketData>(milliseconds(100)));
  EXPECT_EQ(gateway_->count(Counter::kTicks), 3u);
  EXPECT_EQ(gateway_->count(Counter::kRefusedTicks), 2u);
  EXPECT_EQ(gateway_->count(Counter::kStaleTicks), 2u);
  EXPECT_EQ(gateway_->count(Counter::kOffGridPrices), 1u);
  EXPECT_LE(gateway_->Watermark() - got[2].ts, Duration::Seconds(5));

  // The link drops; the next EA is resubscribed from the last tick's time (no gap), and the
  // overlap it sends again is dropped.
  ea.Drop();
  auto lost = NextOf<node::ProducerStatus>();
  while (lost && lost->state == node::ProducerState::kConnected)
    lost = NextOf<node::ProducerStatus>();
  ASSERT_TRUE(lost);
  EXPECT_EQ(lost->state, node::ProducerState::kDisconnected);
  subscribed.clear();
  StandInEa again = Connect();
  ASSERT_TRUE(
      again.Handshake(HelloWith(kToken), {FxSymbol("EURUSD")}, SomeAccount(), &subscribed).ok());
  ASSERT_EQ(subscribed.size(), 1u);
  EXPECT_EQ(subscribed[0].second, t0 + 3);
  EXPECT_EQ(gateway_->count(Counter::kResumes), 1u);
  mt5::Ticks resumed{"EURUSD", true, {}};
  resumed.ticks.push_back({t0 + 3, 1.08125, 1.08127, 0, 1, 6});  // the overlap
  resumed.ticks.push_back({t0 + 4, 1.08127, 1.08129, 0, 1, 6});
  ASSERT_TRUE(again.Send(resumed).ok());
  auto next = NextOf<node::MarketData>();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->tick.bid, Price::FromRaw(108'127 * 10'000, 5));
  EXPECT_EQ(gateway_->count(Counter::kStaleTicks), 3u);
}

// A session resumed from its log: the feed is asked from the server time of the last logged
// tick on, and that tick, sent again, is dropped; what follows it reaches the node.
TEST_F(GatewayTest, AResumedSessionIsSubscribedFromItsLastLoggedTick) {
  const int64_t t0 = 1'700'000'000'000;
  Tick last;
  last.instrument = InstrumentId{0};
  last.bid = Price::FromRaw(108'125 * 10'000, 5);
  last.ask = Price::FromRaw(108'127 * 10'000, 5);
  Start(TestConfig(), std::make_pair(last, t0 + 3));
  std::vector<std::pair<std::string, int64_t>> subscribed;
  StandInEa ea = Connect();
  ASSERT_TRUE(
      ea.Handshake(HelloWith(kToken), {FxSymbol("EURUSD")}, SomeAccount(), &subscribed).ok());
  ASSERT_EQ(subscribed.size(), 1u);
  EXPECT_EQ(subscribed[0], (std::pair<std::string, int64_t>("EURUSD", t0 + 3)));
  EXPECT_EQ(gateway_->count(Counter::kResumes), 1u);
  mt5::Ticks ticks{"EURUSD", true, {}};
  ticks.ticks.push_back({t0 + 3, 1.08125, 1.08127, 0, 1, 6});  // the logged one
  ticks.ticks.push_back({t0 + 4, 1.08126, 1.08128, 0, 1, 6});
  ASSERT_TRUE(ea.Send(ticks).ok());
  auto data = NextOf<node::MarketData>();
  ASSERT_TRUE(data);
  EXPECT_EQ(data->source_msc, t0 + 4);
  EXPECT_EQ(data->tick.bid, Price::FromRaw(108'126 * 10'000, 5));
  EXPECT_EQ(gateway_->count(Counter::kStaleTicks), 1u);
  // The terminal's account, as aits live reads it before it builds the session.
  auto hello = gateway_->terminal();
  ASSERT_TRUE(hello);
  EXPECT_TRUE(hello->token.empty());
  EXPECT_EQ(hello->login, HelloWith(kToken).login);
}

// --- orders ---------------------------------------------------------------------------------

mt5::TradeResult ResultOf(const mt5::PlaceOrder& place, uint32_t retcode, uint64_t order = 0) {
  mt5::TradeResult result;
  result.client_order_id = place.client_order_id;
  result.retcode = retcode;
  result.order = order;
  result.volume = place.volume;
  result.bid = 1.10000;
  result.ask = 1.10010;
  result.comment = std::string(mt5::RetcodeText(retcode));
  return result;
}

mt5::Transaction DealAdd(uint64_t deal, uint64_t order, double volume, double price,
                         const mt5::PlaceOrder& place) {
  mt5::Transaction t;
  t.type = static_cast<uint32_t>(mt5::TransactionType::kDealAdd);
  t.deal = deal;
  t.order = order;
  t.position = order;
  t.symbol = place.symbol;
  t.deal_type = place.type == static_cast<uint32_t>(mt5::OrderType::kSell) ? 1 : 0;
  t.deal_entry = 0;
  t.deal_reason = static_cast<uint32_t>(mt5::DealReason::kExpert);
  t.volume = volume;
  t.price = price;
  t.deal_commission = -0.7;
  t.magic = place.magic;
  t.comment = place.client_order_id;
  t.time_msc = 1'700'000'000'500;
  return t;
}

TEST_F(GatewayTest, AnOrderCarriesItsIdMagicStepAndTheSymbolsFillingThenFillsFromItsDeal) {
  Start();
  mt5::SymbolSpec ioc_only = FxSymbol("EURUSD");
  ioc_only.filling_mode = mt5::kSymbolFillingIoc;
  StandInEa ea = Connected(false, {ioc_only});
  Order order = MarketOrder(7, Side::kSell, 12);
  order.request.stop_loss = Price::FromRaw(110'500'000'0, 5);
  EXPECT_EQ(execution_->Submit(order), 0u);  // asynchronous: the ticket comes with a report
  auto place = ea.Expect<mt5::PlaceOrder>();
  ASSERT_TRUE(place.ok()) << place.status().message();
  EXPECT_NE(place->second, 0u);
  EXPECT_EQ(place->first.client_order_id, "node-7");
  EXPECT_EQ(place->first.magic, Fnv1a64("node-7") & 0x7FFF'FFFF'FFFF'FFFFULL);
  EXPECT_EQ(place->first.symbol, "EURUSD");
  EXPECT_EQ(place->first.action, static_cast<uint32_t>(mt5::TradeAction::kDeal));
  EXPECT_EQ(place->first.type, static_cast<uint32_t>(mt5::OrderType::kSell));
  EXPECT_DOUBLE_EQ(place->first.volume, 0.12);
  EXPECT_DOUBLE_EQ(place->first.sl, 1.105);
  EXPECT_EQ(place->first.type_filling, static_cast<uint32_t>(mt5::Filling::kIoc));
  EXPECT_EQ(place->first.deviation, 10u);
  ASSERT_TRUE(ea.Send(ResultOf(place->first, mt5::retcode::kDone, 901), place->second).ok());
  ASSERT_TRUE(ea.Send(DealAdd(9001, 901, 0.12, 1.10003, place->first)).ok());
  auto fill = NextReport();
  ASSERT_TRUE(fill);
  EXPECT_EQ(fill->kind, ExecKind::kFilled);
  EXPECT_EQ(fill->order_id, OrderId{7});
  EXPECT_EQ(fill->client_order_id, "node-7");
  EXPECT_EQ(fill->exec_id, 9001u);
  EXPECT_EQ(fill->venue_order_id, 901u);
  EXPECT_EQ(fill->position_ticket, 901u);
  EXPECT_EQ(fill->side, Side::kSell);
  EXPECT_EQ(fill->price, Price::FromRaw(110'003 * 10'000, 5));
  EXPECT_EQ(fill->quantity, Quantity::FromRaw(12 * 10'000'000, 2));
  EXPECT_EQ(fill->commission, Money::FromRaw(700'000));
  // The same deal again (a repeated push) is not a second fill.
  ASSERT_TRUE(ea.Send(DealAdd(9001, 901, 0.12, 1.10003, place->first)).ok());
  EXPECT_FALSE(NextReport(milliseconds(150)));

  // A close of that position by ticket: close_position, with the symbol's filling too.
  Order close = MarketOrder(8, Side::kBuy, 12);
  close.request.position_ticket = 901;
  execution_->Submit(close);
  auto closing = ea.Expect<mt5::ClosePosition>();
  ASSERT_TRUE(closing.ok()) << closing.status().message();
  EXPECT_EQ(closing->first.ticket, 901u);
  EXPECT_DOUBLE_EQ(closing->first.volume, 0.12);
  EXPECT_EQ(closing->first.type_filling, static_cast<uint32_t>(mt5::Filling::kIoc));
  EXPECT_EQ(closing->first.client_order_id, "node-8");
}

// An operator's order (one with a chain id, from the API) is followed through the gateway's
// log lines by that id; a strategy's order adds no line.
TEST_F(GatewayTest, AnOperatorsOrderCarriesItsChainIdIntoTheGatewaysLogLines) {
  const std::string log_path =
      (std::filesystem::temp_directory_path() / ("aits_gw_chain_" + std::to_string(::getpid())))
          .string();
  std::filesystem::remove(log_path);
  ASSERT_TRUE(ConfigureLogging(LogOptions{.level = LogLevel::kInfo,
                                          .file = log_path,
                                          .format = LogFormat::kJsonLines,
                                          .role = "gateway"})
                  .ok());
  Start();
  StandInEa ea = Connected();
  Order operators = MarketOrder(7, Side::kBuy, 10);
  operators.request.chain_id = "chain-77";
  Order strategys = MarketOrder(8, Side::kBuy, 10);
  for (const Order& order : {operators, strategys}) {
    execution_->Submit(order);
    auto place = ea.Expect<mt5::PlaceOrder>();
    ASSERT_TRUE(place.ok()) << place.status().message();
    const uint64_t ticket = 900 + order.id.value;
    ASSERT_TRUE(ea.Send(ResultOf(place->first, mt5::retcode::kDone, ticket), place->second).ok());
    ASSERT_TRUE(ea.Send(DealAdd(9000 + order.id.value, ticket, 0.10, 1.1, place->first)).ok());
    auto fill = NextReport();
    ASSERT_TRUE(fill);
    EXPECT_EQ(fill->kind, ExecKind::kFilled);
  }
  ASSERT_TRUE(ConfigureLogging(LogOptions{}).ok());

  std::ifstream in(log_path);
  std::vector<nlohmann::json> chained;
  std::string line;
  while (std::getline(in, line)) {
    const nlohmann::json json = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(json.is_object()) << line;
    EXPECT_NE(json.value("order", ""), "8") << "a strategy's order logged: " << line;
    if (json.value("chain_id", "") == "chain-77") chained.push_back(json);
  }
  std::filesystem::remove(log_path);
  ASSERT_EQ(chained.size(), 2u);
  EXPECT_EQ(chained[0]["message"], "operator's order received");
  EXPECT_EQ(chained[1]["message"], "operator's order filled");
  for (const nlohmann::json& json : chained) {
    EXPECT_EQ(json["order"], "7");
    EXPECT_EQ(json["client_order_id"], "node-7");
    EXPECT_EQ(json["role"], "gateway");
  }
  EXPECT_EQ(chained[1]["ticket"], "907");
}

TEST_F(GatewayTest, AnOrderOutsideTheSymbolsVolumesIsRejectedBeforeItIsSent) {
  Start();
  StandInEa ea = Connected();
  execution_->Submit(MarketOrder(1, Side::kBuy, 20'000));  // 200 lots > 100
  auto report = NextReport();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->kind, ExecKind::kRejected);
  EXPECT_EQ(report->reject_reason, RejectReason::kInvalidQuantity);
  Order off_step = MarketOrder(2);
  off_step.request.quantity = Quantity::FromRaw(123'000'000, 3);  // 0.123 lots, step 0.01
  execution_->Submit(off_step);
  report = NextReport();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->kind, ExecKind::kRejected);
  EXPECT_EQ(report->reject_reason, RejectReason::kInvalidQuantity);
  EXPECT_NE(report->text.find("step"), std::string::npos) << report->text;
  EXPECT_FALSE(ea.Next(milliseconds(100)).ok());
  EXPECT_EQ(gateway_->count(Counter::kOrdersSent), 0u);
}

// Every retcode end to end: what the gateway reports, and whether it sends the order again.
TEST_F(GatewayTest, EveryRetcodeIsHandledAsItsTableSays) {
  Start();
  StandInEa ea = Connected();
  uint64_t id = 100;
  for (uint32_t retcode : mt5::kAllRetcodes) {
    SCOPED_TRACE(retcode);
    const RetcodeHandling handling = HandlingOf(retcode);
    const uint64_t order_id = ++id;
    const uint64_t ticket = 50'000 + order_id;
    execution_->Submit(MarketOrder(order_id));
    auto place = ea.Expect<mt5::PlaceOrder>();
    ASSERT_TRUE(place.ok()) << place.status().message();
    mt5::TradeResult result = ResultOf(place->first, retcode, ticket);
    if (retcode == mt5::retcode::kDonePartial) result.volume = 0.05;
    ASSERT_TRUE(ea.Send(result, place->second).ok());
    switch (handling.action) {
      case RetcodeAction::kReject:
      case RetcodeAction::kRejectAlert: {
        auto report = NextReport();
        ASSERT_TRUE(report);
        EXPECT_EQ(report->kind, ExecKind::kRejected);
        EXPECT_EQ(report->order_id, OrderId{order_id});
        EXPECT_EQ(report->reject_reason, handling.reject_reason);
        EXPECT_NE(report->text.find(std::string(mt5::RetcodeName(retcode))), std::string::npos)
            << report->text;
        break;
      }
      case RetcodeAction::kRequote:
      case RetcodeAction::kBackOff: {
        auto again = ea.Expect<mt5::PlaceOrder>();  // retried, same id
        ASSERT_TRUE(again.ok()) << again.status().message();
        EXPECT_EQ(again->first.client_order_id, place->first.client_order_id);
        ASSERT_TRUE(ea.Send(ResultOf(again->first, mt5::retcode::kReject), again->second).ok());
        auto report = NextReport();
        ASSERT_TRUE(report);
        EXPECT_EQ(report->kind, ExecKind::kRejected);
        break;
      }
      case RetcodeAction::kResolve: {
        // Asked before anything is resent: open orders and history.
        std::set<mt5::MessageType> asked;
        for (int idx = 0; idx < 2; ++idx) {
          auto frame = ea.Next();
          ASSERT_TRUE(frame.ok());
          asked.insert(frame->type());
          if (frame->type() == mt5::MessageType::kGetOrders) {
            ASSERT_TRUE(ea.Send(mt5::Orders{false, true, {}}, frame->envelope.request_id).ok());
          } else if (frame->type() == mt5::MessageType::kGetHistory) {
            ASSERT_TRUE(ea.Send(mt5::Orders{true, true, {}}, frame->envelope.request_id).ok());
            ASSERT_TRUE(ea.Send(mt5::Deals{true, {}}, frame->envelope.request_id).ok());
          }
        }
        EXPECT_EQ(asked, (std::set<mt5::MessageType>{mt5::MessageType::kGetOrders,
                                                     mt5::MessageType::kGetHistory}));
        auto again = ea.Expect<mt5::PlaceOrder>();  // unknown to the terminal: resent once
        ASSERT_TRUE(again.ok()) << again.status().message();
        EXPECT_EQ(again->first.client_order_id, place->first.client_order_id);
        ASSERT_TRUE(ea.Send(ResultOf(again->first, mt5::retcode::kReject), again->second).ok());
        auto report = NextReport();
        ASSERT_TRUE(report);
        EXPECT_EQ(report->kind, ExecKind::kRejected);
        break;
      }
      case RetcodeAction::kDone: {
        if (retcode == mt5::retcode::kPlaced) {
          auto report = NextReport();
          ASSERT_TRUE(report);
          EXPECT_EQ(report->kind, ExecKind::kAccepted);
          EXPECT_EQ(report->venue_order_id, ticket);
        }
        ASSERT_TRUE(ea.Send(DealAdd(ticket, ticket, 0.1, 1.1, place->first)).ok());
        auto report = NextReport();
        ASSERT_TRUE(report);
        EXPECT_EQ(report->kind, ExecKind::kFilled);
        EXPECT_EQ(report->exec_id, ticket);
        break;
      }
      case RetcodeAction::kPartial: {
        // FOK/IOC symbol: the part done fills, the rest is cancelled.
        ASSERT_TRUE(ea.Send(DealAdd(ticket, ticket, 0.05, 1.1, place->first)).ok());
        auto fill = NextReport();
        ASSERT_TRUE(fill);
        EXPECT_EQ(fill->kind, ExecKind::kPartiallyFilled);
        auto rest = NextReport();
        ASSERT_TRUE(rest);
        EXPECT_EQ(rest->kind, ExecKind::kCanceled);
        break;
      }
    }
  }
  EXPECT_EQ(gateway_->count(Counter::kAlerts), 2u);  // 10026, 10027
  EXPECT_EQ(gateway_->count(Counter::kResends), 1u);
}

TEST_F(GatewayTest, ARequoteIsRetriedWithTheQuotedPriceThenFills) {
  Start();
  StandInEa ea = Connected();
  execution_->Submit(MarketOrder(1));
  auto place = ea.Expect<mt5::PlaceOrder>();
  ASSERT_TRUE(place.ok());
  EXPECT_EQ(place->first.price, 0);  // the EA takes the current price
  ASSERT_TRUE(ea.Send(ResultOf(place->first, mt5::retcode::kRequote), place->second).ok());
  auto second = ea.Expect<mt5::PlaceOrder>();
  ASSERT_TRUE(second.ok());
  EXPECT_DOUBLE_EQ(second->first.price, 1.10010);  // the requote's ask, for a buy
  EXPECT_NE(second->second, place->second);        // a new request id
  ASSERT_TRUE(ea.Send(ResultOf(second->first, mt5::retcode::kPriceChanged), second->second).ok());
  auto third = ea.Expect<mt5::PlaceOrder>();
  ASSERT_TRUE(third.ok());
  ASSERT_TRUE(ea.Send(ResultOf(third->first, mt5::retcode::kDone, 77), third->second).ok());
  ASSERT_TRUE(ea.Send(DealAdd(78, 77, 0.1, 1.1001, third->first)).ok());
  auto fill = NextReport();
  ASSERT_TRUE(fill);
  EXPECT_EQ(fill->kind, ExecKind::kFilled);
  EXPECT_EQ(gateway_->count(Counter::kRequotes), 2u);
  EXPECT_EQ(gateway_->count(Counter::kOrdersSent), 3u);
}

TEST_F(GatewayTest, RequotesAreBoundedThenRejected) {
  GatewayConfig config = TestConfig();
  config.max_requotes = 2;
  Start(config);
  StandInEa ea = Connected();
  execution_->Submit(MarketOrder(1));
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto place = ea.Expect<mt5::PlaceOrder>();
    ASSERT_TRUE(place.ok()) << attempt;
    ASSERT_TRUE(ea.Send(ResultOf(place->first, mt5::retcode::kRequote), place->second).ok());
  }
  auto report = NextReport();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->kind, ExecKind::kRejected);
  EXPECT_EQ(report->reject_reason, RejectReason::kInvalidPrice);
  EXPECT_NE(report->text.find("TRADE_RETCODE_REQUOTE"), std::string::npos);
  EXPECT_FALSE(ea.Next(milliseconds(100)).ok());
}

TEST_F(GatewayTest, TooManyRequestsBacksOffExponentially) {
  Start();
  StandInEa ea = Connected();
  execution_->Submit(MarketOrder(1));
  auto place = ea.Expect<mt5::PlaceOrder>();
  ASSERT_TRUE(place.ok());
  std::vector<Steady::duration> waits;
  for (int attempt = 0; attempt < 3; ++attempt) {
    ASSERT_TRUE(
        ea.Send(ResultOf(place->first, mt5::retcode::kTooManyRequests), place->second).ok());
    const auto from = Steady::now();
    place = ea.Expect<mt5::PlaceOrder>();
    ASSERT_TRUE(place.ok());
    waits.push_back(Steady::now() - from);
  }
  EXPECT_GE(waits[0], milliseconds(38));   // 40 ms
  EXPECT_GE(waits[1], milliseconds(78));   // 80 ms
  EXPECT_GE(waits[2], milliseconds(158));  // 160 ms
  EXPECT_EQ(gateway_->count(Counter::kBackOffs), 3u);
  ASSERT_TRUE(ea.Send(ResultOf(place->first, mt5::retcode::kDone, 5), place->second).ok());
  ASSERT_TRUE(ea.Send(DealAdd(6, 5, 0.1, 1.1, place->first)).ok());
  auto fill = NextReport();
  ASSERT_TRUE(fill);
  EXPECT_EQ(fill->kind, ExecKind::kFilled);
}

// Answers the resolution's two requests with what the terminal holds; returns the frames that
// came before them that were neither (there must be none that trades).
void AnswerResolution(StandInEa& ea, const mt5::Orders& open, const mt5::Orders& history,
                      const mt5::Deals& deals) {
  int answered = 0;
  while (answered < 2) {
    auto frame = ea.Next();
    ASSERT_TRUE(frame.ok()) << frame.status().message();
    ASSERT_NE(frame->type(), mt5::MessageType::kPlaceOrder) << "resent before asking";
    ASSERT_NE(frame->type(), mt5::MessageType::kClosePosition) << "resent before asking";
    ASSERT_NE(frame->type(), mt5::MessageType::kCancelOrder) << "cancel sent before asking";
    ASSERT_NE(frame->type(), mt5::MessageType::kModifyPosition) << "SL/TP sent before the catch-up";
    if (frame->type() == mt5::MessageType::kGetOrders) {
      ASSERT_TRUE(ea.Send(open, frame->envelope.request_id).ok());
      ++answered;
    } else if (frame->type() == mt5::MessageType::kGetHistory) {
      auto get = frame->As<mt5::GetHistory>();
      ASSERT_TRUE(get.ok());
      EXPECT_GE(get->from_msc, 0);
      EXPECT_EQ(get->to_msc, 0);  // up to the terminal's now, by its own clock
      ASSERT_TRUE(ea.Send(history, frame->envelope.request_id).ok());
      ASSERT_TRUE(ea.Send(deals, frame->envelope.request_id).ok());
      ++answered;
    }
  }
}

TEST_F(GatewayTest, ALostLinkWithAnOrderInFlightAsksTheTerminalBeforeAnyResend) {
  Start();
  StandInEa first = Connected();
  execution_->Submit(MarketOrder(1));
  auto place = first.Expect<mt5::PlaceOrder>();
  ASSERT_TRUE(place.ok());
  first.Drop();  // the order reached the terminal, the answer never came back

  StandInEa second = Connected();
  mt5::OrderInfo done;
  done.ticket = 4001;
  done.symbol = "EURUSD";
  done.state = static_cast<uint32_t>(mt5::OrderState::kFilled);
  done.volume_initial = 0.1;
  done.magic = place->first.magic;
  done.comment = place->first.client_order_id;
  mt5::DealInfo deal;
  deal.ticket = 5001;
  deal.order = 4001;
  deal.position_id = 4001;
  deal.symbol = "EURUSD";
  deal.type = 0;
  deal.volume = 0.1;
  deal.price = 1.10004;
  deal.magic = place->first.magic;
  deal.comment = place->first.client_order_id;
  deal.time_msc = 1'700'000'000'400;
  AnswerResolution(second, mt5::Orders{false, true, {}}, mt5::Orders{true, true, {done}},
                   mt5::Deals{true, {deal}});
  auto fill = NextReport();
  ASSERT_TRUE(fill);
  EXPECT_EQ(fill->kind, ExecKind::kFilled);
  EXPECT_EQ(fill->order_id, OrderId{1});
  EXPECT_EQ(fill->exec_id, 5001u);
  EXPECT_EQ(fill->venue_order_id, 4001u);
  EXPECT_EQ(fill->price, Price::FromRaw(110'004 * 10'000, 5));
  // Never sent twice.
  auto more = second.Next(milliseconds(200));
  EXPECT_FALSE(more.ok()) << mt5::MessageName(more->envelope.type);
  EXPECT_EQ(gateway_->count(Counter::kResends), 0u);
  EXPECT_EQ(gateway_->count(Counter::kResolutions), 1u);
  EXPECT_EQ(gateway_->count(Counter::kOrdersSent), 1u);
}

TEST_F(GatewayTest, AnOrderTheTerminalNeverGotIsResentOnceWithTheSameId) {
  Start();
  StandInEa first = Connected();
  execution_->Submit(MarketOrder(1));
  auto place = first.Expect<mt5::PlaceOrder>();
  ASSERT_TRUE(place.ok());
  first.Drop();
  StandInEa second = Connected();
  AnswerResolution(second, mt5::Orders{false, true, {}}, mt5::Orders{true, true, {}},
                   mt5::Deals{true, {}});
  auto again = second.Expect<mt5::PlaceOrder>();
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->first.client_order_id, place->first.client_order_id);
  EXPECT_EQ(again->first.magic, place->first.magic);
  EXPECT_EQ(gateway_->count(Counter::kResends), 1u);
  // The EA's own duplicate check answers 10035 "duplicate client order id": asked again, never
  // guessed.
  mt5::TradeResult duplicate = ResultOf(again->first, mt5::retcode::kInvalidOrder);
  duplicate.comment = "duplicate client order id";
  ASSERT_TRUE(second.Send(duplicate, again->second).ok());
  mt5::OrderInfo working;
  working.ticket = 4100;
  working.symbol = "EURUSD";
  working.type = static_cast<uint32_t>(mt5::OrderType::kBuy);
  working.state = static_cast<uint32_t>(mt5::OrderState::kPlaced);
  working.volume_initial = 0.1;
  working.volume_current = 0.1;
  working.magic = place->first.magic;
  working.comment = place->first.client_order_id;
  AnswerResolution(second, mt5::Orders{false, true, {working}}, mt5::Orders{true, true, {}},
                   mt5::Deals{true, {}});
  auto accepted = NextReport();
  ASSERT_TRUE(accepted);
  EXPECT_EQ(accepted->kind, ExecKind::kAccepted);
  EXPECT_EQ(accepted->venue_order_id, 4100u);
  EXPECT_FALSE(second.Next(milliseconds(150)).ok());
  EXPECT_EQ(gateway_->count(Counter::kResends), 1u);
}

TEST_F(GatewayTest, ATimeoutRetcodeIsResolvedFromTheTerminalsHistory) {
  Start();
  StandInEa ea = Connected();
  execution_->Submit(MarketOrder(1));
  auto place = ea.Expect<mt5::PlaceOrder>();
  ASSERT_TRUE(place.ok());
  ASSERT_TRUE(ea.Send(ResultOf(place->first, mt5::retcode::kTimeout), place->second).ok());
  mt5::OrderInfo rejected;
  rejected.ticket = 4200;
  rejected.symbol = "EURUSD";
  rejected.state = static_cast<uint32_t>(mt5::OrderState::kRejected);
  rejected.magic = place->first.magic;
  rejected.comment = "";  // found by its magic alone
  AnswerResolution(ea, mt5::Orders{false, true, {}}, mt5::Orders{true, true, {rejected}},
                   mt5::Deals{true, {}});
  auto report = NextReport();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->kind, ExecKind::kRejected);
  EXPECT_EQ(report->venue_order_id, 4200u);
  EXPECT_FALSE(ea.Next(milliseconds(150)).ok());
}

TEST_F(GatewayTest, PendingOrdersAreAcceptedCancelledAndProtectionGoesByTicket) {
  Start();
  StandInEa ea = Connected(true);
  Order limit = MarketOrder(3);
  limit.request.type = OrderType::kLimit;
  limit.request.price = Price::FromRaw(109'000 * 10'000, 5);
  limit.request.tif = TimeInForce::kDay;
  execution_->Submit(limit);
  auto place = ea.Expect<mt5::PlaceOrder>();
  ASSERT_TRUE(place.ok());
  EXPECT_EQ(place->first.action, static_cast<uint32_t>(mt5::TradeAction::kPending));
  EXPECT_EQ(place->first.type, static_cast<uint32_t>(mt5::OrderType::kBuyLimit));
  EXPECT_DOUBLE_EQ(place->first.price, 1.09);
  EXPECT_EQ(place->first.type_time, static_cast<uint32_t>(mt5::OrderTime::kDay));
  ASSERT_TRUE(ea.Send(ResultOf(place->first, mt5::retcode::kPlaced, 600), place->second).ok());
  auto accepted = NextReport();
  ASSERT_TRUE(accepted);
  EXPECT_EQ(accepted->kind, ExecKind::kAccepted);
  EXPECT_EQ(accepted->venue_order_id, 600u);
  ASSERT_TRUE(execution_->Cancel(OrderId{3}, 600, Timestamp{}).ok());
  auto cancel = ea.Expect<mt5::CancelOrder>();
  ASSERT_TRUE(cancel.ok());
  EXPECT_EQ(cancel->first.ticket, 600u);
  mt5::TradeResult removed;
  removed.retcode = mt5::retcode::kDone;
  removed.order = 600;
  ASSERT_TRUE(ea.Send(removed, cancel->second).ok());
  auto canceled = NextReport();
  ASSERT_TRUE(canceled);
  EXPECT_EQ(canceled->kind, ExecKind::kCanceled);
  EXPECT_EQ(canceled->order_id, OrderId{3});

  ASSERT_TRUE(execution_
                  ->SetPositionProtection(InstrumentId{0}, 777, Price::FromRaw(108'000 * 10'000, 5),
                                          std::nullopt)
                  .ok());
  auto modify = ea.Expect<mt5::ModifyPosition>();
  ASSERT_TRUE(modify.ok());
  EXPECT_EQ(modify->first.ticket, 777u);
  EXPECT_DOUBLE_EQ(modify->first.sl, 1.08);
  EXPECT_EQ(modify->first.tp, 0);
  auto modified = ModifyDone(ea, modify->second);
  ASSERT_TRUE(modified);
  EXPECT_EQ(modified->kind, ExecKind::kModified);
  EXPECT_EQ(modified->position_ticket, 777u);
  EXPECT_EQ(modified->stop_loss, Price::FromRaw(108'000 * 10'000, 5));
  EXPECT_FALSE(modified->take_profit);
  // A refused change is counted, not reported.
  ASSERT_TRUE(
      execution_->SetPositionProtection(InstrumentId{0}, 778, std::nullopt, std::nullopt).ok());
  modify = ea.Expect<mt5::ModifyPosition>();
  ASSERT_TRUE(modify.ok());
  mt5::TradeResult refused;
  refused.retcode = mt5::retcode::kInvalidStops;
  ASSERT_TRUE(ea.Send(refused, modify->second).ok());
  EXPECT_FALSE(NextReport(milliseconds(150)));
  EXPECT_EQ(gateway_->count(Counter::kRefusedProtections), 1u);
}

TEST_F(GatewayTest, AnSlCloseTheNodeDidNotSendIsAnnouncedThenFilled) {
  Start();
  StandInEa ea = Connected();
  mt5::PlaceOrder none;
  none.symbol = "EURUSD";
  none.type = static_cast<uint32_t>(mt5::OrderType::kSell);
  mt5::Transaction sl = DealAdd(9100, 9099, 0.3, 1.095, none);
  sl.deal_reason = static_cast<uint32_t>(mt5::DealReason::kSl);
  sl.magic = 0;
  sl.comment = "[sl 1.09500]";
  ASSERT_TRUE(ea.Send(sl).ok());
  auto announced = NextReport();
  ASSERT_TRUE(announced);
  EXPECT_EQ(announced->kind, ExecKind::kNew);
  EXPECT_EQ(announced->order_id, OrderId{});
  EXPECT_EQ(announced->text, "sl");
  EXPECT_EQ(announced->side, Side::kSell);
  EXPECT_EQ(announced->venue_order_id, 9099u);
  auto fill = NextReport();
  ASSERT_TRUE(fill);
  EXPECT_EQ(fill->kind, ExecKind::kFilled);
  EXPECT_EQ(fill->fill_reason, FillReason::kStopLoss);
  EXPECT_EQ(fill->venue_order_id, 9099u);
}

// --- found by the link-drop fault test (gateway_fault_test.cc) -------------------------------

mt5::Ticks OneTick(int64_t time_msc) {
  mt5::TickData tick;
  tick.time_msc = time_msc;
  tick.bid = 1.10000;
  tick.ask = 1.10010;
  tick.flags = mt5::kTickFlagBid | mt5::kTickFlagAsk;
  return mt5::Ticks{"EURUSD", false, {tick}};
}

mt5::DealInfo DealOf(const mt5::Transaction& t) {
  mt5::DealInfo deal;
  deal.ticket = t.deal;
  deal.order = t.order;
  deal.position_id = t.position;
  deal.symbol = t.symbol;
  deal.type = t.deal_type;
  deal.reason = t.deal_reason;
  deal.volume = t.volume;
  deal.price = t.price;
  deal.magic = t.magic;
  deal.comment = t.comment;
  deal.time_msc = t.time_msc;
  return deal;
}

std::pair<mt5::PlaceOrder, mt5::Transaction> GatewayTest::OpenAfterATick(StandInEa& ea,
                                                                         int64_t tick_time) {
  EXPECT_TRUE(ea.Send(OneTick(tick_time)).ok());
  EXPECT_TRUE(NextOf<node::MarketData>());
  execution_->Submit(MarketOrder(1));
  auto place = ea.Expect<mt5::PlaceOrder>();
  EXPECT_TRUE(place.ok()) << place.status().message();
  if (!place.ok()) return {};
  EXPECT_TRUE(ea.Send(ResultOf(place->first, mt5::retcode::kDone, 4001), place->second).ok());
  const mt5::Transaction opened = DealAdd(5001, 4001, 0.1, 1.1, place->first);
  EXPECT_TRUE(ea.Send(opened).ok());
  EXPECT_TRUE(NextReport());
  return {place->first, opened};
}

// MT5's SL, TP and stop-out closes carry the position's magic: matched by magic, an SL close was
// taken for a second fill of the order that opened the position (a stale report; the kernel kept
// the position the terminal had closed).
TEST_F(GatewayTest, AServerCloseCarryingThePositionsMagicIsNotAFillOfTheOrderThatOpenedIt) {
  Start();
  StandInEa ea = Connected();
  execution_->Submit(MarketOrder(1));
  auto place = ea.Expect<mt5::PlaceOrder>();
  ASSERT_TRUE(place.ok());
  ASSERT_TRUE(ea.Send(ResultOf(place->first, mt5::retcode::kDone, 4001), place->second).ok());
  ASSERT_TRUE(ea.Send(DealAdd(5001, 4001, 0.1, 1.1, place->first)).ok());
  auto fill = NextReport();
  ASSERT_TRUE(fill);
  EXPECT_EQ(fill->order_id, OrderId{1});
  mt5::PlaceOrder closing = place->first;
  closing.type = static_cast<uint32_t>(mt5::OrderType::kSell);
  mt5::Transaction sl = DealAdd(5002, 4002, 0.1, 1.095, closing);
  sl.position = 4001;
  sl.deal_reason = static_cast<uint32_t>(mt5::DealReason::kSl);
  sl.comment = "[sl 1.09500]";  // the magic stays the position's, as the server sets it
  ASSERT_TRUE(ea.Send(sl).ok());
  auto announced = NextReport();
  ASSERT_TRUE(announced);
  EXPECT_EQ(announced->kind, ExecKind::kNew);
  EXPECT_EQ(announced->order_id, OrderId{});
  EXPECT_EQ(announced->venue_order_id, 4002u);
  auto closed = NextReport();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->kind, ExecKind::kFilled);
  EXPECT_EQ(closed->order_id, OrderId{});
  EXPECT_EQ(closed->fill_reason, FillReason::kStopLoss);
  EXPECT_EQ(closed->position_ticket, 4001u);
}

// A terminal whose clock is not the wall's (a replay; the simulator's hello carries the wall time
// before its first tick): the window of the resolution's history was the node's estimate of the
// server's time and began after the order's deal, or ended before it began (the EA refused it,
// the resolution was asked again and again, and new orders waited for ever).
TEST_F(GatewayTest, TheResolutionsHistoryWindowIsTheTerminalsOwnClock) {
  Start();
  StandInEa first = Connected();  // its hello says 2023 (SomeAccount's time is not the hello's)
  constexpr int64_t kTickTime = 1'577'900'000'000;  // 2020: the replay's time
  ASSERT_TRUE(first.Send(OneTick(kTickTime)).ok());
  ASSERT_TRUE(NextOf<node::MarketData>());
  execution_->Submit(MarketOrder(1));
  auto place = first.Expect<mt5::PlaceOrder>();
  ASSERT_TRUE(place.ok());
  first.Drop();
  StandInEa second = Connected();
  std::optional<mt5::GetHistory> asked;
  for (int idx = 0; idx < 2 && !asked; ++idx) {
    auto frame = second.Next();
    ASSERT_TRUE(frame.ok());
    if (frame->type() == mt5::MessageType::kGetOrders) {
      ASSERT_TRUE(second.Send(mt5::Orders{false, true, {}}, frame->envelope.request_id).ok());
    } else if (frame->type() == mt5::MessageType::kGetHistory) {
      asked = *frame->As<mt5::GetHistory>();
      mt5::Transaction t = DealAdd(5001, 4001, 0.1, 1.1001, place->first);
      t.time_msc = kTickTime + 3;
      ASSERT_TRUE(second.Send(mt5::Orders{true, true, {}}, frame->envelope.request_id).ok());
      ASSERT_TRUE(second.Send(mt5::Deals{true, {DealOf(t)}}, frame->envelope.request_id).ok());
    }
  }
  ASSERT_TRUE(asked);
  EXPECT_LE(asked->from_msc, kTickTime);
  EXPECT_GE(asked->from_msc, 0);
  EXPECT_EQ(asked->to_msc, 0);
  auto fill = NextReport();
  ASSERT_TRUE(fill);
  EXPECT_EQ(fill->kind, ExecKind::kFilled);
  EXPECT_EQ(fill->exec_id, 5001u);
  EXPECT_EQ(gateway_->count(Counter::kResends), 0u);
}

// An SL close whose transaction went with the link: nothing the node sent was in flight, yet the
// kernel must hear of it. After a lost link the gateway reads the history since the last time it
// knew it had every deal, and applies the deals it never saw (once).
TEST_F(GatewayTest, ADealWhoseTransactionWentWithTheLinkIsCaughtUpAfterTheReconnect) {
  Start();
  StandInEa first = Connected();
  constexpr int64_t kTickTime = 1'700'000'000'000;
  const auto [place, opened] = OpenAfterATick(first, kTickTime);
  first.Drop();  // the SL close below happened meanwhile; its transaction never came

  StandInEa second = Connected();
  mt5::PlaceOrder closing = place;
  closing.type = static_cast<uint32_t>(mt5::OrderType::kSell);
  mt5::Transaction sl = DealAdd(5002, 4002, 0.1, 1.095, closing);
  sl.position = 4001;
  sl.deal_reason = static_cast<uint32_t>(mt5::DealReason::kSl);
  sl.comment = "[sl 1.09500]";
  sl.time_msc = kTickTime + 900;
  AnswerResolution(second, mt5::Orders{false, true, {}}, mt5::Orders{true, true, {}},
                   mt5::Deals{true, {DealOf(opened), DealOf(sl)}});
  auto announced = NextReport();
  ASSERT_TRUE(announced);
  EXPECT_EQ(announced->kind, ExecKind::kNew);
  EXPECT_EQ(announced->text, "sl");
  auto closed = NextReport();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->kind, ExecKind::kFilled);
  EXPECT_EQ(closed->exec_id, 5002u);
  EXPECT_FALSE(NextReport(milliseconds(150)));  // the opening deal is not booked twice
  EXPECT_EQ(gateway_->count(Counter::kCaughtUpDeals), 1u);
}

// Two orders resolved at once: their deals are booked in the terminal's order (deal tickets), not
// in the orders' (a netting account's trades depend on it).
TEST_F(GatewayTest, AResolutionBooksTheDealsInTheTerminalsOrder) {
  Start();
  StandInEa first = Connected();
  execution_->Submit(MarketOrder(1));
  auto place1 = first.Expect<mt5::PlaceOrder>();
  ASSERT_TRUE(place1.ok());
  execution_->Submit(MarketOrder(2, Side::kSell, 30));
  auto place2 = first.Expect<mt5::PlaceOrder>();
  ASSERT_TRUE(place2.ok());
  first.Drop();
  StandInEa second = Connected();
  // The second order reached the terminal first (the first one's request was resent by hand).
  AnswerResolution(second, mt5::Orders{false, true, {}}, mt5::Orders{true, true, {}},
                   mt5::Deals{true,
                              {DealOf(DealAdd(5003, 4003, 0.1, 1.1, place1->first)),
                               DealOf(DealAdd(5002, 4002, 0.3, 1.1, place2->first))}});
  auto earlier = NextReport();
  auto later = NextReport();
  ASSERT_TRUE(earlier && later);
  EXPECT_EQ(earlier->exec_id, 5002u);
  EXPECT_EQ(earlier->order_id, OrderId{2});
  EXPECT_EQ(later->exec_id, 5003u);
  EXPECT_EQ(later->order_id, OrderId{1});
}

// MT5 netting: a deal that reverses the position gives it the reversing order's ticket (the
// identifier stays); SL/TP are modified by ticket, and went to the identifier (10036, refused).
TEST_F(GatewayTest, ANettingPositionReversedIsModifiedByTheReversingOrdersTicket) {
  Start();
  StandInEa ea = Connected();
  execution_->Submit(MarketOrder(1));
  auto buy = ea.Expect<mt5::PlaceOrder>();
  ASSERT_TRUE(buy.ok());
  ASSERT_TRUE(ea.Send(ResultOf(buy->first, mt5::retcode::kDone, 4001), buy->second).ok());
  ASSERT_TRUE(ea.Send(DealAdd(5001, 4001, 0.1, 1.1, buy->first)).ok());
  ASSERT_TRUE(NextReport());
  execution_->Submit(MarketOrder(2, Side::kSell, 30));
  auto sell = ea.Expect<mt5::PlaceOrder>();
  ASSERT_TRUE(sell.ok());
  ASSERT_TRUE(ea.Send(ResultOf(sell->first, mt5::retcode::kDone, 4002), sell->second).ok());
  mt5::Transaction reversal = DealAdd(5002, 4002, 0.3, 1.1, sell->first);
  reversal.position = 4001;  // POSITION_IDENTIFIER never changes
  ASSERT_TRUE(ea.Send(reversal).ok());
  ASSERT_TRUE(NextReport());
  ASSERT_TRUE(
      execution_->SetProtection(InstrumentId{0}, Price::FromRaw(112'000 * 10'000, 5), std::nullopt)
          .ok());
  auto modify = ea.Expect<mt5::ModifyPosition>();
  ASSERT_TRUE(modify.ok());
  EXPECT_EQ(modify->first.ticket, 4002u);
  // Adding to it keeps the ticket.
  execution_->Submit(MarketOrder(3, Side::kSell, 10));
  auto add = ea.Expect<mt5::PlaceOrder>();
  ASSERT_TRUE(add.ok());
  ASSERT_TRUE(ea.Send(ResultOf(add->first, mt5::retcode::kDone, 4003), add->second).ok());
  mt5::Transaction added = DealAdd(5003, 4003, 0.1, 1.1, add->first);
  added.position = 4001;
  ASSERT_TRUE(ea.Send(added).ok());
  ASSERT_TRUE(NextReport());
  ASSERT_TRUE(execution_->SetProtection(InstrumentId{0}, std::nullopt, std::nullopt).ok());
  modify = ea.Expect<mt5::ModifyPosition>();
  ASSERT_TRUE(modify.ok());
  EXPECT_EQ(modify->first.ticket, 4002u);
}

// 10025 "no changes" to an SL/TP change: the position already holds what was asked (an earlier
// change whose reply went with the link): it is reported done, so the node stops asking.
TEST_F(GatewayTest, NoChangesToAnSlTpChangeIsReportedAsDone) {
  Start();
  StandInEa ea = Connected(true);
  ASSERT_TRUE(
      execution_->SetPositionProtection(InstrumentId{0}, 779, std::nullopt, std::nullopt).ok());
  auto modify = ea.Expect<mt5::ModifyPosition>();
  ASSERT_TRUE(modify.ok());
  mt5::TradeResult unchanged;
  unchanged.retcode = mt5::retcode::kNoChanges;
  ASSERT_TRUE(ea.Send(unchanged, modify->second).ok());
  auto modified = NextReport();
  ASSERT_TRUE(modified);
  EXPECT_EQ(modified->kind, ExecKind::kModified);
  EXPECT_EQ(modified->position_ticket, 779u);
  EXPECT_EQ(gateway_->count(Counter::kRefusedProtections), 0u);
}

// --- cancels and SL/TP changes over a lost link -------------------------------------------------

mt5::OrderInfo OrderAt(const mt5::PlaceOrder& place, uint64_t ticket, mt5::OrderState state) {
  mt5::OrderInfo order;
  order.ticket = ticket;
  order.symbol = place.symbol;
  order.type = place.type;
  order.state = static_cast<uint32_t>(state);
  order.volume_initial = place.volume;
  order.volume_current = state == mt5::OrderState::kFilled ? 0 : place.volume;
  order.price_open = place.price;
  order.magic = place.magic;
  order.comment = place.client_order_id;
  return order;
}

class GatewayLinkTest : public GatewayTest {
 protected:
  // The gateway has seen the link go (a call queued after this finds no EA).
  void WaitDisconnected() {
    const auto deadline = Steady::now() + milliseconds(2000);
    while (gateway_->connected() && Steady::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(2));
    }
    ASSERT_FALSE(gateway_->connected());
  }
  // Order #3: a buy limit of 0.1 lots at 1.09.
  static Order Limit() {
    Order limit = MarketOrder(3);
    limit.request.type = OrderType::kLimit;
    limit.request.price = Price::FromRaw(109'000 * 10'000, 5);
    return limit;
  }
  // Started; order #3 placed and accepted under ticket 600; its cancel sent and the link dropped
  // before the reply. The next EA, connected; `place` what the first got.
  StandInEa CancelLostWithTheLink(mt5::PlaceOrder& place) {
    Start();
    StandInEa first = Connected();
    execution_->Submit(Limit());
    auto placed = first.Expect<mt5::PlaceOrder>();
    EXPECT_TRUE(placed.ok()) << placed.status().message();
    if (placed.ok()) {
      place = placed->first;
      EXPECT_TRUE(first.Send(ResultOf(place, mt5::retcode::kPlaced, 600), placed->second).ok());
    }
    auto accepted = NextReport();
    EXPECT_TRUE(accepted && accepted->kind == ExecKind::kAccepted);
    EXPECT_TRUE(execution_->Cancel(OrderId{3}, 600, Timestamp{}).ok());
    auto cancel = first.Expect<mt5::CancelOrder>();
    EXPECT_TRUE(cancel.ok()) << cancel.status().message();
    EXPECT_TRUE(cancel.ok() && cancel->first.ticket == 600u);
    first.Drop();
    WaitDisconnected();
    return Connected();
  }
  // The reconnect's resolution answered with the order still working: the cancel sent again.
  static Result<std::pair<mt5::CancelOrder, uint64_t>> CancelSentAgain(
      StandInEa& ea, const mt5::PlaceOrder& place) {
    AnswerResolution(ea, mt5::Orders{false, true, {OrderAt(place, 600, mt5::OrderState::kPlaced)}},
                     mt5::Orders{true, true, {}}, mt5::Deals{true, {}});
    return ea.Expect<mt5::CancelOrder>();
  }
};

// The cancel reached the terminal or not: after the reconnect the resolution finds the order still
// working, so the cancel is sent again, and the order ends cancelled once.
TEST_F(GatewayLinkTest, ACancelWhoseReplyWentWithTheLinkIsSentAgainToAWorkingOrder) {
  mt5::PlaceOrder place;
  StandInEa second = CancelLostWithTheLink(place);
  auto again = CancelSentAgain(second, place);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->first.ticket, 600u);
  mt5::TradeResult removed;
  removed.retcode = mt5::retcode::kDone;
  removed.order = 600;
  ASSERT_TRUE(second.Send(removed, again->second).ok());
  auto canceled = NextReport();
  ASSERT_TRUE(canceled);
  EXPECT_EQ(canceled->kind, ExecKind::kCanceled);
  EXPECT_EQ(canceled->order_id, OrderId{3});
  // The terminal's own word of the deletion is no second report, and nothing more is sent.
  mt5::Transaction deleted;
  deleted.type = static_cast<uint32_t>(mt5::TransactionType::kHistoryAdd);
  deleted.order = 600;
  deleted.symbol = "EURUSD";
  deleted.order_state = static_cast<uint32_t>(mt5::OrderState::kCanceled);
  ASSERT_TRUE(second.Send(deleted).ok());
  EXPECT_FALSE(NextReport(milliseconds(150)));
  EXPECT_FALSE(second.Next(milliseconds(100)).ok());
  EXPECT_EQ(gateway_->count(Counter::kRetriedCancels), 1u);
  EXPECT_EQ(gateway_->count(Counter::kRefusedCancels), 0u);
}

// The order filled while the link was down: its cancel is not sent again (the terminal would
// answer 10013), the order ends filled from the history, and nothing was refused.
TEST_F(GatewayLinkTest, ACancelOfAnOrderThatFilledWhileTheLinkWasDownIsNotSentAgain) {
  mt5::PlaceOrder place;
  StandInEa second = CancelLostWithTheLink(place);
  mt5::Transaction filled = DealAdd(5001, 600, 0.1, 1.09, place);
  AnswerResolution(second, mt5::Orders{false, true, {}},
                   mt5::Orders{true, true, {OrderAt(place, 600, mt5::OrderState::kFilled)}},
                   mt5::Deals{true, {DealOf(filled)}});
  auto fill = NextReport();
  ASSERT_TRUE(fill);
  EXPECT_EQ(fill->kind, ExecKind::kFilled);
  EXPECT_EQ(fill->order_id, OrderId{3});
  EXPECT_EQ(fill->exec_id, 5001u);
  auto more = second.Next(milliseconds(200));
  EXPECT_FALSE(more.ok()) << mt5::MessageName(more->envelope.type);
  EXPECT_FALSE(NextReport(milliseconds(100)));
  EXPECT_EQ(gateway_->count(Counter::kRetriedCancels), 0u);
  EXPECT_EQ(gateway_->count(Counter::kRefusedCancels), 0u);
}

// A resent cancel that meets an order gone since the resolution (10013, no working order) asks
// the terminal again; the history says it was cancelled: reported so, and no refusal.
TEST_F(GatewayLinkTest, AResentCancelRefusedBecauseTheOrderWentIsNoError) {
  mt5::PlaceOrder place;
  StandInEa second = CancelLostWithTheLink(place);
  auto again = CancelSentAgain(second, place);
  ASSERT_TRUE(again.ok()) << again.status().message();
  mt5::TradeResult gone;
  gone.retcode = mt5::retcode::kInvalid;
  gone.comment = "no working order 600";
  ASSERT_TRUE(second.Send(gone, again->second).ok());
  AnswerResolution(second, mt5::Orders{false, true, {}},
                   mt5::Orders{true, true, {OrderAt(place, 600, mt5::OrderState::kCanceled)}},
                   mt5::Deals{true, {}});
  auto canceled = NextReport();
  ASSERT_TRUE(canceled);
  EXPECT_EQ(canceled->kind, ExecKind::kCanceled);
  EXPECT_EQ(canceled->order_id, OrderId{3});
  EXPECT_FALSE(second.Next(milliseconds(150)).ok());
  EXPECT_EQ(gateway_->count(Counter::kRefusedCancels), 0u);
}

// A cancel asked while the link is down, of an order whose place_order went with the link and never
// reached the terminal: the order is reported cancelled, never sent again.
TEST_F(GatewayLinkTest, AnOrderTheTerminalNeverGotIsCancelledNotResentWhenItsCancelWasAsked) {
  Start();
  StandInEa first = Connected();
  execution_->Submit(Limit());
  ASSERT_TRUE(first.Expect<mt5::PlaceOrder>().ok());
  first.Drop();
  WaitDisconnected();
  ASSERT_TRUE(execution_->Cancel(OrderId{3}, 0, Timestamp{}).ok());
  StandInEa second = Connected();
  AnswerResolution(second, mt5::Orders{false, true, {}}, mt5::Orders{true, true, {}},
                   mt5::Deals{true, {}});
  auto canceled = NextReport();
  ASSERT_TRUE(canceled);
  EXPECT_EQ(canceled->kind, ExecKind::kCanceled);
  EXPECT_EQ(canceled->order_id, OrderId{3});
  auto more = second.Next(milliseconds(200));
  EXPECT_FALSE(more.ok()) << mt5::MessageName(more->envelope.type);
  EXPECT_EQ(gateway_->count(Counter::kResends), 0u);
}

// An SL/TP change asked while no EA is connected is kept, and reaches the next one.
TEST_F(GatewayLinkTest, AnSlTpChangeAskedWhileNoEaIsConnectedReachesTheNextOne) {
  Start();
  StandInEa first = Connected(true);
  first.Drop();
  WaitDisconnected();
  ASSERT_TRUE(execution_
                  ->SetPositionProtection(InstrumentId{0}, 777, Price::FromRaw(108'000 * 10'000, 5),
                                          Price::FromRaw(112'000 * 10'000, 5))
                  .ok());
  StandInEa second = Connected(true);
  auto modify = second.Expect<mt5::ModifyPosition>();
  ASSERT_TRUE(modify.ok()) << modify.status().message();
  EXPECT_EQ(modify->first.ticket, 777u);
  EXPECT_DOUBLE_EQ(modify->first.sl, 1.08);
  EXPECT_DOUBLE_EQ(modify->first.tp, 1.12);
  auto modified = ModifyDone(second, modify->second);
  ASSERT_TRUE(modified);
  EXPECT_EQ(modified->kind, ExecKind::kModified);
  EXPECT_EQ(modified->position_ticket, 777u);
  EXPECT_EQ(modified->stop_loss, Price::FromRaw(108'000 * 10'000, 5));
  EXPECT_EQ(gateway_->count(Counter::kRetriedProtections), 1u);
  EXPECT_EQ(gateway_->count(Counter::kRefusedProtections), 0u);
}

// Changes whose replies went with the link are sent again after the reconnect's resolution (the
// catch-up of the deals): for a position changed again meanwhile only the latest; one whose
// position closed meanwhile (10036) is dropped, not refused.
TEST_F(GatewayLinkTest, SlTpChangesLostWithTheLinkAreSentAgainTheLatestWinning) {
  Start();
  StandInEa first = Connected(true);
  ASSERT_TRUE(first.Send(OneTick(1'700'000'000'000)).ok());
  ASSERT_TRUE(NextOf<node::MarketData>());
  const Price sl1 = Price::FromRaw(108'000 * 10'000, 5);
  const Price sl2 = Price::FromRaw(108'500 * 10'000, 5);
  const Price tp = Price::FromRaw(112'000 * 10'000, 5);
  ASSERT_TRUE(execution_->SetPositionProtection(InstrumentId{0}, 777, sl1, std::nullopt).ok());
  ASSERT_TRUE(first.Expect<mt5::ModifyPosition>().ok());
  ASSERT_TRUE(execution_->SetPositionProtection(InstrumentId{0}, 778, std::nullopt, tp).ok());
  ASSERT_TRUE(first.Expect<mt5::ModifyPosition>().ok());
  first.Drop();
  WaitDisconnected();
  ASSERT_TRUE(execution_->SetPositionProtection(InstrumentId{0}, 777, sl2, std::nullopt).ok());
  StandInEa second = Connected(true);
  AnswerResolution(second, mt5::Orders{false, true, {}}, mt5::Orders{true, true, {}},
                   mt5::Deals{true, {}});
  std::map<uint64_t, std::pair<mt5::ModifyPosition, uint64_t>> sent;
  for (int idx = 0; idx < 2; ++idx) {
    auto modify = second.Expect<mt5::ModifyPosition>();
    ASSERT_TRUE(modify.ok()) << modify.status().message();
    sent[modify->first.ticket] = *modify;
  }
  EXPECT_FALSE(second.Next(milliseconds(150)).ok());  // one change per position
  ASSERT_EQ(sent.count(777), 1u);
  ASSERT_EQ(sent.count(778), 1u);
  EXPECT_DOUBLE_EQ(sent[777].first.sl, 1.085);
  EXPECT_DOUBLE_EQ(sent[778].first.tp, 1.12);
  mt5::TradeResult closed;
  closed.retcode = mt5::retcode::kPositionClosed;
  ASSERT_TRUE(second.Send(closed, sent[778].second).ok());
  auto modified = ModifyDone(second, sent[777].second);
  ASSERT_TRUE(modified);
  EXPECT_EQ(modified->kind, ExecKind::kModified);
  EXPECT_EQ(modified->position_ticket, 777u);
  EXPECT_EQ(modified->stop_loss, sl2);
  EXPECT_FALSE(NextReport(milliseconds(150)));
  EXPECT_EQ(gateway_->count(Counter::kRetriedProtections), 2u);
  EXPECT_EQ(gateway_->count(Counter::kDroppedProtections), 1u);
  EXPECT_EQ(gateway_->count(Counter::kRefusedProtections), 0u);
}

// Netting, by instrument: a change asked while the link is down goes, after the reconnect, to the
// position's ticket as the caught-up deals leave it (a reversal made it the reversing order's).
TEST_F(GatewayLinkTest, ANettingSlTpKeptOverALostLinkGoesToThePositionsTicketAfterTheCatchUp) {
  Start();
  StandInEa first = Connected();
  constexpr int64_t kTickTime = 1'700'000'000'000;
  const mt5::Transaction opened = OpenAfterATick(first, kTickTime).second;
  first.Drop();
  WaitDisconnected();
  ASSERT_TRUE(
      execution_->SetProtection(InstrumentId{0}, Price::FromRaw(112'000 * 10'000, 5), std::nullopt)
          .ok());
  // Meanwhile a trade by hand reversed the position: its transaction went with the link.
  mt5::PlaceOrder by_hand;
  by_hand.symbol = "EURUSD";
  by_hand.type = static_cast<uint32_t>(mt5::OrderType::kSell);
  mt5::Transaction reversal = DealAdd(5002, 4002, 0.3, 1.1, by_hand);
  reversal.position = 4001;
  reversal.deal_reason = static_cast<uint32_t>(mt5::DealReason::kClient);
  reversal.time_msc = kTickTime + 500;
  StandInEa second = Connected();
  AnswerResolution(second, mt5::Orders{false, true, {}}, mt5::Orders{true, true, {}},
                   mt5::Deals{true, {DealOf(opened), DealOf(reversal)}});
  auto modify = second.Expect<mt5::ModifyPosition>();
  ASSERT_TRUE(modify.ok()) << modify.status().message();
  EXPECT_EQ(modify->first.ticket, 4002u);
  EXPECT_DOUBLE_EQ(modify->first.sl, 1.12);
  EXPECT_EQ(gateway_->count(Counter::kRetriedProtections), 1u);
}

// Answers one snapshot's three requests as a terminal holding `positions` and no orders, whose
// history's newest deal is `last_deal`.
void AnswerSnapshotAsTerminal(StandInEa& ea, const std::vector<mt5::PositionInfo>& positions,
                              uint64_t last_deal = 0) {
  int answered = 0;
  while (answered < 3) {
    auto frame = ea.Next();
    ASSERT_TRUE(frame.ok()) << frame.status().message();
    const uint64_t id = frame->envelope.request_id;
    if (frame->type() == mt5::MessageType::kGetPositions) {
      ASSERT_TRUE(ea.Send(mt5::Positions{positions, last_deal}, id).ok());
    } else if (frame->type() == mt5::MessageType::kGetOrders) {
      ASSERT_TRUE(ea.Send(mt5::Orders{false, true, {}}, id).ok());
    } else if (frame->type() == mt5::MessageType::kGetAccount) {
      ASSERT_TRUE(ea.Send(SomeAccount(), id).ok());
    } else {
      continue;  // the link-up's own requests were answered by the handshake
    }
    ++answered;
  }
}

// A restarted aits live: the terminal pushes the transaction of a deal made while the node was
// down (here an SL close) before the node has attached; the snapshot the start's reconciliation
// asks already holds its effect, so it is not reported as well. A deal after it is.
// The handshake of a gateway that listens but has no node attached yet (a start, before its
// reconciliation): the symbol and the account are answered; the subscription waits.
void ShakeHandsBeforeTheNode(StandInEa& ea) {
  ASSERT_TRUE(ea.Send(HelloWith(kToken)).ok());
  for (int answered = 0; answered < 2;) {
    auto frame = ea.Next();
    ASSERT_TRUE(frame.ok()) << frame.status().message();
    if (frame->type() == mt5::MessageType::kGetSymbol) {
      ASSERT_TRUE(ea.Send(mt5::Symbol{FxSymbol("EURUSD")}, frame->envelope.request_id).ok());
      ++answered;
    } else if (frame->type() == mt5::MessageType::kGetAccount) {
      ASSERT_TRUE(ea.Send(SomeAccount(), frame->envelope.request_id).ok());
      ++answered;
    }
  }
}

TEST_F(GatewayTest, DealsBeforeTheStartsSnapshotAreLeftToTheReconciliation) {
  Listen();
  StandInEa ea = Connect();
  ShakeHandsBeforeTheNode(ea);
  mt5::PlaceOrder opening;
  opening.symbol = "EURUSD";
  opening.type = static_cast<uint32_t>(mt5::OrderType::kBuy);
  opening.client_order_id = "node-1";
  opening.magic = 77;
  mt5::Transaction sl_close = DealAdd(9001, 501, 0.1, 1.09900, opening);
  sl_close.deal_type = 1;  // a sell closing the buy
  sl_close.deal_reason = static_cast<uint32_t>(mt5::DealReason::kSl);
  sl_close.comment = "[sl 1.09900]";
  ASSERT_TRUE(ea.Send(sl_close).ok());
  auto snapshot = std::async(std::launch::async, [&] { return execution_->Snapshot(); });
  AnswerSnapshotAsTerminal(ea, {});
  ASSERT_TRUE(snapshot.get().ok());
  EXPECT_EQ(gateway_->count(Counter::kSnapshotCovered), 1u);  // its deal
  ASSERT_TRUE(gateway_->Start(node::ProducerLink(&inbox_, 3)).ok());
  EXPECT_FALSE(NextReport(milliseconds(300)));
  // After the snapshot: reported, announced then filled.
  mt5::Transaction later = sl_close;
  later.deal = 9002;
  later.order = 502;
  ASSERT_TRUE(ea.Send(later).ok());
  auto announced = NextReport();
  ASSERT_TRUE(announced);
  EXPECT_EQ(announced->kind, ExecKind::kNew);
  EXPECT_EQ(announced->venue_order_id, 502u);
  auto filled = NextReport();
  ASSERT_TRUE(filled);
  EXPECT_EQ(filled->kind, ExecKind::kFilled);
  EXPECT_EQ(filled->exec_id, 9002u);
}

// MT5 queues OnTradeTransaction calls: the EA may read the positions (and answer the snapshot)
// before it is handed the transaction of a deal they already include. The answer names its
// newest deal; that transaction, coming after it, is not reported again. A later deal is.
TEST_F(GatewayTest, ADealTheStartsSnapshotIncludesIsNotReportedWhenItsTransactionComesLater) {
  Listen();
  StandInEa ea = Connect();
  ShakeHandsBeforeTheNode(ea);
  mt5::PlaceOrder opening;
  opening.symbol = "EURUSD";
  opening.client_order_id = "manual";
  mt5::PositionInfo held;
  held.ticket = 601;
  held.symbol = "EURUSD";
  held.type = static_cast<uint32_t>(mt5::PositionType::kBuy);
  held.volume = 0.2;
  held.price_open = 1.1;
  auto snapshot = std::async(std::launch::async, [&] { return execution_->Snapshot(); });
  AnswerSnapshotAsTerminal(ea, {held}, 9101);
  auto state = snapshot.get();
  ASSERT_TRUE(state.ok()) << state.status().message();
  ASSERT_EQ(state->positions.size(), 1u);
  ASSERT_TRUE(gateway_->Start(node::ProducerLink(&inbox_, 3)).ok());
  // The transaction of the deal that opened the position, queued behind the answer.
  ASSERT_TRUE(ea.Send(DealAdd(9101, 601, 0.2, 1.1, opening)).ok());
  EXPECT_FALSE(NextReport(milliseconds(300)));
  EXPECT_EQ(gateway_->count(Counter::kSnapshotCovered), 1u);
  // A deal after the snapshot: announced (a manual order) and filled.
  ASSERT_TRUE(ea.Send(DealAdd(9102, 602, 0.1, 1.1, opening)).ok());
  auto announced = NextReport();
  ASSERT_TRUE(announced);
  EXPECT_EQ(announced->kind, ExecKind::kNew);
  auto filled = NextReport();
  ASSERT_TRUE(filled);
  EXPECT_EQ(filled->exec_id, 9102u);
  // The netting position's ticket comes from the snapshot: an SL/TP change names it.
  ASSERT_TRUE(
      execution_->SetProtection(InstrumentId{0}, Price::FromRaw(109'000 * 10'000, 5), std::nullopt)
          .ok());
  auto frame = ea.Next();
  while (frame.ok() && frame->type() == mt5::MessageType::kSubscribe) frame = ea.Next();
  ASSERT_TRUE(frame.ok()) << frame.status().message();
  auto modify = frame->As<mt5::ModifyPosition>();
  ASSERT_TRUE(modify.ok()) << mt5::MessageName(frame->envelope.type);
  EXPECT_EQ(modify->ticket, 601u);
}

// A restart (Gateway::Recover): the log's orders in flight when the node died are asked about
// before anything else, never resent. The terminal filled one (its deal reported with its
// price), filled more of a partly filled one (only the fill the log lacks is reported), and never
// received the third (rejected); and it closed a position by its SL (announced, then filled).
TEST_F(GatewayTest, ARestartAsksTheFateOfTheLogsOrdersInFlightAndNeverResendsThem) {
  Listen();
  StandInEa ea = Connect();
  ShakeHandsBeforeTheNode(ea);
  Order filled_away = MarketOrder(1);
  Order partial = MarketOrder(2, Side::kBuy, 30);
  partial.request.type = OrderType::kLimit;
  partial.request.price = Price::FromRaw(109'000 * 10'000, 5);
  partial.status = OrderStatus::kAccepted;
  partial.venue_order_id = 4002;
  partial.filled = Quantity::FromRaw(10 * 10'000'000, 2);
  Order never = MarketOrder(3);
  const std::vector<Order> unfinished = {filled_away, partial, never};
  // aits live reads the account first (no cut): the deals it includes are still recovered.
  auto read = std::async(std::launch::async, [&] { return gateway_->Snapshot(); });
  AnswerSnapshotAsTerminal(ea, {}, 5003);
  ASSERT_TRUE(read.get().ok());
  auto recovered = std::async(std::launch::async, [&] {
    const uint64_t known[] = {5002};  // the log has the partial fill
    return execution_->Recover(unfinished, 1'700'000'000'000, known);
  });
  const auto deal = [&](uint64_t ticket, uint64_t order, double volume, const Order& of) {
    mt5::DealInfo info;
    info.ticket = ticket;
    info.order = order;
    info.position_id = 4001;
    info.symbol = "EURUSD";
    info.volume = volume;
    info.price = 1.09;
    info.commission = -0.7;
    info.comment = of.request.client_order_id;
    info.magic = 0;  // matched by the comment: the client order id
    info.time_msc = 1'700'000'000'500;
    return info;
  };
  mt5::OrderInfo done;
  done.ticket = 4001;
  done.symbol = "EURUSD";
  done.state = static_cast<uint32_t>(mt5::OrderState::kFilled);
  done.volume_initial = 0.1;
  done.comment = filled_away.request.client_order_id;
  mt5::OrderInfo working;
  working.ticket = 4002;
  working.symbol = "EURUSD";
  working.type = static_cast<uint32_t>(mt5::OrderType::kBuyLimit);
  working.volume_initial = 0.3;
  working.volume_current = 0.1;
  working.comment = partial.request.client_order_id;
  // The terminal also closed a position by its SL meanwhile (an order the node did not send),
  // and holds a deal from before the log's last tick, which the log does not hold either.
  mt5::DealInfo sl_close = deal(5006, 4010, 0.2, filled_away);
  sl_close.type = static_cast<uint32_t>(mt5::DealType::kSell);
  sl_close.reason = static_cast<uint32_t>(mt5::DealReason::kSl);
  sl_close.comment = "[sl 1.08000]";
  mt5::DealInfo before = deal(4999, 3999, 0.1, never);
  before.comment = "by hand";
  before.time_msc = 1'699'999'999'000;
  AnswerResolution(
      ea, mt5::Orders{false, true, {working}}, mt5::Orders{true, true, {done}},
      mt5::Deals{true,
                 {before, deal(5001, 4001, 0.1, filled_away), deal(5002, 4002, 0.1, partial),
                  deal(5003, 4002, 0.1, partial), sl_close}});
  auto reports = recovered.get();
  ASSERT_TRUE(reports.ok()) << reports.status().message();
  ASSERT_EQ(reports->size(), 5u);
  EXPECT_EQ((*reports)[0].kind, ExecKind::kFilled);
  EXPECT_EQ((*reports)[0].order_id, OrderId{1});
  EXPECT_EQ((*reports)[0].exec_id, 5001u);
  EXPECT_EQ((*reports)[0].price, Price::FromRaw(109'000 * 10'000, 5));
  EXPECT_EQ((*reports)[0].commission, Money::FromRaw(700'000));
  EXPECT_EQ((*reports)[1].kind, ExecKind::kPartiallyFilled);
  EXPECT_EQ((*reports)[1].order_id, OrderId{2});
  EXPECT_EQ((*reports)[1].exec_id, 5003u);        // 5002 is the log's already
  EXPECT_EQ((*reports)[2].kind, ExecKind::kNew);  // the terminal's own order: the SL close
  EXPECT_EQ((*reports)[2].venue_order_id, 4010u);
  EXPECT_EQ((*reports)[3].kind, ExecKind::kFilled);
  EXPECT_EQ((*reports)[3].exec_id, 5006u);
  EXPECT_EQ((*reports)[3].fill_reason, FillReason::kStopLoss);
  EXPECT_EQ((*reports)[4].kind, ExecKind::kRejected);
  EXPECT_EQ((*reports)[4].order_id, OrderId{3});
  EXPECT_EQ(gateway_->count(Counter::kRecoveredOrders), 3u);
  EXPECT_EQ(gateway_->count(Counter::kCaughtUpDeals), 1u);
  EXPECT_EQ(gateway_->count(Counter::kResends), 0u);
  // Nothing was sent to trade; the working order's later fill is the node's as any.
  ASSERT_TRUE(gateway_->Start(node::ProducerLink(&inbox_, 3)).ok());
  mt5::PlaceOrder as_sent;
  as_sent.symbol = "EURUSD";
  as_sent.client_order_id = partial.request.client_order_id;
  ASSERT_TRUE(ea.Send(DealAdd(5004, 4002, 0.1, 1.09, as_sent)).ok());
  auto last = NextReport();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->kind, ExecKind::kFilled);
  EXPECT_EQ(last->order_id, OrderId{2});
  EXPECT_EQ(last->exec_id, 5004u);
  for (auto frame = ea.Next(milliseconds(200)); frame.ok(); frame = ea.Next(milliseconds(200))) {
    EXPECT_NE(frame->type(), mt5::MessageType::kPlaceOrder);
  }
}

TEST_F(GatewayTest, SnapshotIsARoundTripToTheTerminal) {
  Start();
  StandInEa ea = Connected(true);
  auto snapshot = std::async(std::launch::async, [&] { return execution_->Snapshot(); });
  mt5::PositionInfo position;
  position.ticket = 31;
  position.symbol = "EURUSD";
  position.type = static_cast<uint32_t>(mt5::PositionType::kSell);
  position.volume = 0.3;
  position.price_open = 1.10101;
  mt5::PositionInfo foreign = position;
  foreign.symbol = "XAUUSD";  // not the node's: left out
  mt5::OrderInfo order;
  order.ticket = 32;
  order.symbol = "EURUSD";
  order.type = static_cast<uint32_t>(mt5::OrderType::kBuyLimit);
  order.volume_initial = 0.5;
  order.volume_current = 0.2;
  order.price_open = 1.09;
  order.comment = "node-44";
  int answered = 0;
  while (answered < 3) {
    auto frame = ea.Next();
    ASSERT_TRUE(frame.ok()) << frame.status().message();
    const uint64_t id = frame->envelope.request_id;
    switch (frame->type()) {
      case mt5::MessageType::kGetPositions:
        ASSERT_TRUE(ea.Send(mt5::Positions{{position, foreign}}, id).ok());
        ++answered;
        break;
      case mt5::MessageType::kGetOrders:
        ASSERT_TRUE(ea.Send(mt5::Orders{false, true, {order}}, id).ok());
        ++answered;
        break;
      case mt5::MessageType::kGetAccount:
        ASSERT_TRUE(ea.Send(SomeAccount(12'345.67), id).ok());
        ++answered;
        break;
      default:
        FAIL() << "unexpected " << mt5::MessageName(frame->envelope.type);
    }
  }
  auto state = snapshot.get();
  ASSERT_TRUE(state.ok()) << state.status().message();
  ASSERT_EQ(state->positions.size(), 1u);
  EXPECT_EQ(state->positions[0].ticket, 31u);
  EXPECT_EQ(state->positions[0].quantity, Quantity::FromRaw(-30 * 10'000'000, 2));
  EXPECT_EQ(state->positions[0].open_price, Price::FromRaw(110'101 * 10'000, 5));
  ASSERT_EQ(state->orders.size(), 1u);
  EXPECT_EQ(state->orders[0].client_order_id, "node-44");
  EXPECT_EQ(state->orders[0].ticket, 32u);
  EXPECT_EQ(state->orders[0].type, OrderType::kLimit);
  EXPECT_EQ(state->orders[0].filled, Quantity::FromRaw(30 * 10'000'000, 2));
  ASSERT_TRUE(state->balance);
  EXPECT_EQ(*state->balance, Money::FromRaw(12'345'670'000));
}

TEST_F(GatewayTest, SnapshotWithoutAnEaFailsAfterItsTimeout) {
  GatewayConfig config = TestConfig();
  config.answer_timeout = milliseconds(200);
  Start(config);
  auto state = execution_->Snapshot();
  ASSERT_FALSE(state.ok());
  EXPECT_NE(state.status().message().find("no EA"), std::string::npos);
}

TEST_F(GatewayTest, AutoTradingOffIsRaisedAsAnAlert) {
  Start();
  StandInEa ea = Connected();
  mt5::Account off = SomeAccount();
  off.expert_allowed = false;
  ASSERT_TRUE(ea.Send(off).ok());
  auto report = NextOf<node::AccountReportEvent>();
  ASSERT_TRUE(report);  // the one asked at connect
  report = NextOf<node::AccountReportEvent>();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->report->balance, Money::FromRaw(10'000'000'000));
  EXPECT_EQ(gateway_->count(Counter::kAlerts), 1u);
}

TEST_F(GatewayTest, OrdersForASymbolTheTerminalLacksAreRejected) {
  GatewayConfig config = TestConfig();
  Instrument gbpusd = Instrument::Infer("GBPUSD");
  gbpusd.id = InstrumentId{1};
  config.instruments.push_back(gbpusd);
  config.mt5_names = {{"GBPUSD", "GBPUSD.m"}};
  Start(config);
  StandInEa ea = Connected();  // knows EURUSD only: GBPUSD.m is answered unknown_symbol
  Order order = MarketOrder(9);
  order.request.instrument = InstrumentId{1};
  execution_->Submit(order);
  auto report = NextReport();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->kind, ExecKind::kRejected);
  EXPECT_EQ(report->reject_reason, RejectReason::kUnknownInstrument);
  EXPECT_NE(report->text.find("GBPUSD.m"), std::string::npos) << report->text;
  // EURUSD trades on.
  execution_->Submit(MarketOrder(10));
  auto place = ea.Expect<mt5::PlaceOrder>();
  ASSERT_TRUE(place.ok()) << place.status().message();
  EXPECT_EQ(place->first.symbol, "EURUSD");
}

TEST(GatewayConfigTest, RefusesWhatCannotWork) {
  GatewayConfig config = TestConfig();
  EXPECT_TRUE(config.Validate().ok());
  config.token.clear();
  EXPECT_FALSE(config.Validate().ok());
  config = TestConfig();
  config.dead_after_ms = config.heartbeat_ms;
  EXPECT_FALSE(config.Validate().ok());
  config = TestConfig();
  config.instruments.push_back(Eurusd());
  EXPECT_FALSE(config.Validate().ok());
  config = TestConfig();
  config.instruments.clear();
  EXPECT_FALSE(config.Validate().ok());
}

}  // namespace
}  // namespace aits::gateway
