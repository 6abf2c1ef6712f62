#include "aits/api/http_server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <array>
#include <cctype>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <type_traits>

#include "aits/api/ws_queue.h"

namespace aits::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using asio::awaitable;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool Readable(const std::string& path) { return std::ifstream(path).good(); }

// What the handler sees of a parsed request; the body is moved out.
HttpRequest FromBeast(http::request<http::string_body>& req) {
  HttpRequest in;
  in.method = std::string(req.method_string());
  const std::string_view target = req.target();
  const size_t q = target.find('?');
  in.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) in.query = std::string(target.substr(q + 1));
  in.headers.reserve(8);
  for (const auto& field : req) {
    in.headers.emplace_back(Lower(field.name_string()), std::string(field.value()));
  }
  in.body = std::move(req.body());
  return in;
}

// The server's side of one WebSocket: a bounded queue of frames to send, filled from any
// thread, drained by the connection's writer on its strand. The writer's timer, which a Send
// cancels to wake it, lives in the connection's coroutine, not here: a handler may keep the
// peer after the server (and its io_context) is gone, so the peer holds no I/O object once the
// connection has detached it.
class WsPeer final : public WebSocketPeer, public std::enable_shared_from_this<WsPeer> {
 public:
  explicit WsPeer(size_t limit) : queue_(limit) {}

  void Attach(asio::any_io_executor strand, asio::steady_timer* timer) {
    std::lock_guard lock(mutex_);
    strand_ = std::move(strand);
    timer_ = timer;
  }
  // On the strand, before the timer goes. Nothing is sent after it.
  void Detach() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    timer_ = nullptr;
    strand_.reset();
  }

  bool Send(std::shared_ptr<const std::string> text, uint64_t supersede_key) override {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    if (!queue_.Push(std::move(text), supersede_key)) {
      closed_ = true;
      too_slow_ = true;
      WakeLocked();
      return false;
    }
    WakeLocked();
    return true;
  }
  void Close(std::string_view reason) override {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    close_reason_ = std::string(reason.substr(0, 120));
    WakeLocked();
  }
  // What the writer sends next: the messages queued, one per line, up to about `max_bytes` in
  // one frame (one write for many messages: the fan-out's cost is per write). 0 when nothing is
  // queued; then it waits, or ends if closed. `superseded`: how many more queued messages were
  // dropped for a newer one since the last call (the server's count outlives this peer's).
  size_t TakeFrame(std::string* frame, size_t max_bytes, bool* closed, uint64_t* superseded) {
    std::lock_guard lock(mutex_);
    frame->clear();
    const size_t taken = too_slow_ ? 0 : queue_.TakeFrame(frame, max_bytes);
    *superseded = queue_.superseded() - superseded_reported_;
    superseded_reported_ = queue_.superseded();
    if (taken == 0) {
      *closed = closed_;
      waiting_ = !closed_;
    }
    return taken;
  }
  void MarkClosed() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    WakeLocked();
  }
  bool too_slow() const {
    std::lock_guard lock(mutex_);
    return too_slow_;
  }
  std::string close_reason() const {
    std::lock_guard lock(mutex_);
    return close_reason_;
  }

 private:
  void WakeLocked() {
    if (!waiting_ || !strand_) return;
    waiting_ = false;
    // On the strand, where the timer lives; Detach (also on the strand) may have come first.
    asio::post(*strand_, [self = shared_from_this()] {
      std::lock_guard lock(self->mutex_);
      if (self->timer_ != nullptr) self->timer_->cancel();
    });
  }
  mutable std::mutex mutex_;
  std::optional<asio::any_io_executor> strand_;
  asio::steady_timer* timer_ = nullptr;
  WsQueue queue_;
  uint64_t superseded_reported_ = 0;
  bool closed_ = false;
  bool too_slow_ = false;
  bool waiting_ = false;
  std::string close_reason_;
};

}  // namespace

