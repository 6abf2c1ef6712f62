// Model registry: every trained model, what it was trained on, how good it was, and which one
// serves.
//
// Two stores behind one behaviour (docs/ml.md, "Registry and gate"). A registry location is either
//   - a directory (embedded): `registry.sqlite` (WAL mode) and
//   `models/<name>-v<version>-<kind>.bin`,
//     one file per registered model; or
//   - a PostgreSQL database, "postgresql://user@host:port/db?..." (any libpq URI; "postgres://"
//     too): tables registry_models (model bytes as bytea) and registry_events, created and
//     migrated at open through aits_schema_migrations (component "registry"), so the services
//     share one registry on one server (docs/services.md, "Stores").
// Validation, versions, the gate, status changes, references and the load checks are the same
// code for both (internal/registry_backend.h). Each row records the model's family name, kind,
// feature-set version and hash, training range, parameters, metrics (JSON text), data source,
// parent (e.g. the ensemble that owns a member), the code version that built it (CodeVersion()),
// its bytes' size and FNV-1a-64 checksum, and a status:
//
//   candidate ──Promote, gate passed──► production ──a newer one promoted──► archived
//       │                                   ▲
//       └──Promote, gate failed──► rejected ┘ (a later Promote with a gate it passes)
//
// Promotion policy. A model becomes production only through Promote(), which evaluates a
// PromotionGate on metrics.validation (strictly better than the threshold, and better than
// metrics.baseline[metric] by at least min_improvement_over_baseline). When it passes, the model
// becomes production and the previous production model of the same name becomes archived, in one
// transaction, so a name never has two production models. When it fails, a candidate becomes
// `rejected` (so that Find("NAME") never falls back to a model that failed its gate); an archived
// or rejected model keeps its status. Archived and rejected models may be promoted again (a
// rollback, or a gate chosen anew) and pass through the same gate. Every decision is appended to
// the events table with the time, model id, action and reason (Events()).
//
// Loading. LoadBytes() refuses a model whose feature-set hash differs from the caller's (the live
// feature set must be the one the model was trained on: no train/serve skew), and checks the
// bytes' size and checksum against the row before returning them.
//
// Schema versioning: in a directory, PRAGMA user_version holds the schema version
// (kSchemaVersion); on PostgreSQL, aits_schema_migrations does. Open() creates the schema in an
// empty database and refuses one written by a newer schema.
//
// Errors name the registry (directory, or postgresql://host:port/db — never a password), the
// model (#id name@version) and the field; SQLite and PostgreSQL errors carry the server's message.
// A PostgreSQL server that cannot be reached, or is lost, is Unavailable (the next call connects
// again); one that refuses the user or database is FailedPrecondition. Nothing here throws.
//
// Threads: thread-compatible. One ModelRegistry object must not be used from two threads at
// once; give each thread its own Open(). Separate processes may share one registry: writes are
// serialized (SQLite: BEGIN IMMEDIATE with a busy timeout; PostgreSQL: a transaction-level
// advisory lock), and in a directory model files are written atomically (temporary file +
// rename) before their row is committed.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "aits/core/clock.h"
#include "aits/core/status.h"
#include "aits/core/time.h"

