// The registry on PostgreSQL: rows and model bytes (bytea) in one database, so one server holds
// the whole registry and every process that reaches it sees the same models.
#include <iterator>
#include <memory>
#include <utility>

#include "aits/core/hash.h"
#include "aits/ml/internal/registry_backend.h"
#include "aits/persistence/postgres.h"

namespace aits::ml::internal {
namespace {

constexpr std::string_view kComponent = "registry";

// Never edit a migration that has shipped: add the next one. The tables are prefixed because the
// event store (component "event_store") may share the database and owns `events`.
constexpr pg::Migration kMigrations[] = {
    {1, "models and events",
     "CREATE TABLE registry_models(id bigserial PRIMARY KEY, name text NOT NULL,"
     " version bigint NOT NULL, kind text NOT NULL, status text NOT NULL"
     " CHECK (status IN ('candidate', 'production', 'archived', 'rejected')),"
     " feature_set_version text NOT NULL, feature_set_hash text NOT NULL,"
     " train_begin_ns bigint NOT NULL, train_end_ns bigint NOT NULL, params text NOT NULL,"
     " metrics text NOT NULL, data_source text NOT NULL, parent text NOT NULL,"
     " code_version text NOT NULL, created_at_ns bigint NOT NULL, path text NOT NULL,"
     " checksum text NOT NULL, size_bytes bigint NOT NULL, bytes bytea NOT NULL,"
     " UNIQUE (name, version));"
     // A name never has two production models, whatever the code above does.
     "CREATE UNIQUE INDEX registry_models_one_production ON registry_models(name)"
     " WHERE status = 'production';"
     "CREATE TABLE registry_events(id bigserial PRIMARY KEY, time_ns bigint NOT NULL,"
     " model_id bigint NOT NULL REFERENCES registry_models(id), action text NOT NULL,"
     " reason text NOT NULL);"
     "CREATE INDEX registry_events_by_model ON registry_events(model_id, id);"},
};

// Every write transaction takes this transaction-level advisory lock first. Row locks cannot do
// it: two promotions of different models of one name lock different rows, and "the production
// model of this name" may not exist yet to be locked; a serializable transaction would make the
// loser retry. One lock per database serialises writes as SQLite's BEGIN IMMEDIATE does (a
// registry changes a few times a day), and the server frees it if the holder dies.
const int64_t kWriteLock = static_cast<int64_t>(Fnv1a64("aits-model-registry"));

std::string Text(const pg::Rows& rows, int row, int column) {
  return std::string(rows.Bytes(row, column));
}

class PgBackend final : public RegistryBackend {
 public:
  PgBackend(std::string uri, std::unique_ptr<pg::Connection> conn)
      : uri_(std::move(uri)),
        location_("postgresql://" + conn->where()),
        conn_(std::move(conn)),
        breaker_("model registry " + location_, pg::StoreBreaker(), SystemWallClock()) {}

  const std::string& location() const override { return location_; }
  const std::string& db_path() const override { return location_; }

  // The whole transaction is made again after a retryable failure (pg::StoreRetry), `body`
  // included, which reads what it needs inside it. Its COMMIT is sent once: when its answer is
  // lost, whether the write stands is unknown, and a second one could make it twice.
  Status Write(const std::function<Status()>& body) override {
    Status committed = Status::Ok();
    const Status status = CallWithRetry(breaker_, pg::StoreRetry(), [&]() -> Status {
      AITS_ASSIGN_OR_RETURN(pg::Connection * conn, Conn());
      // READ COMMITTED whatever the server's default: every statement after the lock must see
      // what the previous holder committed.
      AITS_RETURN_IF_ERROR(
          conn->ExecScript("BEGIN ISOLATION LEVEL READ COMMITTED", "begin a write"));
      in_write_ = true;
      const pg::Param lock[] = {pg::Param::Int64(kWriteLock)};
      Status outcome = conn->Exec("SELECT pg_advisory_xact_lock($1::bigint)", lock,
                                  "take the registry's write lock")
                           .status();
      if (outcome.ok()) outcome = body();
      if (outcome.ok() && conn->in_failed_transaction()) {
        outcome = Internal(location_ + ": a statement of the write failed unreported");
      }
      if (outcome.ok()) {
        committed = conn->ExecScript("COMMIT", "commit the write");
      } else if (conn->healthy()) {
        (void)conn->ExecScript("ROLLBACK", "roll back the write");
      }
      in_write_ = false;
      return outcome;
    });
    AITS_RETURN_IF_ERROR(status);
    if (!committed.ok()) {
      return committed.WithContext(location_ +
                                   ": the write may or may not stand (look before repeating it)");
    }
    return Status::Ok();
  }

