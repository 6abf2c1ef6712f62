#include "aits/mt5sim/terminal.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "aits/mt5sim/mt5sim_test_util.h"

namespace aits::mt5sim {
namespace {

using mt5::ErrorCode;
using mt5::MessageType;
namespace rc = mt5::retcode;

using testing::kMonday10;

// Turns messages into frames as the gateway's link would deliver them.
class GatewayFrames {
 public:
  template <typename M>
  const mt5::Frame& Make(const M& message, uint64_t request_id,
                         uint16_t version = mt5::kProtocolVersion) {
    std::string bytes;
    EXPECT_TRUE(mt5::AppendFrame(bytes, message, ++seq_, request_id).ok());
    bytes[4] = static_cast<char>(version & 0xff);
    bytes[5] = static_cast<char>(version >> 8);
    return Decode(bytes);
  }
  // A frame of an arbitrary type number with an empty payload.
  const mt5::Frame& Raw(uint16_t type, uint64_t request_id) {
    std::string bytes;
    EXPECT_TRUE(mt5::AppendFrame(bytes, mt5::GetAccount{}, ++seq_, request_id).ok());
    bytes[6] = static_cast<char>(type & 0xff);
    bytes[7] = static_cast<char>(type >> 8);
    return Decode(bytes);
  }

 private:
  const mt5::Frame& Decode(const std::string& bytes) {
    decoder_ = std::make_unique<mt5::FrameDecoder>();
    decoder_->Append(bytes);
    EXPECT_TRUE(decoder_->Next(frame_));
    return frame_;
  }

  std::unique_ptr<mt5::FrameDecoder> decoder_;
  mt5::Frame frame_;
  uint64_t seq_ = 0;
};

std::vector<mt5::TickData> Walk() { return testing::Walk(600, 500); }

class TerminalTest : public ::testing::Test {
 protected:
  TerminalTest() : server_(ServerConfig{}), terminal_(TerminalConfig{"secret"}, server_) {
    EXPECT_TRUE(server_.AddSymbol(ForexSymbol("EURUSD")).ok());
    EXPECT_TRUE(terminal_.AddTicks("EURUSD", Walk()).ok());
  }
  void Connect() {
    terminal_.OnConnected(0);
    terminal_.Handle(frames_.Make(mt5::Welcome{mt5::kProtocolVersion, 1000, 3000, "node-1"}, 0));
    ASSERT_TRUE(terminal_.handshaken());
    ASSERT_EQ(terminal_.TakeOutbox().size(), 1u);  // the hello
  }
  template <typename M>
  std::vector<Outgoing> Ask(const M& message, uint64_t request_id) {
    terminal_.Handle(frames_.Make(message, request_id));
    terminal_.Pump();
    return terminal_.TakeOutbox();
  }
  template <typename M>
  static const M& As(const Outgoing& out) {
    return std::get<M>(out.message);
  }

