#include "aits/api/session_routes.h"

#include <charconv>

namespace aits::api {

namespace {

Result<uint64_t> WholeNumber(const std::string& name, const std::string& text) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return InvalidArgument(name + " \"" + text.substr(0, 40) + "\": expected a whole number");
  }
  return value;
}

const std::vector<QueryParameter> kListParameters = {
    {"limit", "integer", "at most this many items (1..1000, default 100)"},
    {"before", "integer", "items with an id below this (the previous page's next_before)"},
    {"symbol", "string", "one symbol only"},
    {"from", "string", "at or after this UTC time (2024-01-08T10:00:00Z)"},
    {"to", "string", "before this UTC time"}};

// The path's {id} as a whole number, or the 400 to answer.
Result<uint64_t> PathId(RequestContext& ctx) { return WholeNumber("id", ctx.path["id"]); }

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

const nlohmann::json kReasonSchema = {
    {"type", "object"},
    {"required", {"reason"}},
    {"properties", {{"reason", {{"type", "string"}, {"maxLength", 500}}}}}};

}  // namespace

Result<ListQuery> ParseListQuery(const std::map<std::string, std::string>& query) {
  ListQuery q;
  for (const auto& [name, value] : query) {
    if (name == "limit") {
      AITS_ASSIGN_OR_RETURN(const uint64_t limit, WholeNumber(name, value));
      if (limit < 1 || limit > 1000) {
        return InvalidArgument("limit " + value + ": expected 1..1000");
      }
      q.limit = limit;
    } else if (name == "before") {
      AITS_ASSIGN_OR_RETURN(q.before, WholeNumber(name, value));
    } else if (name == "symbol") {
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
               "/api/v1/session",
               Role::kViewer,
               false,
               "sessions",
               "The session the API serves: id, symbols, state, events read",
               {},
               nullptr,
               [v](RequestContext&) { return Json(200, v->Summary()); }});
  service.Add({"GET",
               "/api/v1/account",
               Role::kViewer,
               false,
               "account",
               "Balance, equity, margin and breaker at the last checkpoint",
               {},
               nullptr,
               [v](RequestContext&) { return Json(200, v->Account()); }});
  service.Add({"GET",
               "/api/v1/positions",
               Role::kViewer,
               false,
               "account",
               "Open positions with their mark and unrealised P&L",
               {},
               nullptr,
               [v](RequestContext&) { return Json(200, v->Positions()); }});
  std::vector<QueryParameter> order_parameters = kListParameters;
  order_parameters.push_back({"status", "string", "one status only (filled, rejected, ...)"});
  service.Add({"GET", "/api/v1/orders", Role::kViewer, false, "orders", "Orders, newest first",
               order_parameters, nullptr, list([v](RequestContext& ctx, const ListQuery& q) {
                 return v->Orders(q, ctx.query.contains("status") ? ctx.query["status"] : "");
               })});
  service.Add({"GET",
               "/api/v1/orders/{id}",
               Role::kViewer,
               false,
               "orders",
               "One order with its fills and the decision that made it (aits explain)",
               {},
               nullptr,
               by_id([v](uint64_t id) { return v->Order(id); })});
  service.Add({"GET", "/api/v1/trades", Role::kViewer, false, "trades", "Fills, newest first",
               kListParameters, nullptr,
               list([v](RequestContext&, const ListQuery& q) { return v->Trades(q); })});
  service.Add({"GET", "/api/v1/decisions", Role::kViewer, false, "decisions",
               "Decision records with their inputs, newest first", kListParameters, nullptr,
               list([v](RequestContext&, const ListQuery& q) { return v->Decisions(q); })});
  service.Add({"GET",
               "/api/v1/decisions/{id}",
               Role::kViewer,
               false,
               "decisions",
               "One decision record: scores, regime, features, filters, sizing, risk",
               {},
               nullptr,
               by_id([v](uint64_t id) { return v->Decision(id); })});
  service.Add({"GET",
               "/api/v1/risk",
               Role::kViewer,
               false,
               "risk",
               "The breaker's state and changes, the commands applied and the limits",
               {},
               nullptr,
               [v](RequestContext&) { return Json(200, v->Risk()); }});
  service.Add({"GET",
               "/api/v1/market/quotes",
               Role::kViewer,
               false,
               "market",
               "The last quote of every symbol",
               {},
               nullptr,
               [v](RequestContext&) { return Json(200, v->Quotes()); }});
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
                   const Result<uint64_t> n = WholeNumber("limit", ctx.query["limit"]);
                   if (!n.ok() || *n < 1 || *n > 2000) {
                     return Problem(ctx, 400, "invalid_argument", "limit: expected 1..2000");
                   }
                   limit = *n;
                 }
                 const Result<nlohmann::json> bars = v->Bars(ctx.query["symbol"], limit);
                 return bars.ok() ? Json(200, *bars) : FromStatus(ctx, bars.status());
               }});

  // Operator commands: queued in the session's log, applied between two ticks (202).
  const auto command = [v](std::string name, bool with_state) {
    return [v, name, with_state](RequestContext& ctx) {
      Result<nlohmann::json> body = CommandBody(ctx, with_state);
      if (!body.ok()) return FromStatus(ctx, body.status());
      nlohmann::json queued = *body;
      queued["command"] = name;
      // Who asked, carried into the session's log with the command (docs/api.md, "Tracing").
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
  };
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
               command("breaker", true)});
  service.Add({"POST",
               "/api/v1/session/pause",
               Role::kTrader,
               true,
               "sessions",
               "Pause: the breaker to reduce_only (no new exposure)",
               {},
               kReasonSchema,
               command("pause", false)});
  service.Add({"POST",
               "/api/v1/session/resume",
               Role::kTrader,
               true,
               "sessions",
               "Resume: the breaker back to normal",
               {},
               kReasonSchema,
               command("resume", false)});
  service.Add({"POST",
               "/api/v1/session/flatten",
               Role::kTrader,
               true,
               "sessions",
               "Cancel every working order and close every position at market",
               {},
               kReasonSchema,
               command("flatten", false)});
}

}  // namespace aits::api
