// The streams: StreamHub's filters, resume and bounds, WsQueue's conflation of quotes, and
// /api/v1/stream over a real server and a real session's log, with a Beast WebSocket client.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <cstdio>
#include <deque>
#include <map>
#include <random>

#include "aits/api/api_service.h"
#include "aits/api/session_routes.h"
#include "aits/api/stream_hub.h"
#include "aits/api/ws_queue.h"
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
    return [this, refuse_after](const StreamHub::Message& message) {
      if (got.size() >= refuse_after) return false;
      got.push_back(nlohmann::json::parse(*message.text));
      return true;
    };
  }
};

std::shared_ptr<const std::string> Text(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

// What a frame holds, one message per line.
std::vector<std::string> Lines(const std::string& frame) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= frame.size()) {
    const size_t end = std::min(frame.find('\n', start), frame.size());
    out.push_back(frame.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

TEST(WsQueueTest, ALaggingClientGetsTheLatestQuotePerSymbolAndEveryOtherMessage) {
  WsQueue queue(100);
  const uint64_t eur = 1;
  const uint64_t gbp = 2;
  // Queued while a write is in flight: quotes (keyed by symbol) among an order, a fill, a risk
  // message.
  ASSERT_TRUE(queue.Push(Text("q1 EURUSD"), eur));
  ASSERT_TRUE(queue.Push(Text("o2"), 0));
  ASSERT_TRUE(queue.Push(Text("q3 GBPUSD"), gbp));
  ASSERT_TRUE(queue.Push(Text("q4 EURUSD"), eur));
  ASSERT_TRUE(queue.Push(Text("f5"), 0));
  ASSERT_TRUE(queue.Push(Text("q6 EURUSD"), eur));
  ASSERT_TRUE(queue.Push(Text("r7"), 0));
  ASSERT_TRUE(queue.Push(Text("q8 GBPUSD"), gbp));
  EXPECT_EQ(queue.size(), 5u);
  EXPECT_EQ(queue.superseded(), 3u);
  std::string frame;
  ASSERT_EQ(queue.TakeFrame(&frame, 64 * 1024), 5u);
  // The superseded quotes are gone and the latest ones moved back: still in queued order.
  EXPECT_EQ(Lines(frame), (std::vector<std::string>{"o2", "f5", "q6 EURUSD", "r7", "q8 GBPUSD"}));
  EXPECT_EQ(queue.TakeFrame(&frame, 64 * 1024), 0u);
  // Once taken (written), a quote is no longer waiting: the next one does not replace it.
  ASSERT_TRUE(queue.Push(Text("q9 EURUSD"), eur));
  ASSERT_EQ(queue.TakeFrame(&frame, 64 * 1024), 1u);
  EXPECT_EQ(frame, "q9 EURUSD");
  EXPECT_EQ(queue.superseded(), 3u);
}

TEST(WsQueueTest, TheLimitCountsWaitingMessagesAndASupersedingQuoteAlwaysFits) {
  WsQueue queue(3);
  ASSERT_TRUE(queue.Push(Text("q1"), 1));
  ASSERT_TRUE(queue.Push(Text("o2"), 0));
  ASSERT_TRUE(queue.Push(Text("o3"), 0));
  EXPECT_FALSE(queue.Push(Text("o4"), 0));  // full: a client this far behind is too slow
  EXPECT_FALSE(queue.Push(Text("q5"), 2));  // a quote of another symbol does not fit either
  EXPECT_TRUE(queue.Push(Text("q6"), 1));   // it replaces q1
  EXPECT_EQ(queue.size(), 3u);
  std::string frame;
  // A frame stops before `max_bytes`, but holds at least one message.
  ASSERT_EQ(queue.TakeFrame(&frame, 1), 1u);
  EXPECT_EQ(frame, "o2");
  ASSERT_EQ(queue.TakeFrame(&frame, 64 * 1024), 2u);
  EXPECT_EQ(frame, "o3\nq6");
}

// Pushes and takes at random against a list that applies the rule plainly: what is taken is
// always that list's order (this covers the compaction of superseded entries too).
TEST(WsQueueTest, ManyPushesAndTakesMatchTheRuleApplied) {
  std::mt19937 random(12);
  WsQueue queue(1'000'000);
  std::deque<std::pair<std::string, uint64_t>> expected;
  uint64_t superseded = 0;
  std::vector<std::string> taken;
  std::vector<std::string> expected_taken;
  for (int seq = 1; seq <= 20'000; ++seq) {
    // Mostly quotes of three symbols, as a busy session's stream is.
    const uint64_t key = random() % 10 < 8 ? 1 + random() % 3 : 0;
    const std::string text = std::to_string(seq);
    if (key != 0) {
      const auto older = std::find_if(expected.begin(), expected.end(),
                                      [key](const auto& e) { return e.second == key; });
      if (older != expected.end()) {
        expected.erase(older);
        ++superseded;
      }
    }
    expected.emplace_back(text, key);
    ASSERT_TRUE(queue.Push(Text(text), key));
    if (random() % 100 == 0) {  // a write completes: take what waits, in frames of ~40 bytes
      std::string frame;
      while (queue.TakeFrame(&frame, 40) > 0) {
        for (std::string& line : Lines(frame)) taken.push_back(std::move(line));
      }
      for (const auto& entry : expected) expected_taken.push_back(entry.first);
      expected.clear();
    }
  }
  ASSERT_EQ(taken, expected_taken);
  EXPECT_EQ(queue.size(), expected.size());
  EXPECT_EQ(queue.superseded(), superseded);
  EXPECT_GT(superseded, 1000u);
}

// The hub keys quotes by symbol, and nothing else; a subscriber that resumes through a lagging
// queue gets every order, fill and risk message after `from` and the latest quote of each
// symbol, in seq order.
TEST(StreamHubTest, AResumeThroughALaggingQueueKeepsEveryOrderAndTheLatestQuotes) {
  StreamHub hub;
  hub.Publish(1, kTopicQuotes, "EURUSD", {{"bid", 1.1}});
  hub.Publish(2, kTopicOrders, "EURUSD", {{"id", 1}});
  hub.Publish(3, kTopicQuotes, "EURUSD", {{"bid", 1.2}});
  hub.Publish(4, kTopicQuotes, "GBPUSD", {{"bid", 1.3}});
  hub.Publish(5, kTopicBars, "EURUSD", {{"close", 1.2}});
  hub.Publish(6, kTopicFills, "EURUSD", {{"id", 1}});
  hub.Publish(7, kTopicQuotes, "EURUSD", {{"bid", 1.4}});
  hub.Publish(8, kTopicRisk, "", {{"breaker_change", "halted"}});
  hub.Publish(9, kTopicAccount, "", {{"equity", 1}});
  hub.Publish(10, kTopicDecisions, "EURUSD", {{"id", 1}});
  std::map<uint64_t, uint64_t> keys;  // seq -> the key the hub gave it
  WsQueue queue(100);
  const auto into_queue = [&](const StreamHub::Message& m) {
    keys[nlohmann::json::parse(*m.text)["seq"]] = m.supersede_key;
    return queue.Push(m.text, m.supersede_key);
  };
  const uint32_t all = kTopicQuotes | kTopicBars | kTopicOrders | kTopicFills | kTopicAccount |
                       kTopicDecisions | kTopicRisk;
  const StreamHub::Subscribed sub = hub.Subscribe({all, {}}, 2, into_queue);
  EXPECT_EQ(sub.replayed, 9u);
  EXPECT_EQ(keys[3], keys[7]);  // EURUSD's quotes share a key
  EXPECT_NE(keys[3], 0u);
  EXPECT_NE(keys[4], 0u);
  EXPECT_NE(keys[4], keys[3]);
  for (uint64_t seq : {2, 5, 6, 8, 9, 10}) EXPECT_EQ(keys[seq], 0u) << seq;
  hub.Publish(11, kTopicQuotes, "GBPUSD", {{"bid", 1.5}});  // live, while the queue still waits
  std::string frame;
  queue.TakeFrame(&frame, 64 * 1024);
  std::vector<uint64_t> seqs;
  for (const std::string& line : Lines(frame)) seqs.push_back(nlohmann::json::parse(line)["seq"]);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{2, 5, 6, 7, 8, 9, 10, 11}));
  EXPECT_EQ(queue.superseded(), 2u);  // seq 3 (by 7) and seq 4 (by 11)
  hub.Unsubscribe(sub.id);
  // After a reconnect, resuming from the last seq the client has: nothing new is lost.
  hub.Publish(12, kTopicOrders, "EURUSD", {{"id", 2}});
  Collected again;
  EXPECT_EQ(hub.Subscribe({all, {}}, seqs.back(), again.Sink()).replayed, 2u);
  ASSERT_EQ(again.got.size(), 2u);
  EXPECT_EQ(again.got[0]["seq"], 11);  // at or after `from`: the client drops what it has
  EXPECT_EQ(again.got[1]["seq"], 12);
}

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
    return Connect(*server_, target, ec);
  }
  // To `server`, with a small receive buffer: a client that stops reading makes the server's
  // queue grow after a few hundred KiB rather than after what the kernel's autotuning allows.
  std::unique_ptr<Ws> Connect(const HttpServer& server, const std::string& target,
                              beast::error_code* ec) {
    auto ws = std::make_unique<Ws>(io_);
    tcp::socket& socket = beast::get_lowest_layer(*ws).socket();
    socket.open(tcp::v4());
    socket.set_option(asio::socket_base::receive_buffer_size(64 * 1024));
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()));
    ws->handshake("localhost", target, *ec);
    return ws;
  }
  // A client of `server` whose `subscribe` was acknowledged (null, and a failure, if not).
  std::unique_ptr<Ws> Subscribed(const HttpServer& server, const std::string& subscribe) {
    beast::error_code ec;
    auto ws = Connect(server, "/api/v1/stream?access_token=" + token_, &ec);
    if (ec) {
      ADD_FAILURE() << ec.message();
      return nullptr;
    }
    Send(*ws, subscribe);
    if (const nlohmann::json ack = Read(*ws); ack["type"] != "subscribed") {
      ADD_FAILURE() << ack.dump();
      return nullptr;
    }
    return ws;
  }
  // A server of its own on `hub`, which lets at most `queue_limit` messages wait for a client.
  std::unique_ptr<HttpServer> StartServer(StreamHub& hub, size_t queue_limit) {
    HttpServerOptions options;
    options.ws_queue_limit = queue_limit;
    return HttpServer::Start(
               options, [this](const HttpRequest& r) { return service_->Handle(r); },
               MakeStreamHandler(*service_, hub))
        .value();
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

// With quotes in the subscription, the replay of the whole log outruns the writer: quotes are
// superseded, and still every order and fill comes, in seq order, with each symbol's last quote.
TEST_F(StreamTest, AResumeWithQuotesKeepsEveryOrderAndFillAndEachSymbolsLastQuote) {
  // What the log holds, straight from the hub.
  Collected quotes;
  hub_.Unsubscribe(hub_.Subscribe({kTopicQuotes, {}}, 1, quotes.Sink()).id);
  Collected trades;
  hub_.Unsubscribe(hub_.Subscribe({kTopicOrders | kTopicFills, {}}, 1, trades.Sink()).id);
  std::map<std::string, uint64_t> last_quote;  // symbol -> its last quote's seq
  for (const nlohmann::json& q : quotes.got) last_quote[q["symbol"]] = q["seq"];
  ASSERT_FALSE(last_quote.empty());
  ASSERT_GE(trades.got.size(), run_->orders + run_->fills);
  beast::error_code ec;
  auto ws = Connect("/api/v1/stream?access_token=" + token_, &ec);
  ASSERT_FALSE(ec) << ec.message();
  Send(*ws, R"({"op":"subscribe","topics":["quotes","orders","fills"],"from":1})");
  ASSERT_EQ(Read(*ws)["type"], "subscribed");
  // The replay is queued while the subscribe is handled, before the ping is: the pong ends it.
  Send(*ws, R"({"op":"ping"})");
  std::vector<nlohmann::json> got_trades;
  uint64_t quotes_got = 0;
  size_t last_quotes_got = 0;
  uint64_t last_seq = 0;
  for (nlohmann::json m = Read(*ws); !m.contains("type"); m = Read(*ws)) {
    ASSERT_GE(m["seq"].get<uint64_t>(), last_seq);
    last_seq = m["seq"];
    if (m["topic"] == "quotes") {
      ++quotes_got;
      if (last_quote[m["symbol"]] == m["seq"]) ++last_quotes_got;
    } else {
      got_trades.push_back(m);
    }
  }
  EXPECT_EQ(got_trades, trades.got);  // every order and fill, in order
  EXPECT_EQ(last_quotes_got, last_quote.size());
  // Every quote came or was superseded (and counted); nothing else was.
  EXPECT_EQ(quotes_got + server_->stats().websocket_superseded, quotes.got.size());
}

TEST_F(StreamTest, AClientThatStopsReadingOrdersIsClosedAsTooSlow) {
  StreamHub hub(64);
  auto server = StartServer(hub, 16);
  auto ws = Subscribed(*server, R"({"op":"subscribe","topics":["orders"]})");
  ASSERT_NE(ws, nullptr);
  // The client reads nothing more. Once the sockets' buffers are full, orders wait in the
  // server's queue, and the one past its 16 closes the stream: orders are never dropped.
  const std::string padding(1000, 'x');
  uint64_t seq = 0;
  while (hub.subscriptions() > 0 && seq < 100'000) {  // 100 MB: far more than sockets buffer
    ++seq;
    hub.Publish(seq, kTopicOrders, "EURUSD", {{"id", seq}, {"padding", padding}});
  }
  ASSERT_EQ(hub.subscriptions(), 0u);
  // What was written before comes, then the close.
  beast::error_code ec;
  for (;;) {
    beast::flat_buffer buffer;
    ws->read(buffer, ec);
    if (ec) break;
  }
  EXPECT_EQ(ec, beast::websocket::error::closed);
  EXPECT_EQ(ws->reason().code, beast::websocket::close_code::policy_error);
  EXPECT_EQ(ws->reason().reason, "too slow");
  EXPECT_EQ(server->stats().websocket_too_slow, 1u);
  EXPECT_EQ(server->stats().websocket_superseded, 0u);
}

TEST_F(StreamTest, AClientThatStopsReadingQuotesStaysOpenAndGetsTheLatestQuote) {
  StreamHub hub(64);
  auto server = StartServer(hub, 16);
  auto ws = Subscribed(*server, R"({"op":"subscribe","topics":["quotes"]})");
  ASSERT_NE(ws, nullptr);
  // 40 MB of quotes of one symbol while the client reads nothing: far more than the sockets
  // buffer, so most of them wait, and each supersedes the one before.
  const std::string padding(1000, 'x');
  const uint64_t published = 40'000;
  for (uint64_t seq = 1; seq <= published; ++seq) {
    hub.Publish(seq, kTopicQuotes, "EURUSD", {{"bid", 1.1}, {"padding", padding}});
  }
  EXPECT_EQ(hub.subscriptions(), 1u);  // not closed as too slow
  // Queued after the last quote: the pong ends what the client reads.
  Send(*ws, R"({"op":"ping"})");
  uint64_t got = 0;
  uint64_t last_seq = 0;
  for (nlohmann::json m = Read(*ws); !m.contains("type"); m = Read(*ws)) {
    ASSERT_GT(m["seq"].get<uint64_t>(), last_seq);
    last_seq = m["seq"];
    ++got;
  }
  EXPECT_EQ(last_seq, published);  // the latest quote is never superseded
  const HttpServerStats stats = server->stats();
  EXPECT_EQ(got + stats.websocket_superseded, published);
  EXPECT_GT(stats.websocket_superseded, 0u);
  EXPECT_EQ(stats.websocket_too_slow, 0u);
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
