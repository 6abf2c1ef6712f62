// The streams: StreamHub's filters, resume and bounds, and /api/v1/stream over a real server
// and a real session's log, with a Beast WebSocket client.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <cstdio>
#include <deque>

#include "aits/api/api_service.h"
#include "aits/api/session_routes.h"
#include "aits/api/stream_hub.h"
#include "aits/session/paper.h"
#include "aits/session/session_test_util.h"

namespace aits::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

// The messages a sink got, parsed.
struct Collected {
  std::vector<nlohmann::json> got;
  StreamHub::Sink Sink(size_t refuse_after = SIZE_MAX) {
    return [this, refuse_after](const std::shared_ptr<const std::string>& text) {
      if (got.size() >= refuse_after) return false;
      got.push_back(nlohmann::json::parse(*text));
      return true;
    };
  }
};

TEST(StreamHubTest, FiltersByTopicAndSymbolAndResumesFromASeq) {
  StreamHub hub(5);
  hub.Publish(1, kTopicQuotes, "EURUSD", {{"bid", 1.1}});
  hub.Publish(2, kTopicQuotes, "GBPUSD", {{"bid", 1.3}});
  hub.Publish(3, kTopicOrders, "EURUSD", {{"id", 1}});
  hub.Publish(4, kTopicRisk, "", {{"breaker", "halted"}});
  Collected eur;
  const StreamHub::Subscribed sub =
      hub.Subscribe({kTopicQuotes | kTopicOrders | kTopicRisk, {"EURUSD"}}, 2, eur.Sink());
  EXPECT_EQ(sub.replayed, 2u);  // seq 3 (EURUSD order) and 4 (risk has no symbol: always)
  EXPECT_EQ(sub.last, 4u);
  EXPECT_EQ(sub.oldest, 1u);
  hub.Publish(5, kTopicQuotes, "EURUSD", {{"bid", 1.2}});
  hub.Publish(6, kTopicQuotes, "GBPUSD", {{"bid", 1.4}});
  ASSERT_EQ(eur.got.size(), 3u);
  EXPECT_EQ(eur.got[0]["topic"], "orders");
  EXPECT_EQ(eur.got[1]["topic"], "risk");
  EXPECT_FALSE(eur.got[1].contains("symbol"));
  EXPECT_EQ(eur.got[2]["seq"], 5);
  EXPECT_EQ(eur.got[2]["symbol"], "EURUSD");
  EXPECT_EQ(eur.got[2]["data"]["bid"], 1.2);
  // Live only (from 0); kept: the last five.
  Collected live;
  const StreamHub::Subscribed live_sub = hub.Subscribe({kTopicQuotes, {}}, 0, live.Sink());
  EXPECT_EQ(live_sub.oldest, 2u);
  EXPECT_EQ(live_sub.dropped, 1u);  // seq 1 fell out of the five kept
  EXPECT_TRUE(live.got.empty());
  // A sink that refuses is dropped.
  Collected slow;
  hub.Subscribe({kTopicQuotes, {}}, 0, slow.Sink(1));
  EXPECT_EQ(hub.subscriptions(), 3u);
  hub.Publish(7, kTopicQuotes, "EURUSD", {});
  hub.Publish(8, kTopicQuotes, "EURUSD", {});
  EXPECT_EQ(slow.got.size(), 1u);
  EXPECT_EQ(hub.subscriptions(), 2u);
  EXPECT_FALSE(ParseTopic("trades").ok());
}

class StreamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new session::TempDir();
    run_ = new session::PaperResult(
        session::RunPaper(session::MaxSpeed(session::BusySpec(6000), dir_->Sub("s"))).value());
  }
  static void TearDownTestSuite() {
    delete run_;
    delete dir_;
  }
  void SetUp() override {
    const Timestamp now = FromCivil(2026, 12, 6, 9);
    clock_.AdvanceTo(now);
    store_ = AuthStore::Open(dir_->Sub("auth.db"),
                             SecretBox::FromText(SecretBox::NewKeyText(), "t").value(),
                             PasswordCost::kMinimal)
                 .value();
    ASSERT_TRUE(store_->EnsureSigningKey(now).ok());
    service_ =
        std::make_unique<ApiService>(*store_, store_->LoadKeyRing().value(), clock_, ApiOptions{});
    view_ = SessionView::Open(dir_->Sub("s")).value();
    view_->PublishTo(&hub_);
    ASSERT_TRUE(view_->Poll().ok());
    AddSessionRoutes(*service_, *view_);
    server_ = HttpServer::Start(
                  {}, [this](const HttpRequest& r) { return service_->Handle(r); },
                  MakeStreamHandler(*service_, hub_))
                  .value();
    token_ = store_->LoadKeyRing()
                 .value()
                 .Sign(AccessClaims("vera", "viewer", now, Duration::Minutes(15)))
                 .value();
  }
  void TearDown() override {
    server_.reset();
    std::remove(dir_->Sub("auth.db").c_str());
  }

  using Ws = beast::websocket::stream<beast::tcp_stream>;
  std::unique_ptr<Ws> Connect(const std::string& target, beast::error_code* ec) {
    auto ws = std::make_unique<Ws>(io_);
    beast::get_lowest_layer(*ws).connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    ws->handshake("localhost", target, *ec);
    return ws;
  }
  // The next message: a frame carries one or more, one per line.
  nlohmann::json Read(Ws& ws) {
    if (lines_.empty()) {
      beast::flat_buffer buffer;
      ws.read(buffer);
      const std::string frame = beast::buffers_to_string(buffer.data());
      size_t start = 0;
      while (start <= frame.size()) {
        const size_t end = std::min(frame.find('\n', start), frame.size());
        lines_.push_back(frame.substr(start, end - start));
        start = end + 1;
      }
    }
    const std::string line = lines_.front();
    lines_.pop_front();
    return nlohmann::json::parse(line);
  }
  static void Send(Ws& ws, const std::string& text) { ws.write(asio::buffer(text)); }

  static session::TempDir* dir_;
  static session::PaperResult* run_;
  SimulatedClock clock_;
  std::unique_ptr<AuthStore> store_;
  std::unique_ptr<ApiService> service_;
  StreamHub hub_;
  std::unique_ptr<SessionView> view_;
  std::unique_ptr<HttpServer> server_;
  std::string token_;
  asio::io_context io_;
  std::deque<std::string> lines_;
};
session::TempDir* StreamTest::dir_ = nullptr;
session::PaperResult* StreamTest::run_ = nullptr;

