// The one SQLite wrapper: a connection, prepared statements and transactions that report every
// failure as a Status naming the database, what was being done and SQLite's own message. The
// event store (event_store.h) and the model registry (aits/ml/registry.h) both open their files
// through it, so both classify errors the same way: a damaged or foreign file is DataLoss, the rest
// IoError.
//
// Nothing here throws. Handles are move-only and close themselves. A statement or transaction
// keeps a pointer to its Database, which must outlive it and not move meanwhile.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "aits/core/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace aits::sqlite {

// "LABEL: WHAT: SQLite's message (sqlite code N)", with a hint for the codes a user can act on.
// SQLITE_NOTADB and SQLITE_CORRUPT are DataLoss, everything else IoError. `db` may be null (the
// code's generic text is used then).
Status Error(sqlite3* db, int rc, std::string_view label, std::string_view what);

struct OpenOptions {
  bool create = false;     // create the file if missing
  bool read_only = false;  // SQLITE_OPEN_READONLY (create is ignored)
  // SQLITE_OPEN_NOMUTEX: the caller promises one thread per connection and saves SQLite's locks.
  bool no_mutex = false;
  // How long a statement waits for another connection's lock before failing with SQLITE_BUSY.
  int busy_timeout_ms = 5000;
};

class Database {
 public:
  // Opens `path`; `label` starts every error message ("model registry /x/registry.sqlite"; the
  // path itself when empty). Extended result codes are on.
  static Result<Database> Open(const std::string& path, const OpenOptions& options,
                               std::string label = {});
  Database() = default;
  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  ~Database();

  sqlite3* get() const { return db_.get(); }
  bool is_open() const { return db_ != nullptr; }
  const std::string& label() const { return label_; }
  void Close();

  Status Error(int rc, std::string_view what) const;
  // Runs SQL without results (several statements allowed).
  Status Exec(const char* sql, std::string_view what) const;
  // The first column of the first row as text; nullopt when there is no row.
  Result<std::optional<std::string>> QueryText(const char* sql, std::string_view what) const;
  int64_t LastInsertRowId() const;
  // Rows changed by the last INSERT/UPDATE/DELETE (an INSERT OR IGNORE that ignored: 0).
  int64_t Changes() const;
  // True when no transaction is open (SQLite rolls one back by itself on some errors).
  bool autocommit() const;

 private:
  struct Closer {
    void operator()(sqlite3* db) const;
  };
  std::unique_ptr<sqlite3, Closer> db_;
  std::string label_;
};

// A prepared statement. Bind errors are kept and reported by the next Step, so that call sites
// stay a list of binds: stmt.Int(id).Text(name).Run().
class Statement {
 public:
  // `persistent`: the statement is kept for the life of the connection (SQLITE_PREPARE_PERSISTENT).
  // The database must outlive the statement.
  static Result<Statement> Prepare(const Database& db, std::string_view sql,
                                   bool persistent = false);
  Statement() = default;
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  ~Statement();

  Statement& Int(int64_t value);
  Statement& Double(double value);
  Statement& Text(std::string_view value);  // copied by SQLite
  // Not copied: the bytes must stay valid until Reset(). An empty blob binds as empty, not NULL.
  Statement& BlobNoCopy(std::string_view value);

  // True: a row is ready to read; false: done. Errors name the statement's SQL.
  Result<bool> Step();
  // Runs a statement that returns no rows.
  Status Run();
  // Ready to run again: resets and clears the bindings (and a kept bind error).
  void Reset();

  int64_t ColumnInt(int col) const;
  double ColumnDouble(int col) const;
  std::string ColumnText(int col) const;
  // Valid until the next Step or Reset.
  std::string_view ColumnBlob(int col) const;
  bool ColumnIsNull(int col) const;

  sqlite3_stmt* get() const { return stmt_; }
  bool is_prepared() const { return stmt_ != nullptr; }

 private:
  Statement(const Database* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  void Check(int rc);

  const Database* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  int bind_index_ = 0;
  Status bind_status_;
};

// BEGIN IMMEDIATE (the write lock up front, so a read-then-write cannot race another process) or a
// deferred BEGIN. Rolls back unless committed.
class Transaction {
 public:
  static Result<Transaction> Begin(const Database& db, bool immediate = true);
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  Status Commit();

 private:
  explicit Transaction(const Database* db) : db_(db) {}
  const Database* db_;
};

}  // namespace aits::sqlite