  Result<std::vector<StoredModel>> Select(const ModelFilter& filter,
                                          bool newest_only) const override {
    std::string sql = std::string("SELECT ") + kModelColumns + " FROM registry_models WHERE true";
    std::vector<pg::Param> params;
    const auto where = [&](const char* column, const char* type, pg::Param param) {
      params.push_back(param);
      sql += std::string(" AND ") + column + " = $" + std::to_string(params.size()) + "::" + type;
    };
    if (filter.id) where("id", "bigint", pg::Param::Int64(*filter.id));
    if (filter.name) where("name", "text", pg::Param::Bytes(*filter.name));
    if (filter.version) where("version", "bigint", pg::Param::Int64(*filter.version));
    if (filter.status) where("status", "text", pg::Param::Bytes(ToString(*filter.status)));
    if (filter.feature_set_hash) {
      where("feature_set_hash", "text", pg::Param::Bytes(*filter.feature_set_hash));
    }
    sql += newest_only ? " ORDER BY id DESC LIMIT 1" : " ORDER BY id";
    AITS_ASSIGN_OR_RETURN(pg::Rows rows, Read([&](pg::Connection& conn) {
                            return conn.Exec(sql, params, "select models");
                          }));
    std::vector<StoredModel> models;
    for (int row = 0; row < rows.size(); ++row) {
      StoredModel& m = models.emplace_back();
      AITS_ASSIGN_OR_RETURN(m.id, rows.Int64(row, 0));
      m.name = Text(rows, row, 1);
      AITS_ASSIGN_OR_RETURN(m.version, rows.Int64(row, 2));
      m.kind = Text(rows, row, 3);
      m.status = Text(rows, row, 4);
      m.feature_set_version = Text(rows, row, 5);
      m.feature_set_hash = Text(rows, row, 6);
      AITS_ASSIGN_OR_RETURN(m.train_begin_ns, rows.Int64(row, 7));
      AITS_ASSIGN_OR_RETURN(m.train_end_ns, rows.Int64(row, 8));
      m.params = Text(rows, row, 9);
      m.metrics = Text(rows, row, 10);
      m.data_source = Text(rows, row, 11);
      m.parent = Text(rows, row, 12);
      m.code_version = Text(rows, row, 13);
      AITS_ASSIGN_OR_RETURN(m.created_at_ns, rows.Int64(row, 14));
      m.path = Text(rows, row, 15);
      m.checksum = Text(rows, row, 16);
      AITS_ASSIGN_OR_RETURN(m.size_bytes, rows.Int64(row, 17));
    }
    return models;
  }

  Result<int64_t> Insert(const StoredModel& row, std::string_view bytes) override {
    AITS_ASSIGN_OR_RETURN(pg::Connection * conn, Conn());
    const pg::Param params[] = {pg::Param::Bytes(row.name),
                                pg::Param::Int64(row.version),
                                pg::Param::Bytes(row.kind),
                                pg::Param::Bytes(row.status),
                                pg::Param::Bytes(row.feature_set_version),
                                pg::Param::Bytes(row.feature_set_hash),
                                pg::Param::Int64(row.train_begin_ns),
                                pg::Param::Int64(row.train_end_ns),
                                pg::Param::Bytes(row.params),
                                pg::Param::Bytes(row.metrics),
                                pg::Param::Bytes(row.data_source),
                                pg::Param::Bytes(row.parent),
                                pg::Param::Bytes(row.code_version),
                                pg::Param::Int64(row.created_at_ns),
                                pg::Param::Bytes(row.path),
                                pg::Param::Bytes(row.checksum),
                                pg::Param::Int64(row.size_bytes),
                                pg::Param::Bytes(bytes)};
    AITS_ASSIGN_OR_RETURN(
        pg::Rows rows,
        conn->Exec("INSERT INTO registry_models(name, version, kind, status, feature_set_version,"
                   " feature_set_hash, train_begin_ns, train_end_ns, params, metrics, data_source,"
                   " parent, code_version, created_at_ns, path, checksum, size_bytes, bytes)"
                   " VALUES($1::text, $2::bigint, $3::text, $4::text, $5::text, $6::text,"
                   " $7::bigint, $8::bigint, $9::text, $10::text, $11::text, $12::text,"
                   " $13::text, $14::bigint, $15::text, $16::text, $17::bigint, $18::bytea)"
                   " RETURNING id",
                   params, "insert " + row.name + "@" + std::to_string(row.version)));
    return rows.Int64(0, 0);
  }

  Status SetStatus(int64_t id, ModelStatus status) override {
    AITS_ASSIGN_OR_RETURN(pg::Connection * conn, Conn());
    const pg::Param params[] = {pg::Param::Bytes(ToString(status)), pg::Param::Int64(id)};
    return conn
        ->Exec("UPDATE registry_models SET status = $1::text WHERE id = $2::bigint", params,
               "set the status of model #" + std::to_string(id))
        .status();
  }

  Status SetMetrics(int64_t id, const std::string& metrics) override {
    AITS_ASSIGN_OR_RETURN(pg::Connection * conn, Conn());
    const pg::Param params[] = {pg::Param::Bytes(metrics), pg::Param::Int64(id)};
    return conn
        ->Exec("UPDATE registry_models SET metrics = $1::text WHERE id = $2::bigint", params,
               "set the metrics of model #" + std::to_string(id))
        .status();
  }