Result<HttpRequest> ParseHttpRequest(std::string_view bytes, size_t header_limit,
                                     size_t body_limit) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<uint32_t>(header_limit));
  parser.body_limit(body_limit);
  parser.eager(true);
  beast::error_code ec;
  size_t used = 0;
  while (!ec && used < bytes.size() && !parser.is_done()) {
    const size_t n = parser.put(asio::buffer(bytes.data() + used, bytes.size() - used), ec);
    used += n;
    if (ec == http::error::need_more || n == 0) break;
  }
  if (!parser.is_done() && (!ec || ec == http::error::need_more)) {
    parser.put_eof(ec);
  }
  if (ec || !parser.is_done()) {
    return InvalidArgument("HTTP request: " + (ec ? ec.message() : std::string("incomplete")));
  }
  http::request<http::string_body> req = parser.release();
  return FromBeast(req);
}

std::string_view HttpRequest::Header(std::string_view lower_case_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_case_name) return value;
  }
  return {};
}

HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message,
                           std::string_view request_id) {
  nlohmann::json error{{"code", code}, {"message", message}};
  if (!request_id.empty()) error["request_id"] = request_id;
  HttpResponse r;
  r.status = status;
  // Messages may quote what a client sent, which need not be UTF-8: replaced, never thrown.
  r.body = nlohmann::json{{"error", error}}.dump(-1, ' ', false,
                                                 nlohmann::json::error_handler_t::replace);
  return r;
}

Status HttpServerOptions::Validate() const {
  if (threads < 1 || threads > 64) {
    return InvalidArgument("api: threads = " + std::to_string(threads) + " must be 1..64");
  }
  if (certificate_file.empty() != private_key_file.empty()) {
    return InvalidArgument(
        "api: TLS needs both a certificate and its private key (--tls-cert, "
        "--tls-key)");
  }
  if (header_limit < 1024) return InvalidArgument("api: the header limit must be 1 KiB or more");
  if (body_limit < 1024) return InvalidArgument("api: the body limit must be 1 KiB or more");
  if (idle_timeout.ns <= 0) return InvalidArgument("api: the idle timeout must be positive");
  if (max_connections < 1 || max_connections_per_client < 1) {
    return InvalidArgument("api: connection limits must be at least 1");
  }
  return Status::Ok();
}

struct HttpServer::Impl {
  HttpServerOptions options;
  HttpHandler handler;
  WebSocketHandler websocket;
  // Before io: the connections' TLS streams, which io's destructor may destroy, use it.
  std::optional<ssl::context> tls;
  asio::io_context io{};
  tcp::acceptor acceptor{io};
  std::vector<std::thread> threads;
  std::once_flag stopped;

  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> malformed{0};
  std::atomic<uint64_t> timeouts{0};
  std::atomic<int64_t> open{0};
  std::atomic<uint64_t> websockets{0};
  std::atomic<uint64_t> websocket_frames{0};
  std::atomic<uint64_t> websocket_messages{0};
  std::atomic<uint64_t> websocket_too_slow{0};
  std::atomic<uint64_t> websocket_superseded{0};
  std::mutex clients_mutex;
  std::map<std::string, int> per_client;  // open connections by peer address

  // Counts the connection in, or says why it may not be (a 503's message).
  std::string Admit(const std::string& client) {
    std::lock_guard lock(clients_mutex);
    if (open.load() >= options.max_connections) {
      return "the server holds " + std::to_string(options.max_connections) +
             " connections, its limit";
    }
    int& mine = per_client[client];
    if (mine >= options.max_connections_per_client) {
      return "this address holds " + std::to_string(options.max_connections_per_client) +
             " connections, the limit per client";
    }
    ++mine;
    ++open;
    return {};
  }
  void Leave(const std::string& client) {
    std::lock_guard lock(clients_mutex);
    auto it = per_client.find(client);
    if (it != per_client.end() && --it->second == 0) per_client.erase(it);
    --open;
  }

