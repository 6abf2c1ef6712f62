#include "aits/ml/registry.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <utility>

#include "aits/models/serialize.h"

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

namespace fs = std::filesystem;

constexpr char kDbFile[] = "registry.sqlite";
constexpr char kModelsDir[] = "models";
constexpr int kBusyTimeoutMs = 10'000;

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

using Stmt = sqlite::Statement;
using Txn = sqlite::Transaction;

constexpr char kSchema[] = R"sql(
CREATE TABLE models (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  kind TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('candidate', 'production', 'archived', 'rejected')),
  feature_set_version TEXT NOT NULL,
  feature_set_hash TEXT NOT NULL,
  train_begin_ns INTEGER NOT NULL,
  train_end_ns INTEGER NOT NULL,
  params TEXT NOT NULL,
  metrics TEXT NOT NULL,
  data_source TEXT NOT NULL,
  parent TEXT NOT NULL,
  code_version TEXT NOT NULL,
  created_at_ns INTEGER NOT NULL,
  path TEXT NOT NULL,
  checksum TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  UNIQUE (name, version)
);
-- A name never has two production models, whatever the code above does.
CREATE UNIQUE INDEX models_one_production ON models (name) WHERE status = 'production';
CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ns INTEGER NOT NULL,
  model_id INTEGER NOT NULL REFERENCES models (id),
  action TEXT NOT NULL,
  reason TEXT NOT NULL
);
CREATE INDEX events_by_model ON events (model_id, id);
)sql";

constexpr char kSelectModels[] =
    "SELECT id, name, version, kind, status, feature_set_version, feature_set_hash, "
    "train_begin_ns, train_end_ns, params, metrics, data_source, parent, code_version, "
    "created_at_ns, path, checksum, size_bytes FROM models ";

// `label` names the registry in errors ("model registry PATH").
Result<ModelRecord> ReadRecord(const Stmt& stmt, const std::string& label) {
  ModelRecord r;
  r.id = stmt.ColumnInt(0);
  r.name = stmt.ColumnText(1);
  r.version = static_cast<int>(stmt.ColumnInt(2));
  r.kind = stmt.ColumnText(3);
  const std::string where = label + ": model #" + std::to_string(r.id);
  const std::string status_text = stmt.ColumnText(4);
  Result<ModelStatus> status = ParseModelStatus(status_text);
  if (!status.ok()) return DataLoss(where + ": column status: " + status.status().message());
  r.status = *status;
  r.feature_set_version = stmt.ColumnText(5);
  r.feature_set_hash = stmt.ColumnText(6);
  r.train_begin = Timestamp{stmt.ColumnInt(7)};
  r.train_end = Timestamp{stmt.ColumnInt(8)};
  r.params = nlohmann::json::parse(stmt.ColumnText(9), nullptr, /*allow_exceptions=*/false);
  if (r.params.is_discarded()) return DataLoss(where + ": column params is not valid JSON");
  r.metrics = nlohmann::json::parse(stmt.ColumnText(10), nullptr, /*allow_exceptions=*/false);
  if (r.metrics.is_discarded()) return DataLoss(where + ": column metrics is not valid JSON");
  r.data_source = stmt.ColumnText(11);
  r.parent = stmt.ColumnText(12);
  r.code_version = stmt.ColumnText(13);
  r.created_at = Timestamp{stmt.ColumnInt(14)};
  r.path = stmt.ColumnText(15);
  r.sha256_or_fnv = stmt.ColumnText(16);
  const int64_t size = stmt.ColumnInt(17);
  if (size < 0) return DataLoss(where + ": column size_bytes is negative: " + std::to_string(size));
  r.size_bytes = static_cast<uint64_t>(size);
  return r;
}

Result<std::vector<ModelRecord>> ReadRecords(Stmt& stmt, const std::string& label) {
  std::vector<ModelRecord> records;
  while (true) {
    AITS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    AITS_ASSIGN_OR_RETURN(ModelRecord record, ReadRecord(stmt, label));
    records.push_back(std::move(record));
  }
  return records;
}