  TradeServer server_;
  Terminal terminal_;
  GatewayFrames frames_;
};

TEST_F(TerminalTest, HelloCarriesTheAccountAndRequestsWaitForTheWelcome) {
  terminal_.ReplayUntil(kMonday10);
  terminal_.OnConnected(123);
  std::vector<Outgoing> out = terminal_.TakeOutbox();
  ASSERT_EQ(out.size(), 1u);
  const mt5::Hello& hello = As<mt5::Hello>(out[0]);
  EXPECT_EQ(hello.token, "secret");
  EXPECT_EQ(hello.protocol_version, 2u);
  EXPECT_EQ(hello.login, 5000001);
  EXPECT_EQ(hello.currency, "USD");
  EXPECT_EQ(hello.leverage, 100u);
  EXPECT_EQ(hello.margin_mode, 0u);
  EXPECT_TRUE(hello.trade_allowed);
  EXPECT_EQ(hello.server_time_msc, kMonday10);
  // Before the welcome a request is unexpected; after it, answered.
  out = Ask(mt5::GetAccount{}, 7);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(As<mt5::Error>(out[0]).code, static_cast<uint32_t>(ErrorCode::kUnexpectedMessage));
  EXPECT_EQ(out[0].request_id, 7u);
  terminal_.Handle(frames_.Make(mt5::Welcome{mt5::kProtocolVersion, 1000, 3000, "node-1"}, 0));
  EXPECT_TRUE(terminal_.handshaken());
  EXPECT_EQ(terminal_.welcome().node_id, "node-1");
  out = Ask(mt5::GetAccount{}, 8);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(As<mt5::Account>(out[0]).balance, 10000);
  EXPECT_EQ(out[0].request_id, 8u);
}

// Every gateway->EA request gets replies carrying its request id, the last one final; the
// session messages get none; an EA->gateway type and an unknown number get an error.
TEST_F(TerminalTest, AnswersEveryMessageTypeOfTheSchema) {
  terminal_.ReplayUntil(kMonday10 + 10'000);
  Connect();
  uint64_t request_id = 1000;
  for (MessageType type : mt5::kAllMessageTypes) {
    const auto number = static_cast<uint16_t>(type);
    ++request_id;
    mt5::VisitMessageType(number, [&](auto message) {
      using M = decltype(message);
      if constexpr (requires { message.symbol; }) message.symbol = "EURUSD";
      if constexpr (requires { message.symbols; }) message.symbols = {"EURUSD"};
      if constexpr (requires { message.period_sec; }) message.period_sec = 60;
      if constexpr (requires { message.count; }) message.count = 5;
      terminal_.Handle(frames_.Make(message, request_id));
      (void)sizeof(M);
    });
    std::vector<Outgoing> out = terminal_.TakeOutbox();
    const mt5::Direction direction = mt5::DirectionOf(type);
    SCOPED_TRACE(std::string(mt5::MessageName(number)));
    if (direction == mt5::Direction::kFromEa) {
      ASSERT_EQ(out.size(), 1u);
      EXPECT_EQ(As<mt5::Error>(out[0]).code, static_cast<uint32_t>(ErrorCode::kUnexpectedMessage));
      EXPECT_EQ(out[0].request_id, request_id);
      continue;
    }
    if (direction == mt5::Direction::kBoth || type == MessageType::kWelcome) {
      // Heartbeat, error and bye are not answered; a second welcome is refused.
      if (type == MessageType::kWelcome) {
        ASSERT_EQ(out.size(), 1u);
        EXPECT_EQ(TypeOf(out[0].message), MessageType::kError);
      } else {
        EXPECT_TRUE(out.empty());
      }
      continue;
    }
    ASSERT_FALSE(out.empty());
    for (const Outgoing& reply : out) EXPECT_EQ(reply.request_id, request_id);
    const MessageType reply_type = TypeOf(out.back().message);
    EXPECT_NE(reply_type, MessageType::kError) << std::get<mt5::Error>(out.back().message).message;
    switch (type) {
      case MessageType::kSubscribe:
      case MessageType::kUnsubscribe:
        EXPECT_EQ(reply_type, MessageType::kAck);
        break;
      case MessageType::kGetTick:
      case MessageType::kGetTicks:
        EXPECT_EQ(reply_type, MessageType::kTicks);
        EXPECT_TRUE(As<mt5::Ticks>(out.back()).final);
        break;
      case MessageType::kGetBars:
        EXPECT_EQ(reply_type, MessageType::kBars);
        EXPECT_TRUE(As<mt5::Bars>(out.back()).final);
        break;
      case MessageType::kGetAccount:
        EXPECT_EQ(reply_type, MessageType::kAccount);
        break;
      case MessageType::kGetPositions:
        EXPECT_EQ(reply_type, MessageType::kPositions);
        break;
      case MessageType::kGetOrders:
        EXPECT_EQ(reply_type, MessageType::kOrders);
        break;
      case MessageType::kGetHistory:
        EXPECT_EQ(TypeOf(out.front().message), MessageType::kOrders);
        EXPECT_EQ(reply_type, MessageType::kDeals);
        break;
      case MessageType::kGetSymbol:
        EXPECT_EQ(reply_type, MessageType::kSymbol);
        break;
      default:
        EXPECT_EQ(reply_type, MessageType::kTradeResult);
        break;
    }
  }
  // The session ends on the bye the loop sent; a fresh link answers an unknown type.
  Connect();
  terminal_.Handle(frames_.Raw(999, 77));
  std::vector<Outgoing> out = terminal_.TakeOutbox();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(As<mt5::Error>(out[0]).code, static_cast<uint32_t>(ErrorCode::kUnknownMessage));
  EXPECT_EQ(out[0].request_id, 77u);
  EXPECT_FALSE(terminal_.closing());
  // Another protocol version is fatal.
  terminal_.Handle(frames_.Make(mt5::GetAccount{}, 78, mt5::kProtocolVersion + 1));
  out = terminal_.TakeOutbox();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(As<mt5::Error>(out[0]).code, static_cast<uint32_t>(ErrorCode::kBadVersion));
  EXPECT_TRUE(terminal_.closing());
}

TEST_F(TerminalTest, MalformedFieldsAreAFatalError) {
  Connect();
  // A get_tick frame whose payload is an account request's (empty): the string is missing.
  const mt5::Frame& frame = frames_.Raw(static_cast<uint16_t>(MessageType::kGetTick), 5);
  terminal_.Handle(frame);
  std::vector<Outgoing> out = terminal_.TakeOutbox();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(As<mt5::Error>(out[0]).code, static_cast<uint32_t>(ErrorCode::kMalformedFrame));
  EXPECT_TRUE(terminal_.closing());
}

TEST_F(TerminalTest, SubscribedTicksArriveWithoutGapsAcrossAReconnect) {
  Connect();
  std::vector<Outgoing> out = Ask(mt5::Subscribe{{"EURUSD"}, 0}, 1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(As<mt5::Ack>(out[0]).code, 0u);
  std::vector<mt5::TickData> received;
  auto collect = [&](const std::vector<Outgoing>& pushes) {
    for (const Outgoing& push : pushes) {
      if (TypeOf(push.message) != MessageType::kTicks) continue;
      EXPECT_EQ(push.request_id, 0u);
      const auto& ticks = As<mt5::Ticks>(push).ticks;
      received.insert(received.end(), ticks.begin(), ticks.end());
    }
  };
  terminal_.ReplayUntil(kMonday10 + 60'000);
  terminal_.Pump();
  collect(terminal_.TakeOutbox());
  ASSERT_EQ(received.size(), 121u);
  // The link drops; ticks go on while the gateway is away.
  terminal_.ReplayUntil(kMonday10 + 120'000);
  Connect();
  terminal_.Pump();
  EXPECT_TRUE(terminal_.TakeOutbox().empty());  // no subscription on the new link yet
  // The gateway resumes after the last tick it holds.
  collect(Ask(mt5::Subscribe{{"EURUSD"}, received.back().time_msc + 1}, 2));
  terminal_.ReplayUntil(kMonday10 + 1'000'000);
  terminal_.Pump();
  collect(terminal_.TakeOutbox());
  EXPECT_EQ(received, Walk());
  // Unsubscribed, nothing more comes; an unknown symbol is refused by the ack.
  Ask(mt5::Unsubscribe{{"EURUSD"}}, 3);
  out = Ask(mt5::Subscribe{{"XAUUSD"}, 0}, 4);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(As<mt5::Ack>(out[0]).code, static_cast<uint32_t>(ErrorCode::kUnknownSymbol));
}

TEST_F(TerminalTest, MarketOrderAnswersTheResultThenPushesItsTransactions) {
  terminal_.ReplayUntil(kMonday10);
  Connect();
  mt5::PlaceOrder order;
  order.client_order_id = "n1-000001";
  order.magic = 77;
  order.symbol = "EURUSD";
  order.action = 1;
  order.type = 0;
  order.volume = 0.1;
  order.type_filling = 0;
  std::vector<Outgoing> out = Ask(order, 9);
  ASSERT_EQ(out.size(), 6u);
  EXPECT_EQ(out[0].request_id, 9u);
  EXPECT_EQ(As<mt5::TradeResult>(out[0]).retcode, rc::kDone);
  EXPECT_EQ(As<mt5::TradeResult>(out[0]).client_order_id, "n1-000001");
  for (size_t i = 1; i < out.size(); ++i) {
    EXPECT_EQ(out[i].request_id, 0u);
    EXPECT_EQ(TypeOf(out[i].message), MessageType::kTransaction);
  }
  EXPECT_EQ(As<mt5::Transaction>(out[2]).magic, 77u);
  // The same id again, and after the EA restarted (the history still knows it): refused.
  out = Ask(order, 10);
  EXPECT_EQ(As<mt5::TradeResult>(out[0]).retcode, rc::kInvalidOrder);
  EXPECT_EQ(As<mt5::TradeResult>(out[0]).comment, "duplicate client order id");
  EXPECT_EQ(out.size(), 1u);  // nothing reached the server
  terminal_.Restart();
  out = Ask(order, 11);
  EXPECT_EQ(As<mt5::TradeResult>(out[0]).retcode, rc::kInvalidOrder);
  // A refused order spends no id: a retry after 10014 goes through.
  order.client_order_id = "n1-000002";
  order.volume = 0.001;
  EXPECT_EQ(As<mt5::TradeResult>(Ask(order, 12)[0]).retcode, rc::kInvalidVolume);
  order.volume = 0.01;
  EXPECT_EQ(As<mt5::TradeResult>(Ask(order, 13)[0]).retcode, rc::kDone);
  order.client_order_id = std::string(32, 'x');
  out = Ask(order, 14);
  EXPECT_EQ(As<mt5::TradeResult>(out[0]).retcode, rc::kInvalid);
  // Positions and history answer what happened.
  out = Ask(mt5::GetPositions{}, 15);
  ASSERT_EQ(As<mt5::Positions>(out[0]).positions.size(), 1u);
  EXPECT_DOUBLE_EQ(As<mt5::Positions>(out[0]).positions[0].volume, 0.11);
  out = Ask(mt5::GetHistory{0, 0}, 16);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(As<mt5::Orders>(out[0]).history);
  EXPECT_EQ(As<mt5::Orders>(out[0]).orders.size(), 2u);
  EXPECT_EQ(As<mt5::Deals>(out[1]).deals.size(), 2u);
  EXPECT_TRUE(As<mt5::Deals>(out[1]).final);
}

TEST_F(TerminalTest, BarsAreAggregatedFromTheReplayedTicks) {
  terminal_.ReplayUntil(kMonday10 + 299'999);  // 600 ticks over five minutes
  Connect();
  mt5::GetBars request{"EURUSD", 60, 0, 0, 3};
  std::vector<Outgoing> out = Ask(request, 1);
  ASSERT_EQ(out.size(), 1u);
  const mt5::Bars& bars = As<mt5::Bars>(out[0]);
  ASSERT_EQ(bars.bars.size(), 3u);
  EXPECT_EQ(bars.bars[2].time, (kMonday10 + 240'000) / 1000);
  EXPECT_EQ(bars.bars[2].tick_volume, 120);
  EXPECT_EQ(bars.bars[2].spread, 10);
  const std::vector<mt5::TickData> walk = Walk();
  EXPECT_DOUBLE_EQ(bars.bars[2].open, walk[480].bid);
  EXPECT_DOUBLE_EQ(bars.bars[2].close, walk[599].bid);
  // A range: bars opening in [10:01, 10:02].
  request = {"EURUSD", 60, kMonday10 / 1000 + 60, kMonday10 / 1000 + 120, 0};
  out = Ask(request, 2);
  EXPECT_EQ(As<mt5::Bars>(out[0]).bars.size(), 2u);
  request.period_sec = 7;
  out = Ask(request, 3);
  EXPECT_EQ(As<mt5::Error>(out[0]).code, static_cast<uint32_t>(ErrorCode::kBadRequest));
  // H1 and D1 hold all of it; W1 opens on Sunday, MN1 on the 1st.
  int64_t open = 0;
  ASSERT_TRUE(BarOpen(kMonday10 / 1000, 604800, open));
  EXPECT_EQ(open, 1578182400);  // Sunday 2020-01-05
  ASSERT_TRUE(BarOpen(kMonday10 / 1000, 2592000, open));
  EXPECT_EQ(open, 1577836800);  // 2020-01-01
}

TEST_F(TerminalTest, TicksOfARangeOnlyFromWhatWasReplayedAndSplitIntoFrames) {
  TerminalConfig config{"secret"};
  config.ticks_per_frame = 50;
  Terminal terminal(config, server_);
  ASSERT_TRUE(terminal.AddTicks("EURUSD", Walk()).ok());
  terminal.ReplayUntil(kMonday10 + 99'999);  // 200 ticks
  terminal.OnConnected(0);
  terminal.Handle(frames_.Make(mt5::Welcome{mt5::kProtocolVersion, 1000, 3000, "n"}, 0));
  terminal.TakeOutbox();
  terminal.Handle(frames_.Make(mt5::GetTicks{"EURUSD", kMonday10 + 10'000, 0, 0}, 4));
  std::vector<Outgoing> out = terminal.TakeOutbox();
  ASSERT_EQ(out.size(), 4u);  // 180 ticks, 50 a frame
  EXPECT_FALSE(As<mt5::Ticks>(out[2]).final);
  EXPECT_TRUE(As<mt5::Ticks>(out[3]).final);
  EXPECT_EQ(As<mt5::Ticks>(out[3]).ticks.back().time_msc, kMonday10 + 99'500);
  terminal.Handle(frames_.Make(mt5::GetTicks{"EURUSD", kMonday10, kMonday10 + 1000, 2}, 5));
  out = terminal.TakeOutbox();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(As<mt5::Ticks>(out[0]).ticks.size(), 2u);
}

TEST_F(TerminalTest, ReplaysRealEurusdTicks) {
  Result<std::vector<mt5::TickData>> ticks =
      ReadTickFile(std::string(AITS_SHARED_DATA_DIR) + "/eurusd-ticks-2020-01-01.csv", 5);
  ASSERT_TRUE(ticks.ok()) << ticks.status().ToString();
  ASSERT_GT(ticks->size(), 9000u);
  TradeServer server{ServerConfig{}};
  ASSERT_TRUE(server.AddSymbol(ForexSymbol("EURUSD")).ok());
  Terminal terminal(TerminalConfig{}, server);
  ASSERT_TRUE(terminal.AddTicks("EURUSD", *ticks).ok());
  size_t steps = 0;
  while (terminal.Step()) ++steps;
  EXPECT_EQ(steps, ticks->size());
  EXPECT_EQ(server.now_msc(), ticks->back().time_msc);
  EXPECT_FALSE(ReadTickFile("/nonexistent/ticks.csv", 5).ok());
  EXPECT_FALSE(terminal.AddTicks("GBPUSD", *ticks).ok());
}

}  // namespace
}  // namespace aits::mt5sim
