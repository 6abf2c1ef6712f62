#include "aits/api/api_service.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <set>

#include "aits/api/openapi.h"
#include "aits/log/log.h"

namespace aits::api {

namespace {

bool WellFormedId(std::string_view id) {
  return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.' ||
           c == ':';
  });
}

std::vector<std::string> Segments(std::string_view path) {
  std::vector<std::string> out;
  size_t start = 1;  // past the leading '/'
  while (start <= path.size()) {
    const size_t end = path.find('/', start);
    out.emplace_back(path.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

int StatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kFailedPrecondition:
      return 409;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

std::string CodeFor(int status) {
  switch (status) {
    case 400:
      return "invalid_argument";
    case 404:
      return "not_found";
    case 409:
      return "conflict";
    case 503:
      return "unavailable";
    case 504:
      return "timeout";
    default:
      return "internal";
  }
}

constexpr std::string_view kTokenPath = "/api/v1/auth/token";

std::string SuccessDescription(int status) {
  static const std::map<int, std::string> kNames = {{101, "Switching Protocols: the WebSocket"},
                                                    {201, "Created"},
                                                    {202, "Accepted"},
                                                    {204, "No Content"}};
  const auto it = kNames.find(status);
  return it == kNames.end() ? "OK" : it->second;
}

// RFC 6749 §5.2's error body.
HttpResponse OAuthError(int status, std::string_view error, std::string_view description) {
  HttpResponse r = Json(status, {{"error", error}, {"error_description", description}});
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

// Whether `text` starts with `prefix`, ASCII case aside (an Authorization header's scheme is
// case-insensitive, RFC 9110 §11.1).
bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) ==
                  std::tolower(static_cast<unsigned char>(b));
         });
}

// RFC 6749 §2.3.1: `Authorization: Basic base64(id ":" secret)`, each of the two form-encoded
// first. nullopt when the header is of another scheme (a Bearer token sent along is ignored);
// InvalidArgument when it is Basic but malformed.
using ClientCredentials = std::optional<std::pair<std::string, std::string>>;
Result<ClientCredentials> BasicCredentials(std::string_view header) {
  if (header.size() == 5 && StartsWithNoCase(header, "basic")) {
    return InvalidArgument("Basic credentials: none given");
  }
  if (!StartsWithNoCase(header, "basic ")) return ClientCredentials();
  std::string text(header.substr(6));
  // Standard base64 differs from base64url in two characters and its padding (at most two).
  for (int pad = 0; pad < 2 && !text.empty() && text.back() == '='; ++pad) text.pop_back();
  for (char& c : text) {
    if (c == '-' || c == '_') return InvalidArgument("Basic credentials: not base64");
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  Result<std::string> decoded = Base64UrlDecode(text);
  if (!decoded.ok()) return InvalidArgument("Basic credentials: not base64");
  const size_t colon = decoded->find(':');
  if (colon == std::string::npos) return InvalidArgument("Basic credentials: no ':' in them");
  std::optional<std::string> id = PercentDecode(decoded->substr(0, colon), true);
  std::optional<std::string> secret = PercentDecode(decoded->substr(colon + 1), true);
  if (!id || !secret) return InvalidArgument("Basic credentials: a bad %-escape");
  return ClientCredentials(std::make_pair(std::move(*id), std::move(*secret)));
}

// Whether `role` may call `route` (which needs one): people and programs by rank, a notifier
// only where the route lets one in.
bool Permits(Role role, const Route& route) {
  if (role == Role::kNotifier) return route.notifier;
  return static_cast<int>(role) >= static_cast<int>(*route.role);
}

}  // namespace

HttpResponse Json(int status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

HttpResponse Problem(const RequestContext& ctx, int status, std::string_view code,
                     std::string_view message) {
  return ErrorResponse(status, code, message, ctx.request_id);
}

Result<uint64_t> ParseWholeNumber(const std::string& name, const std::string& text) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return InvalidArgument(name + " \"" + text.substr(0, 40) + "\": expected a whole number");
  }
  return value;
}

