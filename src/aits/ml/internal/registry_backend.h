// Where a model registry keeps its rows and model bytes: an embedded directory (SQLite file plus
// model files) or a PostgreSQL database (rows and bytes in one server). Internal to
// aits::ml_registry: ModelRegistry (registry.cc) holds every rule — validation, versions, the
// promotion gate and status changes, reference resolution, the feature-set and checksum checks,
// and the error messages — and a backend only stores and fetches, so both behave the same.
//
// Not thread-safe, like ModelRegistry.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aits/core/status.h"
#include "aits/ml/registry.h"

namespace aits::ml::internal {

// One models row as stored: text for status and JSON, which ModelRegistry parses and checks.
struct StoredModel {
  int64_t id = 0;
  std::string name;
  int64_t version = 0;
  std::string kind;
  std::string status;
  std::string feature_set_version;
  std::string feature_set_hash;
  int64_t train_begin_ns = 0;
  int64_t train_end_ns = 0;
  std::string params;
  std::string metrics;
  std::string data_source;
  std::string parent;
  std::string code_version;
  int64_t created_at_ns = 0;
  std::string path;
  std::string checksum;
  int64_t size_bytes = 0;
};

// The columns of StoredModel in its order, as both backends select them.
inline constexpr char kModelColumns[] =
    "id, name, version, kind, status, feature_set_version, feature_set_hash, train_begin_ns, "
    "train_end_ns, params, metrics, data_source, parent, code_version, created_at_ns, path, "
    "checksum, size_bytes";

// Which rows a Select returns: every field that is set must match.
struct ModelFilter {
  std::optional<int64_t> id;
  std::optional<std::string> name;
  std::optional<int64_t> version;
  std::optional<ModelStatus> status;
  std::optional<std::string> feature_set_hash;
};

struct StoredEvent {
  int64_t time_ns = 0;
  std::string action;
  std::string reason;
};

class RegistryBackend {
 public:
  virtual ~RegistryBackend() = default;

  // The directory, or "postgresql://host:port/db" (never a password): ModelRegistry::dir().
  virtual const std::string& location() const = 0;
  // The SQLite file, or location() again: ModelRegistry::db_path().
  virtual const std::string& db_path() const = 0;

  // Runs `body` inside one transaction that holds the registry's write lock, so that what `body`
  // reads cannot change before it commits (another process's writes wait). Commits when `body`
  // returns Ok, else rolls back and returns its error.
  virtual Status Write(const std::function<Status()>& body) = 0;

  // The matching rows ordered by id; only the newest (highest id) when `newest_only`.
  virtual Result<std::vector<StoredModel>> Select(const ModelFilter& filter,
                                                  bool newest_only) const = 0;
  // Stores the model's bytes and its row (id ignored); returns the new id. Inside Write.
  virtual Result<int64_t> Insert(const StoredModel& row, std::string_view bytes) = 0;
  virtual Status SetStatus(int64_t id, ModelStatus status) = 0;
  virtual Status SetMetrics(int64_t id, const std::string& metrics) = 0;  // JSON text
  virtual Status AppendEvent(int64_t model_id, const StoredEvent& event) = 0;
  // Model `model_id`'s events, oldest first.
  virtual Result<std::vector<StoredEvent>> Events(int64_t model_id) const = 0;

  // The bytes stored for `stored` (a row just read), unchecked: ModelRegistry compares size and
  // checksum. NotFound when they are missing; DataLoss when the row points outside the registry.
  virtual Result<std::string> ReadBytes(const ModelRecord& stored) const = 0;
  // Where `record`'s bytes are, for messages: "model file /dir/models/x.bin" or "model bytes of
  // models/x.bin in postgresql://host:port/db".
  virtual std::string BytesLocation(const ModelRecord& record) const = 0;
};

// The embedded registry in `dir` (docs/ml.md, "Registry and gate"); ModelRegistry::Open documents
// `create` and the errors.
Result<std::unique_ptr<RegistryBackend>> OpenSqliteBackend(const std::string& dir, bool create);
// The registry in the PostgreSQL database of `uri` ("postgresql://user@host:port/db?..."): its
// tables (registry_models, registry_events) are created or migrated at open (component
// "registry" of aits_schema_migrations) when `create`, or when they exist at an older version;
// without `create` a database without them is NotFound.
Result<std::unique_ptr<RegistryBackend>> OpenPgBackend(const std::string& uri, bool create);

}  // namespace aits::ml::internal
