// ApiService: the REST API's request path above the transport (docs/api.md). For every request,
// in this order:
//   1. X-Request-ID and X-Chain-ID are taken (when well formed) or made, and returned;
//   2. CORS: a preflight from an allowed origin is answered, other origins get no CORS headers;
//   3. the route is found (404, or 405 with Allow);
//   4. the caller is authenticated — a Bearer access token (RS256, key ring; one verified
//      before is taken from a TokenCache) or an API key in X-API-Key — unless the route is
//      public (401 with WWW-Authenticate otherwise);
//   5. the per-client rate limit (429 with Retry-After);
//   6. the route's role: viewer < trader < admin, and a notifier only where the route says so
//      (403);
//   7. the handler; a command (a route that changes something) is written to the audit trail
//      with its result, refused or not.
// Every refusal has the same body: {"error": {"code", "message", "request_id"}} — except the
// token endpoint's, which follows RFC 6749 §5.2 ({"error", "error_description"}) for OAuth
// clients.
//
// The routes are a table (Add); the OpenAPI 3 document at /api/v1/openapi.json is made from it,
// so the two cannot drift apart.
//
// Thread-safety: Handle may run on many threads at once; Add only before the first Handle.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aits/api/auth_store.h"
#include "aits/api/http_server.h"
#include "aits/api/jwt.h"
#include "aits/api/rate_limiter.h"
#include "aits/api/token_cache.h"
#include "aits/core/clock.h"

namespace aits::api {

struct Caller {
  std::string subject;  // user name or API key id
  Role role = Role::kViewer;
  std::string kind;  // "user" or "api_key"
  // When the credentials end: the access token's expiry; far away for an API key (revoking it
  // ends new requests, not a WebSocket already open).
  Timestamp expires{INT64_MAX};
};

struct RequestContext {
  const HttpRequest& http;
  std::string request_id;
  std::string chain_id;
  std::optional<Caller> caller;
  std::map<std::string, std::string> path;   // {name} segments of the route's pattern
  std::map<std::string, std::string> query;  // decoded; the last value of a repeated name
  Timestamp now;
  // Filled by a command's handler for the audit trail: what it acted on, and a summary.
  std::string audit_target;
  std::string audit_detail;
};

struct QueryParameter {
  std::string name;
  std::string type;  // "string", "integer", "number", "boolean"
  std::string description;
};

struct Route {
  std::string method;   // "GET", "POST", "PUT", "PATCH", "DELETE"
  std::string pattern;  // "/api/v1/orders/{id}"
  // nullopt: public (no token needed).
  std::optional<Role> role;
  bool command = false;  // changes something: audited
  std::string tag;       // the OpenAPI group ("orders")
  std::string summary;
  std::vector<QueryParameter> query;
  // Request body's JSON schema (OpenAPI), for commands that take one; null when none.
  nlohmann::json body_schema;
  std::function<HttpResponse(RequestContext&)> handler;
  // The answer when the handler succeeds: its status, and its body's schema (OpenAPI 3.0,
  // openapi.h) in `content_type`. A null schema describes no body: a 101, or a page that is not
  // JSON (then `content_type` names it).
  int status = 200;
  nlohmann::json response_schema = nullptr;
  std::string content_type = "application/json";
  // Refusals this route answers besides those every route may (400, 429, 500; 401 and 403 with
  // a role; 404 with a path parameter; 413 with a body).
  std::vector<int> errors = {};
  // A notifier's key may call it too (Role::kNotifier: every other route refuses it).
  bool notifier = false;
};

struct ApiOptions {
  std::string issuer = "aits";
  std::string audience = "aits-api";
  Duration access_ttl = Duration::Minutes(15);
  Duration refresh_ttl = Duration::Days(7);
  int rate_per_minute = 1000;
  int login_failures = 5;
  Duration login_window = Duration::Minutes(15);
  Duration login_lockout = Duration::Seconds(30);
  // Origins allowed to call from a browser ("https://desk.example"); "*" allows any.
  std::vector<std::string> cors_origins;
};

// JSON answers.
HttpResponse Json(int status, const nlohmann::json& body);
HttpResponse Problem(const RequestContext& ctx, int status, std::string_view code,
                     std::string_view message);
// A Status as an answer: InvalidArgument 400, NotFound 404, FailedPrecondition 409,
// Unavailable 503, DeadlineExceeded 504, the rest 500.
HttpResponse FromStatus(const RequestContext& ctx, const Status& status);

// A path or query parameter that must be a whole number; InvalidArgument naming it and its value.
Result<uint64_t> ParseWholeNumber(const std::string& name, const std::string& text);
// A page of a list: `limit` (1..1000, default 100) and `before` (ids below it; 0: from the
// newest). Other parameters are the caller's. InvalidArgument naming the parameter and value.
struct PageQuery {
  uint64_t limit = 100;
  uint64_t before = 0;
};
Result<PageQuery> ParsePageQuery(const std::map<std::string, std::string>& query);
// "a%20b+c" -> "a b c"; nullopt for a bad escape.
std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space);
// "a=1&b=x%20y" -> {a: 1, b: "x y"}; InvalidArgument naming the bad part.
Result<std::map<std::string, std::string>> ParseForm(std::string_view text);

class ApiService {
 public:
  // The store and clock must outlive the service.
  ApiService(AuthStore& store, KeyRing keys, const Clock& clock, ApiOptions options);

  void Add(Route route);
  HttpResponse Handle(const HttpRequest& request);
  // The caller of a WebSocket upgrade, counted against the rate limit like a request. Besides
  // the headers a request may carry, it takes the query parameters `access_token` and
  // `api_key`: a browser's WebSocket cannot send headers. nullopt with `why` (and, when the
  // rate limit refused it, `retry_after` > 0) otherwise; a notifier's key too, as it reads
  // nothing.
  std::optional<Caller> AuthenticateUpgrade(const HttpRequest& request, std::string* why,
                                            int64_t* retry_after);
  const Clock& clock() const { return clock_; }

  // The OpenAPI 3.0 document of every route: its parameters, body, success answer with its
  // schema, and refusals; the schemas it refers to are openapi.h's ComponentSchemas().
  nlohmann::json OpenApi() const;
  const KeyRing& keys() const { return keys_; }
  AuthStore& store() { return store_; }

 private:
  struct Compiled {
    Route route;
    std::vector<std::string> segments;  // "{id}" for a parameter
  };
  HttpResponse Dispatch(RequestContext& ctx);
  HttpResponse Token(RequestContext& ctx);
  std::optional<Caller> Authenticate(RequestContext& ctx, std::string* why);
  void AddBuiltins();

  AuthStore& store_;
  KeyRing keys_;
  const Clock& clock_;
  ApiOptions options_;
  RateLimiter limiter_;
  LoginThrottle logins_;
  TokenCache verified_;
  std::vector<Compiled> routes_;
};

}  // namespace aits::api