Result<PageQuery> ParsePageQuery(const std::map<std::string, std::string>& query) {
  PageQuery page;
  if (auto it = query.find("limit"); it != query.end()) {
    AITS_ASSIGN_OR_RETURN(page.limit, ParseWholeNumber("limit", it->second));
    if (page.limit < 1 || page.limit > 1000) {
      return InvalidArgument("limit " + it->second + ": expected 1..1000");
    }
  }
  if (auto it = query.find("before"); it != query.end()) {
    AITS_ASSIGN_OR_RETURN(page.before, ParseWholeNumber("before", it->second));
  }
  return page;
}

HttpResponse FromStatus(const RequestContext& ctx, const Status& status) {
  const int http = StatusFor(status.code());
  return Problem(ctx, http, CodeFor(http), status.message());
}

std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const auto hex = [](char h) -> int {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'a' && h <= 'f') return h - 'a' + 10;
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
      };
      const int hi = hex(text[i + 1]);
      const int lo = hex(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Result<std::map<std::string, std::string>> ParseForm(std::string_view text) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('&', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view pair = text.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    const std::optional<std::string> name = PercentDecode(pair.substr(0, eq), true);
    const std::optional<std::string> value = eq == std::string_view::npos
                                                 ? std::optional<std::string>("")
                                                 : PercentDecode(pair.substr(eq + 1), true);
    if (!name || !value || name->empty()) {
      return InvalidArgument("query or form: \"" + std::string(pair.substr(0, 60)) +
                             "\" is not name=value with valid %-escapes");
    }
    out[*name] = *value;
  }
  return out;
}

ApiService::ApiService(AuthStore& store, KeyRing keys, const Clock& clock, ApiOptions options)
    : store_(store),
      keys_(std::move(keys)),
      clock_(clock),
      options_(std::move(options)),
      limiter_(options_.rate_per_minute),
      logins_(options_.login_failures, options_.login_window, options_.login_lockout) {
  AddBuiltins();
}

void ApiService::Add(Route route) {
  Compiled c;
  c.segments = Segments(route.pattern);
  c.route = std::move(route);
  routes_.push_back(std::move(c));
}

HttpResponse ApiService::Handle(const HttpRequest& request) {
  const auto started = std::chrono::steady_clock::now();
  RequestContext ctx{request};
  ctx.now = clock_.Now();
  const std::string_view given_id = request.Header("x-request-id");
  ctx.request_id = WellFormedId(given_id) ? std::string(given_id) : RandomToken(12);
  const std::string_view given_chain = request.Header("x-chain-id");
  ctx.chain_id = WellFormedId(given_chain) ? std::string(given_chain) : ctx.request_id;

  std::vector<std::pair<std::string, std::string>> headers{{"X-Request-ID", ctx.request_id},
                                                           {"X-Chain-ID", ctx.chain_id}};
  const std::string_view origin = request.Header("origin");
  const bool cors_allowed =
      !origin.empty() &&
      std::any_of(options_.cors_origins.begin(), options_.cors_origins.end(),
                  [origin](const std::string& o) { return o == "*" || o == origin; });
  if (cors_allowed) {
    headers.emplace_back("Access-Control-Allow-Origin", std::string(origin));
    headers.emplace_back("Vary", "Origin");
    headers.emplace_back("Access-Control-Expose-Headers", "X-Request-ID, X-Chain-ID, Retry-After");
  }
  HttpResponse response;
  if (request.method == "OPTIONS" && !origin.empty()) {
    if (!cors_allowed) {
      response = Problem(
          ctx, 403, "cors",
          "origin " + std::string(origin.substr(0, 200)) + " is not allowed (api.cors_origins)");
    } else {
      response.status = 204;
      response.content_type = "text/plain";
      response.headers.emplace_back("Access-Control-Allow-Methods",
                                    "GET, POST, PUT, PATCH, DELETE, OPTIONS");
      response.headers.emplace_back(
          "Access-Control-Allow-Headers",
          "Authorization, Content-Type, X-API-Key, X-Request-ID, X-Chain-ID");
      response.headers.emplace_back("Access-Control-Max-Age", "600");
    }
  } else {
    response = Dispatch(ctx);
  }
  for (auto& h : headers) response.headers.push_back(std::move(h));
  // The access log: a line a request at info, with the ids that tie it to the lines and events
  // it causes elsewhere (the session's "command applied", the orders' and fills' lines).
  AITS_LOG_INFO("api", request.method + " " + request.path,
                {{"status", std::to_string(response.status)},
                 {"micros", std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
                                               std::chrono::steady_clock::now() - started)
                                               .count())},
                 {"actor", ctx.caller ? std::string_view(ctx.caller->subject) : "-"},
                 {"client", request.client},
                 {"request_id", ctx.request_id},
                 {"chain_id", ctx.chain_id}});
  return response;
}