TEST_F(StreamTest, ASubscriberResumesEveryOrderAndFillOfTheLog) {
  beast::error_code ec;
  auto ws = Connect("/api/v1/stream?access_token=" + token_, &ec);
  ASSERT_FALSE(ec) << ec.message();
  Send(*ws, R"({"op":"subscribe","topics":["orders","fills"],"from":1})");
  const nlohmann::json ack = Read(*ws);
  EXPECT_EQ(ack["type"], "subscribed");
  EXPECT_EQ(ack["topics"], nlohmann::json::array({"orders", "fills"}));
  uint64_t orders = 0;
  uint64_t fills = 0;
  uint64_t last_seq = 0;
  // Every order update and fill the log holds, in log order.
  const uint64_t updates = run_->orders;  // at least one update per order
  while (fills < run_->fills || orders < updates) {
    const nlohmann::json m = Read(*ws);
    ASSERT_GE(m["seq"].get<uint64_t>(), last_seq);
    last_seq = m["seq"];
    (m["topic"] == "orders" ? orders : fills) += 1;
  }
  EXPECT_EQ(fills, run_->fills);
  EXPECT_GE(orders, run_->orders);
  // ping answers with the newest seq published.
  Send(*ws, R"({"op":"ping"})");
  nlohmann::json pong;
  do {
    pong = Read(*ws);
  } while (pong.contains("topic"));
  EXPECT_EQ(pong["type"], "pong");
}

TEST_F(StreamTest, BadOpsAreAnsweredAndUnauthenticatedUpgradesRefused) {
  beast::error_code ec;
  auto refused = Connect("/api/v1/stream", &ec);
  EXPECT_TRUE(ec);
  ec = {};
  auto wrong = Connect("/api/v1/stream?access_token=garbage", &ec);
  EXPECT_TRUE(ec);
  ec = {};
  auto ws = Connect("/api/v1/stream?access_token=" + token_, &ec);
  ASSERT_FALSE(ec);
  for (const char* bad : {"not json", R"({"op":"subscribe"})", R"({"op":"subscribe","topics":[]})",
                          R"({"op":"subscribe","topics":["trades"]})",
                          R"({"op":"subscribe","topics":["quotes"],"from":-1})",
                          R"({"op":"subscribe","topics":["quotes"],"x":1})", R"({"op":"dance"})"}) {
    Send(*ws, bad);
    const nlohmann::json answer = Read(*ws);
    EXPECT_EQ(answer["type"], "error") << bad;
    EXPECT_FALSE(answer["message"].get<std::string>().empty()) << bad;
  }
  EXPECT_EQ(hub_.subscriptions(), 0u);
  // Plain GET of the stream: 426.
  HttpRequest r;
  r.method = "GET";
  r.path = "/api/v1/stream";
  r.headers.emplace_back("authorization", "Bearer " + token_);
  EXPECT_EQ(service_->Handle(r).status, 426);
}

TEST_F(StreamTest, AStreamEndsWhenItsTokenExpires) {
  beast::error_code ec;
  auto ws = Connect("/api/v1/stream?access_token=" + token_, &ec);
  ASSERT_FALSE(ec);
  Send(*ws, R"({"op":"subscribe","topics":["quotes"]})");
  EXPECT_EQ(Read(*ws)["type"], "subscribed");
  hub_.Publish(1'000'000, kTopicQuotes, "EURUSD", {{"bid", 1.0}});
  EXPECT_EQ(Read(*ws)["seq"], 1'000'000);
  clock_.AdvanceTo(FromCivil(2026, 12, 6, 10));  // past the token's 15 minutes
  hub_.Publish(1'000'001, kTopicQuotes, "EURUSD", {{"bid", 1.0}});
  beast::flat_buffer buffer;
  ws->read(buffer, ec);
  EXPECT_EQ(ec, beast::websocket::error::closed);
  EXPECT_EQ(ws->reason().reason, "token expired");
  EXPECT_EQ(hub_.subscriptions(), 0u);
}

}  // namespace
}  // namespace aits::api
