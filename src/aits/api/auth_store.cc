#include "aits/api/auth_store.h"

#include <algorithm>

namespace aits::api {

namespace {

constexpr int kSchemaVersion = 1;

constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE users (
  name TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_ns INTEGER NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  secret_sha256 TEXT NOT NULL UNIQUE,
  created_ns INTEGER NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE refresh_tokens (
  jti TEXT PRIMARY KEY,
  subject TEXT NOT NULL,
  expires_ns INTEGER NOT NULL,
  used INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX refresh_tokens_subject ON refresh_tokens(subject);
CREATE TABLE signing_keys (
  kid TEXT PRIMARY KEY,
  created_ns INTEGER NOT NULL,
  sealed_private_pem TEXT NOT NULL,
  retired INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ns INTEGER NOT NULL,
  actor TEXT NOT NULL,
  role TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  client TEXT NOT NULL,
  request_id TEXT NOT NULL,
  chain_id TEXT NOT NULL,
  status INTEGER NOT NULL,
  detail TEXT NOT NULL
);
-- Append-only: the trail refuses changes and deletions whoever asks.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
)sql";

Status CheckName(std::string_view what, const std::string& name) {
  const bool ok =
      !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' ||
               c == '@' || c == '-';
      });
  if (ok) return Status::Ok();
  return InvalidArgument(std::string(what) + " \"" + name.substr(0, 80) +
                         "\": 1 to 64 letters, digits and . _ @ -");
}

// Runs a prepared statement that changes one row, NotFound naming `what` when none changed.
Status ChangeOne(const sqlite::Database& db, sqlite::Statement& stmt, const std::string& what) {
  AITS_RETURN_IF_ERROR(stmt.Run());
  if (db.Changes() == 0) return NotFound(what + ": not found");
  return Status::Ok();
}

}  // namespace

// A person may not be a notifier: that role reads nothing, and exists so that a program's key
// that posts alerts can do nothing else.
static Status CheckUserRole(Role role) {
  if (role != Role::kNotifier) return Status::Ok();
  return InvalidArgument(
      "role notifier: for an API key of a program that posts alerts (aits api key create "
      "--role notifier), not for a user");
}

// A role as the store wrote it; the least one for anything else (a file edited by hand).
static Role StoredRole(const std::string& text) {
  const Result<Role> role = ParseRole(text);
  return role.ok() ? *role : Role::kViewer;
}

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kTrader:
      return "trader";
    case Role::kAdmin:
      return "admin";
    case Role::kNotifier:
      return "notifier";
  }
  return "viewer";
}

Result<Role> ParseRole(std::string_view text) {
  if (text == "viewer") return Role::kViewer;
  if (text == "trader") return Role::kTrader;
  if (text == "admin") return Role::kAdmin;
  if (text == "notifier") return Role::kNotifier;
  return InvalidArgument("role \"" + std::string(text.substr(0, 40)) +
                         "\": expected viewer, trader, admin or notifier (for an API key)");
}

Result<std::unique_ptr<AuthStore>> AuthStore::Open(const std::string& path, SecretBox box,
                                                   PasswordCost cost) {
  sqlite::OpenOptions options;
  options.create = true;
  AITS_ASSIGN_OR_RETURN(sqlite::Database db,
                        sqlite::Database::Open(path, options, "auth store " + path));
  AITS_RETURN_IF_ERROR(
      db.Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0; "
              "PRAGMA foreign_keys=ON;",
              "settings"));
  std::unique_ptr<AuthStore> store(new AuthStore(std::move(db), path, std::move(box), cost));
  AITS_RETURN_IF_ERROR(store->Migrate());
  return store;
}

AuthStore::AuthStore(sqlite::Database db, std::string path, SecretBox box, PasswordCost cost)
    : db_(std::move(db)),
      path_(std::move(path)),
      box_(std::move(box)),
      cost_(cost),
      sync_thread_([this] { SyncLog(); }) {}

AuthStore::~AuthStore() {
  audit_insert_.reset();  // before the connection it belongs to
  {
    std::lock_guard<std::mutex> lock(sync_mutex_);
    sync_stop_ = true;
  }
  sync_wake_.notify_all();
  sync_thread_.join();
}

