#include "aits/api/session_routes.h"

#include <algorithm>
#include <memory>
#include <mutex>
#include <set>

#include "aits/api/openapi.h"

namespace aits::api {

using schema::Page;
using schema::Ref;

namespace {

const std::vector<QueryParameter> kListParameters = {
    {"limit", "integer", "at most this many items (1..1000, default 100)"},
    {"before", "integer", "items with an id below this (the previous page's next_before)"},
    {"symbol", "string", "one symbol only"},
    {"from", "string", "at or after this UTC time (2024-01-08T10:00:00Z)"},
    {"to", "string", "before this UTC time"}};

// The path's {id} as a whole number, or the 400 to answer.
Result<uint64_t> PathId(RequestContext& ctx) { return ParseWholeNumber("id", ctx.path["id"]); }

// POST bodies of the operator commands: {"reason": TEXT} and, for the breaker, {"state": ...}.
Result<nlohmann::json> CommandBody(const RequestContext& ctx, bool with_state) {
  const nlohmann::json body = nlohmann::json::parse(ctx.http.body, nullptr, false);
  if (!body.is_object()) return InvalidArgument("the body is not a JSON object");
  const auto reason = body.find("reason");
  if (reason == body.end() || !reason->is_string() || reason->get<std::string>().empty()) {
    return InvalidArgument("reason: a non-empty string is required (it goes into the log)");
  }
  if (reason->get<std::string>().size() > 500) {
    return InvalidArgument("reason: at most 500 characters");
  }
  nlohmann::json command{{"reason", reason->get<std::string>()}};
  if (with_state) {
    const auto state = body.find("state");
    const std::string text =
        state != body.end() && state->is_string() ? state->get<std::string>() : std::string();
    if (text != "normal" && text != "reduce_only" && text != "halted") {
      return InvalidArgument("state \"" + text.substr(0, 40) +
                             "\": expected normal, reduce_only or halted");
    }
    command["state"] = text;
  }
  for (const auto& [key, value] : body.items()) {
    if (key != "reason" && (key != "state" || !with_state)) {
      return InvalidArgument("unknown field \"" + key.substr(0, 40) + "\"");
    }
  }
  return command;
}

// POST /orders: {symbol, side, type, lots, price, stop_loss, take_profit, reason}, checked
// here so that a mistake is a 400 now rather than an ignored command later; the session checks
// again (and the risk manager after it).
Result<nlohmann::json> OrderBody(const RequestContext& ctx, const nlohmann::json& symbols) {
  const nlohmann::json body = nlohmann::json::parse(ctx.http.body, nullptr, false);
  if (!body.is_object()) return InvalidArgument("the body is not a JSON object");
  static const std::set<std::string> kFields = {"symbol", "side",      "type",        "lots",
                                                "price",  "stop_loss", "take_profit", "reason"};
  for (const auto& [key, value] : body.items()) {
    if (!kFields.contains(key))
      return InvalidArgument("unknown field \"" + key.substr(0, 40) + "\"");
  }
  const auto text = [&body](const char* key) {
    const auto it = body.find(key);
    return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const std::string symbol = text("symbol");
  if (std::find(symbols.begin(), symbols.end(), symbol) == symbols.end()) {
    return InvalidArgument("symbol \"" + symbol.substr(0, 40) + "\": the session trades " +
                           symbols.dump());
  }
  const std::string side = text("side");
  if (side != "buy" && side != "sell") {
    return InvalidArgument("side \"" + side.substr(0, 20) + "\": expected buy or sell");
  }
  const std::string type = body.contains("type") ? text("type") : "market";
  if (type != "market" && type != "limit" && type != "stop") {
    return InvalidArgument("type \"" + type.substr(0, 20) + "\": expected market, limit or stop");
  }
  nlohmann::json order{{"symbol", symbol}, {"side", side}, {"type", type}};
  for (const char* key : {"lots", "price", "stop_loss", "take_profit"}) {
    const auto it = body.find(key);
    if (it == body.end()) continue;
    if (!it->is_number() || !(it->get<double>() > 0) || it->get<double>() > 1e9) {
      return InvalidArgument(std::string(key) + ": a positive number");
    }
    order[key] = it->get<double>();
  }
  if (!order.contains("lots")) return InvalidArgument("lots: required");
  if (type != "market" && !order.contains("price")) {
    return InvalidArgument("price: a " + type + " order needs one");
  }
  const std::string reason = text("reason");
  if (reason.empty() || reason.size() > 500) {
    return InvalidArgument("reason: a non-empty string of at most 500 characters");
  }
  order["reason"] = reason;
  // Named here, so that the order is found by it (GET /orders) and a resume reconciles it.
  order["client_order_id"] = "api-" + RandomToken(12);
  return order;
}

// PATCH /orders/{id}: {price, stop_loss, take_profit (a number, or null to remove), lots,
// reason}, at least one change; the session cancels the order and places the replacement.
Result<nlohmann::json> ModifyBody(const RequestContext& ctx) {
  const nlohmann::json body = nlohmann::json::parse(ctx.http.body, nullptr, false);
  if (!body.is_object()) return InvalidArgument("the body is not a JSON object");
  nlohmann::json modify = nlohmann::json::object();
  for (const auto& [key, value] : body.items()) {
    if (key == "reason") continue;
    const bool nullable = key == "stop_loss" || key == "take_profit";
    if (key != "price" && key != "lots" && !nullable) {
      return InvalidArgument("unknown field \"" + key.substr(0, 40) + "\"");
    }
    if (value.is_null() && nullable) {
      modify[key] = nullptr;
      continue;
    }
    if (!value.is_number() || !(value.get<double>() > 0) || value.get<double>() > 1e9) {
      return InvalidArgument(key + ": a positive number" +
                             (nullable ? " (or null to remove)" : ""));
    }
    modify[key] = value.get<double>();
  }
  if (modify.empty()) {
    return InvalidArgument("nothing to change: give price, stop_loss, take_profit or lots");
  }
  const auto reason = body.find("reason");
  if (reason == body.end() || !reason->is_string() || reason->get<std::string>().empty() ||
      reason->get<std::string>().size() > 500) {
    return InvalidArgument("reason: a non-empty string of at most 500 characters");
  }
  modify["reason"] = reason->get<std::string>();
  modify["client_order_id"] = "api-" + RandomToken(12);
  return modify;
}

const nlohmann::json kOrderSchema = {
    {"type", "object"},
    {"required", {"symbol", "side", "lots", "reason"}},
    {"properties",
     {{"symbol", {{"type", "string"}}},
      {"side", {{"type", "string"}, {"enum", {"buy", "sell"}}}},
      {"type", {{"type", "string"}, {"enum", {"market", "limit", "stop"}}}},
      {"lots", {{"type", "number"}}},
      {"price", {{"type", "number"}}},
      {"stop_loss", {{"type", "number"}}},
      {"take_profit", {{"type", "number"}}},
      {"reason", {{"type", "string"}, {"maxLength", 500}}}}}};

const nlohmann::json kReasonSchema = {
    {"type", "object"},
    {"required", {"reason"}},
    {"properties", {{"reason", {{"type", "string"}, {"maxLength", 500}}}}}};

}  // namespace

Result<ListQuery> ParseListQuery(const std::map<std::string, std::string>& query) {
  ListQuery q;
  AITS_ASSIGN_OR_RETURN(const PageQuery page, ParsePageQuery(query));
  q.limit = page.limit;
  q.before = page.before;
  for (const auto& [name, value] : query) {
    if (name == "symbol") {
      q.symbol = value;
    } else if (name == "from" || name == "to") {
      const std::optional<Timestamp> t = ParseUtcTime(value);
      if (!t) {
        return InvalidArgument(name + " \"" + value.substr(0, 40) +
                               "\": expected a UTC time such as 2024-01-08T10:00:00Z");
      }
      (name == "from" ? q.from : q.to) = t;
    }
  }
  return q;
}

namespace {

// One WebSocket's subscription: the client's ops in, the hub's messages out.
class StreamSession final : public WebSocketSession {
 public:
  StreamSession(StreamHub& hub, std::shared_ptr<WebSocketPeer> peer, Caller caller,
                const Clock& clock)
      : hub_(hub), peer_(std::move(peer)), caller_(std::move(caller)), clock_(clock) {}