// Zero or one record from `where` (a clause after kSelectModels) with one bound parameter set.
template <typename Bind>
Result<std::optional<ModelRecord>> QueryOne(const sqlite::Database& db, std::string_view where,
                                            Bind bind) {
  AITS_ASSIGN_OR_RETURN(Stmt stmt,
                        Stmt::Prepare(db, std::string(kSelectModels) + std::string(where)));
  bind(stmt);
  AITS_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::optional<ModelRecord>();
  AITS_ASSIGN_OR_RETURN(ModelRecord record, ReadRecord(stmt, db.label()));
  return std::optional<ModelRecord>(std::move(record));
}

Result<ModelRecord> QueryById(const sqlite::Database& db, int64_t id) {
  AITS_ASSIGN_OR_RETURN(std::optional<ModelRecord> record,
                        QueryOne(db, "WHERE id = ?", [&](Stmt& s) { s.Int(id); }));
  if (!record) {
    return NotFound(db.label() + ": no model with id #" + std::to_string(id));
  }
  return std::move(*record);
}

std::string Describe(const ModelRecord& r) {
  return "model #" + std::to_string(r.id) + " " + r.name + "@" + std::to_string(r.version);
}

Status AppendEvent(const sqlite::Database& db, Timestamp time, int64_t model_id,
                   std::string_view action, std::string_view reason) {
  AITS_ASSIGN_OR_RETURN(
      Stmt stmt,
      Stmt::Prepare(db,
                    "INSERT INTO events (time_ns, model_id, action, reason) VALUES (?, ?, ?, ?)"));
  return stmt.Int(time.ns).Int(model_id).Text(action).Text(reason).Run();
}

Status UpdateStatus(const sqlite::Database& db, int64_t id, ModelStatus status) {
  AITS_ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db, "UPDATE models SET status = ? WHERE id = ?"));
  return stmt.Text(ToString(status)).Int(id).Run();
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