  static http::response<http::string_body> ToBeast(const HttpResponse& r, unsigned version,
                                                   bool keep_alive) {
    http::response<http::string_body> res{static_cast<http::status>(r.status), version};
    res.set(http::field::server, "aits");
    res.set(http::field::content_type, r.content_type);
    for (const auto& [name, value] : r.headers) res.set(name, value);
    res.keep_alive(keep_alive);
    res.body() = r.body;
    res.prepare_payload();
    return res;
  }

  template <class Stream>
  awaitable<void> WriteError(Stream& stream, int status, std::string_view code,
                             std::string_view message) {
    auto res = ToBeast(ErrorResponse(status, code, message), 11, false);
    co_await http::async_write(stream, res, kTuple);
  }

  template <class Ws>
  awaitable<void> WsRead(Ws& ws, WebSocketSession& session, WsPeer& peer) {
    beast::flat_buffer buffer;
    for (;;) {
      auto [ec, n] = co_await ws.async_read(buffer, kTuple);
      if (ec) break;
      const auto data = buffer.cdata();
      session.OnMessage(std::string_view(static_cast<const char*>(data.data()), data.size()));
      buffer.consume(buffer.size());
    }
    peer.MarkClosed();
  }

  template <class Ws>
  awaitable<void> WsWrite(Ws& ws, WsPeer& peer, asio::steady_timer& timer) {
    std::string frame;
    for (;;) {
      bool closed = false;
      uint64_t superseded = 0;
      const size_t messages = peer.TakeFrame(&frame, 64 * 1024, &closed, &superseded);
      websocket_superseded += superseded;
      if (messages > 0) {
        auto [ec, n] = co_await ws.async_write(asio::buffer(frame), kTuple);
        if (ec) {
          peer.MarkClosed();
          beast::error_code ignored;
          beast::get_lowest_layer(ws).socket().close(ignored);
          co_return;
        }
        ++websocket_frames;
        websocket_messages += messages;
        continue;
      }
      if (closed) {
        if (!ws.is_open()) co_return;
        websocket::close_reason why(websocket::close_code::normal);
        if (peer.too_slow()) {
          ++websocket_too_slow;
          why = websocket::close_reason(websocket::close_code::policy_error, "too slow");
        } else if (!peer.close_reason().empty()) {
          why = websocket::close_reason(websocket::close_code::normal, peer.close_reason());
        }
        beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(5));
        co_await ws.async_close(why, kTuple);
        co_return;
      }
      timer.expires_at(asio::steady_timer::time_point::max());
      co_await timer.async_wait(kTuple);
    }
  }

  // An upgrade request: the handler refuses it (an HTTP answer) or takes it; then the
  // connection is a WebSocket until either side closes it.
  template <class Stream>
  awaitable<void> Upgrade(Stream& stream, http::request<http::string_body>& req,
                          const HttpRequest& in) {
    const auto strand = co_await asio::this_coro::executor;
    auto peer = std::make_shared<WsPeer>(options.ws_queue_limit);
    asio::steady_timer timer(strand);
    peer->Attach(strand, &timer);
    // However the connection ends (the io_context destroyed with it, too), the peer lets go of
    // the timer and the strand first.
    struct Detach {
      WsPeer* peer;
      ~Detach() { peer->Detach(); }
    } detach{peer.get()};
    WebSocketAccept answer =
        websocket ? websocket(in, peer)
                  : WebSocketAccept{ErrorResponse(404, "not_found", "no WebSocket here"), nullptr};
    if (answer.refusal || !answer.session) {
      const HttpResponse refusal =
          answer.refusal ? *answer.refusal : ErrorResponse(500, "internal", "refused");
      auto res = ToBeast(refusal, req.version(), false);
      co_await http::async_write(stream, res, kTuple);
      co_return;
    }
    websocket::stream<Stream> ws(std::move(stream));
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws.read_message_max(options.ws_message_limit);
    ws.text(true);
    beast::get_lowest_layer(ws).expires_never();
    auto [ec] = co_await ws.async_accept(req, kTuple);
    if (!ec) {
      ++websockets;
      using namespace asio::experimental::awaitable_operators;
      co_await (WsRead(ws, *answer.session, *peer) && WsWrite(ws, *peer, timer));
    }
    peer->MarkClosed();
    answer.session->OnClose();
  }

  // After a refusal written while the client may still be sending (a body over the limit): what
  // it sends is read and dropped for a while before the close, so that the client reads the
  // answer instead of a reset for writing to a closed socket (HTTP servers' lingering close).
  // Bounded: 2 s and 16 MiB.
  template <class Stream>
  awaitable<void> Linger(Stream& stream) {
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
    std::array<char, 16 * 1024> scratch{};
    size_t drained = 0;
    while (drained < 16 * 1024 * 1024) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(scratch), kTuple);
      if (ec) break;
      drained += n;
    }
  }

  // One connection's requests, in order, until it closes, breaks a limit or idles out. True
  // when it became a WebSocket (the stream was moved away: nothing is left to shut down).
  template <class Stream>
  awaitable<bool> Serve(Stream& stream, const std::string& client, bool is_tls) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<uint32_t>(options.header_limit));
      parser.body_limit(options.body_limit);
      beast::get_lowest_layer(stream).expires_after(
          std::chrono::nanoseconds(options.idle_timeout.ns));
      auto [ec, n] = co_await http::async_read(stream, buffer, parser, kTuple);
      if (ec == http::error::end_of_stream || ec == asio::error::eof ||
          ec == asio::error::connection_reset || ec == ssl::error::stream_truncated) {
        co_return false;
      }
      if (ec == beast::error::timeout) {
        ++timeouts;
        co_return false;
      }
      if (ec) {
        ++malformed;
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
        if (ec == http::error::header_limit) {
          co_await WriteError(
              stream, 431, "header_too_large",
              "the request's headers exceed " + std::to_string(options.header_limit) + " bytes");
        } else if (ec == http::error::body_limit) {
          co_await WriteError(
              stream, 413, "body_too_large",
              "the request's body exceeds " + std::to_string(options.body_limit) + " bytes");
        } else if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
          co_await WriteError(stream, 400, "bad_request",
                              "the request is not HTTP/1.1: " + ec.message());
        }
        co_await Linger(stream);
        co_return false;
      }
      ++requests;
      http::request<http::string_body> req = parser.release();
      const bool upgrade = websocket::is_upgrade(req);
      HttpRequest in = FromBeast(req);
      in.client = client;
      if (upgrade) {
        in.tls = is_tls;
        co_await Upgrade(stream, req, in);
        co_return true;
      }
      in.tls = is_tls;
      HttpResponse out;
      try {
        out = handler(in);
      } catch (const std::exception& e) {
        out = ErrorResponse(500, "internal", std::string("the handler failed: ") + e.what());
      }
      const bool keep_alive = req.keep_alive();
      auto res = ToBeast(out, req.version(), keep_alive);
      auto [wec, written] = co_await http::async_write(stream, res, kTuple);
      if (wec || !keep_alive) co_return false;
    }
  }

  awaitable<void> Connection(tcp::socket socket) {
    beast::error_code ignored;
    const auto peer = socket.remote_endpoint(ignored);
    const std::string client = ignored ? std::string("?") : peer.address().to_string();
    socket.set_option(tcp::no_delay(true), ignored);
    beast::tcp_stream plain(std::move(socket));
    const std::string refusal = Admit(client);
    if (!refusal.empty()) {
      ++refused;
      if (!tls) {
        plain.expires_after(std::chrono::seconds(2));
        co_await WriteError(plain, 503, "too_many_connections", refusal);
      }
      plain.socket().shutdown(tcp::socket::shutdown_both, ignored);
      co_return;
    }
    ++accepted;
    if (tls) {
      beast::ssl_stream<beast::tcp_stream> stream(std::move(plain), *tls);
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
      auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, kTuple);
      if (!ec) {
        const bool upgraded = co_await Serve(stream, client, true);
        if (!upgraded) {
          beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
          co_await stream.async_shutdown(kTuple);
        }
      } else {
        ++malformed;
      }
    } else {
      if (!co_await Serve(plain, client, false)) {
        plain.socket().shutdown(tcp::socket::shutdown_send, ignored);
      }
    }
    Leave(client);
  }

  awaitable<void> Accept() {
    for (;;) {
      // A strand per connection: with several I/O threads, its timer and its reads would
      // otherwise complete on two threads at once (a timeout then reads as a cancellation).
      auto strand = asio::make_strand(io);
      auto [ec, socket] = co_await acceptor.async_accept(strand, kTuple);
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      if (ec) continue;  // e.g. out of descriptors for a moment: the next accept may work
      asio::co_spawn(strand, Connection(std::move(socket)), asio::detached);
    }
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                      HttpHandler handler,
                                                      WebSocketHandler websocket) {
  AITS_RETURN_IF_ERROR(options.Validate());
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->handler = std::move(handler);
  impl->websocket = std::move(websocket);
  if (!options.certificate_file.empty()) {
    for (const std::string* file : {&options.certificate_file, &options.private_key_file}) {
      if (!Readable(*file)) return InvalidArgument("api: TLS: " + *file + " cannot be read");
    }
    impl->tls.emplace(ssl::context::tls_server);
    SSL_CTX* ctx = impl->tls->native_handle();
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    beast::error_code ec;
    impl->tls->use_certificate_chain_file(options.certificate_file, ec);
    if (ec) {
      return InvalidArgument("api: TLS certificate " + options.certificate_file + ": " +
                             ec.message());
    }
    impl->tls->use_private_key_file(options.private_key_file, ssl::context::pem, ec);
    if (ec && ec.message().find("mismatch") != std::string::npos) {
      return InvalidArgument("api: TLS private key " + options.private_key_file +
                             " does not match the certificate " + options.certificate_file);
    }
    if (ec) {
      return InvalidArgument("api: TLS private key " + options.private_key_file + ": " +
                             ec.message());
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      return InvalidArgument("api: TLS private key " + options.private_key_file +
                             " does not match the certificate " + options.certificate_file);
    }
  }
  beast::error_code ec;
  const auto address = asio::ip::make_address(options.host, ec);
  if (ec) return InvalidArgument("api: address \"" + options.host + "\": " + ec.message());
  const tcp::endpoint at(address, options.port);
  impl->acceptor.open(at.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(at, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Unavailable("api: cannot listen on " + options.host + ":" +
                       std::to_string(options.port) + ": " + ec.message());
  }
  asio::co_spawn(impl->io, impl->Accept(), asio::detached);
  Impl* raw = impl.get();
  for (int i = 0; i < options.threads; ++i) {
    impl->threads.emplace_back([raw] { raw->io.run(); });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

uint16_t HttpServer::port() const {
  beast::error_code ec;
  const auto at = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : at.port();
}

bool HttpServer::tls() const { return impl_->tls.has_value(); }

HttpServerStats HttpServer::stats() const {
  HttpServerStats s;
  s.connections_accepted = impl_->accepted.load();
  s.connections_refused = impl_->refused.load();
  s.requests = impl_->requests.load();
  s.malformed = impl_->malformed.load();
  s.timeouts = impl_->timeouts.load();
  s.connections_open = impl_->open.load();
  s.websockets = impl_->websockets.load();
  s.websocket_frames = impl_->websocket_frames.load();
  s.websocket_messages = impl_->websocket_messages.load();
  s.websocket_too_slow = impl_->websocket_too_slow.load();
  s.websocket_superseded = impl_->websocket_superseded.load();
  return s;
}

void HttpServer::Stop() {
  if (!impl_) return;
  std::call_once(impl_->stopped, [this] {
    asio::post(impl_->io, [this] {
      beast::error_code ignored;
      impl_->acceptor.close(ignored);
    });
    impl_->io.stop();
    for (std::thread& t : impl_->threads) {
      if (t.joinable()) t.join();
    }
  });
}

}  // namespace aits::api