namespace aits::ml {

namespace internal {
class RegistryBackend;
}  // namespace internal

// The code version recorded with every registered model: `git describe --always --dirty` taken
// when CMake configured the build (or "<project version>-unknown" outside a git checkout).
std::string_view CodeVersion();

enum class ModelStatus { kCandidate, kProduction, kArchived, kRejected };

// "candidate", "production", "archived", "rejected".
std::string_view ToString(ModelStatus status);
// Inverse of ToString; anything else is InvalidArgument naming the text.
Result<ModelStatus> ParseModelStatus(std::string_view text);

struct ModelMetadata {
  // Family, e.g. "gbpusd_m1". Letters, digits, '_', '-', '.'; not starting with '.'; at most 100
  // characters; not "latest" (a Find reference).
  std::string name;
  // "ensemble", "xgboost", "lstm", ... Same character rules as name, at most 50 characters.
  std::string kind;
  std::string feature_set_version;
  std::string feature_set_hash;      // required (non-empty)
  Timestamp train_begin, train_end;  // train_begin <= train_end
  nlohmann::json params = nlohmann::json::object();
  // Must be an object holding "validation": {metric: number, ...}; may hold "baseline":
  // {metric: number, ...} (the score of the baseline the model has to beat on the same data).
  nlohmann::json metrics = nlohmann::json::object();
  std::string data_source;
  std::string parent;  // e.g. the ensemble that owns a member; may be empty
};

struct ModelRecord : ModelMetadata {
  int64_t id = 0;
  int version = 0;  // 1, 2, ... per name
  ModelStatus status = ModelStatus::kCandidate;
  std::string code_version;
  Timestamp created_at;
  // "models/<name>-v<version>-<kind>.bin": the file, relative to the registry directory; on
  // PostgreSQL the same name for the bytes in the row.
  std::string path;
  std::string sha256_or_fnv;  // "fnv1a64:<16 hex digits>" of the model's bytes
  uint64_t size_bytes = 0;
};

struct PromotionGate {
  // Which record the gate reads: "validation" (metrics.validation, the baseline from
  // metrics.baseline) or "shadow" (metrics.shadow, the candidate's live record beside production,
  // the baseline from metrics.shadow.production: the production model over the same bars; see
  // RecordShadow and ml/shadow.h).
  std::string record = "validation";
  // With record "shadow": the trial must be complete, with at least this many calls.
  size_t min_calls = 0;
  std::string metric = "auc";
  bool higher_is_better = true;
  double threshold = 0.5;  // the metric must be strictly better than this
  // ... and better than metrics.baseline[metric] by at least this (strictly better when 0).
  double min_improvement_over_baseline = 0.0;
  // When metrics.baseline[metric] is absent: fail the gate (true) or skip the baseline comparison
  // and say so in the reason (false).
  bool require_baseline = false;
};

struct GateDecision {
  bool passed = false;
  // e.g. "auc 0.531 > threshold 0.52 and > baseline 0.507 + 0.005"
  std::string reason;
};

// Pure gate evaluation (no registry needed). InvalidArgument, naming `what`, when the gate's
// record (metrics.validation, metrics.shadow) or the gate's metric in it is missing or not a
// finite number, when the baseline's metric exists but is not a number, or when the gate itself
// is malformed. A shadow record that is not complete, or has fewer calls than min_calls, fails the
// gate (its reason says so).
Result<GateDecision> EvaluateGate(const nlohmann::json& metrics, const PromotionGate& gate,
                                  std::string_view what = "model");

// One line of a shadow record (metrics.shadow, as RecordShadow keeps it): "complete trial over
// 900 bars, 240 calls: accuracy 0.54 against production's 0.51". The "shadow" event's reason,
// and what the Telegram bot shows; a field that is missing or of another type reads "?" (a
// figure: "n/a"), since a stored record may have been edited.
std::string DescribeShadow(const nlohmann::json& record);

class ModelRegistry {
 public:
  static constexpr int kSchemaVersion = 1;

  // Opens the registry at `location`: a directory, or a "postgresql://" / "postgres://" URI.
  // Directory: with create, makes `dir`, `dir/models` and `registry.sqlite` when missing; without
  // it, a missing directory or database is NotFound. A path that exists but is not a directory, a
  // database that cannot be opened or set to WAL mode, or a schema version newer than
  // kSchemaVersion is an error naming the path.
  // PostgreSQL: with create, creates or migrates the registry's tables; without it, a database
  // without them is NotFound (an older schema is migrated either way). Unavailable when the server
  // cannot be reached, FailedPrecondition when it refuses the user or database or holds a newer
  // schema, InvalidArgument for a URI with a '#' (that is an event store's session).
  static Result<ModelRegistry> Open(const std::string& location, bool create = true);

  ModelRegistry(ModelRegistry&&) noexcept;
  ModelRegistry& operator=(ModelRegistry&&) noexcept;
  ModelRegistry(const ModelRegistry&) = delete;
  ModelRegistry& operator=(const ModelRegistry&) = delete;
  ~ModelRegistry();