  void OnMessage(std::string_view text) override {
    const nlohmann::json op = nlohmann::json::parse(text, nullptr, false);
    if (!op.is_object() || !op.contains("op") || !op["op"].is_string()) {
      return Error("invalid_argument",
                   "a message is a JSON object with an \"op\": subscribe, unsubscribe or ping");
    }
    const std::string name = op["op"].get<std::string>();
    if (name == "ping") return Reply({{"type", "pong"}, {"last", hub_last_}});
    if (name == "unsubscribe") {
      Drop();
      return Reply({{"type", "unsubscribed"}});
    }
    if (name != "subscribe") {
      return Error("invalid_argument",
                   "op \"" + name.substr(0, 40) + "\": expected subscribe, unsubscribe or ping");
    }
    StreamHub::Filter filter;
    const auto topics = op.find("topics");
    if (topics == op.end() || !topics->is_array() || topics->empty()) {
      return Error("invalid_argument", "topics: a non-empty array of topic names");
    }
    nlohmann::json names = nlohmann::json::array();
    for (const auto& t : *topics) {
      const Result<Topic> topic = t.is_string()
                                      ? ParseTopic(t.get<std::string>())
                                      : Result<Topic>(InvalidArgument("topics: names are strings"));
      if (!topic.ok()) return Error("invalid_argument", topic.status().message());
      filter.topics |= *topic;
      names.push_back(TopicName(*topic));
    }
    if (const auto symbols = op.find("symbols"); symbols != op.end()) {
      if (!symbols->is_array()) return Error("invalid_argument", "symbols: an array of symbols");
      for (const auto& sym : *symbols) {
        if (!sym.is_string() || sym.get<std::string>().empty() ||
            sym.get<std::string>().size() > 32) {
          return Error("invalid_argument", "symbols: names of 1 to 32 characters");
        }
        filter.symbols.insert(sym.get<std::string>());
      }
    }
    uint64_t from = 0;
    if (const auto f = op.find("from"); f != op.end()) {
      if (!f->is_number_unsigned()) {
        return Error("invalid_argument", "from: the seq to resume from (a whole number)");
      }
      from = f->get<uint64_t>();
    }
    for (const auto& [key, value] : op.items()) {
      if (key != "op" && key != "topics" && key != "symbols" && key != "from") {
        return Error("invalid_argument", "unknown field \"" + key.substr(0, 40) + "\"");
      }
    }
    Drop();
    Reply({{"type", "subscribed"}, {"topics", names}, {"symbols", filter.symbols}, {"from", from}});
    const Timestamp expires = caller_.expires;
    const Clock* clock = &clock_;
    std::weak_ptr<WebSocketPeer> weak = peer_;
    const StreamHub::Subscribed sub = hub_.Subscribe(
        std::move(filter), from, [weak, expires, clock](const StreamHub::Message& message) {
          const std::shared_ptr<WebSocketPeer> peer = weak.lock();
          if (!peer) return false;
          if (clock->Now() > expires) {
            peer->Close("token expired");
            return false;
          }
          return peer->Send(message.text, message.supersede_key);
        });
    hub_last_ = sub.last;
    std::lock_guard lock(mutex_);
    subscription_ = sub.id;
    if (from > 0 && from <= sub.dropped) {
      Reply({{"type", "gap"},
             {"from", from},
             {"oldest", sub.oldest},
             {"message", "messages up to seq " + std::to_string(sub.dropped) +
                             " are no longer kept: read them with the REST API"}});
    }
  }

