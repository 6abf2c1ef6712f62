// The embedded registry: a directory holding registry.sqlite (WAL) and models/*.bin.
#include <filesystem>
#include <memory>
#include <system_error>
#include <utility>

#include "aits/ml/internal/registry_backend.h"
#include "aits/models/serialize.h"
#include "aits/persistence/sqlite.h"

namespace aits::ml::internal {
namespace {

namespace fs = std::filesystem;

using Stmt = sqlite::Statement;
using Txn = sqlite::Transaction;

constexpr char kDbFile[] = "registry.sqlite";
constexpr char kModelsDir[] = "models";
constexpr int kBusyTimeoutMs = 10'000;

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

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

class SqliteBackend final : public RegistryBackend {
 public:
  SqliteBackend(std::string dir, std::string db_path, sqlite::Database db)
      : dir_(std::move(dir)), db_path_(std::move(db_path)), db_(std::move(db)) {}

  const std::string& location() const override { return dir_; }
  const std::string& db_path() const override { return db_path_; }

  Status Write(const std::function<Status()>& body) override {
    // BEGIN IMMEDIATE: the write lock before the first read, so a read-then-write cannot race
    // another process (the busy timeout makes it wait).
    AITS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(db_));
    AITS_RETURN_IF_ERROR(body());
    return txn.Commit();
  }