std::optional<Caller> ApiService::Authenticate(RequestContext& ctx, std::string* why) {
  const std::string_view auth = ctx.http.Header("authorization");
  const std::string_view api_key = ctx.http.Header("x-api-key");
  if (!auth.empty()) {
    if (!StartsWithNoCase(auth, "bearer ")) {
      *why = "the Authorization header is not \"Bearer TOKEN\"";
      return std::nullopt;
    }
    const std::string_view token = auth.substr(7);
    const VerifyOptions verify{options_.issuer, options_.audience};
    Result<Claims> claims = Claims{};
    if (std::optional<Claims> known = verified_.Find(token, ctx.now, verify.leeway)) {
      claims = std::move(*known);
    } else {
      claims = keys_.Verify(token, ctx.now, verify);
      if (claims.ok()) verified_.Add(token, *claims);
    }
    if (!claims.ok()) {
      *why = claims.status().message();
      return std::nullopt;
    }
    if (claims->type != "access") {
      *why = "token refused: a " + claims->type + " token is not an access token";
      return std::nullopt;
    }
    const Result<Role> role = ParseRole(claims->role);
    if (!role.ok()) {
      *why = "token refused: " + role.status().message();
      return std::nullopt;
    }
    return Caller{claims->subject, *role, claims->subject.rfind("ak_", 0) == 0 ? "api_key" : "user",
                  claims->expires};
  }
  if (!api_key.empty()) {
    const Result<std::optional<ApiKeyRecord>> key = store_.CheckApiKey(api_key);
    if (!key.ok()) {
      *why = "the API key could not be checked: " + key.status().message();
      return std::nullopt;
    }
    if (!key->has_value()) {
      *why = "unknown or revoked API key";
      return std::nullopt;
    }
    return Caller{(*key)->id, (*key)->role, "api_key", Timestamp{INT64_MAX}};
  }
  *why =
      "no credentials: send \"Authorization: Bearer TOKEN\" (POST /api/v1/auth/token) or "
      "\"X-API-Key: KEY\"";
  return std::nullopt;
}

std::optional<Caller> ApiService::AuthenticateUpgrade(const HttpRequest& request, std::string* why,
                                                      int64_t* retry_after) {
  *retry_after = 0;
  HttpRequest with = request;
  Result<std::map<std::string, std::string>> query = ParseForm(request.query);
  if (!query.ok()) {
    *why = query.status().message();
    return std::nullopt;
  }
  if (const auto t = query->find("access_token"); t != query->end()) {
    with.headers.emplace_back("authorization", "Bearer " + t->second);
  } else if (const auto k = query->find("api_key"); k != query->end()) {
    with.headers.emplace_back("x-api-key", k->second);
  }
  RequestContext ctx{with};
  ctx.now = clock_.Now();
  std::optional<Caller> caller = Authenticate(ctx, why);
  if (!caller) return std::nullopt;
  if (caller->role == Role::kNotifier) {
    *why = caller->subject + " is a notifier: it may post alerts, and read nothing";
    return std::nullopt;
  }
  if (const int64_t wait = limiter_.Take("s:" + caller->subject, ctx.now); wait > 0) {
    *retry_after = wait;
    *why = "more than " + std::to_string(limiter_.per_minute()) + " requests a minute";
    return std::nullopt;
  }
  return caller;
}

