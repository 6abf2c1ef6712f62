// AuthStore: who may use the API, in one SQLite file (docs/api.md, "Users, keys and roles").
//
// - users: a name, a role and an Argon2id password hash;
// - API keys for programs: an id, a role and the SHA-256 of the secret (shown once, at creation);
// - refresh tokens issued and not yet used or revoked (each is used once: a refresh rotates it);
// - the token signing keys, their private halves sealed with the master key (secrets.h), so
//   that the file alone gives nobody a key;
// - the audit trail of every command the API took (who, role, what, when, from where, result),
//   append-only: the store has no call that changes or deletes a row of it.
//
// Schema versions are applied at open (PRAGMA user_version); a file from a newer build is
// refused. Thread-safety: every call takes the store's mutex (one connection); calls are short.
//
// Durability: a commit is written to the write-ahead log without an fsync (synchronous=NORMAL),
// and a thread of the store checkpoints that log, with its fsyncs, every second from a
// connection of its own. A process that dies loses nothing; a power loss, at most the last
// second's writes. An fsync in every command's audit row cost each order placed through the API
// a few hundred microseconds, and a checkpoint in a request a few milliseconds
// (docs/performance.md, "The API").
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "aits/api/jwt.h"
#include "aits/api/secrets.h"
#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/persistence/sqlite.h"

namespace aits::api {

// People and programs rank viewer < trader < admin: each may do what the one below may. A
// notifier stands apart: an API key for a program that posts alerts (Alertmanager) and may do
// nothing else, not even read (docs/api.md, "Alerts"); no user has it.
enum class Role { kViewer = 1, kTrader = 2, kAdmin = 3, kNotifier = 4 };
std::string_view RoleName(Role role);
// "viewer", "trader", "admin" or "notifier"; InvalidArgument naming the text otherwise.
Result<Role> ParseRole(std::string_view text);

struct UserRecord {
  std::string name;
  Role role = Role::kViewer;
  Timestamp created;
  bool disabled = false;
};

struct ApiKeyRecord {
  std::string id;    // "ak_" + 12 random characters: public, shown in lists and logs
  std::string name;  // what it is for ("grid bot")
  Role role = Role::kViewer;
  Timestamp created;
  bool revoked = false;
};

struct AuditEntry {
  int64_t id = 0;
  Timestamp time;
  std::string actor;  // user name or API key id; "-" before authentication
  std::string role;
  std::string action;  // "POST /api/v1/risk/breaker", "login", ...
  std::string target;  // what it acted on, when there is one
  std::string client;  // peer address
  std::string request_id;
  std::string chain_id;
  int status = 0;      // the HTTP status answered
  std::string detail;  // the reason of a refusal, or the command's summary
};

class AuthStore {
 public:
  // Opens or creates `path`. `box` seals and opens the signing keys; `cost` is the Argon2id cost
  // of new password hashes.
  static Result<std::unique_ptr<AuthStore>> Open(const std::string& path, SecretBox box,
                                                 PasswordCost cost);
  ~AuthStore();  // stops the log's fsync thread; closing the connection syncs what is left
  AuthStore(const AuthStore&) = delete;
  AuthStore& operator=(const AuthStore&) = delete;

  // Users. Names: 1-64 of [A-Za-z0-9._@-]. AddUser refuses a name taken (FailedPrecondition).
  Status AddUser(const std::string& name, Role role, std::string_view password, Timestamp now);
  Status SetPassword(const std::string& name, std::string_view password);
  Status SetUserRole(const std::string& name, Role role);
  Status SetUserDisabled(const std::string& name, bool disabled);
  Result<std::vector<UserRecord>> Users() const;
  // The user when the password is theirs and they are not disabled; nullopt otherwise (which of
  // the two is not told, nor whether the name exists). Takes the hash's time either way.
  Result<std::optional<UserRecord>> CheckPassword(const std::string& name,
                                                  std::string_view password) const;
  Result<std::optional<UserRecord>> FindUser(const std::string& name) const;

  // API keys. CreateApiKey returns the record and the secret ("aits_" + id + "_" + 43 random
  // characters), which is shown once and stored only as its hash.
  Result<std::pair<ApiKeyRecord, std::string>> CreateApiKey(const std::string& name, Role role,
                                                            Timestamp now);
  Status RevokeApiKey(const std::string& id);
  Result<std::vector<ApiKeyRecord>> ApiKeys() const;
  // The key a secret belongs to, when it is not revoked.
  Result<std::optional<ApiKeyRecord>> CheckApiKey(std::string_view secret) const;

  // Refresh tokens: recorded when issued, consumed once (true if it was live and now is not).
  Status AddRefreshToken(const std::string& jti, const std::string& subject, Timestamp expires);
  Result<bool> ConsumeRefreshToken(const std::string& jti, Timestamp now);
  // Revokes every refresh token of `subject` (a password change, a disabled user).
  Status RevokeRefreshTokens(const std::string& subject);

  // Signing keys: the ring of every key not retired, newest signing. EnsureSigningKey makes the
  // first one when there is none; RotateSigningKey adds a new one (kid "k" + creation time) and
  // retires keys older than `keep` (their tokens have expired by then).
  Result<KeyRing> LoadKeyRing() const;
  Status EnsureSigningKey(Timestamp now);
  Result<std::string> RotateSigningKey(Timestamp now, Duration keep);

  Status Audit(const AuditEntry& entry);
  // The newest `limit` entries with id below `before` (0: from the newest), newest first.
  Result<std::vector<AuditEntry>> AuditTrail(int64_t before, int limit) const;

 private:
  AuthStore(sqlite::Database db, std::string path, SecretBox box, PasswordCost cost);
  Status Migrate();
  // The thread's loop: a checkpoint every kSyncEvery when something was written, outside the
  // store's mutex.
  void SyncLog();

  static constexpr std::chrono::seconds kSyncEvery{1};

  mutable std::mutex mutex_;
  sqlite::Database db_;
  std::unique_ptr<sqlite::Statement> audit_insert_;  // prepared at the first Audit
  std::string path_;
  SecretBox box_;
  PasswordCost cost_;
  std::mutex sync_mutex_;
  std::condition_variable sync_wake_;
  bool sync_stop_ = false;
  std::thread sync_thread_;
};

}  // namespace aits::api
