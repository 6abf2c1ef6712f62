#include "aits/api/backtest_routes.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "aits/api/job_fields.h"
#include "aits/api/openapi.h"
#include "aits/core/time.h"

namespace aits::api {

namespace fs = std::filesystem;

Result<std::vector<std::string>> BacktestArguments(const nlohmann::json& body,
                                                   const BacktestOptions& options) {
  if (!body.is_object()) return InvalidArgument("the body is not a JSON object");
  static const std::set<std::string> kFields = {
      "data",       "ask_data", "symbol", "strategy", "signal",    "params",
      "model",      "from",     "to",     "cash",     "leverage",  "account_mode",
      "commission", "slippage", "spread", "bar",      "fill_mode", "reason"};
  for (const auto& [key, value] : body.items()) {
    if (!kFields.contains(key)) return InvalidArgument("unknown field " + Quoted(key));
  }
  if (!body.contains("data")) return InvalidArgument("data: a file name is required");
  std::vector<std::string> args = {"backtest"};
  const auto flag = [&args](const std::string& name, const std::string& value) {
    args.push_back("--" + name + "=" + value);
  };
  AITS_ASSIGN_OR_RETURN(const std::string data, DataFile("data", body["data"], options.data_dir));
  flag("data", data);
  if (body.contains("ask_data")) {
    AITS_ASSIGN_OR_RETURN(const std::string ask,
                          DataFile("ask_data", body["ask_data"], options.data_dir));
    flag("ask-data", ask);
  }
  if (body.contains("symbol")) {
    AITS_ASSIGN_OR_RETURN(const std::string symbol, SymbolField("symbol", body["symbol"]));
    flag("symbol", symbol);
  }
  if (body.contains("strategy") && body.contains("signal")) {
    return InvalidArgument("strategy and signal: give one of them");
  }
  if (body.contains("strategy")) {
    static const std::regex kStrategy("sma_cross|rsi_reversion|buy_and_hold|random_signal");
    AITS_ASSIGN_OR_RETURN(const std::string strategy,
                          Matching("strategy", body["strategy"], kStrategy,
                                   "sma_cross, rsi_reversion, buy_and_hold or random_signal"));
    flag("strategy", strategy);
  }
  AITS_RETURN_IF_ERROR(SignalFields(body, options.registry, flag));
  if (body.contains("params")) {
    AITS_ASSIGN_OR_RETURN(const auto params, ParamsField(body["params"]));
    for (const auto& [key, text] : params) flag("param", key + "=" + text);
  }
  for (const char* field : {"from", "to"}) {
    if (!body.contains(field)) continue;
    AITS_ASSIGN_OR_RETURN(const std::string time, TimeField(field, body[field]));
    flag(field, time);
  }
  if (body.contains("cash")) {
    AITS_ASSIGN_OR_RETURN(const std::string cash, Number("cash", body["cash"], 1, 1e12, false));
    flag("cash", cash);
  }
  AITS_RETURN_IF_ERROR(AccountFields(body, flag));
  for (const char* field : {"slippage", "spread"}) {
    if (!body.contains(field)) continue;
    AITS_ASSIGN_OR_RETURN(const std::string points, Number(field, body[field], 0, 100000, true));
    flag(field, points);
  }
  if (body.contains("fill_mode")) {
    static const std::regex kFill("auto|touch|next_bar_open");
    AITS_ASSIGN_OR_RETURN(const std::string fill, Matching("fill_mode", body["fill_mode"], kFill,
                                                           "auto, touch or next_bar_open"));
    flag("fill-mode", fill);
  }
  AITS_RETURN_IF_ERROR(ReasonField(body));
  args.push_back("--out={job_dir}/out");
  args.push_back("--json");
  args.push_back("--no-progress");
  return args;
}

void AddBacktestRoutes(ApiService& service, JobRunner* runner, BacktestOptions options) {
  const auto unavailable = [](RequestContext& ctx) {
    return Problem(ctx, 503, "unavailable",
                   "backtests need the server started with --jobs DIR and --data-dir DIR");
  };
  const auto job_of = [runner](RequestContext& ctx) -> Result<JobView> {
    AITS_ASSIGN_OR_RETURN(const uint64_t id, ParseWholeNumber("id", ctx.path["id"]));
    return runner->Get(id);
  };
  service.Add({"POST",
               "/api/v1/backtests",
               Role::kTrader,
               true,
               "backtests",
               "Submit a backtest of a data file as a job (202); it runs in a process of its own",
               {},
               {{"type", "object"},
                {"required", {"data"}},
                {"properties",
                 {{"data", {{"type", "string"}}},
                  {"ask_data", {{"type", "string"}}},
                  {"symbol", {{"type", "string"}}},
                  {"strategy",
                   {{"type", "string"},
                    {"enum", {"sma_cross", "rsi_reversion", "buy_and_hold", "random_signal"}}}},
                  {"signal", {{"type", "string"}, {"enum", {"sma_cross", "rsi", "ml_ensemble"}}}},
                  {"params", {{"type", "object"}}},
                  {"model", {{"type", "string"}}},
                  {"from", {{"type", "string"}}},
                  {"to", {{"type", "string"}}},
                  {"cash", {{"type", "number"}}},
                  {"leverage", {{"type", "number"}}},
                  {"account_mode", {{"type", "string"}, {"enum", {"netting", "hedging"}}}},
                  {"commission", {{"type", "string"}}},
                  {"slippage", {{"type", "integer"}}},
                  {"spread", {{"type", "integer"}}},
                  {"bar", {{"type", "string"}}},
                  {"fill_mode", {{"type", "string"}, {"enum", {"auto", "touch", "next_bar_open"}}}},
                  {"reason", {{"type", "string"}, {"maxLength", 500}}}}}},
               [runner, options, unavailable](RequestContext& ctx) {
                 if (runner == nullptr) return unavailable(ctx);
                 const nlohmann::json body = nlohmann::json::parse(ctx.http.body, nullptr, false);
                 Result<std::vector<std::string>> args = BacktestArguments(body, options);
                 if (!args.ok()) return FromStatus(ctx, args.status());
                 Result<JobView> job =
                     SubmitFor(ctx, *runner, "backtest", options.aits, *args, body);
                 if (!job.ok()) return FromStatus(ctx, job.status());
                 return Json(202, job->ToJson());
               },
               202,
               schema::Ref("Job"),
               "application/json",
               {503}});
  service.Add({"GET",
               "/api/v1/backtests",
               Role::kViewer,
               false,
               "backtests",
               "Backtest jobs, newest first",
               {{"limit", "integer", "at most this many (1..1000, default 100)"},
                {"before", "integer", "ids below this (the previous page's next_before)"}},
               nullptr,
               [runner, unavailable](RequestContext& ctx) {
                 if (runner == nullptr) return unavailable(ctx);
                 Result<PageQuery> q = ParsePageQuery(ctx.query);
                 if (!q.ok()) return FromStatus(ctx, q.status());
                 nlohmann::json items = nlohmann::json::array();
                 for (const JobView& job : runner->List(q->limit, q->before)) {
                   items.push_back(job.ToJson());
                 }
                 nlohmann::json page{{"items", items}};
                 if (items.size() == q->limit && items.back()["id"].get<uint64_t>() > 1) {
                   page["next_before"] = items.back()["id"];
                 }
                 return Json(200, page);
               },
               200,
               schema::Page(schema::Ref("Job")),
               "application/json",
               {503}});
  service.Add({"GET",
               "/api/v1/backtests/{id}",
               Role::kViewer,
               false,
               "backtests",
               "One backtest job: its state, progress, request and error",
               {},
               nullptr,
               [runner, unavailable, job_of](RequestContext& ctx) {
                 if (runner == nullptr) return unavailable(ctx);
                 Result<JobView> job = job_of(ctx);
                 return job.ok() ? Json(200, job->ToJson()) : FromStatus(ctx, job.status());
               },
               200,
               schema::Ref("Job"),
               "application/json",
               {503}});
  // The report once the job is done; 409 with its state before, or with its error.
  const auto report = [runner, unavailable, job_of](RequestContext& ctx, bool html) {
    if (runner == nullptr) return unavailable(ctx);
    Result<JobView> job = job_of(ctx);
    if (!job.ok()) return FromStatus(ctx, job.status());
    if (job->state != JobState::kDone) {
      std::string message =
          "backtest " + std::to_string(job->id) + " is " + std::string(ToString(job->state));
      if (job->state == JobState::kRunning) {
        message += " (" + std::to_string(static_cast<int>(job->progress * 100)) + "%)";
      }
      if (!job->error.empty()) message += ": " + job->error;
      return Problem(ctx, 409, "not_done", message);
    }
    if (!html) {
      Result<nlohmann::json> result = runner->ResultOf(job->id);
      return result.ok() ? Json(200, *result) : FromStatus(ctx, result.status());
    }
    std::ifstream in(runner->Dir(job->id) + "/out/report.html", std::ios::binary);
    if (!in) return Problem(ctx, 404, "not_found", "this backtest wrote no report.html");
    std::ostringstream text;
    text << in.rdbuf();
    HttpResponse r;
    r.content_type = "text/html; charset=utf-8";
    // The report's own scripts draw its charts; sandboxed, they run in an origin of their own
    // and cannot read what the API's pages keep.
    r.headers.emplace_back("Content-Security-Policy", "sandbox allow-scripts");
    r.body = text.str();
    return r;
  };
  service.Add({"GET",
               "/api/v1/backtests/{id}/report",
               Role::kViewer,
               false,
               "backtests",
               "A finished backtest's metrics (what aits backtest --json prints); 409 before",
               {},
               nullptr,
               [report](RequestContext& ctx) { return report(ctx, false); },
               200,
               schema::Ref("BacktestReport"),
               "application/json",
               {409, 503}});
  service.Add({"GET",
               "/api/v1/backtests/{id}/report.html",
               Role::kViewer,
               false,
               "backtests",
               "A finished backtest's HTML report (charts, trades), sandboxed; 409 before",
               {},
               nullptr,
               [report](RequestContext& ctx) { return report(ctx, true); },
               200,
               nullptr,
               "text/html",
               {409, 503}});
  service.Add({"DELETE",
               "/api/v1/backtests/{id}",
               Role::kTrader,
               true,
               "backtests",
               "Cancel a queued or running backtest (409 when it has finished)",
               {},
               nullptr,
               [runner, unavailable](RequestContext& ctx) {
                 if (runner == nullptr) return unavailable(ctx);
                 Result<uint64_t> id = ParseWholeNumber("id", ctx.path["id"]);
                 if (!id.ok()) return FromStatus(ctx, id.status());
                 ctx.audit_target = "backtest " + std::to_string(*id);
                 Result<JobView> job = runner->Cancel(*id);
                 if (!job.ok()) return FromStatus(ctx, job.status());
                 ctx.audit_detail = std::string(ToString(job->state));
                 return Json(202, job->ToJson());
               },
               202,
               schema::Ref("Job"),
               "application/json",
               {409, 503}});
}

}  // namespace aits::api