HttpResponse ApiService::Dispatch(RequestContext& ctx) {
  const std::vector<std::string> segments = Segments(ctx.http.path);
  const Compiled* found = nullptr;
  std::set<std::string> allowed;
  for (const Compiled& c : routes_) {
    if (c.segments.size() != segments.size()) continue;
    std::map<std::string, std::string> params;
    bool match = true;
    for (size_t i = 0; i < segments.size() && match; ++i) {
      const std::string& want = c.segments[i];
      if (want.size() > 2 && want.front() == '{' && want.back() == '}') {
        const std::optional<std::string> value = PercentDecode(segments[i], false);
        if (!value || value->empty()) {
          match = false;
        } else {
          params[want.substr(1, want.size() - 2)] = *value;
        }
      } else {
        match = want == segments[i];
      }
    }
    if (!match) continue;
    allowed.insert(c.route.method);
    if (c.route.method == ctx.http.method) {
      found = &c;
      ctx.path = std::move(params);
      break;
    }
  }
  if (found == nullptr) {
    if (allowed.empty()) {
      return Problem(ctx, 404, "not_found",
                     "no endpoint " + ctx.http.path.substr(0, 200) +
                         " (GET /api/v1/openapi.json "
                         "lists them)");
    }
    std::string allow;
    for (const std::string& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
    HttpResponse r =
        Problem(ctx, 405, "method_not_allowed",
                ctx.http.method.substr(0, 20) + " is not allowed here; " + allow + " is");
    r.headers.emplace_back("Allow", allow);
    return r;
  }
  const Route& route = found->route;

  HttpResponse response;
  std::string refusal;
  Result<std::map<std::string, std::string>> query = ParseForm(ctx.http.query);
  if (!query.ok()) {
    response = FromStatus(ctx, query.status());
  } else {
    ctx.query = std::move(query).value();
    if (route.role) {
      std::string why;
      ctx.caller = Authenticate(ctx, &why);
      if (!ctx.caller) {
        refusal = why;
        response = Problem(ctx, 401, "unauthenticated", why);
        response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"aits\"");
      }
    }
    if (refusal.empty()) {
      const std::string client = ctx.caller ? "s:" + ctx.caller->subject : "a:" + ctx.http.client;
      if (const int64_t wait = limiter_.Take(client, ctx.now); wait > 0) {
        refusal = "rate limit";
        response = Problem(ctx, 429, "rate_limited",
                           "more than " + std::to_string(limiter_.per_minute()) +
                               " requests a minute; retry in " + std::to_string(wait) + " s");
        response.headers.emplace_back("Retry-After", std::to_string(wait));
      }
    }
    if (refusal.empty() && route.role && !Permits(ctx.caller->role, route)) {
      refusal = "role";
      response =
          Problem(ctx, 403, "forbidden",
                  std::string("this needs the ") + std::string(RoleName(*route.role)) + " role" +
                      (route.notifier ? " or a notifier" : "") + "; " + ctx.caller->subject +
                      " has " + std::string(RoleName(ctx.caller->role)));
    }
    if (refusal.empty()) {
      try {
        response = route.handler(ctx);
      } catch (const std::exception& e) {
        response = Problem(ctx, 500, "internal", std::string("the handler failed: ") + e.what());
      }
    }
  }
  if (route.command) {
    AuditEntry entry;
    entry.time = ctx.now;
    entry.actor = ctx.caller ? ctx.caller->subject : "-";
    entry.role = ctx.caller ? std::string(RoleName(ctx.caller->role)) : "-";
    entry.action = route.method + " " + route.pattern;
    entry.target = ctx.audit_target;
    entry.client = ctx.http.client;
    entry.request_id = ctx.request_id;
    entry.chain_id = ctx.chain_id;
    entry.status = response.status;
    entry.detail = !refusal.empty() ? refusal : ctx.audit_detail;
    if (Status s = store_.Audit(entry); !s.ok()) {
      // A command whose trail cannot be written is not answered as done.
      return Problem(ctx, 500, "audit", "the audit trail could not be written: " + s.message());
    }
  }
  return response;
}

