#include "aits/api/session_jobs.h"

#include <set>

#include "aits/api/job_fields.h"
#include "aits/api/openapi.h"
#include "aits/core/time.h"

namespace aits::api {

namespace {

const std::regex kSpeed("max|[1-9][0-9]{0,5}");

// A started session's state shown as a session's: a cancelled job was stopped on request.
nlohmann::json SessionJson(const JobView& job, const std::string& dir) {
  nlohmann::json out = job.ToJson();
  if (job.state == JobState::kCancelled) out["state"] = "stopped";
  out["state_dir"] = dir + "/state";
  return out;
}

}  // namespace

Result<std::vector<std::string>> SessionArguments(const nlohmann::json& body,
                                                  const SessionJobOptions& options) {
  if (!body.is_object()) return InvalidArgument("the body is not a JSON object");
  static const std::set<std::string> kFields = {
      "feed",   "symbol", "synthetic", "seed",     "ticks",      "speed",        "start", "signal",
      "params", "model",  "balance",   "leverage", "commission", "account_mode", "bar",   "reason"};
  for (const auto& [key, value] : body.items()) {
    if (!kFields.contains(key)) return InvalidArgument("unknown field " + Quoted(key));
  }
  std::vector<std::string> args = {"paper", "--state={job_dir}/state"};
  const auto flag = [&args](const std::string& name, const std::string& value) {
    args.push_back("--" + name + "=" + value);
  };
  if (body.contains("feed") && body["feed"] != "synthetic") {
    if (options.data_dir.empty()) {
      return FailedPrecondition("feed: the API was started without --data-dir: synthetic only");
    }
    AITS_ASSIGN_OR_RETURN(const std::string file, DataFile("feed", body["feed"], options.data_dir));
    flag("feed", file);
  }
  if (body.contains("symbol")) {
    AITS_ASSIGN_OR_RETURN(const std::string symbol, SymbolField("symbol", body["symbol"]));
    flag("symbol", symbol);
  }
  if (body.contains("synthetic")) {
    const nlohmann::json& list = body["synthetic"];
    if (!list.is_array() || list.empty() || list.size() > 20) {
      return InvalidArgument("synthetic: a list of 1 to 20 symbols");
    }
    std::string joined;
    for (const nlohmann::json& symbol : list) {
      AITS_ASSIGN_OR_RETURN(const std::string one, SymbolField("synthetic", symbol));
      joined += (joined.empty() ? "" : ",") + one;
    }
    flag("synthetic", joined);
  }
  for (const char* field : {"seed", "ticks"}) {
    if (!body.contains(field)) continue;
    AITS_ASSIGN_OR_RETURN(const std::string n, Number(field, body[field], 0, 1e12, true));
    flag(field, n);
  }
  if (body.contains("speed")) {
    const nlohmann::json& given = body["speed"];
    const nlohmann::json speed =
        given.is_number_integer() ? nlohmann::json(std::to_string(given.get<int64_t>())) : given;
    AITS_ASSIGN_OR_RETURN(const std::string text,
                          Matching("speed", speed, kSpeed, "1 to 999999 (times real time) or max"));
    flag("speed", text);
  }
  if (body.contains("start")) {
    AITS_ASSIGN_OR_RETURN(const std::string start, TimeField("start", body["start"]));
    flag("start", start);
  }
  AITS_RETURN_IF_ERROR(SignalFields(body, options.registry, flag));
  if (body.contains("params")) {
    AITS_ASSIGN_OR_RETURN(const auto params, ParamsField(body["params"]));
    std::string joined;
    for (const auto& [key, text] : params) joined += (joined.empty() ? "" : ",") + key + "=" + text;
    if (joined.empty()) return InvalidArgument("params: at least one name: value pair");
    flag("params", joined);
  }
  if (body.contains("balance")) {
    AITS_ASSIGN_OR_RETURN(const std::string balance,
                          Number("balance", body["balance"], 1, 1e12, false));
    flag("balance", balance);
  }
  AITS_RETURN_IF_ERROR(AccountFields(body, flag));
  AITS_RETURN_IF_ERROR(ReasonField(body));
  args.push_back("--json");
  return args;
}

void AddSessionJobRoutes(ApiService& service, JobRunner* runner, SessionJobOptions options,
                         std::function<nlohmann::json()> served) {
  const auto unavailable = [](RequestContext& ctx) {
    return Problem(ctx, 503, "unavailable",
                   "starting sessions needs the server started with --sessions DIR");
  };
  service.Add({"GET",
               "/api/v1/sessions",
               Role::kViewer,
               false,
               "sessions",
               "The session this server shows, and the paper sessions started through it",
               {{"limit", "integer", "at most this many started ones (1..1000, default 100)"},
                {"before", "integer", "ids below this (the previous page's next_before)"}},
               nullptr,
               [runner, served](RequestContext& ctx) {
                 Result<PageQuery> q = ParsePageQuery(ctx.query);
                 if (!q.ok()) return FromStatus(ctx, q.status());
                 nlohmann::json items = nlohmann::json::array();
                 if (runner != nullptr) {
                   for (const JobView& job : runner->List(q->limit, q->before)) {
                     items.push_back(SessionJson(job, runner->Dir(job.id)));
                   }
                 }
                 nlohmann::json page{{"served", served()}, {"items", items}};
                 if (items.size() == q->limit && items.back()["id"].get<uint64_t>() > 1) {
                   page["next_before"] = items.back()["id"];
                 }
                 return Json(200, page);
               },
               200,
               schema::Page(schema::Ref("StartedSession"), {{"served", schema::Ref("Session")}})});
  service.Add({"POST",
               "/api/v1/sessions",
               Role::kTrader,
               true,
               "sessions",
               "Start a paper session in a process of its own (202)",
               {},
               {{"type", "object"},
                {"properties",
                 {{"feed", {{"type", "string"}}},
                  {"symbol", {{"type", "string"}}},
                  {"synthetic", {{"type", "array"}, {"items", {{"type", "string"}}}}},
                  {"seed", {{"type", "integer"}}},
                  {"ticks", {{"type", "integer"}}},
                  {"speed", {{"type", "string"}}},
                  {"start", {{"type", "string"}}},
                  {"signal", {{"type", "string"}, {"enum", {"sma_cross", "rsi", "ml_ensemble"}}}},
                  {"params", {{"type", "object"}}},
                  {"model", {{"type", "string"}}},
                  {"balance", {{"type", "number"}}},
                  {"leverage", {{"type", "number"}}},
                  {"commission", {{"type", "string"}}},
                  {"account_mode", {{"type", "string"}, {"enum", {"netting", "hedging"}}}},
                  {"bar", {{"type", "string"}}},
                  {"reason", {{"type", "string"}, {"maxLength", 500}}}}}},
               [runner, options, unavailable](RequestContext& ctx) {
                 if (runner == nullptr) return unavailable(ctx);
                 const nlohmann::json body = nlohmann::json::parse(ctx.http.body, nullptr, false);
                 Result<std::vector<std::string>> args = SessionArguments(body, options);
                 if (!args.ok()) return FromStatus(ctx, args.status());
                 Result<JobView> job = SubmitFor(ctx, *runner, "paper", options.aits, *args, body);
                 if (!job.ok()) return FromStatus(ctx, job.status());
                 return Json(202, SessionJson(*job, runner->Dir(job->id)));
               },
               202,
               schema::Ref("StartedSession"),
               "application/json",
               {409, 503}});
  service.Add({"GET",
               "/api/v1/sessions/{id}",
               Role::kViewer,
               false,
               "sessions",
               "One started session: its state, request, state directory and summary",
               {},
               nullptr,
               [runner, unavailable](RequestContext& ctx) {
                 if (runner == nullptr) return unavailable(ctx);
                 Result<uint64_t> id = ParseWholeNumber("id", ctx.path["id"]);
                 if (!id.ok()) return FromStatus(ctx, id.status());
                 Result<JobView> job = runner->Get(*id);
                 if (!job.ok()) return FromStatus(ctx, job.status());
                 nlohmann::json out = SessionJson(*job, runner->Dir(job->id));
                 if (Result<nlohmann::json> summary = runner->ResultOf(job->id); summary.ok()) {
                   out["summary"] = *summary;
                 }
                 return Json(200, out);
               },
               200,
               schema::Ref("StartedSession"),
               "application/json",
               {503}});
  service.Add({"POST",
               "/api/v1/sessions/{id}/stop",
               Role::kTrader,
               true,
               "sessions",
               "Stop a started session cleanly, as Ctrl-C does (409 when it has ended)",
               {},
               nullptr,
               [runner, unavailable](RequestContext& ctx) {
                 if (runner == nullptr) return unavailable(ctx);
                 Result<uint64_t> id = ParseWholeNumber("id", ctx.path["id"]);
                 if (!id.ok()) return FromStatus(ctx, id.status());
                 ctx.audit_target = "session " + std::to_string(*id);
                 Result<JobView> job = runner->Cancel(*id);
                 if (!job.ok()) return FromStatus(ctx, job.status());
                 return Json(202, SessionJson(*job, runner->Dir(job->id)));
               },
               202,
               schema::Ref("StartedSession"),
               "application/json",
               {409, 503}});
}

}  // namespace aits::api
