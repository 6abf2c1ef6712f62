#include "aits/api/openapi.h"

namespace aits::api::schema {

using Json = nlohmann::json;

Json String() { return {{"type", "string"}}; }
Json Integer() { return {{"type", "integer"}}; }
Json Number() { return {{"type", "number"}}; }
Json Boolean() { return {{"type", "boolean"}}; }
Json AnyObject() { return {{"type", "object"}}; }
Json StringMap() { return {{"type", "object"}, {"additionalProperties", String()}}; }

Json Enum(std::initializer_list<std::string_view> values) {
  Json list = Json::array();
  for (std::string_view v : values) list.push_back(v);
  return {{"type", "string"}, {"enum", list}};
}

Json Nullable(Json schema) {
  if (schema.contains("$ref")) schema = {{"allOf", Json::array({std::move(schema)})}};
  schema["nullable"] = true;
  return schema;
}

Json ArrayOf(Json items) { return {{"type", "array"}, {"items", std::move(items)}}; }

Json Ref(std::string_view name) { return {{"$ref", "#/components/schemas/" + std::string(name)}}; }

Json Object(const Json& required, const Json& optional) {
  Json out = AnyObject();
  Json& properties = out["properties"] = Json::object();
  Json names = Json::array();
  for (const auto& [name, s] : required.items()) {
    properties[name] = s;
    names.push_back(name);
  }
  for (const auto& [name, s] : optional.items()) properties[name] = s;
  if (!names.empty()) out["required"] = names;
  return out;
}

Json Extend(std::string_view base, const Json& required, const Json& optional) {
  return {{"allOf", Json::array({Ref(base), Object(required, optional)})}};
}

Json Page(Json item, const Json& also) {
  Json required = also;
  required["items"] = ArrayOf(std::move(item));
  return Object(required, {{"next_before", Integer()}});
}

namespace {

// FormatIso8601's UTC times.
Json Time() { return {{"type", "string"}, {"format", "date-time"}}; }

Json Roles() { return Enum({"viewer", "trader", "admin", "notifier"}); }
Json Side() { return Enum({"buy", "sell"}); }
Json OrderType() { return Enum({"market", "limit", "stop"}); }
Json OrderStatus() {
  return Enum({"pending_new", "accepted", "filled", "canceled", "expired", "rejected"});
}
Json BreakerState() { return Enum({"normal", "reduce_only", "halted"}); }
Json ModelStatus() { return Enum({"candidate", "production", "archived", "rejected"}); }

// JobView::ToJson; a started session (session_jobs.cc) shows its cancelled job as "stopped".
Json Job(std::initializer_list<std::string_view> states, const Json& required,
         const Json& optional) {
  Json fields = required;
  fields.update(Json{{"id", Integer()},
                     {"kind", String()},
                     {"state", Enum(states)},
                     {"progress", Number()},
                     {"count", Integer()},
                     {"submitted_at", Nullable(Time())},
                     {"started_at", Nullable(Time())},
                     {"finished_at", Nullable(Time())},
                     {"by", String()},
                     {"chain_id", String()},
                     {"request", AnyObject()},
                     {"has_result", Boolean()}});
  Json more = optional;
  more.update(Json{{"exit_code", Integer()}, {"error", String()}});
  return Object(fields, more);
}

Json Make() {
  Json s = Json::object();
  s["Error"] = Object(
      {{"error", Object({{"code", String()}, {"message", String()}}, {{"request_id", String()}})}});
  // RFC 6749 §5.2: the token endpoint's refusals.
  s["OAuthError"] = Object({{"error", String()}, {"error_description", String()}});
  s["OpenApi"] = Object({{"openapi", String()},
                         {"info", AnyObject()},
                         {"paths", AnyObject()},
                         {"components", AnyObject()}});
  s["Jwks"] = Object({{"keys", ArrayOf(Object({{"kty", String()},
                                               {"use", String()},
                                               {"alg", String()},
                                               {"kid", String()},
                                               {"n", String()},
                                               {"e", String()}}))}});
  s["Token"] = Object({{"access_token", String()},
                       {"token_type", Enum({"Bearer"})},
                       {"expires_in", Integer()},
                       {"scope", Roles()}},
                      {{"refresh_token", String()}});
  s["Caller"] =
      Object({{"subject", String()}, {"role", Roles()}, {"kind", Enum({"user", "api_key"})}});
  s["AuditEntry"] = Object({{"id", Integer()},
                            {"time", Time()},
                            {"actor", String()},
                            {"role", String()},  // "-" for a caller refused before it was known
                            {"action", String()},
                            {"target", String()},
                            {"client", String()},
                            {"request_id", String()},
                            {"chain_id", String()},
                            {"status", Integer()},
                            {"detail", String()}});

  // session_view.cc. Money is a decimal string, as the account's checkpoint writes it.
  s["Session"] = Object({{"id", String()},
                         {"location", String()},
                         {"state", Enum({"running", "stopped"})},
                         {"symbols", ArrayOf(String())},
                         {"currency", String()},
                         {"events", Integer()},
                         {"kernel_time", Time()},
                         {"signal", String()}},
                        {{"last_error", String()}, {"stop", AnyObject()}});
  s["Account"] = Object({{"session", String()},
                         {"currency", String()},
                         {"breaker", String()},
                         {"orders", Integer()},
                         {"orders_in_flight", Integer()},
                         {"fills", Integer()},
                         {"balance", String()},
                         {"equity", String()},
                         {"margin", String()},
                         {"as_of", Nullable(Time())}});
  // The checkpoint's position, and its mark once the symbol has a quote.
  s["Position"] =
      Object({{"symbol", String()}, {"lots", String()}, {"avg_price", String()}},
             {{"mark", Number()}, {"unrealized", Number()}, {"quote_currency", String()}});
  s["Positions"] = Object({{"items", ArrayOf(Ref("Position"))}, {"as_of", Nullable(Time())}});
  s["Order"] = Object({{"id", Integer()},
                       {"client_order_id", String()},
                       {"symbol", String()},
                       {"side", Side()},
                       {"type", OrderType()},
                       {"time_in_force", Enum({"GTC", "IOC", "FOK", "DAY"})},
                       {"lots", Number()},
                       {"price", Nullable(Number())},
                       {"stop_loss", Nullable(Number())},
                       {"take_profit", Nullable(Number())},
                       {"tag", String()},
                       {"status", OrderStatus()},
                       {"created", Time()},
                       {"updated", Time()},
                       {"filled", Number()},
                       {"avg_fill_price", Nullable(Number())}},
                      {{"reject_reason", String()},
                       {"reject_detail", String()},
                       {"venue_order_id", Integer()},
                       {"position_ticket", Integer()},
                       {"decision", Integer()}});
  s["OrderDetail"] =
      Extend("Order", {{"fills", ArrayOf(Ref("Fill"))}}, {{"explanation", Ref("Decision")}});
  s["Fill"] = Object({{"id", Integer()},
                      {"order_id", Integer()},
                      {"client_order_id", String()},
                      {"symbol", String()},
                      {"side", Side()},
                      {"lots", Number()},
                      {"price", Number()},
                      {"commission", String()},
                      {"time", Time()},
                      {"reason", String()}});
  // A decision record (trading/decision_strategy.cc). Its numbers that may be non-finite are
  // written as null, so only the fields that cannot be are described.
  s["Decision"] =
      Object({{"decision", Integer()},
              {"time", Time()},
              {"symbol", String()},
              {"action", String()},
              {"reason", String()},
              {"signal", Object({{"source", String()}})},
              {"market", Object({{"bid", Number()}, {"ask", Number()}})},
              {"filters", ArrayOf(Object({{"name", String()}, {"passed", Boolean()}}))},
              {"sizing", Object({{"mode", String()}, {"lots", Number()}})}},
             {{"blackout", Object({{"title", String()}, {"currency", String()}, {"at", Time()}})},
              {"order", Ref("DecisionOrder")},
              {"orders", ArrayOf(Ref("DecisionOrder"))}});
  s["DecisionOrder"] = Object(
      {{"id", Integer()},
       {"client_order_id", String()},
       {"side", Side()},
       {"lots", Number()},
       {"status", OrderStatus()},
       {"risk", Object({{"passed", Boolean()}}, {{"reason", String()}, {"detail", String()}})}},
      {{"position_ticket", Integer()}, {"venue_reject", String()}, {"fill_price", Number()}});
  s["BreakerChange"] = Object({{"time", Time()},
                               {"from", String()},
                               {"to", String()},
                               {"manual", Boolean()},
                               {"rule", String()},
                               {"detail", String()}});
  // An applied operator command: what was queued (by the API or `aits breaker`) and when.
  s["Command"] = Object(
      {{"command", String()}, {"applied_at", Time()}},
      {{"reason", String()}, {"by", String()}, {"request_id", String()}, {"chain_id", String()}});
  s["Risk"] = Object({{"breaker", String()},
                      {"breaker_changes", ArrayOf(Ref("BreakerChange"))},
                      {"commands", ArrayOf(Ref("Command"))},
                      // The session's risk settings as [name, value] pairs.
                      {"limits", ArrayOf(ArrayOf(String()))}});
  s["Quote"] =
      Object({{"symbol", String()}, {"bid", Number()}, {"ask", Number()}, {"time", Time()}});
  s["Bar"] = Object({{"time", Time()},
                     {"open", Number()},
                     {"high", Number()},
                     {"low", Number()},
                     {"close", Number()},
                     {"ticks", Integer()}});
  s["Bars"] = Object({{"symbol", String()},
                      {"period", Enum({"M1"})},
                      {"price", Enum({"mid"})},
                      {"items", ArrayOf(Ref("Bar"))}});
  // The 202 of an operator command (session_routes.cc): the command as queued in the log.
  s["Queued"] = Object({{"queued", Object({{"command", Enum({"order", "cancel", "modify", "breaker",
                                                             "pause", "resume", "flatten"})},
                                           {"reason", String()},
                                           {"by", String()},
                                           {"request_id", String()},
                                           {"chain_id", String()}},
                                          {{"state", BreakerState()},
                                           {"order_id", Integer()},
                                           {"client_order_id", String()},
                                           {"symbol", String()},
                                           {"side", Side()},
                                           {"type", OrderType()},
                                           {"lots", Number()},
                                           {"price", Number()},
                                           {"stop_loss", Nullable(Number())},
                                           {"take_profit", Nullable(Number())}})},
                        {"applies", String()}});

  // job_runner.cc, backtest_routes.cc, session_jobs.cc.
  s["Job"] = Job({"queued", "running", "done", "failed", "cancelled", "interrupted"},
                 Json::object(), Json::object());
  s["StartedSession"] = Job({"queued", "running", "done", "failed", "stopped", "interrupted"},
                            {{"state_dir", String()}}, {{"summary", AnyObject()}});
  s["BacktestReport"] = AnyObject();
  s["BacktestReport"]["description"] = "what aits backtest --json prints";

  // model_routes.cc.
  s["Model"] = Object({{"id", Integer()},
                       {"name", String()},
                       {"version", Integer()},
                       {"ref", String()},
                       {"kind", String()},
                       {"status", ModelStatus()},
                       {"feature_set_version", String()},
                       {"feature_set_hash", String()},
                       {"train_begin", Time()},
                       {"train_end", Time()},
                       {"params", AnyObject()},
                       {"metrics", AnyObject()},
                       {"data_source", String()},
                       {"parent", Nullable(String())},
                       {"code_version", String()},
                       {"created_at", Time()},
                       {"checksum", String()},
                       {"size_bytes", Integer()}});
  s["ModelSummary"] =
      Object({{"id", Integer()}, {"ref", String()}, {"kind", String()}, {"status", ModelStatus()}});
  s["ModelDetail"] =
      Extend("Model", {{"events", ArrayOf(String())},
                       {"lineage", Object({{"parent", Nullable(Ref("ModelSummary"))},
                                           {"members", ArrayOf(Ref("ModelSummary"))},
                                           {"versions", ArrayOf(Ref("ModelSummary"))}})}});
  // alert_routes.cc: one change of an alert (notify::DeliveredJson).
  s["Alert"] = Object({{"received", String()},
                       {"status", Enum({"firing", "resolved"})},
                       {"alertname", String()},
                       {"severity", String()},
                       {"summary", String()},
                       {"labels", StringMap()},
                       {"annotations", StringMap()},
                       {"starts_at", String()},
                       {"ends_at", String()},
                       {"fingerprint", String()},
                       {"key", String()}});
  s["Promotion"] = Object(
      {{"passed", Boolean()}, {"gate", String()}, {"reason", String()}, {"model", Ref("Model")}});
  return s;
}

}  // namespace

const Json& ComponentSchemas() {
  static const Json kSchemas = Make();
  return kSchemas;
}

}  // namespace aits::api::schema