HttpResponse ApiService::Token(RequestContext& ctx) {
  const std::string_view type = ctx.http.Header("content-type");
  std::map<std::string, std::string> form;
  if (type.rfind("application/json", 0) == 0) {
    const nlohmann::json body = nlohmann::json::parse(ctx.http.body, nullptr, false);
    if (!body.is_object())
      return OAuthError(400, "invalid_request", "the body is not a JSON object");
    for (const auto& [k, v] : body.items()) {
      if (v.is_string()) form[k] = v.get<std::string>();
    }
  } else {
    Result<std::map<std::string, std::string>> parsed = ParseForm(ctx.http.body);
    if (!parsed.ok()) return OAuthError(400, "invalid_request", parsed.status().message());
    form = std::move(parsed).value();
  }
  // A client's credentials in the Authorization header (RFC 6749 §2.3.1, as OAuth2 libraries
  // send them first) or in the body, never both (§2.3).
  Result<ClientCredentials> basic = BasicCredentials(ctx.http.Header("authorization"));
  const auto basic_refused = [&](std::string_view error, std::string_view description) {
    // §5.2: a client that tried the header is answered 401 with a challenge.
    HttpResponse r = OAuthError(401, error, description);
    r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"aits\"");
    return r;
  };
  if (!basic.ok()) return basic_refused("invalid_client", basic.status().message());
  if (basic->has_value()) {
    if (form.contains("client_id") || form.contains("client_secret")) {
      return OAuthError(400, "invalid_request",
                        "client credentials in both the Authorization header and the body: "
                        "send them once");
    }
    form["client_id"] = (*basic)->first;
    form["client_secret"] = (*basic)->second;
  }
  const std::string grant = form["grant_type"];
  ctx.audit_target = grant;
  const auto issue = [&](const std::string& subject, Role role, bool with_refresh) -> HttpResponse {
    Claims c = AccessClaims(subject, std::string(RoleName(role)), ctx.now, options_.access_ttl);
    c.token_id = RandomToken(12);
    c.issuer = options_.issuer;
    c.audience = options_.audience;
    Result<std::string> access = keys_.Sign(c);
    if (!access.ok()) return OAuthError(500, "server_error", access.status().message());
    nlohmann::json body{{"access_token", *access},
                        {"token_type", "Bearer"},
                        {"expires_in", options_.access_ttl.ns / kNanosPerSecond},
                        {"scope", c.role}};
    if (with_refresh) {
      Claims r = c;
      r.type = "refresh";
      r.token_id = RandomToken(16);
      r.expires = ctx.now + options_.refresh_ttl;
      Result<std::string> refresh = keys_.Sign(r);
      if (!refresh.ok()) return OAuthError(500, "server_error", refresh.status().message());
      if (Status s = store_.AddRefreshToken(r.token_id, subject, r.expires); !s.ok()) {
        return OAuthError(500, "server_error", s.message());
      }
      body["refresh_token"] = *refresh;
    }
    ctx.audit_detail = "issued to " + subject + " (" + c.role + ")";
    HttpResponse res = Json(200, body);
    res.headers.emplace_back("Cache-Control", "no-store");
    res.headers.emplace_back("Pragma", "no-cache");
    return res;
  };

  // A name or address locked out after failed attempts (LoginThrottle).
  const auto throttled = [&](const std::string& name) -> std::optional<HttpResponse> {
    const int64_t wait = logins_.WaitBefore(name, ctx.http.client, ctx.now);
    if (wait == 0) return std::nullopt;
    HttpResponse r = OAuthError(429, "too_many_attempts",
                                "too many failed logins; retry in " + std::to_string(wait) + " s");
    r.headers.emplace_back("Retry-After", std::to_string(wait));
    ctx.audit_detail = "throttled";
    return r;
  };
  if (grant == "password") {
    const std::string& user = form["username"];
    ctx.audit_target = "password:" + user.substr(0, 64);
    if (user.empty() || form["password"].empty()) {
      return OAuthError(400, "invalid_request", "username and password are required");
    }
    if (std::optional<HttpResponse> r = throttled(user)) return *r;
    const Result<std::optional<UserRecord>> checked = store_.CheckPassword(user, form["password"]);
    if (!checked.ok()) return OAuthError(500, "server_error", checked.status().message());
    if (!checked->has_value()) {
      logins_.Failed(user, ctx.http.client, ctx.now);
      ctx.audit_detail = "wrong name or password";
      return OAuthError(400, "invalid_grant", "wrong user name or password");
    }
    logins_.Succeeded(user);
    return issue((*checked)->name, (*checked)->role, true);
  }
  if (grant == "client_credentials") {
    std::string id = form["client_id"];
    std::string secret = form["client_secret"];
    ctx.audit_target = "client:" + id.substr(0, 64);
    if (secret.empty()) {
      return OAuthError(400, "invalid_request", "client_id and client_secret are required");
    }
    if (std::optional<HttpResponse> r = throttled(id)) return *r;
    const Result<std::optional<ApiKeyRecord>> key = store_.CheckApiKey(secret);
    if (!key.ok()) return OAuthError(500, "server_error", key.status().message());
    if (!key->has_value() || (!id.empty() && (*key)->id != id)) {
      logins_.Failed(id, ctx.http.client, ctx.now);
      ctx.audit_detail = "wrong client credentials";
      constexpr std::string_view kWrong = "unknown or revoked client credentials";
      return basic->has_value() ? basic_refused("invalid_client", kWrong)
                                : OAuthError(401, "invalid_client", kWrong);
    }
    // RFC 6749 §4.4.3: no refresh token for client credentials.
    return issue((*key)->id, (*key)->role, false);
  }
  if (grant == "refresh_token") {
    const Result<Claims> claims =
        keys_.Verify(form["refresh_token"], ctx.now, {options_.issuer, options_.audience});
    if (!claims.ok()) return OAuthError(400, "invalid_grant", claims.status().message());
    ctx.audit_target = "refresh:" + claims->subject;
    if (claims->type != "refresh") {
      return OAuthError(400, "invalid_grant", "not a refresh token");
    }
    const Result<bool> consumed = store_.ConsumeRefreshToken(claims->token_id, ctx.now);
    if (!consumed.ok()) return OAuthError(500, "server_error", consumed.status().message());
    if (!*consumed) {
      // Used twice: whoever holds it may have stolen it. Every refresh token of the subject ends.
      (void)store_.RevokeRefreshTokens(claims->subject);
      ctx.audit_detail = "refresh token used again: all of the subject's revoked";
      return OAuthError(400, "invalid_grant", "this refresh token was used already; log in again");
    }
    // The user's role now, not when the token was issued; a disabled user gets nothing.
    const Result<std::optional<UserRecord>> user = store_.FindUser(claims->subject);
    if (!user.ok()) return OAuthError(500, "server_error", user.status().message());
    if (!user->has_value() || (*user)->disabled) {
      return OAuthError(400, "invalid_grant", "the user is no longer allowed in");
    }
    return issue((*user)->name, (*user)->role, true);
  }
  return OAuthError(400, "unsupported_grant_type",
                    "grant_type \"" + grant.substr(0, 40) +
                        "\": expected password, client_credentials or refresh_token");
}

