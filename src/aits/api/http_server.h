// HttpServer: the api role's HTTP/1.1 server (Boost.Beast over Asio; docs/api.md, "Transport").
// Plain TCP, or TLS 1.3 only when a certificate is configured. It enforces the transport's
// limits itself — header and body size, idle time, connections in all and per client address —
// and answers their breaches with 431, 413 and 503 and a JSON error body, before any handler
// runs. Everything above the transport (routes, tokens, rate limits, CORS) is the handler's.
//
// Beast and Asio stay inside http_server.cc: this header is all its users compile.
//
// Threads: Start() spawns `threads` I/O threads; the handler runs on them, concurrently, and
// must be thread-safe and quick (it answers from memory; slow work goes elsewhere). Stop() and
// the destructor join them; both may be called from any thread but a handler's.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aits/core/status.h"
#include "aits/core/time.h"

namespace aits::api {

struct HttpRequest {
  std::string method;  // "GET", "POST", ... as sent
  std::string path;    // the target before '?', not decoded
  std::string query;   // after '?', not decoded ("" when none)
  // Header names in lower case, in the order sent.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string client;  // the peer's address ("127.0.0.1")
  bool tls = false;

  // The first value of header `lower_case_name`, or "".
  std::string_view Header(std::string_view lower_case_name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// The server's side of one WebSocket connection, for whoever feeds it. Send queues a message
// (shared: one payload serialised once for every client that gets it). The writer sends what is
// queued in one text frame, one message per line, so that a busy stream costs a write per batch
// rather than per message. A message sent with a non-zero `supersede_key` replaces the one with
// the same key still queued (WsQueue: the older is dropped, the newer goes to the back), so a
// client that lags gets the latest quote per symbol. The queue is bounded: a client that falls
// behind by more than `ws_queue_limit` messages is closed (1008, "too slow") rather than let
// memory grow. Thread-safe; calls after the close are ignored.
class WebSocketPeer {
 public:
  virtual ~WebSocketPeer() = default;
  // False once the connection is closed or closing (the caller may stop feeding it).
  virtual bool Send(std::shared_ptr<const std::string> text, uint64_t supersede_key) = 0;
  virtual void Close(std::string_view reason) = 0;
};

// What the handler keeps for an accepted WebSocket: the client's text frames arrive in OnMessage
// (on the connection's strand, one at a time); OnClose once, when the connection ends.
class WebSocketSession {
 public:
  virtual ~WebSocketSession() = default;
  virtual void OnMessage(std::string_view text) = 0;
  virtual void OnClose() = 0;
};

// An upgrade request: a refusal (an HTTP answer: 401, 403, 404, ...) or a session. The peer is
// the connection's; the handler may keep it (e.g. in a broadcaster) until OnClose.
struct WebSocketAccept {
  std::optional<HttpResponse> refusal;
  std::shared_ptr<WebSocketSession> session;
};
using WebSocketHandler =
    std::function<WebSocketAccept(const HttpRequest&, std::shared_ptr<WebSocketPeer>)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: a free port (port() tells which)
  int threads = 2;
  // Both or neither. With them the server speaks TLS 1.3 only (docs/api.md, "TLS").
  std::string certificate_file;  // PEM chain
  std::string private_key_file;  // PEM
  size_t header_limit = 16 * 1024;
  size_t body_limit = 1024 * 1024;
  // A connection that sends nothing for this long is closed (between requests, or mid-request).
  Duration idle_timeout = Duration::Seconds(60);
  int max_connections = 20000;
  int max_connections_per_client = 2000;
  // WebSocket: messages waiting for one client before it counts as too slow (superseded ones
  // not counted), and the largest message a client may send.
  size_t ws_queue_limit = 4096;
  size_t ws_message_limit = 64 * 1024;

  Status Validate() const;
};

struct HttpServerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_refused = 0;  // over a connection limit
  uint64_t requests = 0;
  uint64_t malformed = 0;  // unparsable requests and limit breaches, answered 4xx
  uint64_t timeouts = 0;
  int64_t connections_open = 0;
  uint64_t websockets = 0;            // upgrades accepted
  uint64_t websocket_frames = 0;      // text frames sent
  uint64_t websocket_messages = 0;    // messages in them
  uint64_t websocket_too_slow = 0;    // closed for falling behind
  uint64_t websocket_superseded = 0;  // queued messages dropped for a newer one (quotes)
};

class HttpServer {
 public:
  // Binds, listens and starts the I/O threads. Errors: the options' (InvalidArgument), the
  // certificate's or key's (InvalidArgument naming the file), the address in use (Unavailable).
  // `websocket`: how upgrade requests are answered; without one they get 404.
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                   HttpHandler handler,
                                                   WebSocketHandler websocket = nullptr);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const;
  bool tls() const;
  HttpServerStats stats() const;
  // Stops accepting, closes every connection and joins the threads. Idempotent.
  void Stop();

  struct Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One request parsed from `bytes` as the server parses what a connection sends (limits
// included), for tests and the fuzz target; InvalidArgument with the parser's reason otherwise.
Result<HttpRequest> ParseHttpRequest(std::string_view bytes, size_t header_limit = 16 * 1024,
                                     size_t body_limit = 1024 * 1024);

// The JSON error body every refusal of the API carries: {"error": {"code": CODE, "message":
// MESSAGE, "request_id": ID}} (request_id left out when empty).
HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message,
                           std::string_view request_id = {});

}  // namespace aits::api