void AuthStore::SyncLog() {
  // Checkpoints from a connection of its own: a passive checkpoint fsyncs the log, copies it
  // into the database and fsyncs that, without blocking the store's connection, which keeps
  // writing meanwhile (requests never wait for it; the store's own connection never checkpoints).
  Result<sqlite::Database> db = sqlite::Database::Open(path_, {}, "auth store " + path_);
  std::string seen;
  std::unique_lock<std::mutex> lock(sync_mutex_);
  while (!sync_wake_.wait_for(lock, kSyncEvery, [this] { return sync_stop_; })) {
    if (!db.ok()) continue;  // reported nowhere better: the store's own calls will fail too
    lock.unlock();
    // data_version moves when another connection has committed since this one last looked.
    const Result<std::optional<std::string>> version =
        db->QueryText("PRAGMA data_version", "data version");
    if (version.ok() && version->value_or("") != seen) {
      seen = version->value_or("");
      (void)db->Exec("PRAGMA wal_checkpoint(PASSIVE)", "checkpoint");
    }
    lock.lock();
  }
}

Status AuthStore::Migrate() {
  AITS_ASSIGN_OR_RETURN(const std::optional<std::string> version,
                        db_.QueryText("PRAGMA user_version", "schema version"));
  const int have = version ? std::stoi(*version) : 0;
  if (have > kSchemaVersion) {
    return FailedPrecondition(db_.label() + ": schema version " + std::to_string(have) +
                              " is newer than this build's " + std::to_string(kSchemaVersion));
  }
  if (have == kSchemaVersion) return Status::Ok();
  AITS_ASSIGN_OR_RETURN(sqlite::Transaction tx, sqlite::Transaction::Begin(db_));
  if (have < 1) AITS_RETURN_IF_ERROR(db_.Exec(kSchemaV1, "schema version 1"));
  AITS_RETURN_IF_ERROR(db_.Exec(("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str(),
                                "schema version"));
  return tx.Commit();
}

Status AuthStore::AddUser(const std::string& name, Role role, std::string_view password,
                          Timestamp now) {
  AITS_RETURN_IF_ERROR(CheckName("user", name));
  AITS_RETURN_IF_ERROR(CheckUserRole(role));
  AITS_ASSIGN_OR_RETURN(const std::string hash, HashPassword(password, cost_));
  std::lock_guard lock(mutex_);
  AITS_ASSIGN_OR_RETURN(
      sqlite::Statement stmt,
      sqlite::Statement::Prepare(db_,
                                 "INSERT OR IGNORE INTO users(name, role, password_hash, "
                                 "created_ns) VALUES(?, ?, ?, ?)"));
  AITS_RETURN_IF_ERROR(stmt.Text(name).Text(RoleName(role)).Text(hash).Int(now.ns).Run());
  if (db_.Changes() == 0) return FailedPrecondition("user " + name + ": exists already");
  return Status::Ok();
}

Status AuthStore::SetPassword(const std::string& name, std::string_view password) {
  AITS_ASSIGN_OR_RETURN(const std::string hash, HashPassword(password, cost_));
  std::lock_guard lock(mutex_);
  AITS_ASSIGN_OR_RETURN(
      sqlite::Statement stmt,
      sqlite::Statement::Prepare(db_, "UPDATE users SET password_hash = ? WHERE name = ?"));
  stmt.Text(hash).Text(name);
  return ChangeOne(db_, stmt, "user " + name);
}

Status AuthStore::SetUserRole(const std::string& name, Role role) {
  AITS_RETURN_IF_ERROR(CheckUserRole(role));
  std::lock_guard lock(mutex_);
  AITS_ASSIGN_OR_RETURN(
      sqlite::Statement stmt,
      sqlite::Statement::Prepare(db_, "UPDATE users SET role = ? WHERE name = ?"));
  stmt.Text(RoleName(role)).Text(name);
  return ChangeOne(db_, stmt, "user " + name);
}

Status AuthStore::SetUserDisabled(const std::string& name, bool disabled) {
  std::lock_guard lock(mutex_);
  AITS_ASSIGN_OR_RETURN(
      sqlite::Statement stmt,
      sqlite::Statement::Prepare(db_, "UPDATE users SET disabled = ? WHERE name = ?"));
  stmt.Int(disabled ? 1 : 0).Text(name);
  return ChangeOne(db_, stmt, "user " + name);
}

Result<std::vector<UserRecord>> AuthStore::Users() const {
  std::lock_guard lock(mutex_);
  AITS_ASSIGN_OR_RETURN(
      sqlite::Statement stmt,
      sqlite::Statement::Prepare(
          db_, "SELECT name, role, created_ns, disabled FROM users ORDER BY name"));
  std::vector<UserRecord> out;
  for (;;) {
    AITS_ASSIGN_OR_RETURN(const bool row, stmt.Step());
    if (!row) break;
    UserRecord u;
    u.name = stmt.ColumnText(0);
    u.role = StoredRole(stmt.ColumnText(1));
    u.created = Timestamp{stmt.ColumnInt(2)};
    u.disabled = stmt.ColumnInt(3) != 0;
    out.push_back(std::move(u));
  }
  return out;
}

Result<std::optional<UserRecord>> AuthStore::FindUser(const std::string& name) const {
  AITS_ASSIGN_OR_RETURN(const std::vector<UserRecord> users, Users());
  for (const UserRecord& u : users) {
    if (u.name == name) return std::optional<UserRecord>(u);
  }
  return std::optional<UserRecord>();
}

Result<std::optional<UserRecord>> AuthStore::CheckPassword(const std::string& name,
                                                           std::string_view password) const {
  std::string hash;
  UserRecord user;
  {
    std::lock_guard lock(mutex_);
    AITS_ASSIGN_OR_RETURN(
        sqlite::Statement stmt,
        sqlite::Statement::Prepare(
            db_, "SELECT role, password_hash, created_ns, disabled FROM users WHERE name = ?"));
    stmt.Text(name);
    AITS_ASSIGN_OR_RETURN(const bool row, stmt.Step());
    if (row) {
      user.name = name;
      user.role = StoredRole(stmt.ColumnText(0));
      hash = stmt.ColumnText(1);
      user.created = Timestamp{stmt.ColumnInt(2)};
      user.disabled = stmt.ColumnInt(3) != 0;
    }
  }
  if (hash.empty()) {
    // An unknown name costs what a known one does, so that timing does not tell them apart.
    static const std::string kDummy = [this] {
      Result<std::string> made = HashPassword("not a password of anyone", cost_);
      return made.ok() ? *made : std::string();
    }();
    (void)VerifyPassword(kDummy, password);
    return std::optional<UserRecord>();
  }
  if (!VerifyPassword(hash, password) || user.disabled) return std::optional<UserRecord>();
  return std::optional<UserRecord>(user);
}

Result<std::pair<ApiKeyRecord, std::string>> AuthStore::CreateApiKey(const std::string& name,
                                                                     Role role, Timestamp now) {
  if (name.empty() || name.size() > 100) {
    return InvalidArgument("API key name: 1 to 100 characters");
  }
  ApiKeyRecord key;
  key.id = "ak_" + RandomToken(9);
  // base64url may hold '_' and '-': the id is cut from the secret at the last '_' before the
  // random part, so it is kept free of '_'.
  std::replace(key.id.begin() + 3, key.id.end(), '_', 'x');
  key.name = name;
  key.role = role;
  key.created = now;
  const std::string secret = "aits_" + key.id + "_" + RandomToken(32);
  std::lock_guard lock(mutex_);
  AITS_ASSIGN_OR_RETURN(
      sqlite::Statement stmt,
      sqlite::Statement::Prepare(db_,
                                 "INSERT INTO api_keys(id, name, role, secret_sha256, created_ns) "
                                 "VALUES(?, ?, ?, ?, ?)"));
  AITS_RETURN_IF_ERROR(
      stmt.Text(key.id).Text(name).Text(RoleName(role)).Text(Sha256Hex(secret)).Int(now.ns).Run());
  return std::make_pair(key, secret);
}

Status AuthStore::RevokeApiKey(const std::string& id) {
  std::lock_guard lock(mutex_);
  AITS_ASSIGN_OR_RETURN(
      sqlite::Statement stmt,
      sqlite::Statement::Prepare(db_, "UPDATE api_keys SET revoked = 1 WHERE id = ?"));
  stmt.Text(id);
  return ChangeOne(db_, stmt, "API key " + id);
}

Result<std::vector<ApiKeyRecord>> AuthStore::ApiKeys() const {
  std::lock_guard lock(mutex_);
  AITS_ASSIGN_OR_RETURN(
      sqlite::Statement stmt,
      sqlite::Statement::Prepare(
          db_, "SELECT id, name, role, created_ns, revoked FROM api_keys ORDER BY created_ns"));
  std::vector<ApiKeyRecord> out;
  for (;;) {
    AITS_ASSIGN_OR_RETURN(const bool row, stmt.Step());
    if (!row) break;
    ApiKeyRecord k;
    k.id = stmt.ColumnText(0);
    k.name = stmt.ColumnText(1);
    k.role = StoredRole(stmt.ColumnText(2));
    k.created = Timestamp{stmt.ColumnInt(3)};
    k.revoked = stmt.ColumnInt(4) != 0;
    out.push_back(std::move(k));
  }
  return out;
}

Result<std::optional<ApiKeyRecord>> AuthStore::CheckApiKey(std::string_view secret) const {
  if (secret.substr(0, 5) != "aits_" || secret.size() > 200) {
    return std::optional<ApiKeyRecord>();
  }
  const std::string digest = Sha256Hex(secret);
  std::lock_guard lock(mutex_);
  AITS_ASSIGN_OR_RETURN(
      sqlite::Statement stmt,
      sqlite::Statement::Prepare(db_,
                                 "SELECT id, name, role, created_ns, secret_sha256 FROM api_keys "
                                 "WHERE secret_sha256 = ? AND revoked = 0"));
  stmt.Text(digest);
  AITS_ASSIGN_OR_RETURN(const bool row, stmt.Step());
  if (!row || !ConstantTimeEqual(stmt.ColumnText(4), digest)) {
    return std::optional<ApiKeyRecord>();
  }
  ApiKeyRecord k;
  k.id = stmt.ColumnText(0);
  k.name = stmt.ColumnText(1);
  k.role = StoredRole(stmt.ColumnText(2));
  k.created = Timestamp{stmt.ColumnInt(3)};
  return std::optional<ApiKeyRecord>(k);
}

Status AuthStore::AddRefreshToken(const std::string& jti, const std::string& subject,
                                  Timestamp expires) {
  std::lock_guard lock(mutex_);
  AITS_ASSIGN_OR_RETURN(
      sqlite::Statement stmt,
      sqlite::Statement::Prepare(
          db_, "INSERT INTO refresh_tokens(jti, subject, expires_ns) VALUES(?, ?, ?)"));
  return stmt.Text(jti).Text(subject).Int(expires.ns).Run();
}

Result<bool> AuthStore::ConsumeRefreshToken(const std::string& jti, Timestamp now) {
  std::lock_guard lock(mutex_);
  AITS_ASSIGN_OR_RETURN(
      sqlite::Statement stmt,
      sqlite::Statement::Prepare(db_,
                                 "UPDATE refresh_tokens SET used = 1 WHERE jti = ? AND used = 0 "
                                 "AND expires_ns > ?"));
  AITS_RETURN_IF_ERROR(stmt.Text(jti).Int(now.ns).Run());
  return db_.Changes() == 1;
}

Status AuthStore::RevokeRefreshTokens(const std::string& subject) {
  std::lock_guard lock(mutex_);
  AITS_ASSIGN_OR_RETURN(
      sqlite::Statement stmt,
      sqlite::Statement::Prepare(db_, "UPDATE refresh_tokens SET used = 1 WHERE subject = ?"));
  return stmt.Text(subject).Run();
}

Result<KeyRing> AuthStore::LoadKeyRing() const {
  std::lock_guard lock(mutex_);
  AITS_ASSIGN_OR_RETURN(
      sqlite::Statement stmt,
      sqlite::Statement::Prepare(db_,
                                 "SELECT kid, sealed_private_pem FROM signing_keys WHERE "
                                 "retired = 0 ORDER BY created_ns, kid"));
  std::vector<SigningKey> keys;
  for (;;) {
    AITS_ASSIGN_OR_RETURN(const bool row, stmt.Step());
    if (!row) break;
    const std::string kid = stmt.ColumnText(0);
    AITS_ASSIGN_OR_RETURN(const std::string pem,
                          box_.Open(stmt.ColumnText(1), db_.label() + ": signing key " + kid));
    AITS_ASSIGN_OR_RETURN(SigningKey key, SigningKey::FromPem(kid, pem));
    keys.push_back(std::move(key));
  }
  if (keys.empty()) {
    return FailedPrecondition(db_.label() + ": no signing key (aits api init makes one)");
  }
  return KeyRing::Make(std::move(keys));
}

Status AuthStore::EnsureSigningKey(Timestamp now) {
  {
    std::lock_guard lock(mutex_);
    AITS_ASSIGN_OR_RETURN(
        const std::optional<std::string> count,
        db_.QueryText("SELECT count(*) FROM signing_keys WHERE retired = 0", "signing keys"));
    if (count && *count != "0") return Status::Ok();
  }
  return RotateSigningKey(now, Duration::Days(1)).status();
}

Result<std::string> AuthStore::RotateSigningKey(Timestamp now, Duration keep) {
  const std::string kid = "k" + std::to_string(now.ns / 1'000'000);
  AITS_ASSIGN_OR_RETURN(const SigningKey key, SigningKey::Generate(kid));
  AITS_ASSIGN_OR_RETURN(const std::string pem, key.PrivatePem());
  std::lock_guard lock(mutex_);
  AITS_ASSIGN_OR_RETURN(sqlite::Transaction tx, sqlite::Transaction::Begin(db_));
  AITS_ASSIGN_OR_RETURN(
      sqlite::Statement retire,
      sqlite::Statement::Prepare(
          db_, "UPDATE signing_keys SET retired = 1 WHERE retired = 0 AND created_ns < ?"));
  AITS_RETURN_IF_ERROR(retire.Int((now - keep).ns).Run());
  AITS_ASSIGN_OR_RETURN(
      sqlite::Statement add,
      sqlite::Statement::Prepare(db_,
                                 "INSERT INTO signing_keys(kid, created_ns, sealed_private_pem) "
                                 "VALUES(?, ?, ?)"));
  const Status added = add.Text(kid).Int(now.ns).Text(box_.Seal(pem)).Run();
  if (!added.ok()) return added.WithContext("signing key " + kid);
  AITS_RETURN_IF_ERROR(tx.Commit());
  return kid;
}

Status AuthStore::Audit(const AuditEntry& e) {
  std::lock_guard lock(mutex_);
  // Prepared once: every command writes a row, and preparing costs as much as the insert.
  if (audit_insert_ == nullptr) {
    AITS_ASSIGN_OR_RETURN(
        sqlite::Statement stmt,
        sqlite::Statement::Prepare(
            db_,
            "INSERT INTO audit(time_ns, actor, role, action, target, client, request_id, "
            "chain_id, status, detail) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            /*persistent=*/true));
    audit_insert_ = std::make_unique<sqlite::Statement>(std::move(stmt));
  }
  sqlite::Statement& stmt = *audit_insert_;
  const Status done = stmt.Int(e.time.ns)
                          .Text(e.actor)
                          .Text(e.role)
                          .Text(e.action)
                          .Text(e.target)
                          .Text(e.client)
                          .Text(e.request_id)
                          .Text(e.chain_id)
                          .Int(e.status)
                          .Text(e.detail)
                          .Run();
  stmt.Reset();
  return done;
}

Result<std::vector<AuditEntry>> AuthStore::AuditTrail(int64_t before, int limit) const {
  std::lock_guard lock(mutex_);
  AITS_ASSIGN_OR_RETURN(
      sqlite::Statement stmt,
      sqlite::Statement::Prepare(
          db_,
          "SELECT id, time_ns, actor, role, action, target, client, request_id, chain_id, "
          "status, detail FROM audit WHERE id < ? ORDER BY id DESC LIMIT ?"));
  stmt.Int(before <= 0 ? INT64_MAX : before).Int(limit);
  std::vector<AuditEntry> out;
  for (;;) {
    AITS_ASSIGN_OR_RETURN(const bool row, stmt.Step());
    if (!row) break;
    AuditEntry e;
    e.id = stmt.ColumnInt(0);
    e.time = Timestamp{stmt.ColumnInt(1)};
    e.actor = stmt.ColumnText(2);
    e.role = stmt.ColumnText(3);
    e.action = stmt.ColumnText(4);
    e.target = stmt.ColumnText(5);
    e.client = stmt.ColumnText(6);
    e.request_id = stmt.ColumnText(7);
    e.chain_id = stmt.ColumnText(8);
    e.status = static_cast<int>(stmt.ColumnInt(9));
    e.detail = stmt.ColumnText(10);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace aits::api