// A record's path comes from the database; refuse anything that would leave the registry dir.
Status ValidateStoredPath(const ModelRecord& r, const std::string& db_path) {
  const fs::path p(r.path);
  bool ok = !r.path.empty() && p.is_relative() && r.path.rfind("models/", 0) == 0;
  for (const auto& part : p) {
    if (part == "..") ok = false;
  }
  if (ok) return Status::Ok();
  return DataLoss("model registry " + db_path + ": " + Describe(r) + " has path " + Quote(r.path) +
                  " outside models/");
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
  if (!metrics.is_object()) {
    return InvalidArgument(who + ": metrics is not a JSON object: " + DumpJson(metrics));
  }
  const auto validation = metrics.find("validation");
  if (validation == metrics.end() || !validation->is_object()) {
    return InvalidArgument(
        who + ": metrics has no \"validation\" object (metrics = " + DumpJson(metrics) + ")");
  }
  const auto value_it = validation->find(gate.metric);
  if (value_it == validation->end()) {
    std::string have;
    for (const auto& [key, unused] : validation->items()) {
      (void)unused;
      have += (have.empty() ? "" : ", ") + key;
    }
    return InvalidArgument(
        who + ": metrics.validation has no \"" + gate.metric +
        "\", which the promotion gate needs (it has: " + (have.empty() ? "nothing" : have) + ")");
  }
  if (!value_it->is_number() || !std::isfinite(value_it->get<double>())) {
    return InvalidArgument(who + ": metrics.validation." + gate.metric +
                           " is not a finite number: " + DumpJson(*value_it));
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

  std::optional<double> baseline;
  const auto baseline_section = metrics.find("baseline");
  if (baseline_section != metrics.end()) {
    if (!baseline_section->is_object()) {
      return InvalidArgument(who +
                             ": metrics.baseline is not an object: " + DumpJson(*baseline_section));
    }
    const auto b = baseline_section->find(gate.metric);
    if (b != baseline_section->end()) {
      if (!b->is_number() || !std::isfinite(b->get<double>())) {
        return InvalidArgument(who + ": metrics.baseline." + gate.metric +
                               " is not a finite number: " + DumpJson(*b));
      }
      baseline = b->get<double>();
    }
  }
  if (!baseline) {
    if (gate.require_baseline) {
      decision.reason += " but metrics.baseline has no " + gate.metric + " (the gate requires one)";
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
  std::string baseline_text = "baseline " + FormatNumber(*baseline);
  if (margin > 0) baseline_text += std::string(higher ? " + " : " - ") + FormatNumber(margin);
  if (beats_baseline) {
    decision.reason += std::string(" and ") + better + " " + baseline_text;
    decision.passed = true;
  } else {
    decision.reason += std::string(" but not ") + better + " " + baseline_text;
  }
  return decision;
}

ModelRegistry::ModelRegistry(std::string dir, std::string db_path, sqlite::Database db)
    : dir_(std::move(dir)), db_path_(std::move(db_path)), db_(std::move(db)) {}

ModelRegistry::~ModelRegistry() = default;

Result<ModelRegistry> ModelRegistry::Open(const std::string& dir, bool create) {
  if (dir.empty()) return InvalidArgument("model registry: the directory path is empty");
  std::error_code ec;
  const fs::file_status st = fs::status(dir, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return IoError("model registry " + dir + ": " + ec.message());
  }
  if (fs::exists(st) && !fs::is_directory(st)) {
    return FailedPrecondition("model registry " + dir + " exists but is not a directory");
  }
  const std::string db_path = (fs::path(dir) / kDbFile).string();
  if (!create) {
    if (!fs::exists(st)) return NotFound("model registry " + dir + " does not exist");
    if (!fs::exists(db_path, ec)) {
      return NotFound("model registry " + dir + " has no " + kDbFile + " (" + db_path + ")");
    }
  } else {
    const fs::path models = fs::path(dir) / kModelsDir;
    fs::create_directories(models, ec);
    if (ec) {
      return IoError("model registry " + dir + ": cannot create " + models.string() + ": " +
                     ec.message());
    }
  }

  AITS_ASSIGN_OR_RETURN(
      sqlite::Database db,
      sqlite::Database::Open(db_path, {.create = create, .busy_timeout_ms = kBusyTimeoutMs},
                             "model registry " + db_path));
  {
    AITS_ASSIGN_OR_RETURN(Stmt wal, Stmt::Prepare(db, "PRAGMA journal_mode = WAL"));
    AITS_ASSIGN_OR_RETURN(bool row, wal.Step());
    const std::string mode = row ? wal.ColumnText(0) : "";
    if (mode != "wal") {
      return IoError("model registry " + db_path + ": cannot switch to WAL mode (journal_mode is " +
                     Quote(mode) + ")");
    }
  }
  // A registry changes a few times a day; pay for full durability.
  AITS_RETURN_IF_ERROR(db.Exec("PRAGMA synchronous = FULL", "setting synchronous"));
  AITS_RETURN_IF_ERROR(db.Exec("PRAGMA foreign_keys = ON", "enabling foreign keys"));

  const auto read_user_version = [&]() -> Result<int64_t> {
    AITS_ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db, "PRAGMA user_version"));
    AITS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    return row ? stmt.ColumnInt(0) : int64_t{0};
  };
  AITS_ASSIGN_OR_RETURN(int64_t version, read_user_version());
  if (version == 0) {
    // Re-read under the write lock: another process may be creating the schema right now.
    AITS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db));
    AITS_ASSIGN_OR_RETURN(version, read_user_version());
    if (version == 0) {
      AITS_ASSIGN_OR_RETURN(Stmt tables, Stmt::Prepare(db, "SELECT count(*) FROM sqlite_master"));
      AITS_ASSIGN_OR_RETURN(bool row, tables.Step());
      if (row && tables.ColumnInt(0) != 0) {
        return FailedPrecondition("model registry " + db_path +
                                  " is an SQLite database with tables but no registry schema "
                                  "version (PRAGMA user_version = 0); not a model registry");
      }
      AITS_RETURN_IF_ERROR(db.Exec(kSchema, "creating the schema"));
      AITS_RETURN_IF_ERROR(
          db.Exec(("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str(),
                  "setting the schema version"));
      version = kSchemaVersion;
    }
    AITS_RETURN_IF_ERROR(txn.Commit());
  }
  if (version != kSchemaVersion) {
    return FailedPrecondition("model registry " + db_path + " has schema version " +
                              std::to_string(version) + "; this build reads version " +
                              std::to_string(kSchemaVersion) +
                              (version > kSchemaVersion ? " (written by a newer AITS)" : ""));
  }
  return ModelRegistry(dir, db_path, std::move(db));
}

