#include "aits/api/http_server.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

namespace aits::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// Echoes what the server handed over, as JSON.
HttpResponse Echo(const HttpRequest& r) {
  HttpResponse out;
  out.body = nlohmann::json{{"method", r.method},
                            {"path", r.path},
                            {"query", r.query},
                            {"body", r.body},
                            {"client", r.client},
                            {"tls", r.tls},
                            {"agent", r.Header("x-agent")}}
                 .dump();
  out.headers.emplace_back("X-Seen", "yes");
  return out;
}

std::unique_ptr<HttpServer> MustStart(HttpServerOptions options, HttpHandler handler = Echo) {
  Result<std::unique_ptr<HttpServer>> server = HttpServer::Start(options, std::move(handler));
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  return server.ok() ? std::move(server).value() : nullptr;
}

// A plain connection to the server, raw bytes in and out.
class Client {
 public:
  explicit Client(uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  http::response<http::string_body> Send(const std::string& raw) {
    asio::write(socket_, asio::buffer(raw));
    return Read();
  }
  http::response<http::string_body> Read() {
    http::response<http::string_body> res;
    beast::error_code ec;
    http::read(socket_, buffer_, res, ec);
    if (ec) res.result(0);
    return res;
  }
  // True once the server has closed the connection (a read sees its end).
  bool Closed() {
    char byte = 0;
    beast::error_code ec;
    socket_.read_some(asio::buffer(&byte, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }

 private:
  asio::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

std::string Get(const std::string& target, const std::string& extra = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: x\r\n" + extra + "\r\n";
}

TEST(HttpServerTest, AnswersRequestsOnAKeptAliveConnection) {
  auto server = MustStart({});
  ASSERT_NE(server, nullptr);
  EXPECT_FALSE(server->tls());
  Client client(server->port());
  auto first = client.Send(Get("/api/v1/x?symbol=EURUSD&limit=2", "X-Agent: test\r\n"));
  ASSERT_EQ(first.result_int(), 200);
  EXPECT_EQ(first[http::field::content_type], "application/json");
  EXPECT_EQ(first["X-Seen"], "yes");
  const auto body = nlohmann::json::parse(first.body());
  EXPECT_EQ(body["path"], "/api/v1/x");
  EXPECT_EQ(body["query"], "symbol=EURUSD&limit=2");
  EXPECT_EQ(body["client"], "127.0.0.1");
  EXPECT_EQ(body["agent"], "test");
  auto second = client.Send("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  ASSERT_EQ(second.result_int(), 200);
  EXPECT_EQ(nlohmann::json::parse(second.body())["body"], "hello");
  auto last = client.Send(Get("/bye", "Connection: close\r\n"));
  EXPECT_EQ(last.result_int(), 200);
  EXPECT_TRUE(client.Closed());
  EXPECT_EQ(server->stats().requests, 3u);
}

TEST(HttpServerTest, LimitsAreAnsweredBeforeTheHandler) {
  HttpServerOptions options;
  options.header_limit = 2048;
  options.body_limit = 4096;
  int handled = 0;
  auto server = MustStart(options, [&handled](const HttpRequest& r) {
    ++handled;
    return Echo(r);
  });
  ASSERT_NE(server, nullptr);
  {
    Client client(server->port());
    auto res = client.Send("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" +
                           std::string(5000, 'a'));
    EXPECT_EQ(res.result_int(), 413);
    EXPECT_EQ(nlohmann::json::parse(res.body())["error"]["code"], "body_too_large");
    EXPECT_TRUE(client.Closed());
  }
  {
    // A body far larger than the socket's buffers: the client is still writing when the 413
    // goes out, and must still read it (the server drains before it closes).
    Client client(server->port());
    auto res = client.Send("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 4000000\r\n\r\n" +
                           std::string(4'000'000, 'a'));
    EXPECT_EQ(res.result_int(), 413);
  }
  {
    Client client(server->port());
    auto res = client.Send(Get("/", "X-Big: " + std::string(3000, 'b') + "\r\n"));
    EXPECT_EQ(res.result_int(), 431);
    EXPECT_EQ(nlohmann::json::parse(res.body())["error"]["code"], "header_too_large");
  }
  {
    Client client(server->port());
    auto res = client.Send("NOT HTTP AT ALL\r\n\r\n");
    EXPECT_EQ(res.result_int(), 400);
    EXPECT_EQ(nlohmann::json::parse(res.body())["error"]["code"], "bad_request");
  }
  EXPECT_EQ(handled, 0);
  EXPECT_EQ(server->stats().malformed, 4u);
}

TEST(HttpServerTest, ConnectionsPerClientAreLimitedAndIdleOnesClosed) {
  HttpServerOptions options;
  options.max_connections_per_client = 2;
  options.idle_timeout = Duration::Millis(300);
  auto server = MustStart(options);
  ASSERT_NE(server, nullptr);
  Client a(server->port());
  Client b(server->port());
  ASSERT_EQ(a.Send(Get("/")).result_int(), 200);
  ASSERT_EQ(b.Send(Get("/")).result_int(), 200);
  Client c(server->port());
  auto refused = c.Read();
  EXPECT_EQ(refused.result_int(), 503);
  EXPECT_EQ(nlohmann::json::parse(refused.body())["error"]["code"], "too_many_connections");
  EXPECT_EQ(server->stats().connections_refused, 1u);
  // Idle past the timeout: both closed, and their places free again.
  EXPECT_TRUE(a.Closed());
  EXPECT_TRUE(b.Closed());
  for (int i = 0; i < 100 && server->stats().connections_open > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Client d(server->port());
  EXPECT_EQ(d.Send(Get("/")).result_int(), 200);
  EXPECT_GE(server->stats().timeouts, 2u);
}

TEST(HttpServerTest, ParsesARequestAsAConnectionWould) {
  const Result<HttpRequest> ok = ParseHttpRequest(
      "POST /api/v1/x?a=1 HTTP/1.1\r\nHost: h\r\nX-Up: V\r\nContent-Length: 3\r\n\r\nabc");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->method, "POST");
  EXPECT_EQ(ok->path, "/api/v1/x");
  EXPECT_EQ(ok->query, "a=1");
  EXPECT_EQ(ok->Header("x-up"), "V");
  EXPECT_EQ(ok->body, "abc");
  EXPECT_FALSE(ParseHttpRequest("GET / HTTP/1.1\r\nHost: h\r\n").ok());  // headers unfinished
  EXPECT_FALSE(ParseHttpRequest("NOT HTTP\r\n\r\n").ok());
  EXPECT_FALSE(ParseHttpRequest("POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc").ok());
  EXPECT_FALSE(
      ParseHttpRequest("POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n" + std::string(5000, 'x'),
                       16 * 1024, 4096)
          .ok());
}

TEST(HttpServerTest, OptionsAreChecked) {
  HttpServerOptions options;
  options.certificate_file = "/nonexistent.pem";
  EXPECT_EQ(HttpServer::Start(options, Echo).status().code(), StatusCode::kInvalidArgument);
  options.private_key_file = "/nonexistent.key";
  const Status missing = HttpServer::Start(options, Echo).status();
  EXPECT_NE(missing.message().find("/nonexistent.pem cannot be read"), std::string::npos)
      << missing.ToString();
  HttpServerOptions bad_host;
  bad_host.host = "not an address";
  EXPECT_EQ(HttpServer::Start(bad_host, Echo).status().code(), StatusCode::kInvalidArgument);
  auto first = MustStart({});
  ASSERT_NE(first, nullptr);
  HttpServerOptions taken;
  taken.port = first->port();
  EXPECT_EQ(HttpServer::Start(taken, Echo).status().code(), StatusCode::kUnavailable);
}

// Echoes what a client sends, keeps the peer for the test to push to.
class EchoSession final : public WebSocketSession {
 public:
  explicit EchoSession(std::shared_ptr<WebSocketPeer> peer) : peer_(std::move(peer)) {}
  void OnMessage(std::string_view text) override {
    peer_->Send(std::make_shared<const std::string>("echo:" + std::string(text)), 0);
  }
  void OnClose() override { closed_ = true; }
  std::atomic<bool> closed_{false};

 private:
  std::shared_ptr<WebSocketPeer> peer_;
};

struct WsFixture {
  std::mutex mutex;
  std::vector<std::shared_ptr<WebSocketPeer>> peers;
  std::vector<std::shared_ptr<EchoSession>> sessions;
  WebSocketHandler Handler() {
    return [this](const HttpRequest& r, std::shared_ptr<WebSocketPeer> peer) {
      if (r.query != "token=good") {
        return WebSocketAccept{ErrorResponse(401, "unauthenticated", "no token"), nullptr};
      }
      auto session = std::make_shared<EchoSession>(peer);
      std::lock_guard lock(mutex);
      peers.push_back(peer);
      sessions.push_back(session);
      return WebSocketAccept{std::nullopt, session};
    };
  }
};

using WsClient = beast::websocket::stream<beast::tcp_stream>;

std::unique_ptr<WsClient> WsConnect(asio::io_context& io, uint16_t port, const std::string& target,
                                    beast::error_code* ec) {
  auto ws = std::make_unique<WsClient>(io);
  beast::get_lowest_layer(*ws).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  ws->handshake("localhost", target, *ec);
  return ws;
}

TEST(HttpServerTest, WebSocketsAreAcceptedOrRefusedByTheHandlerAndCarryFramesBothWays) {
  WsFixture fixture;
  auto server = MustStart({}, Echo);
  ASSERT_NE(server, nullptr);
  HttpServerOptions options;
  options.ws_queue_limit = 8;
  auto ws_server = HttpServer::Start(options, Echo, fixture.Handler()).value();
  asio::io_context io;
  beast::error_code ec;
  auto refused = WsConnect(io, ws_server->port(), "/ws?token=bad", &ec);
  EXPECT_TRUE(ec) << "a refused upgrade must fail the handshake";
  // Without a WebSocket handler an upgrade is a 404.
  ec = {};
  auto nowhere = WsConnect(io, server->port(), "/ws?token=good", &ec);
  EXPECT_TRUE(ec);

  ec = {};
  auto ws = WsConnect(io, ws_server->port(), "/ws?token=good", &ec);
  ASSERT_FALSE(ec) << ec.message();
  ws->write(asio::buffer(std::string("hello")));
  beast::flat_buffer buffer;
  ws->read(buffer);
  EXPECT_EQ(beast::buffers_to_string(buffer.data()), "echo:hello");
  buffer.consume(buffer.size());
  // Pushed from another thread, in order.
  std::shared_ptr<WebSocketPeer> peer;
  {
    std::lock_guard lock(fixture.mutex);
    ASSERT_EQ(fixture.peers.size(), 1u);
    peer = fixture.peers[0];
  }
  std::thread pusher([peer] {
    for (int i = 0; i < 5; ++i)
      peer->Send(std::make_shared<const std::string>(std::to_string(i)), 0);
  });
  pusher.join();
  // Batched: one frame may carry several messages, one per line.
  std::string lines;
  while (std::count(lines.begin(), lines.end(), '\n') < 4) {
    ws->read(buffer);
    if (!lines.empty()) lines.push_back('\n');
    lines += beast::buffers_to_string(buffer.data());
    buffer.consume(buffer.size());
  }
  EXPECT_EQ(lines, "0\n1\n2\n3\n4");
  // The client closes: the session hears of it once.
  ws->close(beast::websocket::close_code::normal);
  for (int i = 0; i < 200 && !fixture.sessions[0]->closed_; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(fixture.sessions[0]->closed_);
  EXPECT_FALSE(peer->Send(std::make_shared<const std::string>("late"), 0));
  EXPECT_EQ(ws_server->stats().websockets, 1u);
}

TEST(HttpServerTest, AWebSocketClientThatFallsBehindIsClosed) {
  WsFixture fixture;
  HttpServerOptions options;
  options.ws_queue_limit = 8;
  auto server = HttpServer::Start(options, Echo, fixture.Handler()).value();
  asio::io_context io;
  beast::error_code ec;
  auto ws = WsConnect(io, server->port(), "/ws?token=good", &ec);
  ASSERT_FALSE(ec);
  std::shared_ptr<WebSocketPeer> peer;
  {
    std::lock_guard lock(fixture.mutex);
    peer = fixture.peers.at(0);
  }
  // The client reads nothing; a megabyte a frame fills the socket's buffers, then the queue.
  const auto big = std::make_shared<const std::string>(1 << 20, 'x');
  int sent = 0;
  while (sent < 10000 && peer->Send(big, 0)) ++sent;
  EXPECT_LT(sent, 10000);
  for (int i = 0; i < 500 && server->stats().websocket_too_slow == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(server->stats().websocket_too_slow, 1u);
  // Whatever frames were written before it fell behind arrive (none, on a slow machine), then
  // the close; what was still queued is dropped.
  beast::flat_buffer buffer;
  while (!ec) {
    ws->read(buffer, ec);
    buffer.consume(buffer.size());
  }
  EXPECT_EQ(ec, beast::websocket::error::closed);
  EXPECT_EQ(ws->reason().code, beast::websocket::close_code::policy_error);
  EXPECT_EQ(ws->reason().reason, "too slow");
}

// A self-signed certificate made by Debian's openssl for the test.
class HttpServerTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/aits_tls_" + std::to_string(::getpid());
    const std::string command =
        "mkdir -p " + dir_ + " && openssl req -x509 -newkey rsa:2048 -nodes -keyout " + dir_ +
        "/key.pem -out " + dir_ + "/cert.pem -days 1 -subj /CN=localhost 2>/dev/null";
    ASSERT_EQ(std::system(command.c_str()), 0);
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string dir_;
};

// One request over TLS with the protocol versions given; the status, or 0 when no handshake.
int TlsGet(uint16_t port, int min_version, int max_version) {
  asio::io_context io;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), min_version);
  SSL_CTX_set_max_proto_version(ctx.native_handle(), max_version);
  ctx.set_verify_mode(asio::ssl::verify_none);
  beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
  beast::error_code ec;
  beast::get_lowest_layer(stream).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                                          ec);
  if (ec) return 0;
  stream.handshake(asio::ssl::stream_base::client, ec);
  if (ec) return 0;
  if (SSL_version(stream.native_handle()) != TLS1_3_VERSION) return -1;
  http::request<http::empty_body> req{http::verb::get, "/tls", 11};
  req.set(http::field::host, "localhost");
  http::write(stream, req, ec);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res, ec);
  if (ec) return 0;
  return nlohmann::json::parse(res.body())["tls"] == true ? res.result_int() : -2;
}

TEST_F(HttpServerTlsTest, SpeaksTls13OnlyWithTheConfiguredCertificate) {
  HttpServerOptions options;
  options.certificate_file = dir_ + "/cert.pem";
  options.private_key_file = dir_ + "/key.pem";
  auto server = MustStart(options);
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(server->tls());
  EXPECT_EQ(TlsGet(server->port(), TLS1_2_VERSION, TLS1_3_VERSION), 200);
  EXPECT_EQ(TlsGet(server->port(), TLS1_2_VERSION, TLS1_2_VERSION), 0);  // TLS 1.2 refused
  // A key that is not the certificate's.
  ASSERT_EQ(std::system(("openssl genrsa -out " + dir_ + "/other.pem 2048 2>/dev/null").c_str()),
            0);
  options.private_key_file = dir_ + "/other.pem";
  const Status mismatch = HttpServer::Start(options, Echo).status();
  EXPECT_NE(mismatch.message().find("does not match the certificate"), std::string::npos)
      << mismatch.ToString();
}

}  // namespace
}  // namespace aits::api
