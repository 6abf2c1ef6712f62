#include "aits/api/model_routes.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "aits/api/openapi.h"
#include "aits/core/time.h"

namespace aits::api {

nlohmann::json ModelJson(const ml::ModelRecord& record) {
  return {
      {"id", record.id},
      {"name", record.name},
      {"version", record.version},
      {"ref", record.name + "@" + std::to_string(record.version)},
      {"kind", record.kind},
      {"status", std::string(ml::ToString(record.status))},
      {"feature_set_version", record.feature_set_version},
      {"feature_set_hash", record.feature_set_hash},
      {"train_begin", FormatIso8601(record.train_begin)},
      {"train_end", FormatIso8601(record.train_end)},
      {"params", record.params},
      {"metrics", record.metrics},
      {"data_source", record.data_source},
      {"parent", record.parent.empty() ? nlohmann::json(nullptr) : nlohmann::json(record.parent)},
      {"code_version", record.code_version},
      {"created_at", FormatIso8601(record.created_at)},
      {"checksum", record.sha256_or_fnv},
      {"size_bytes", record.size_bytes}};
}

Result<ml::PromotionGate> ParsePromoteBody(const std::string& body,
                                           const ml::PromotionGate& defaults, std::string* reason) {
  const nlohmann::json json = nlohmann::json::parse(body, nullptr, false);
  if (!json.is_object()) return InvalidArgument("the body is not a JSON object");
  ml::PromotionGate gate = defaults;
  bool has_reason = false;
  for (const auto& [key, value] : json.items()) {
    if (key == "reason") {
      if (!value.is_string() || value.get<std::string>().empty()) {
        return InvalidArgument("reason: a non-empty string is required (it goes into the audit)");
      }
      if (value.get<std::string>().size() > 500) {
        return InvalidArgument("reason: at most 500 characters");
      }
      *reason = value.get<std::string>();
      has_reason = true;
    } else if (key == "metric") {
      if (!value.is_string() || value.get<std::string>().empty() ||
          value.get<std::string>().size() > 64) {
        return InvalidArgument("metric: a metric name of 1 to 64 characters (\"auc\")");
      }
      gate.metric = value.get<std::string>();
    } else if (key == "threshold" || key == "min_improvement_over_baseline") {
      if (!value.is_number() || !std::isfinite(value.get<double>())) {
        return InvalidArgument(key + ": a finite number is required");
      }
      (key == "threshold" ? gate.threshold : gate.min_improvement_over_baseline) =
          value.get<double>();
    } else if (key == "record") {
      if (!value.is_string() ||
          (value.get<std::string>() != "validation" && value.get<std::string>() != "shadow")) {
        return InvalidArgument("record: \"validation\" or \"shadow\"");
      }
      gate.record = value.get<std::string>();
    } else if (key == "min_calls") {
      if (!value.is_number_integer() || value.get<int64_t>() < 0 ||
          value.get<int64_t>() > 1'000'000) {
        return InvalidArgument("min_calls: an integer from 0 to 1000000");
      }
      gate.min_calls = value.get<size_t>();
    } else if (key == "higher_is_better" || key == "require_baseline") {
      if (!value.is_boolean()) return InvalidArgument(key + ": true or false");
      (key == "higher_is_better" ? gate.higher_is_better : gate.require_baseline) =
          value.get<bool>();
    } else {
      return InvalidArgument("unknown field \"" + key.substr(0, 40) + "\"");
    }
  }
  if (!has_reason) {
    return InvalidArgument("reason: a non-empty string is required (it goes into the audit)");
  }
  if (gate.min_improvement_over_baseline < 0) {
    return InvalidArgument("min_improvement_over_baseline: must not be negative");
  }
  return gate;
}

namespace {

nlohmann::json Summary(const ml::ModelRecord& record) {
  return {{"id", record.id},
          {"ref", record.name + "@" + std::to_string(record.version)},
          {"kind", record.kind},
          {"status", std::string(ml::ToString(record.status))}};
}

// The model, its audit lines, and its lineage: the ensemble it belongs to, its members, and the
// other versions of its name (newest first).
Result<nlohmann::json> Detail(ml::ModelRegistry& registry, int64_t id) {
  AITS_ASSIGN_OR_RETURN(const ml::ModelRecord record, registry.Find("#" + std::to_string(id)));
  AITS_ASSIGN_OR_RETURN(const std::vector<std::string> events, registry.Events(id));
  AITS_ASSIGN_OR_RETURN(const std::vector<ml::ModelRecord> all, registry.List());
  const std::string ref = record.name + "@" + std::to_string(record.version);
  nlohmann::json parent = nullptr;
  nlohmann::json members = nlohmann::json::array();
  nlohmann::json versions = nlohmann::json::array();
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (!record.parent.empty() && it->name + "@" + std::to_string(it->version) == record.parent) {
      parent = Summary(*it);
    }
    if (it->parent == ref) members.push_back(Summary(*it));
    if (it->name == record.name && it->id != record.id) versions.push_back(Summary(*it));
  }
  nlohmann::json out = ModelJson(record);
  out["events"] = events;
  out["lineage"] = {{"parent", parent}, {"members", members}, {"versions", versions}};
  return out;
}

const nlohmann::json kPromoteSchema = {
    {"type", "object"},
    {"required", {"reason"}},
    {"properties",
     {{"reason", {{"type", "string"}, {"maxLength", 500}}},
      {"metric", {{"type", "string"}, {"maxLength", 64}}},
      {"threshold", {{"type", "number"}}},
      {"higher_is_better", {{"type", "boolean"}}},
      {"min_improvement_over_baseline", {{"type", "number"}, {"minimum", 0}}},
      {"require_baseline", {{"type", "boolean"}}},
      {"record", {{"type", "string"}, {"enum", {"validation", "shadow"}}}},
      {"min_calls", {{"type", "integer"}, {"minimum", 0}, {"maximum", 1000000}}}}}};

}  // namespace