void ModelRegistry::SetClock(const Clock* clock) { clock_ = clock; }

Timestamp ModelRegistry::Now() const {
  if (clock_ != nullptr) return clock_->Now();
  return WallClock().Now();
}

std::string ModelRegistry::AbsolutePath(const ModelRecord& record) const {
  return (fs::path(dir_) / record.path).string();
}

Result<ModelRecord> ModelRegistry::Register(const ModelMetadata& metadata,
                                            std::string_view model_bytes) {
  AITS_RETURN_IF_ERROR(ValidateMetadata(metadata));
  const sqlite::Database& db = db_;
  AITS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db));

  AITS_ASSIGN_OR_RETURN(
      Stmt max_version,
      Stmt::Prepare(db, "SELECT COALESCE(MAX(version), 0) FROM models WHERE name = ?"));
  max_version.Text(metadata.name);
  AITS_ASSIGN_OR_RETURN(bool row, max_version.Step());
  const int64_t version = (row ? max_version.ColumnInt(0) : 0) + 1;

  const std::string rel_path = std::string(kModelsDir) + "/" + metadata.name + "-v" +
                               std::to_string(version) + "-" + metadata.kind + ".bin";
  const std::string abs_path = (fs::path(dir_) / rel_path).string();
  std::error_code ec;
  fs::create_directories(fs::path(dir_) / kModelsDir, ec);
  if (ec) {
    return IoError("model registry " + dir_ + ": cannot create " + kModelsDir +
                   "/: " + ec.message());
  }
  // The file first: a committed row always has its file; a failed commit leaves at most an
  // orphan file that the next Register of this version overwrites.
  AITS_RETURN_IF_ERROR(
      WriteFileAtomic(abs_path, model_bytes)
          .WithContext("model registry: writing " + metadata.name + "@" + std::to_string(version)));

  const Timestamp now = Now();
  const std::string checksum = ChecksumText(model_bytes);
  AITS_ASSIGN_OR_RETURN(
      Stmt insert,
      Stmt::Prepare(db,
                    "INSERT INTO models (name, version, kind, status, feature_set_version, "
                    "feature_set_hash, train_begin_ns, train_end_ns, params, metrics, "
                    "data_source, parent, code_version, created_at_ns, path, checksum, "
                    "size_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  insert.Text(metadata.name)
      .Int(version)
      .Text(metadata.kind)
      .Text(ToString(ModelStatus::kCandidate))
      .Text(metadata.feature_set_version)
      .Text(metadata.feature_set_hash)
      .Int(metadata.train_begin.ns)
      .Int(metadata.train_end.ns)
      .Text(DumpJson(metadata.params))
      .Text(DumpJson(metadata.metrics))
      .Text(metadata.data_source)
      .Text(metadata.parent)
      .Text(CodeVersion())
      .Int(now.ns)
      .Text(rel_path)
      .Text(checksum)
      .Int(static_cast<int64_t>(model_bytes.size()));
  AITS_RETURN_IF_ERROR(insert.Run());
  const int64_t id = db.LastInsertRowId();
  AITS_RETURN_IF_ERROR(AppendEvent(
      db, now, id, "register",
      "candidate " + metadata.name + "@" + std::to_string(version) + " (" + metadata.kind +
          ", feature set " + Quote(metadata.feature_set_version) + " hash " +
          metadata.feature_set_hash + ", " + std::to_string(model_bytes.size()) + " bytes, code " +
          std::string(CodeVersion()) + ")"));
  AITS_ASSIGN_OR_RETURN(ModelRecord record, QueryById(db, id));
  AITS_RETURN_IF_ERROR(txn.Commit());
  return record;
}

Result<GateDecision> ModelRegistry::Evaluate(int64_t id, const PromotionGate& gate) const {
  AITS_ASSIGN_OR_RETURN(ModelRecord record, QueryById(db_, id));
  return EvaluateGate(record.metrics, gate, "model registry " + dir_ + ": " + Describe(record));
}

Result<GateDecision> ModelRegistry::Promote(int64_t id, const PromotionGate& gate) {
  const sqlite::Database& db = db_;
  AITS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db));
  AITS_ASSIGN_OR_RETURN(ModelRecord record, QueryById(db, id));
  const std::string who = "model registry " + dir_ + ": " + Describe(record);
  if (record.status == ModelStatus::kProduction) {
    return FailedPrecondition(who + " is already in production");
  }
  AITS_ASSIGN_OR_RETURN(GateDecision decision, EvaluateGate(record.metrics, gate, who));
  const Timestamp now = Now();
  if (decision.passed) {
    AITS_ASSIGN_OR_RETURN(std::optional<ModelRecord> previous,
                          QueryOne(db, "WHERE name = ? AND status = 'production'",
                                   [&](Stmt& s) { s.Text(record.name); }));
    if (previous) {
      AITS_RETURN_IF_ERROR(UpdateStatus(db, previous->id, ModelStatus::kArchived));
      AITS_RETURN_IF_ERROR(AppendEvent(db, now, previous->id, "archive",
                                       "replaced in production by " + Describe(record)));
    }
    AITS_RETURN_IF_ERROR(UpdateStatus(db, id, ModelStatus::kProduction));
    std::string reason = decision.reason;
    if (previous) reason += "; replaces " + Describe(*previous);
    AITS_RETURN_IF_ERROR(AppendEvent(db, now, id, "promote", reason));
  } else {
    if (record.status == ModelStatus::kCandidate) {
      AITS_RETURN_IF_ERROR(UpdateStatus(db, id, ModelStatus::kRejected));
    }
    AITS_RETURN_IF_ERROR(AppendEvent(
        db, now, id, "reject",
        decision.reason + " (stays " +
            std::string(ToString(record.status == ModelStatus::kCandidate ? ModelStatus::kRejected
                                                                          : record.status)) +
            ")"));
  }
  AITS_RETURN_IF_ERROR(txn.Commit());
  return decision;
}