void ApiService::AddBuiltins() {
  Add({"GET",
       "/api/v1/health",
       std::nullopt,
       false,
       "system",
       "Liveness of the API",
       {},
       nullptr,
       [](RequestContext&) {
         return Json(200, {{"status", "ok"}});
       },
       200,
       schema::Object({{"status", schema::Enum({"ok"})}})});
  Add({"GET",
       "/api/v1/openapi.json",
       std::nullopt,
       false,
       "system",
       "This API's OpenAPI 3 document",
       {},
       nullptr,
       [this](RequestContext&) { return Json(200, OpenApi()); },
       200,
       schema::Ref("OpenApi")});
  Add({"GET",
       "/.well-known/jwks.json",
       std::nullopt,
       false,
       "auth",
       "The public keys that verify the API's tokens (JWKS)",
       {},
       nullptr,
       [this](RequestContext&) {
         HttpResponse r;
         r.body = keys_.Jwks();
         return r;
       },
       200,
       schema::Ref("Jwks")});
  Add({"POST",
       "/api/v1/auth/token",
       std::nullopt,
       true,
       "auth",
       "OAuth2 token endpoint (RFC 6749): grant_type password, client_credentials or "
       "refresh_token, form-encoded",
       {},
       {{"type", "object"},
        {"properties",
         {{"grant_type", {{"type", "string"}}},
          {"username", {{"type", "string"}}},
          {"password", {{"type", "string"}}},
          {"client_id", {{"type", "string"}}},
          {"client_secret", {{"type", "string"}}},
          {"refresh_token", {{"type", "string"}}}}},
        {"required", {"grant_type"}}},
       [this](RequestContext& ctx) { return Token(ctx); },
       200,
       schema::Ref("Token"),
       "application/json",
       {401}});
  Add({"GET",
       "/api/v1/me",
       Role::kViewer,
       false,
       "auth",
       "Who the token or key belongs to",
       {},
       nullptr,
       [](RequestContext& ctx) {
         return Json(200, {{"subject", ctx.caller->subject},
                           {"role", RoleName(ctx.caller->role)},
                           {"kind", ctx.caller->kind}});
       },
       200,
       schema::Ref("Caller")});
  Add({"GET",
       "/api/v1/audit",
       Role::kAdmin,
       false,
       "auth",
       "The audit trail of commands, newest first",
       {{"before", "integer", "entries with an id below this (paging)"},
        {"limit", "integer", "at most this many (1..1000, default 100)"}},
       nullptr,
       [this](RequestContext& ctx) {
         int64_t before = 0;
         int limit = 100;
         try {
           if (ctx.query.contains("before")) before = std::stoll(ctx.query["before"]);
           if (ctx.query.contains("limit")) limit = std::stoi(ctx.query["limit"]);
         } catch (const std::exception&) {
           return Problem(ctx, 400, "invalid_argument", "before and limit are whole numbers");
         }
         if (limit < 1 || limit > 1000) {
           return Problem(ctx, 400, "invalid_argument", "limit must be 1..1000");
         }
         const Result<std::vector<AuditEntry>> trail = store_.AuditTrail(before, limit);
         if (!trail.ok()) return FromStatus(ctx, trail.status());
         nlohmann::json items = nlohmann::json::array();
         for (const AuditEntry& e : *trail) {
           items.push_back({{"id", e.id},
                            {"time", FormatIso8601(e.time)},
                            {"actor", e.actor},
                            {"role", e.role},
                            {"action", e.action},
                            {"target", e.target},
                            {"client", e.client},
                            {"request_id", e.request_id},
                            {"chain_id", e.chain_id},
                            {"status", e.status},
                            {"detail", e.detail}});
         }
         nlohmann::json body{{"items", items}};
         if (!trail->empty() && static_cast<int>(trail->size()) == limit) {
           body["next_before"] = trail->back().id;
         }
         return Json(200, body);
       },
       200,
       schema::Page(schema::Ref("AuditEntry"))});
}