void AddModelRoutes(ApiService& service, ModelCatalog& catalog) {
  ModelCatalog* c = &catalog;
  service.Add({"GET",
               "/api/v1/models",
               Role::kViewer,
               false,
               "models",
               "Registered models with their metrics, newest first",
               {{"name", "string", "one model family only"},
                {"status", "string", "candidate, production, archived or rejected"},
                {"limit", "integer", "at most this many (1..1000, default 100)"},
                {"before", "integer", "ids below this (the previous page's next_before)"}},
               nullptr,
               [c](RequestContext& ctx) {
                 Result<PageQuery> page_query = ParsePageQuery(ctx.query);
                 if (!page_query.ok()) return FromStatus(ctx, page_query.status());
                 const uint64_t limit = page_query->limit;
                 const uint64_t before = page_query->before;
                 std::optional<ml::ModelStatus> status;
                 if (auto it = ctx.query.find("status"); it != ctx.query.end()) {
                   Result<ml::ModelStatus> parsed = ml::ParseModelStatus(it->second);
                   if (!parsed.ok()) return FromStatus(ctx, parsed.status());
                   status = *parsed;
                 }
                 std::optional<std::string> name;
                 if (auto it = ctx.query.find("name"); it != ctx.query.end()) name = it->second;
                 Result<std::vector<ml::ModelRecord>> list =
                     c->With([&](ml::ModelRegistry& registry) { return registry.List(name); });
                 if (!list.ok()) return FromStatus(ctx, list.status());
                 nlohmann::json items = nlohmann::json::array();
                 int64_t last = 0;
                 for (auto it = list->rbegin(); it != list->rend() && items.size() < limit; ++it) {
                   if (before != 0 && static_cast<uint64_t>(it->id) >= before) continue;
                   if (status && it->status != *status) continue;
                   items.push_back(ModelJson(*it));
                   last = it->id;
                 }
                 nlohmann::json page{{"items", items}};
                 if (items.size() == limit && last > 1) page["next_before"] = last;
                 return Json(200, page);
               },
               200,
               schema::Page(schema::Ref("Model")),
               "application/json",
               {503}});
  service.Add({"GET",
               "/api/v1/models/{id}",
               Role::kViewer,
               false,
               "models",
               "One model: its metrics, audit lines and lineage (ensemble, members, versions)",
               {},
               nullptr,
               [c](RequestContext& ctx) {
                 Result<uint64_t> id = ParseWholeNumber("id", ctx.path["id"]);
                 if (!id.ok()) return FromStatus(ctx, id.status());
                 Result<nlohmann::json> detail = c->With([&](ml::ModelRegistry& registry) {
                   return Detail(registry, static_cast<int64_t>(*id));
                 });
                 return detail.ok() ? Json(200, *detail) : FromStatus(ctx, detail.status());
               },
               200,
               schema::Ref("ModelDetail"),
               "application/json",
               {503}});
  service.Add(
      {"POST",
       "/api/v1/models/{id}/promote",
       Role::kAdmin,
       true,
       "models",
       "Promote a model through the registry's gate (auc > 0.5 unless the body says "
       "otherwise); the answer says whether it passed, and a candidate that fails is rejected",
       {},
       kPromoteSchema,
       [c](RequestContext& ctx) {
         Result<uint64_t> id = ParseWholeNumber("id", ctx.path["id"]);
         if (!id.ok()) return FromStatus(ctx, id.status());
         std::string reason;
         Result<ml::PromotionGate> gate = ParsePromoteBody(ctx.http.body, {}, &reason);
         if (!gate.ok()) return FromStatus(ctx, gate.status());
         ctx.audit_target = "model #" + std::to_string(*id);
         Result<nlohmann::json> answer = c->With([&](ml::ModelRegistry& registry) {
           return [&]() -> Result<nlohmann::json> {
             AITS_ASSIGN_OR_RETURN(const ml::GateDecision decision,
                                   registry.Promote(static_cast<int64_t>(*id), *gate));
             AITS_ASSIGN_OR_RETURN(const ml::ModelRecord record,
                                   registry.Find("#" + std::to_string(*id)));
             return nlohmann::json{{"passed", decision.passed},
                                   {"gate", decision.reason},
                                   {"reason", reason},
                                   {"model", ModelJson(record)}};
           }();
         });
         if (!answer.ok()) return FromStatus(ctx, answer.status());
         ctx.audit_detail = std::string((*answer)["passed"].get<bool>() ? "passed: " : "failed: ") +
                            (*answer)["gate"].get<std::string>() + "; " + reason;
         return Json(200, *answer);
       },
       200,
       schema::Ref("Promotion"),
       "application/json",
       {409, 503}});
}

}  // namespace aits::api