  void OnClose() override { Drop(); }

 private:
  void Reply(const nlohmann::json& j) {
    peer_->Send(std::make_shared<const std::string>(
                    j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)),
                0);
  }
  void Error(std::string_view code, std::string_view message) {
    Reply({{"type", "error"}, {"code", code}, {"message", message}});
  }
  void Drop() {
    std::lock_guard lock(mutex_);
    if (subscription_ != 0) hub_.Unsubscribe(subscription_);
    subscription_ = 0;
  }

  StreamHub& hub_;
  std::shared_ptr<WebSocketPeer> peer_;
  Caller caller_;
  const Clock& clock_;
  std::mutex mutex_;
  uint64_t subscription_ = 0;
  uint64_t hub_last_ = 0;
};

}  // namespace

WebSocketHandler MakeStreamHandler(ApiService& service, StreamHub& hub) {
  return [&service, &hub](const HttpRequest& request, std::shared_ptr<WebSocketPeer> peer) {
    if (request.path != "/api/v1/stream") {
      return WebSocketAccept{ErrorResponse(404, "not_found",
                                           "no WebSocket at " + request.path.substr(0, 200) +
                                               " (the streams are at /api/v1/stream)"),
                             nullptr};
    }
    std::string why;
    int64_t retry_after = 0;
    std::optional<Caller> caller = service.AuthenticateUpgrade(request, &why, &retry_after);
    if (!caller) {
      HttpResponse refusal = ErrorResponse(
          retry_after > 0 ? 429 : 401, retry_after > 0 ? "rate_limited" : "unauthenticated", why);
      if (retry_after > 0) refusal.headers.emplace_back("Retry-After", std::to_string(retry_after));
      return WebSocketAccept{std::move(refusal), nullptr};
    }
    return WebSocketAccept{
        std::nullopt,
        std::make_shared<StreamSession>(hub, std::move(peer), std::move(*caller), service.clock())};
  };
}

void AddSessionRoutes(ApiService& service, SessionView& view) {
  SessionView* v = &view;
  const auto list = [](auto answer) {
    return [answer](RequestContext& ctx) {
      Result<ListQuery> q = ParseListQuery(ctx.query);
      if (!q.ok()) return FromStatus(ctx, q.status());
      return Json(200, answer(ctx, *q));
    };
  };
  // One item by the path's {id}: 400 for an id that is no number, 404 for one not there.
  const auto by_id = [](auto lookup) {
    return [lookup](RequestContext& ctx) {
      const Result<uint64_t> id = PathId(ctx);
      if (!id.ok()) return FromStatus(ctx, id.status());
      const Result<nlohmann::json> item = lookup(*id);
      return item.ok() ? Json(200, *item) : FromStatus(ctx, item.status());
    };
  };
  service.Add({"GET",
               "/api/v1/stream",
               Role::kViewer,
               false,
               "streams",
               "WebSocket streams (docs/api.md, \"Streams\"): upgrade with the token as for any "
               "request, or ?access_token=TOKEN",
               {},
               nullptr,
               [](RequestContext& ctx) {
                 HttpResponse r = Problem(ctx, 426, "upgrade_required",
                                          "this is a WebSocket: send Upgrade: websocket");
                 r.headers.emplace_back("Upgrade", "websocket");
                 return r;
               },
               // Upgraded, the messages are the stream's (docs/api.md); a plain GET is 426.
               101,
               nullptr,
               "",
               {426}});
  service.Add({"GET",
               "/api/v1/session",
               Role::kViewer,
               false,
               "sessions",
               "The session the API serves: id, symbols, state, events read",
               {},
               nullptr,
               [v](RequestContext&) { return Json(200, v->Summary()); },
               200,
               Ref("Session")});
  service.Add({"GET",
               "/api/v1/account",
               Role::kViewer,
               false,
               "account",
               "Balance, equity, margin and breaker at the last checkpoint",
               {},
               nullptr,
               [v](RequestContext&) { return Json(200, v->Account()); },
               200,
               Ref("Account")});
  service.Add({"GET",
               "/api/v1/positions",
               Role::kViewer,
               false,
               "account",
               "Open positions with their mark and unrealised P&L",
               {},
               nullptr,
               [v](RequestContext&) { return Json(200, v->Positions()); },
               200,
               Ref("Positions")});
  std::vector<QueryParameter> order_parameters = kListParameters;
  order_parameters.push_back({"status", "string", "one status only (filled, rejected, ...)"});
  service.Add({"GET", "/api/v1/orders", Role::kViewer, false, "orders", "Orders, newest first",
               order_parameters, nullptr, list([v](RequestContext& ctx, const ListQuery& q) {
                 return v->Orders(q, ctx.query.contains("status") ? ctx.query["status"] : "");
               }),
               200, Page(Ref("Order"))});
  service.Add({"GET",
               "/api/v1/orders/{id}",
               Role::kViewer,
               false,
               "orders",
               "One order with its fills and the decision that made it (aits explain)",
               {},
               nullptr,
               by_id([v](uint64_t id) { return v->Order(id); }),
               200,
               Ref("OrderDetail")});
  service.Add({"GET", "/api/v1/trades", Role::kViewer, false, "trades", "Fills, newest first",
               kListParameters, nullptr,
               list([v](RequestContext&, const ListQuery& q) { return v->Trades(q); }), 200,
               Page(Ref("Fill"))});
  service.Add({"GET", "/api/v1/decisions", Role::kViewer, false, "decisions",
               "Decision records with their inputs, newest first", kListParameters, nullptr,
               list([v](RequestContext&, const ListQuery& q) { return v->Decisions(q); }), 200,
               Page(Ref("Decision"))});
  service.Add({"GET",
               "/api/v1/decisions/{id}",
               Role::kViewer,
               false,
               "decisions",
               "One decision record: scores, regime, features, filters, sizing, risk",
               {},
               nullptr,
               by_id([v](uint64_t id) { return v->Decision(id); }),
               200,
               Ref("Decision")});
  service.Add({"GET",
               "/api/v1/risk",
               Role::kViewer,
               false,
               "risk",
               "The breaker's state and changes, the commands applied and the limits",
               {},
               nullptr,
               [v](RequestContext&) { return Json(200, v->Risk()); },
               200,
               Ref("Risk")});
  service.Add({"GET",
               "/api/v1/market/quotes",
               Role::kViewer,
               false,
               "market",
               "The last quote of every symbol",
               {},
               nullptr,
               [v](RequestContext&) { return Json(200, v->Quotes()); },
               200,
               schema::Object({{"items", schema::ArrayOf(Ref("Quote"))}})});
  service.Add({"GET",
               "/api/v1/market/bars",
               Role::kViewer,
               false,
               "market",
               "M1 bars (mid prices) of a symbol, oldest first",
               {{"symbol", "string", "the symbol (required)"},
                {"limit", "integer", "the last this many bars (1..2000, default 500)"}},
               nullptr,
               [v](RequestContext& ctx) {
                 if (!ctx.query.contains("symbol")) {
                   return Problem(ctx, 400, "invalid_argument", "symbol is required");
                 }
                 uint64_t limit = 500;
                 if (ctx.query.contains("limit")) {
                   const Result<uint64_t> n = ParseWholeNumber("limit", ctx.query["limit"]);
                   if (!n.ok() || *n < 1 || *n > 2000) {
                     return Problem(ctx, 400, "invalid_argument", "limit: expected 1..2000");
                   }
                   limit = *n;
                 }
                 const Result<nlohmann::json> bars = v->Bars(ctx.query["symbol"], limit);
                 return bars.ok() ? Json(200, *bars) : FromStatus(ctx, bars.status());
               },
               200,
               Ref("Bars"),
               "application/json",
               {404}});

  // Operator commands: queued in the session's log, applied between two ticks (202).
  // Queues `queued` as the operator command `name`, with who asked and the request's ids, which
  // the session logs with it (docs/api.md, "Tracing and audit").
  const auto queue = [v](RequestContext& ctx, const std::string& name, nlohmann::json queued) {
    queued["command"] = name;
    queued["by"] = ctx.caller->subject;
    queued["request_id"] = ctx.request_id;
    queued["chain_id"] = ctx.chain_id;
    ctx.audit_target = name;
    ctx.audit_detail = queued.dump();
    if (Status s = v->QueueCommand(queued); !s.ok()) return FromStatus(ctx, s);
    return Json(202, {{"queued", queued},
                      {"applies",
                       "between two ticks of the running session (about 250 ms), "
                       "or at its next start"}});
  };
  const auto command = [queue](std::string name, bool with_state) {
    return [queue, name, with_state](RequestContext& ctx) {
      Result<nlohmann::json> body = CommandBody(ctx, with_state);
      if (!body.ok()) return FromStatus(ctx, body.status());
      return queue(ctx, name, *body);
    };
  };
  service.Add({"POST",
               "/api/v1/orders",
               Role::kTrader,
               true,
               "orders",
               "Place an order: it takes the strategy's path through the risk checks",
               {},
               kOrderSchema,
               [v, queue](RequestContext& ctx) {
                 Result<nlohmann::json> body = OrderBody(ctx, v->Summary()["symbols"]);
                 if (!body.ok()) return FromStatus(ctx, body.status());
                 return queue(ctx, "order", *body);
               },
               202,
               Ref("Queued"),
               "application/json",
               {503}});
  service.Add({"DELETE",
               "/api/v1/orders/{id}",
               Role::kTrader,
               true,
               "orders",
               "Cancel a working order",
               {},
               nullptr,
               [v, queue](RequestContext& ctx) {
                 const Result<uint64_t> id = PathId(ctx);
                 if (!id.ok()) return FromStatus(ctx, id.status());
                 const Result<nlohmann::json> order = v->Order(*id);
                 if (!order.ok()) return FromStatus(ctx, order.status());
                 const std::string status = (*order)["status"];
                 if (status != "accepted" && status != "pending_new") {
                   return Problem(ctx, 409, "conflict",
                                  "order " + std::to_string(*id) + " is " + status +
                                      ", not working: nothing to cancel");
                 }
                 return queue(ctx, "cancel", {{"order_id", *id}, {"reason", "api"}});
               },
               202,
               Ref("Queued"),
               "application/json",
               {409, 503}});
  service.Add({"PATCH",
               "/api/v1/orders/{id}",
               Role::kTrader,
               true,
               "orders",
               "Modify a working limit or stop order (price, stop_loss, take_profit, lots): "
               "cancelled and replaced, the replacement through the risk checks",
               {},
               {{"type", "object"},
                {"required", {"reason"}},
                {"properties",
                 {{"price", {{"type", "number"}}},
                  {"stop_loss", {{"type", "number"}, {"nullable", true}}},
                  {"take_profit", {{"type", "number"}, {"nullable", true}}},
                  {"lots", {{"type", "number"}}},
                  {"reason", {{"type", "string"}, {"maxLength", 500}}}}}},
               [v, queue](RequestContext& ctx) {
                 const Result<uint64_t> id = PathId(ctx);
                 if (!id.ok()) return FromStatus(ctx, id.status());
                 Result<nlohmann::json> body = ModifyBody(ctx);
                 if (!body.ok()) return FromStatus(ctx, body.status());
                 const Result<nlohmann::json> order = v->Order(*id);
                 if (!order.ok()) return FromStatus(ctx, order.status());
                 const std::string status = (*order)["status"];
                 if (status != "accepted" || (*order)["type"] == "market") {
                   return Problem(ctx, 409, "conflict",
                                  "order " + std::to_string(*id) + " is " + status +
                                      ": only a working limit or stop order can be modified");
                 }
                 (*body)["order_id"] = *id;
                 return queue(ctx, "modify", *body);
               },
               202,
               Ref("Queued"),
               "application/json",
               {409, 503}});
  nlohmann::json breaker_schema = kReasonSchema;
  breaker_schema["required"] = {"state", "reason"};
  breaker_schema["properties"]["state"] = {{"type", "string"},
                                           {"enum", {"normal", "reduce_only", "halted"}}};
  service.Add({"POST",
               "/api/v1/risk/breaker",
               Role::kTrader,
               true,
               "risk",
               "Move the circuit breaker by hand, with a reason",
               {},
               breaker_schema,
               command("breaker", true),
               202,
               Ref("Queued"),
               "application/json",
               {503}});
  service.Add({"POST",
               "/api/v1/session/pause",
               Role::kTrader,
               true,
               "sessions",
               "Pause: the breaker to reduce_only (no new exposure)",
               {},
               kReasonSchema,
               command("pause", false),
               202,
               Ref("Queued"),
               "application/json",
               {503}});
  service.Add({"POST",
               "/api/v1/session/resume",
               Role::kTrader,
               true,
               "sessions",
               "Resume: the breaker back to normal",
               {},
               kReasonSchema,
               command("resume", false),
               202,
               Ref("Queued"),
               "application/json",
               {503}});
  service.Add({"POST",
               "/api/v1/session/flatten",
               Role::kTrader,
               true,
               "sessions",
               "Cancel every working order and close every position at market",
               {},
               kReasonSchema,
               command("flatten", false),
               202,
               Ref("Queued"),
               "application/json",
               {503}});
}

}  // namespace aits::api
