#include "aits/ml/registry.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <utility>

#include "aits/core/redact.h"
#include "aits/ml/internal/registry_backend.h"
#include "aits/models/serialize.h"
#include "aits/persistence/postgres.h"

#ifndef AITS_CODE_VERSION
#define AITS_CODE_VERSION "unknown"
#endif

namespace aits::ml {

std::string_view CodeVersion() { return AITS_CODE_VERSION; }

std::string_view ToString(ModelStatus status) {
  switch (status) {
    case ModelStatus::kCandidate:
      return "candidate";
    case ModelStatus::kProduction:
      return "production";
    case ModelStatus::kArchived:
      return "archived";
    case ModelStatus::kRejected:
      return "rejected";
  }
  return "unknown";
}

Result<ModelStatus> ParseModelStatus(std::string_view text) {
  for (ModelStatus s : {ModelStatus::kCandidate, ModelStatus::kProduction, ModelStatus::kArchived,
                        ModelStatus::kRejected}) {
    if (text == ToString(s)) return s;
  }
  return InvalidArgument("model status \"" + std::string(text) +
                         "\" is not one of candidate, production, archived, rejected");
}

namespace {

using internal::ModelFilter;
using internal::RegistryBackend;
using internal::StoredModel;

// nlohmann::json::dump throws on invalid UTF-8 by default; the registry never throws.
std::string DumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string FormatNumber(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

// A stored row, checked: a backend returns what is in the database, which may have been edited.
Result<ModelRecord> ToRecord(StoredModel row, const std::string& label) {
  ModelRecord r;
  r.id = row.id;
  r.name = std::move(row.name);
  r.version = static_cast<int>(row.version);
  r.kind = std::move(row.kind);
  const std::string where = label + ": model #" + std::to_string(r.id);
  Result<ModelStatus> status = ParseModelStatus(row.status);
  if (!status.ok()) return DataLoss(where + ": column status: " + status.status().message());
  r.status = *status;
  r.feature_set_version = std::move(row.feature_set_version);
  r.feature_set_hash = std::move(row.feature_set_hash);
  r.train_begin = Timestamp{row.train_begin_ns};
  r.train_end = Timestamp{row.train_end_ns};
  r.params = nlohmann::json::parse(row.params, nullptr, /*allow_exceptions=*/false);
  if (r.params.is_discarded()) return DataLoss(where + ": column params is not valid JSON");
  r.metrics = nlohmann::json::parse(row.metrics, nullptr, /*allow_exceptions=*/false);
  if (r.metrics.is_discarded()) return DataLoss(where + ": column metrics is not valid JSON");
  r.data_source = std::move(row.data_source);
  r.parent = std::move(row.parent);
  r.code_version = std::move(row.code_version);
  r.created_at = Timestamp{row.created_at_ns};
  r.path = std::move(row.path);
  r.sha256_or_fnv = std::move(row.checksum);
  if (row.size_bytes < 0) {
    return DataLoss(where + ": column size_bytes is negative: " + std::to_string(row.size_bytes));
  }
  r.size_bytes = static_cast<uint64_t>(row.size_bytes);
  return r;
}

StoredModel ToStored(const ModelRecord& r) {
  StoredModel row;
  row.id = r.id;
  row.name = r.name;
  row.version = r.version;
  row.kind = r.kind;
  row.status = std::string(ToString(r.status));
  row.feature_set_version = r.feature_set_version;
  row.feature_set_hash = r.feature_set_hash;
  row.train_begin_ns = r.train_begin.ns;
  row.train_end_ns = r.train_end.ns;
  row.params = DumpJson(r.params);
  row.metrics = DumpJson(r.metrics);
  row.data_source = r.data_source;
  row.parent = r.parent;
  row.code_version = r.code_version;
  row.created_at_ns = r.created_at.ns;
  row.path = r.path;
  row.checksum = r.sha256_or_fnv;
  row.size_bytes = static_cast<int64_t>(r.size_bytes);
  return row;
}

std::string LabelOf(const RegistryBackend& backend) {
  return "model registry " + WithoutPassword(backend.location());
}

Result<std::vector<ModelRecord>> SelectAll(const RegistryBackend& backend,
                                           const ModelFilter& filter) {
  AITS_ASSIGN_OR_RETURN(std::vector<StoredModel> rows, backend.Select(filter, false));
  std::vector<ModelRecord> records;
  records.reserve(rows.size());
  for (StoredModel& row : rows) {
    AITS_ASSIGN_OR_RETURN(ModelRecord record, ToRecord(std::move(row), LabelOf(backend)));
    records.push_back(std::move(record));
  }
  return records;
}

// The newest (highest id) model matching `filter`, if any.
Result<std::optional<ModelRecord>> Newest(const RegistryBackend& backend,
                                          const ModelFilter& filter) {
  AITS_ASSIGN_OR_RETURN(std::vector<StoredModel> rows, backend.Select(filter, true));
  if (rows.empty()) return std::optional<ModelRecord>();
  AITS_ASSIGN_OR_RETURN(ModelRecord record, ToRecord(std::move(rows.front()), LabelOf(backend)));
  return std::optional<ModelRecord>(std::move(record));
}

Result<ModelRecord> ById(const RegistryBackend& backend, int64_t id) {
  AITS_ASSIGN_OR_RETURN(std::optional<ModelRecord> record, Newest(backend, {.id = id}));
  if (!record) return NotFound(LabelOf(backend) + ": no model with id #" + std::to_string(id));
  return std::move(*record);
}

std::string Describe(const ModelRecord& r) {
  return "model #" + std::to_string(r.id) + " " + r.name + "@" + std::to_string(r.version);
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

// Names and kinds become part of a file name and of Find references, hence the narrow alphabet.
Status ValidateToken(std::string_view field, std::string_view value, size_t max_size) {
  if (value.empty()) return InvalidArgument("model metadata: " + std::string(field) + " is empty");
  if (value.size() > max_size) {
    return InvalidArgument("model metadata: " + std::string(field) + " " + Quote(value) +
                           " is longer than " + std::to_string(max_size) + " characters");
  }
  if (value.front() == '.') {
    return InvalidArgument("model metadata: " + std::string(field) + " " + Quote(value) +
                           " starts with '.'");
  }
  for (char c : value) {
    if (!IsNameChar(c)) {
      return InvalidArgument("model metadata: " + std::string(field) + " " + Quote(value) +
                             " has a character other than letters, digits, '_', '-', '.'");
    }
  }
  return Status::Ok();
}

// Every value of metrics.<section> must be a number, so a typo fails at Register rather than at
// the first promotion.
Status ValidateMetricSection(const nlohmann::json& metrics, const char* section, bool required) {
  const auto it = metrics.find(section);
  if (it == metrics.end()) {
    if (!required) return Status::Ok();
    return InvalidArgument(std::string("model metadata: metrics has no \"") + section +
                           "\" object (metrics = " + DumpJson(metrics) + ")");
  }
  if (!it->is_object()) {
    return InvalidArgument(std::string("model metadata: metrics.") + section +
                           " is not an object: " + DumpJson(*it));
  }
  for (const auto& [key, value] : it->items()) {
    if (!value.is_number()) {
      return InvalidArgument(std::string("model metadata: metrics.") + section + "." + key +
                             " is not a number: " + DumpJson(value));
    }
  }
  return Status::Ok();
}

Status ValidateMetadata(const ModelMetadata& m) {
  AITS_RETURN_IF_ERROR(ValidateToken("name", m.name, 100));
  if (m.name == "latest") {
    return InvalidArgument("model metadata: name \"latest\" is reserved (a Find reference)");
  }
  AITS_RETURN_IF_ERROR(ValidateToken("kind", m.kind, 50));
  if (m.feature_set_hash.empty()) {
    return InvalidArgument("model metadata for " + m.name + ": feature_set_hash is empty");
  }
  if (m.train_begin > m.train_end) {
    return InvalidArgument("model metadata for " + m.name + ": train_begin " +
                           FormatIso8601(m.train_begin) + " is after train_end " +
                           FormatIso8601(m.train_end));
  }
  if (!m.params.is_object()) {
    return InvalidArgument("model metadata for " + m.name +
                           ": params is not a JSON object: " + DumpJson(m.params));
  }
  if (!m.metrics.is_object()) {
    return InvalidArgument("model metadata for " + m.name +
                           ": metrics is not a JSON object: " + DumpJson(m.metrics));
  }
  Status status = ValidateMetricSection(m.metrics, "validation", /*required=*/true);
  if (status.ok()) status = ValidateMetricSection(m.metrics, "baseline", /*required=*/false);
  return status.WithContext("model " + m.name);
}

std::string ChecksumText(std::string_view bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "fnv1a64:%016llx",
                static_cast<unsigned long long>(Fnv1a64(bytes)));
  return buf;
}

bool ParseInt64(std::string_view text, int64_t& out) {
  if (text.empty()) return false;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace

Result<GateDecision> EvaluateGate(const nlohmann::json& metrics, const PromotionGate& gate,
                                  std::string_view what) {
  const std::string who(what);
  if (gate.metric.empty()) return InvalidArgument(who + ": promotion gate has an empty metric");
  if (!std::isfinite(gate.threshold)) {
    return InvalidArgument(who + ": promotion gate threshold for " + gate.metric +
                           " is not finite: " + FormatNumber(gate.threshold));
  }
  if (!std::isfinite(gate.min_improvement_over_baseline) ||
      gate.min_improvement_over_baseline < 0) {
    return InvalidArgument(who + ": promotion gate min_improvement_over_baseline for " +
                           gate.metric + " must be finite and >= 0, got " +
                           FormatNumber(gate.min_improvement_over_baseline));
  }
  if (gate.record != "validation" && gate.record != "shadow") {
    return InvalidArgument(who + ": promotion gate record \"" + gate.record +
                           "\" is neither validation nor shadow");
  }
  const bool shadow = gate.record == "shadow";
  if (!metrics.is_object()) {
    return InvalidArgument(who + ": metrics is not a JSON object: " + DumpJson(metrics));
  }
  const std::string path = "metrics." + gate.record;
  const auto section = metrics.find(gate.record);
  if (section == metrics.end() || !section->is_object()) {
    return InvalidArgument(who + ": metrics has no \"" + gate.record + "\" object" +
                           (shadow ? " (no shadow trial recorded)" : "") +
                           " (metrics = " + DumpJson(metrics) + ")");
  }
  const auto value_it = section->find(gate.metric);
  if (value_it == section->end()) {
    std::string have;
    for (const auto& [key, unused] : section->items()) {
      (void)unused;
      have += (have.empty() ? "" : ", ") + key;
    }
    return InvalidArgument(
        who + ": " + path + " has no \"" + gate.metric +
        "\", which the promotion gate needs (it has: " + (have.empty() ? "nothing" : have) + ")");
  }
  if (!value_it->is_number() || !std::isfinite(value_it->get<double>())) {
    return InvalidArgument(who + ": " + path + "." + gate.metric +
                           " is not a finite number: " + DumpJson(*value_it));
  }
  if (shadow) {
    // A trial cut short, or one too small, says too little to promote on.
    const std::string state = section->value("state", "");
    const uint64_t calls = section->value("calls", uint64_t{0});
    if (state != "complete" || calls < gate.min_calls) {
      GateDecision short_trial;
      short_trial.reason = "the shadow trial is " + (state.empty() ? "unknown" : state) + " with " +
                           std::to_string(calls) + " calls (the gate needs a complete one with " +
                           std::to_string(gate.min_calls) + ")";
      return short_trial;
    }
  }
  const double value = value_it->get<double>();
  const bool higher = gate.higher_is_better;
  const char* better = higher ? ">" : "<";
  const auto is_better = [higher](double a, double b) { return higher ? a > b : a < b; };

  GateDecision decision;
  decision.reason = gate.metric + " " + FormatNumber(value);
  if (!is_better(value, gate.threshold)) {
    decision.reason += std::string(" not ") + better + " threshold " + FormatNumber(gate.threshold);
    return decision;
  }
  decision.reason += std::string(" ") + better + " threshold " + FormatNumber(gate.threshold);

  // The baseline of a shadow record is the production model on the same bars.
  std::optional<double> baseline;
  const nlohmann::json& holder = shadow ? *section : metrics;
  const std::string baseline_key = shadow ? "production" : "baseline";
  const std::string baseline_path = shadow ? path + ".production" : "metrics.baseline";
  const auto baseline_section = holder.find(baseline_key);
  if (baseline_section != holder.end()) {
    if (!baseline_section->is_object()) {
      return InvalidArgument(who + ": " + baseline_path +
                             " is not an object: " + DumpJson(*baseline_section));
    }
    const auto b = baseline_section->find(gate.metric);
    if (b != baseline_section->end()) {
      if (!b->is_number() || !std::isfinite(b->get<double>())) {
        return InvalidArgument(who + ": " + baseline_path + "." + gate.metric +
                               " is not a finite number: " + DumpJson(*b));
      }
      baseline = b->get<double>();
    }
  }
  if (!baseline) {
    if (gate.require_baseline) {
      decision.reason +=
          " but " + baseline_path + " has no " + gate.metric + " (the gate requires one)";
      return decision;
    }
    decision.reason += " (no baseline " + gate.metric + " to compare with)";
    decision.passed = true;
    return decision;
  }

  const double margin = gate.min_improvement_over_baseline;
  const double improvement = higher ? value - *baseline : *baseline - value;
  // The tolerance lets "better by exactly the margin" in decimal pass despite binary rounding
  // (0.563 - 0.553 is a hair under 0.01 in doubles).
  const double tolerance = 1e-12 * std::max(1.0, std::abs(margin));
  const bool beats_baseline = improvement > 0 && improvement + tolerance >= margin;
  std::string baseline_text = (shadow ? "production " : "baseline ") + FormatNumber(*baseline);
  if (margin > 0) baseline_text += std::string(higher ? " + " : " - ") + FormatNumber(margin);
  if (beats_baseline) {
    decision.reason += std::string(" and ") + better + " " + baseline_text;
    decision.passed = true;
  } else {
    decision.reason += std::string(" but not ") + better + " " + baseline_text;
  }
  return decision;
}

ModelRegistry::ModelRegistry(std::unique_ptr<internal::RegistryBackend> backend)
    : backend_(std::move(backend)) {}

ModelRegistry::ModelRegistry(ModelRegistry&&) noexcept = default;
ModelRegistry& ModelRegistry::operator=(ModelRegistry&&) noexcept = default;
ModelRegistry::~ModelRegistry() = default;

Result<ModelRegistry> ModelRegistry::Open(const std::string& location, bool create) {
  std::unique_ptr<internal::RegistryBackend> backend;
  if (pg::IsPostgresUri(location)) {
    AITS_ASSIGN_OR_RETURN(backend, internal::OpenPgBackend(location, create));
  } else {
    AITS_ASSIGN_OR_RETURN(backend, internal::OpenSqliteBackend(location, create));
  }
  return ModelRegistry(std::move(backend));
}

void ModelRegistry::SetClock(const Clock* clock) { clock_ = clock; }

Timestamp ModelRegistry::Now() const {
  if (clock_ != nullptr) return clock_->Now();
  return WallClock().Now();
}

const std::string& ModelRegistry::dir() const { return backend_->location(); }

const std::string& ModelRegistry::db_path() const { return backend_->db_path(); }

std::string ModelRegistry::Label() const { return LabelOf(*backend_); }

std::string ModelRegistry::AbsolutePath(const ModelRecord& record) const {
  return dir() + "/" + record.path;
}

Result<ModelRecord> ModelRegistry::Register(const ModelMetadata& metadata,
                                            std::string_view model_bytes) {
  AITS_RETURN_IF_ERROR(ValidateMetadata(metadata));
  RegistryBackend& backend = *backend_;
  ModelRecord record;
  const auto write = [&]() -> Status {
    // Under the write lock versions grow with ids, so the newest row of the name has the highest
    // version (and UNIQUE (name, version) refuses a duplicate whatever happens).
    AITS_ASSIGN_OR_RETURN(std::optional<ModelRecord> newest,
                          Newest(backend, {.name = metadata.name}));
    ModelRecord row;
    static_cast<ModelMetadata&>(row) = metadata;
    row.version = newest ? newest->version + 1 : 1;
    row.status = ModelStatus::kCandidate;
    row.code_version = std::string(CodeVersion());
    row.created_at = Now();
    row.path = "models/" + metadata.name + "-v" + std::to_string(row.version) + "-" +
               metadata.kind + ".bin";
    row.sha256_or_fnv = ChecksumText(model_bytes);
    row.size_bytes = model_bytes.size();
    AITS_ASSIGN_OR_RETURN(const int64_t id, backend.Insert(ToStored(row), model_bytes));
    AITS_RETURN_IF_ERROR(backend.AppendEvent(
        id, {row.created_at.ns, "register",
             "candidate " + metadata.name + "@" + std::to_string(row.version) + " (" +
                 metadata.kind + ", feature set " + Quote(metadata.feature_set_version) + " hash " +
                 metadata.feature_set_hash + ", " + std::to_string(model_bytes.size()) +
                 " bytes, code " + row.code_version + ")"}));
    AITS_ASSIGN_OR_RETURN(record, ById(backend, id));
    return Status::Ok();
  };
  AITS_RETURN_IF_ERROR(backend.Write(write));
  return record;
}

Result<GateDecision> ModelRegistry::Evaluate(int64_t id, const PromotionGate& gate) const {
  AITS_ASSIGN_OR_RETURN(ModelRecord record, ById(*backend_, id));
  return EvaluateGate(record.metrics, gate, Label() + ": " + Describe(record));
}

Result<GateDecision> ModelRegistry::Promote(int64_t id, const PromotionGate& gate) {
  RegistryBackend& backend = *backend_;
  GateDecision decision;
  const auto write = [&]() -> Status {
    AITS_ASSIGN_OR_RETURN(ModelRecord record, ById(backend, id));
    const std::string who = Label() + ": " + Describe(record);
    if (record.status == ModelStatus::kProduction) {
      return FailedPrecondition(who + " is already in production");
    }
    AITS_ASSIGN_OR_RETURN(decision, EvaluateGate(record.metrics, gate, who));
    const Timestamp now = Now();
    if (!decision.passed) {
      const ModelStatus after =
          record.status == ModelStatus::kCandidate ? ModelStatus::kRejected : record.status;
      if (after != record.status) AITS_RETURN_IF_ERROR(backend.SetStatus(id, after));
      return backend.AppendEvent(
          id,
          {now.ns, "reject", decision.reason + " (stays " + std::string(ToString(after)) + ")"});
    }
    AITS_ASSIGN_OR_RETURN(
        std::optional<ModelRecord> previous,
        Newest(backend, {.name = record.name, .status = ModelStatus::kProduction}));
    if (previous) {
      AITS_RETURN_IF_ERROR(backend.SetStatus(previous->id, ModelStatus::kArchived));
      AITS_RETURN_IF_ERROR(backend.AppendEvent(
          previous->id, {now.ns, "archive", "replaced in production by " + Describe(record)}));
    }
    AITS_RETURN_IF_ERROR(backend.SetStatus(id, ModelStatus::kProduction));
    std::string reason = decision.reason;
    if (previous) reason += "; replaces " + Describe(*previous);
    return backend.AppendEvent(id, {now.ns, "promote", reason});
  };
  AITS_RETURN_IF_ERROR(backend.Write(write));
  return decision;
}

std::string DescribeShadow(const nlohmann::json& record) {
  if (!record.is_object()) return "? trial (not a record: " + DumpJson(record).substr(0, 60) + ")";
  const auto field = [](const nlohmann::json& side, const char* key) -> std::string {
    const auto it = side.find(key);
    if (it == side.end()) return "?";
    return it->is_string() ? it->get<std::string>() : DumpJson(*it);
  };
  const auto figure = [](const nlohmann::json& side, const char* key) -> std::string {
    if (!side.is_object()) return "n/a";
    const auto it = side.find(key);
    return it != side.end() && it->is_number() ? FormatNumber(it->get<double>()) : "n/a";
  };
  const nlohmann::json production = record.value("production", nlohmann::json());
  // RecordShadow requires no "bars"; a record without it reads 0 bars.
  return field(record, "state") + " trial over " +
         DumpJson(record.value("bars", nlohmann::json(0))) + " bars, " + field(record, "calls") +
         " calls: accuracy " + figure(record, "accuracy") + " against production's " +
         figure(production, "accuracy");
}

Status ModelRegistry::RecordShadow(int64_t id, const nlohmann::json& record) {
  const std::string where = Label() + ": model #" + std::to_string(id);
  if (!record.is_object() || !record.contains("state") || !record["state"].is_string() ||
      !record.contains("calls") || !record["calls"].is_number_integer() || record["calls"] < 0 ||
      !record.contains("production") || !record["production"].is_object()) {
    return InvalidArgument(where +
                           ": a shadow record needs \"state\", \"calls\" and a "
                           "\"production\" object, got " +
                           DumpJson(record));
  }
  RegistryBackend& backend = *backend_;
  const auto write = [&]() -> Status {
    AITS_ASSIGN_OR_RETURN(ModelRecord model, ById(backend, id));
    const std::string who = Label() + ": " + Describe(model);
    if (model.status == ModelStatus::kProduction) {
      return FailedPrecondition(who + " is in production: it has no shadow trial");
    }
    nlohmann::json metrics = model.metrics;
    metrics["shadow"] = record;
    AITS_RETURN_IF_ERROR(backend.SetMetrics(id, metrics.dump()));
    return backend.AppendEvent(id, {Now().ns, "shadow", DescribeShadow(record)});
  };
  return backend.Write(write);
}

Result<ModelRecord> ModelRegistry::Find(std::string_view ref) const {
  const RegistryBackend& backend = *backend_;
  const std::string where = Label() + ": ";
  const auto not_found = [&](std::string detail) {
    return NotFound(where + "no model matches " + Quote(ref) + " (" + detail + ")");
  };
  const auto bad_ref = [&](std::string detail) {
    return InvalidArgument(where + "model reference " + Quote(ref) + " is malformed: " + detail +
                           " (use latest, NAME, NAME@VERSION or #ID)");
  };
  if (ref.empty()) return bad_ref("empty");

  if (ref == "latest") {
    for (ModelStatus status : {ModelStatus::kProduction, ModelStatus::kCandidate}) {
      AITS_ASSIGN_OR_RETURN(std::optional<ModelRecord> r, Newest(backend, {.status = status}));
      if (r) return std::move(*r);
    }
    return not_found("no production or candidate model of any name");
  }

  if (ref.front() == '#') {
    int64_t id = 0;
    if (!ParseInt64(ref.substr(1), id) || id <= 0)
      return bad_ref("the id is not a positive number");
    AITS_ASSIGN_OR_RETURN(std::optional<ModelRecord> r, Newest(backend, {.id = id}));
    if (r) return std::move(*r);
    return not_found("no model with that id");
  }

  const size_t at = ref.find('@');
  const std::string name(ref.substr(0, at));
  for (char c : name) {
    if (!IsNameChar(c)) return bad_ref("the name has a character other than [A-Za-z0-9_.-]");
  }
  if (name.empty()) return bad_ref("the name is empty");

  if (at != std::string_view::npos) {
    int64_t version = 0;
    if (!ParseInt64(ref.substr(at + 1), version) || version <= 0) {
      return bad_ref("the version is not a positive number");
    }
    AITS_ASSIGN_OR_RETURN(std::optional<ModelRecord> r,
                          Newest(backend, {.name = name, .version = version}));
    if (r) return std::move(*r);
    AITS_ASSIGN_OR_RETURN(std::vector<ModelRecord> all, List(name));
    if (all.empty()) return not_found("no model named " + name);
    return not_found(name + " has versions 1.." + std::to_string(all.back().version));
  }

  for (ModelStatus status : {ModelStatus::kProduction, ModelStatus::kCandidate}) {
    AITS_ASSIGN_OR_RETURN(std::optional<ModelRecord> r,
                          Newest(backend, {.name = name, .status = status}));
    if (r) return std::move(*r);
  }
  AITS_ASSIGN_OR_RETURN(std::vector<ModelRecord> all, List(name));
  if (all.empty()) return not_found("no model named " + name);
  return not_found(name +
                   " has no production or candidate model; its archived and rejected versions "
                   "are reachable as " +
                   name + "@VERSION");
}

Result<std::vector<ModelRecord>> ModelRegistry::List(std::optional<std::string> name) const {
  return SelectAll(*backend_, {.name = std::move(name)});
}

Result<std::string> ModelRegistry::LoadBytes(const ModelRecord& record,
                                             std::string_view expected_feature_set_hash) const {
  const RegistryBackend& backend = *backend_;
  AITS_ASSIGN_OR_RETURN(ModelRecord stored, ById(backend, record.id));
  const std::string who = Label() + ": " + Describe(stored);
  if (stored.feature_set_hash != expected_feature_set_hash) {
    AITS_ASSIGN_OR_RETURN(
        std::optional<ModelRecord> same_hash,
        Newest(backend, {.feature_set_hash = std::string(expected_feature_set_hash)}));
    const std::string expected_version =
        same_hash ? "version " + Quote(same_hash->feature_set_version) + " per the registry"
                  : "a version no registered model was trained on";
    return FailedPrecondition(who + " (" + stored.kind + ") was trained on feature set version " +
                              Quote(stored.feature_set_version) + " with hash " +
                              stored.feature_set_hash + ", but the caller's feature set has hash " +
                              std::string(expected_feature_set_hash) + " (" + expected_version +
                              "); refusing to load a model on features it was not trained on");
  }
  Result<std::string> bytes = backend.ReadBytes(stored);
  if (!bytes.ok()) return bytes.status().WithContext(who);
  const std::string what = backend.BytesLocation(stored);
  if (bytes->size() != stored.size_bytes) {
    return DataLoss(who + ": " + what + " has " + std::to_string(bytes->size()) +
                    " bytes but the registry recorded " + std::to_string(stored.size_bytes) +
                    " (truncated or replaced)");
  }
  const std::string checksum = ChecksumText(*bytes);
  if (checksum != stored.sha256_or_fnv) {
    return DataLoss(who + ": " + what + " has checksum " + checksum +
                    " but the registry recorded " + stored.sha256_or_fnv + " (corrupt)");
  }
  return bytes;
}

Result<std::vector<std::string>> ModelRegistry::Events(int64_t id) const {
  AITS_RETURN_IF_ERROR(ById(*backend_, id).status());
  AITS_ASSIGN_OR_RETURN(std::vector<internal::StoredEvent> events, backend_->Events(id));
  std::vector<std::string> lines;
  lines.reserve(events.size());
  for (const internal::StoredEvent& event : events) {
    lines.push_back(FormatIso8601(Timestamp{event.time_ns}) + " " + event.action + ": " +
                    event.reason);
  }
  return lines;
}

}  // namespace aits::ml