  Result<std::vector<StoredModel>> Select(const ModelFilter& filter,
                                          bool newest_only) const override {
    std::string sql = std::string("SELECT ") + kModelColumns + " FROM models WHERE 1 = 1";
    if (filter.id) sql += " AND id = ?";
    if (filter.name) sql += " AND name = ?";
    if (filter.version) sql += " AND version = ?";
    if (filter.status) sql += " AND status = ?";
    if (filter.feature_set_hash) sql += " AND feature_set_hash = ?";
    sql += newest_only ? " ORDER BY id DESC LIMIT 1" : " ORDER BY id";
    AITS_ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, sql));
    if (filter.id) stmt.Int(*filter.id);
    if (filter.name) stmt.Text(*filter.name);
    if (filter.version) stmt.Int(*filter.version);
    if (filter.status) stmt.Text(ToString(*filter.status));
    if (filter.feature_set_hash) stmt.Text(*filter.feature_set_hash);
    std::vector<StoredModel> rows;
    while (true) {
      AITS_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      StoredModel& m = rows.emplace_back();
      m.id = stmt.ColumnInt(0);
      m.name = stmt.ColumnText(1);
      m.version = stmt.ColumnInt(2);
      m.kind = stmt.ColumnText(3);
      m.status = stmt.ColumnText(4);
      m.feature_set_version = stmt.ColumnText(5);
      m.feature_set_hash = stmt.ColumnText(6);
      m.train_begin_ns = stmt.ColumnInt(7);
      m.train_end_ns = stmt.ColumnInt(8);
      m.params = stmt.ColumnText(9);
      m.metrics = stmt.ColumnText(10);
      m.data_source = stmt.ColumnText(11);
      m.parent = stmt.ColumnText(12);
      m.code_version = stmt.ColumnText(13);
      m.created_at_ns = stmt.ColumnInt(14);
      m.path = stmt.ColumnText(15);
      m.checksum = stmt.ColumnText(16);
      m.size_bytes = stmt.ColumnInt(17);
    }
    return rows;
  }

  Result<int64_t> Insert(const StoredModel& row, std::string_view bytes) override {
    std::error_code ec;
    fs::create_directories(fs::path(dir_) / kModelsDir, ec);
    if (ec) {
      return IoError("model registry " + dir_ + ": cannot create " + kModelsDir +
                     "/: " + ec.message());
    }
    // The file first: a committed row always has its file; a failed commit leaves at most an
    // orphan file that the next Register of this version overwrites.
    AITS_RETURN_IF_ERROR(WriteFileAtomic((fs::path(dir_) / row.path).string(), bytes)
                             .WithContext("model registry: writing " + row.name + "@" +
                                          std::to_string(row.version)));
    AITS_ASSIGN_OR_RETURN(
        Stmt insert,
        Stmt::Prepare(db_,
                      "INSERT INTO models (name, version, kind, status, feature_set_version, "
                      "feature_set_hash, train_begin_ns, train_end_ns, params, metrics, "
                      "data_source, parent, code_version, created_at_ns, path, checksum, "
                      "size_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    insert.Text(row.name)
        .Int(row.version)
        .Text(row.kind)
        .Text(row.status)
        .Text(row.feature_set_version)
        .Text(row.feature_set_hash)
        .Int(row.train_begin_ns)
        .Int(row.train_end_ns)
        .Text(row.params)
        .Text(row.metrics)
        .Text(row.data_source)
        .Text(row.parent)
        .Text(row.code_version)
        .Int(row.created_at_ns)
        .Text(row.path)
        .Text(row.checksum)
        .Int(row.size_bytes);
    AITS_RETURN_IF_ERROR(insert.Run());
    return db_.LastInsertRowId();
  }

  Status SetStatus(int64_t id, ModelStatus status) override {
    AITS_ASSIGN_OR_RETURN(Stmt stmt,
                          Stmt::Prepare(db_, "UPDATE models SET status = ? WHERE id = ?"));
    return stmt.Text(ToString(status)).Int(id).Run();
  }

  Status SetMetrics(int64_t id, const std::string& metrics) override {
    AITS_ASSIGN_OR_RETURN(Stmt stmt,
                          Stmt::Prepare(db_, "UPDATE models SET metrics = ? WHERE id = ?"));
    return stmt.Text(metrics).Int(id).Run();
  }

  Status AppendEvent(int64_t model_id, const StoredEvent& event) override {
    AITS_ASSIGN_OR_RETURN(
        Stmt stmt,
        Stmt::Prepare(
            db_, "INSERT INTO events (time_ns, model_id, action, reason) VALUES (?, ?, ?, ?)"));
    return stmt.Int(event.time_ns).Int(model_id).Text(event.action).Text(event.reason).Run();
  }

  Result<std::vector<StoredEvent>> Events(int64_t model_id) const override {
    AITS_ASSIGN_OR_RETURN(
        Stmt stmt,
        Stmt::Prepare(db_,
                      "SELECT time_ns, action, reason FROM events WHERE model_id = ? ORDER BY id"));
    stmt.Int(model_id);
    std::vector<StoredEvent> events;
    while (true) {
      AITS_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      events.push_back({stmt.ColumnInt(0), stmt.ColumnText(1), stmt.ColumnText(2)});
    }
    return events;
  }

  Result<std::string> ReadBytes(const ModelRecord& stored) const override {
    // The path comes from the database; refuse anything that would leave the registry dir.
    const fs::path relative(stored.path);
    bool inside = !stored.path.empty() && relative.is_relative() &&
                  stored.path.rfind(std::string(kModelsDir) + "/", 0) == 0;
    for (const auto& part : relative) {
      if (part == "..") inside = false;
    }
    if (!inside) {
      return DataLoss(db_path_ + " gives the path " + Quote(stored.path) + ", outside models/");
    }
    const std::string path = (fs::path(dir_) / stored.path).string();
    std::error_code ec;
    if (!fs::exists(path, ec)) return NotFound(BytesLocation(stored) + " does not exist");
    return ReadFile(path);
  }

  std::string BytesLocation(const ModelRecord& record) const override {
    return "model file " + (fs::path(dir_) / record.path).string();
  }

 private:
  std::string dir_;
  std::string db_path_;
  sqlite::Database db_;
};

}  // namespace

Result<std::unique_ptr<RegistryBackend>> OpenSqliteBackend(const std::string& dir, bool create) {
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
      AITS_RETURN_IF_ERROR(db.Exec(
          ("PRAGMA user_version = " + std::to_string(ModelRegistry::kSchemaVersion)).c_str(),
          "setting the schema version"));
      version = ModelRegistry::kSchemaVersion;
    }
    AITS_RETURN_IF_ERROR(txn.Commit());
  }
  if (version != ModelRegistry::kSchemaVersion) {
    return FailedPrecondition(
        "model registry " + db_path + " has schema version " + std::to_string(version) +
        "; this build reads version " + std::to_string(ModelRegistry::kSchemaVersion) +
        (version > ModelRegistry::kSchemaVersion ? " (written by a newer AITS)" : ""));
  }
  std::unique_ptr<RegistryBackend> backend =
      std::make_unique<SqliteBackend>(dir, db_path, std::move(db));
  return backend;
}

}  // namespace aits::ml::internal