Result<ModelRecord> ModelRegistry::Find(std::string_view ref) const {
  const sqlite::Database& db = db_;
  const std::string where = "model registry " + dir_ + ": ";
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
      AITS_ASSIGN_OR_RETURN(std::optional<ModelRecord> r,
                            QueryOne(db, "WHERE status = ? ORDER BY id DESC LIMIT 1",
                                     [&](Stmt& s) { s.Text(ToString(status)); }));
      if (r) return std::move(*r);
    }
    return not_found("no production or candidate model of any name");
  }

  if (ref.front() == '#') {
    int64_t id = 0;
    if (!ParseInt64(ref.substr(1), id) || id <= 0)
      return bad_ref("the id is not a positive number");
    AITS_ASSIGN_OR_RETURN(std::optional<ModelRecord> r,
                          QueryOne(db, "WHERE id = ?", [&](Stmt& s) { s.Int(id); }));
    if (r) return std::move(*r);
    return not_found("no model with that id");
  }

  const size_t at = ref.find('@');
  const std::string_view name = ref.substr(0, at);
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
                          QueryOne(db, "WHERE name = ? AND version = ?",
                                   [&](Stmt& s) { s.Text(name).Int(version); }));
    if (r) return std::move(*r);
    AITS_ASSIGN_OR_RETURN(std::vector<ModelRecord> all, List(std::string(name)));
    if (all.empty()) return not_found("no model named " + std::string(name));
    return not_found(std::string(name) + " has versions 1.." + std::to_string(all.back().version));
  }

  for (ModelStatus status : {ModelStatus::kProduction, ModelStatus::kCandidate}) {
    AITS_ASSIGN_OR_RETURN(std::optional<ModelRecord> r,
                          QueryOne(db, "WHERE name = ? AND status = ? ORDER BY id DESC LIMIT 1",
                                   [&](Stmt& s) { s.Text(name).Text(ToString(status)); }));
    if (r) return std::move(*r);
  }
  AITS_ASSIGN_OR_RETURN(std::vector<ModelRecord> all, List(std::string(name)));
  if (all.empty()) return not_found("no model named " + std::string(name));
  return not_found(std::string(name) +
                   " has no production or candidate model; its archived and rejected versions "
                   "are reachable as " +
                   std::string(name) + "@VERSION");
}