  // The source of created_at and event times; defaults to the wall clock. Borrowed: `clock` must
  // outlive this registry (nullptr restores the wall clock).
  void SetClock(const Clock* clock);

  // The directory, or "postgresql://host:port/db".
  const std::string& dir() const;
  // The SQLite file, or dir() on PostgreSQL.
  const std::string& db_path() const;
  // dir() + "/" + record.path: the model file, or on PostgreSQL a name for its bytes in messages.
  std::string AbsolutePath(const ModelRecord& record) const;

  // Validates the metadata (see ModelMetadata; InvalidArgument naming the field), then, holding
  // the write lock, takes version = 1 + the highest version of that name, stores the bytes
  // (directory: writes models/<name>-v<version>-<kind>.bin atomically; PostgreSQL: in the row),
  // and commits the row with status candidate and a "register" event. If the commit fails a file
  // may stay behind without a row; a later Register of the same version overwrites it. Returns
  // the stored record.
  Result<ModelRecord> Register(const ModelMetadata& metadata, std::string_view model_bytes);

  // Evaluates the gate on model `id`'s stored metrics without changing anything. NotFound for an
  // unknown id; InvalidArgument as EvaluateGate.
  Result<GateDecision> Evaluate(int64_t id, const PromotionGate& gate) const;

  // Evaluates the gate and applies the decision in one transaction (see the promotion policy
  // above); the decision is returned, passed or not, and appended to the events table. Errors
  // (unknown id, a missing metric, a model already in production: FailedPrecondition) change
  // nothing and record no event.
  Result<GateDecision> Promote(int64_t id, const PromotionGate& gate);

  // Keeps a shadow trial's record (ml::ToJson(ShadowRecord): the candidate's figures, "calls",
  // "state", and "production": the production model's over the same bars) as metrics.shadow of
  // model `id`, replacing an earlier one, and appends a "shadow" event summing it up. The model
  // must not be in production (FailedPrecondition); NotFound for an unknown id; InvalidArgument
  // for a record that is not an object with "state", "calls" and a "production" object.
  Status RecordShadow(int64_t id, const nlohmann::json& record);

  // ref forms:
  //   "latest"  the newest (highest id) production model of any name; if there is none, the
  //             newest candidate of any name.
  //   "NAME"    the production model of NAME; if there is none, its newest candidate.
  //   "NAME@3"  version 3 of NAME, whatever its status.
  //   "#12"     id 12, whatever its status.
  // Archived and rejected models are reachable only by "NAME@v" and "#id". NotFound names the
  // ref and the registry; a malformed ref ("x@", "#abc", "") is InvalidArgument.
  Result<ModelRecord> Find(std::string_view ref) const;

  // Every model (or every model of `name`), ordered by id.
  Result<std::vector<ModelRecord>> List(std::optional<std::string> name = {}) const;

  // The bytes of the model file. The row stored under record.id is authoritative (the caller's
  // copy of hash, path, size and checksum is not trusted). FailedPrecondition when the stored
  // feature-set hash differs from `expected_feature_set_hash`, naming both hashes and the
  // feature-set versions (the expected hash's version is looked up among registered models);
  // NotFound when the file is missing; DataLoss naming the file (or the row) when the bytes' size
  // or checksum differs from the row.
  Result<std::string> LoadBytes(const ModelRecord& record,
                                std::string_view expected_feature_set_hash) const;

  // Audit lines of model `id`, oldest first: "<ISO-8601 time> <action>: <reason>". Actions:
  // register, shadow, promote, reject, archive. NotFound for an unknown id.
  Result<std::vector<std::string>> Events(int64_t id) const;

 private:
  explicit ModelRegistry(std::unique_ptr<internal::RegistryBackend> backend);

  Timestamp Now() const;
  // "model registry <dir()>", the start of every message.
  std::string Label() const;

  std::unique_ptr<internal::RegistryBackend> backend_;
  const Clock* clock_ = nullptr;  // nullptr: wall clock
};

}  // namespace aits::ml