nlohmann::json ApiService::OpenApi() const {
  nlohmann::json paths = nlohmann::json::object();
  for (const Compiled& c : routes_) {
    const Route& r = c.route;
    nlohmann::json op{{"summary", r.summary}, {"tags", {r.tag}}};
    nlohmann::json params = nlohmann::json::array();
    for (const std::string& s : c.segments) {
      if (s.size() > 2 && s.front() == '{') {
        params.push_back({{"name", s.substr(1, s.size() - 2)},
                          {"in", "path"},
                          {"required", true},
                          {"schema", {{"type", "string"}}}});
      }
    }
    for (const QueryParameter& q : r.query) {
      params.push_back({{"name", q.name},
                        {"in", "query"},
                        {"required", false},
                        {"description", q.description},
                        {"schema", {{"type", q.type}}}});
    }
    if (!params.empty()) op["parameters"] = params;
    if (!r.body_schema.is_null()) {
      const char* type =
          r.pattern == kTokenPath ? "application/x-www-form-urlencoded" : "application/json";
      op["requestBody"] = {{"required", true}, {"content", {{type, {{"schema", r.body_schema}}}}}};
    }
    if (r.role) {
      op["security"] = {{{"bearer", nlohmann::json::array()}},
                        {{"apiKey", nlohmann::json::array()}}};
      op["x-aits-role"] = RoleName(*r.role);
      if (r.notifier) op["x-aits-notifier"] = true;
    } else {
      op["security"] = nlohmann::json::array();
    }
    nlohmann::json responses = nlohmann::json::object();
    nlohmann::json& success = responses[std::to_string(r.status)];
    success["description"] = SuccessDescription(r.status);
    if (!r.response_schema.is_null()) {
      success["content"][r.content_type]["schema"] = r.response_schema;
    } else if (!r.content_type.empty()) {
      success["content"][r.content_type] = nlohmann::json::object();
    }
    std::set<int> errors(r.errors.begin(), r.errors.end());
    errors.insert({400, 429, 500});
    if (r.role) errors.insert({401, 403});
    if (std::any_of(c.segments.begin(), c.segments.end(),
                    [](const std::string& s) { return s.starts_with('{'); })) {
      errors.insert(404);
    }
    if (!r.body_schema.is_null()) errors.insert(413);
    for (const int status : errors) {
      responses[std::to_string(status)]["$ref"] = r.pattern == kTokenPath
                                                      ? "#/components/responses/TokenError"
                                                      : "#/components/responses/Error";
    }
    op["responses"] = responses;
    std::string method = r.method;
    std::transform(method.begin(), method.end(), method.begin(),
                   [](char ch) { return static_cast<char>(std::tolower(ch)); });
    paths[r.pattern][method] = op;
  }
  nlohmann::json doc;
  doc["openapi"] = "3.0.3";
  doc["info"] = {{"title", "AITS API"}, {"version", "1"}};
  doc["paths"] = paths;
  nlohmann::json& components = doc["components"];
  components["securitySchemes"]["bearer"] = {
      {"type", "http"}, {"scheme", "bearer"}, {"bearerFormat", "JWT"}};
  components["securitySchemes"]["apiKey"] = {
      {"type", "apiKey"}, {"in", "header"}, {"name", "X-API-Key"}};
  components["schemas"] = schema::ComponentSchemas();
  components["responses"]["Error"]["description"] = "A refusal";
  components["responses"]["Error"]["content"]["application/json"]["schema"] = schema::Ref("Error");
  // The token endpoint refuses a grant as OAuth clients expect, and a request that never reached
  // it (a bad query, the rate limit) as every route does.
  components["responses"]["TokenError"]["description"] = "A refusal";
  components["responses"]["TokenError"]["content"]["application/json"]["schema"]["oneOf"] = {
      schema::Ref("OAuthError"), schema::Ref("Error")};
  return doc;
}

}  // namespace aits::api