Result<std::vector<ModelRecord>> ModelRegistry::List(std::optional<std::string> name) const {
  const std::string sql =
      std::string(kSelectModels) + (name ? "WHERE name = ? ORDER BY id" : "ORDER BY id");
  AITS_ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, sql));
  if (name) stmt.Text(*name);
  return ReadRecords(stmt, db_.label());
}

Result<std::string> ModelRegistry::LoadBytes(const ModelRecord& record,
                                             std::string_view expected_feature_set_hash) const {
  const sqlite::Database& db = db_;
  AITS_ASSIGN_OR_RETURN(ModelRecord stored, QueryById(db, record.id));
  const std::string who = "model registry " + dir_ + ": " + Describe(stored);
  if (stored.feature_set_hash != expected_feature_set_hash) {
    AITS_ASSIGN_OR_RETURN(std::optional<ModelRecord> same_hash,
                          QueryOne(db, "WHERE feature_set_hash = ? ORDER BY id DESC LIMIT 1",
                                   [&](Stmt& s) { s.Text(expected_feature_set_hash); }));
    const std::string expected_version =
        same_hash ? "version " + Quote(same_hash->feature_set_version) + " per the registry"
                  : "a version no registered model was trained on";
    return FailedPrecondition(who + " (" + stored.kind + ") was trained on feature set version " +
                              Quote(stored.feature_set_version) + " with hash " +
                              stored.feature_set_hash + ", but the caller's feature set has hash " +
                              std::string(expected_feature_set_hash) + " (" + expected_version +
                              "); refusing to load a model on features it was not trained on");
  }
  AITS_RETURN_IF_ERROR(ValidateStoredPath(stored, db_path_));
  const std::string path = AbsolutePath(stored);
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return NotFound(who + ": model file " + path + " does not exist");
  }
  AITS_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  if (bytes.size() != stored.size_bytes) {
    return DataLoss(who + ": model file " + path + " has " + std::to_string(bytes.size()) +
                    " bytes but the registry recorded " + std::to_string(stored.size_bytes) +
                    " (truncated or replaced)");
  }
  const std::string checksum = ChecksumText(bytes);
  if (checksum != stored.sha256_or_fnv) {
    return DataLoss(who + ": model file " + path + " has checksum " + checksum +
                    " but the registry recorded " + stored.sha256_or_fnv + " (corrupt)");
  }
  return bytes;
}

Result<std::vector<std::string>> ModelRegistry::Events(int64_t id) const {
  const sqlite::Database& db = db_;
  AITS_RETURN_IF_ERROR(QueryById(db, id).status());
  AITS_ASSIGN_OR_RETURN(
      Stmt stmt,
      Stmt::Prepare(db,
                    "SELECT time_ns, action, reason FROM events WHERE model_id = ? ORDER BY id"));
  stmt.Int(id);
  std::vector<std::string> lines;
  while (true) {
    AITS_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    lines.push_back(FormatIso8601(Timestamp{stmt.ColumnInt(0)}) + " " + stmt.ColumnText(1) + ": " +
                    stmt.ColumnText(2));
  }
  return lines;
}

}  // namespace aits::ml