  Status AppendEvent(int64_t model_id, const StoredEvent& event) override {
    AITS_ASSIGN_OR_RETURN(pg::Connection * conn, Conn());
    const pg::Param params[] = {pg::Param::Int64(event.time_ns), pg::Param::Int64(model_id),
                                pg::Param::Bytes(event.action), pg::Param::Bytes(event.reason)};
    return conn
        ->Exec(
            "INSERT INTO registry_events(time_ns, model_id, action, reason)"
            " VALUES($1::bigint, $2::bigint, $3::text, $4::text)",
            params, "record a " + event.action + " event")
        .status();
  }

  Result<std::vector<StoredEvent>> Events(int64_t model_id) const override {
    const pg::Param params[] = {pg::Param::Int64(model_id)};
    AITS_ASSIGN_OR_RETURN(pg::Rows rows, Read([&](pg::Connection& conn) {
                            return conn.Exec(
                                "SELECT time_ns, action, reason FROM registry_events"
                                " WHERE model_id = $1::bigint ORDER BY id",
                                params, "read the events of model #" + std::to_string(model_id));
                          }));
    std::vector<StoredEvent> events;
    for (int row = 0; row < rows.size(); ++row) {
      StoredEvent& event = events.emplace_back();
      AITS_ASSIGN_OR_RETURN(event.time_ns, rows.Int64(row, 0));
      event.action = Text(rows, row, 1);
      event.reason = Text(rows, row, 2);
    }
    return events;
  }

  Result<std::string> ReadBytes(const ModelRecord& stored) const override {
    const pg::Param params[] = {pg::Param::Int64(stored.id)};
    AITS_ASSIGN_OR_RETURN(pg::Rows rows, Read([&](pg::Connection& conn) {
                            return conn.Exec(
                                "SELECT bytes FROM registry_models WHERE id = $1::bigint", params,
                                "read the bytes of model #" + std::to_string(stored.id));
                          }));
    if (rows.size() == 0 || rows.is_null(0, 0)) {
      return NotFound(BytesLocation(stored) + " do not exist");
    }
    return std::string(rows.Bytes(0, 0));
  }

  std::string BytesLocation(const ModelRecord& record) const override {
    return "model bytes of " + record.path + " in " + location_;
  }

 private:
  // The connection, opened again when the server was lost since the last call (a restarted
  // server, a dropped link): a registry object may outlive an outage. Never inside Write, where
  // the statements after a lost connection would run outside the transaction.
  Result<pg::Connection*> Conn() const {
    if (conn_->healthy()) return conn_.get();
    if (in_write_) {
      return Unavailable("model registry " + location_ +
                         ": the connection was lost during a write (rolled back)");
    }
    AITS_ASSIGN_OR_RETURN(conn_, pg::Connection::Open(uri_));
    return conn_.get();
  }

  // One statement that reads: retried on a new connection while the breaker admits it; inside a
  // write, made once (it belongs to the write's transaction, which Write makes again whole).
  Result<pg::Rows> Read(const std::function<Result<pg::Rows>(pg::Connection&)>& call) const {
    Result<pg::Rows> rows = pg::Rows(nullptr);
    const auto attempt = [&]() -> Status {
      AITS_ASSIGN_OR_RETURN(pg::Connection * conn, Conn());
      rows = call(*conn);
      return rows.status();
    };
    const Status status =
        in_write_ ? attempt() : CallWithRetry(breaker_, pg::StoreRetry(), attempt);
    AITS_RETURN_IF_ERROR(status);
    return rows;
  }

  std::string uri_;  // as given: may hold a password, so never in a message
  std::string location_;
  mutable std::unique_ptr<pg::Connection> conn_;
  bool in_write_ = false;
  mutable CircuitBreaker breaker_;
};

}  // namespace

Result<std::unique_ptr<RegistryBackend>> OpenPgBackend(const std::string& uri, bool create) {
  if (uri.find('#') != std::string::npos) {
    // '#session' belongs to event store locations; a registry is the whole database.
    return InvalidArgument(
        "model registry location has a '#': expected "
        "postgresql://[user[:password]@]host[:port]/database[?options], without '#session'");
  }
  Result<std::unique_ptr<pg::Connection>> opened = pg::Connection::Open(uri);
  // Its message names host, port and database; the URI itself may hold a password.
  if (!opened.ok()) return opened.status().WithContext("model registry");
  std::unique_ptr<pg::Connection> conn = std::move(opened).value();
  const std::string label = "model registry postgresql://" + conn->where();
  Result<int> version = pg::SchemaVersion(*conn, kComponent);
  if (!version.ok()) return version.status().WithContext(label);
  if (*version == 0 && !create) {
    return NotFound(label + " does not exist (the database has no registry tables)");
  }
  // An older schema is brought up to date even without `create`: migrations run at start. A
  // current one is left alone, so that a user who may only read opens it too (Migrate creates
  // aits_schema_migrations if missing, which needs the right to create tables).
  if (*version != static_cast<int>(std::size(kMigrations))) {
    version = pg::Migrate(*conn, kComponent, kMigrations);
    if (!version.ok()) return version.status().WithContext(label);
  }
  std::unique_ptr<RegistryBackend> backend = std::make_unique<PgBackend>(uri, std::move(conn));
  return backend;
}

}  // namespace aits::ml::internal
