#include "aits/persistence/sqlite.h"

#include <sqlite3.h>

#include <utility>

namespace aits::sqlite {

Status Error(sqlite3* db, int rc, std::string_view label, std::string_view what) {
  const char* message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  // sqlite3_errmsg may describe a later call; prefer the code's own text when they disagree.
  if (db != nullptr && (sqlite3_errcode(db) & 0xff) != (rc & 0xff)) message = sqlite3_errstr(rc);
  std::string text = std::string(label) + ": " + std::string(what) + ": " + message +
                     " (sqlite code " + std::to_string(rc) + ")";
  switch (rc & 0xff) {
    case SQLITE_NOTADB:
      return DataLoss(text + " (not a SQLite database)");
    case SQLITE_CORRUPT:
      return DataLoss(text + " (the file is damaged)");
    case SQLITE_CANTOPEN:
      return IoError(text + " (cannot open the file)");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return IoError(text + " (another process held the write lock too long)");
    default:
      return IoError(text);
  }
}

void Database::Closer::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

Result<Database> Database::Open(const std::string& path, const OpenOptions& options,
                                std::string label) {
  Database db;
  db.label_ = label.empty() ? path : std::move(label);
  const int flags =
      (options.no_mutex ? SQLITE_OPEN_NOMUTEX : 0) |
      (options.read_only ? SQLITE_OPEN_READONLY
                         : SQLITE_OPEN_READWRITE | (options.create ? SQLITE_OPEN_CREATE : 0));
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  db.db_.reset(raw);  // sqlite3_open_v2 may return a handle even on failure; it must be closed
  if (rc != SQLITE_OK) return sqlite::Error(raw, rc, db.label_, "open");
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);
  return db;
}

Database::Database(Database&& other) noexcept = default;
Database& Database::operator=(Database&& other) noexcept = default;
Database::~Database() = default;

void Database::Close() { db_.reset(); }

Status Database::Error(int rc, std::string_view what) const {
  return sqlite::Error(db_.get(), rc, label_, what);
}

Status Database::Exec(const char* sql, std::string_view what) const {
  const int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(rc, what);
  return Status::Ok();
}

Result<std::optional<std::string>> Database::QueryText(const char* sql,
                                                       std::string_view what) const {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db_.get(), sql, -1, &raw, nullptr);
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
  if (rc != SQLITE_OK) return Error(rc, what);
  rc = sqlite3_step(raw);
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  if (rc != SQLITE_ROW) return Error(rc, what);
  const unsigned char* text = sqlite3_column_text(raw, 0);
  return std::optional<std::string>(
      text == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(text)));
}

int64_t Database::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_.get()); }

int64_t Database::Changes() const { return sqlite3_changes64(db_.get()); }

bool Database::autocommit() const { return sqlite3_get_autocommit(db_.get()) != 0; }

Result<Statement> Statement::Prepare(const Database& db, std::string_view sql, bool persistent) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v3(db.get(), sql.data(), static_cast<int>(sql.size()),
                                    persistent ? SQLITE_PREPARE_PERSISTENT : 0, &raw, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(raw);
    return db.Error(rc, "preparing " + std::string(sql));
  }
  return Statement(&db, raw);
}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_),
      stmt_(std::exchange(other.stmt_, nullptr)),
      bind_index_(other.bind_index_),
      bind_status_(std::move(other.bind_status_)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = std::exchange(other.stmt_, nullptr);
    bind_index_ = other.bind_index_;
    bind_status_ = std::move(other.bind_status_);
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::Check(int rc) {
  if (rc != SQLITE_OK && bind_status_.ok()) {
    bind_status_ = db_->Error(rc, "binding parameter " + std::to_string(bind_index_));
  }
}

Statement& Statement::Int(int64_t value) {
  Check(sqlite3_bind_int64(stmt_, ++bind_index_, value));
  return *this;
}

Statement& Statement::Double(double value) {
  Check(sqlite3_bind_double(stmt_, ++bind_index_, value));
  return *this;
}

Statement& Statement::Text(std::string_view value) {
  // SQLITE_TRANSIENT (its macro is an old-style cast): SQLite copies, so temporaries are safe.
  const auto transient = reinterpret_cast<sqlite3_destructor_type>(static_cast<intptr_t>(-1));
  Check(sqlite3_bind_text64(stmt_, ++bind_index_, value.data(), value.size(), transient,
                            SQLITE_UTF8));
  return *this;
}

Statement& Statement::BlobNoCopy(std::string_view value) {
  // A null pointer would bind NULL, so an empty blob points at "".
  Check(sqlite3_bind_blob64(stmt_, ++bind_index_, value.empty() ? "" : value.data(), value.size(),
                            SQLITE_STATIC));
  return *this;
}

Result<bool> Statement::Step() {
  if (!bind_status_.ok()) return bind_status_;
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->Error(rc, std::string("running ") + sqlite3_sql(stmt_));
}

Status Statement::Run() {
  AITS_ASSIGN_OR_RETURN(bool row, Step());
  (void)row;
  return Status::Ok();
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_index_ = 0;
  bind_status_ = Status::Ok();
}

int64_t Statement::ColumnInt(int col) const { return sqlite3_column_int64(stmt_, col); }

double Statement::ColumnDouble(int col) const { return sqlite3_column_double(stmt_, col); }

std::string Statement::ColumnText(int col) const {
  const auto* text = sqlite3_column_text(stmt_, col);
  const int size = sqlite3_column_bytes(stmt_, col);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
}

std::string_view Statement::ColumnBlob(int col) const {
  const void* data = sqlite3_column_blob(stmt_, col);
  const int size = sqlite3_column_bytes(stmt_, col);
  if (data == nullptr) return {};
  return {static_cast<const char*>(data), static_cast<size_t>(size)};
}

bool Statement::ColumnIsNull(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

Result<Transaction> Transaction::Begin(const Database& db, bool immediate) {
  AITS_RETURN_IF_ERROR(db.Exec(immediate ? "BEGIN IMMEDIATE" : "BEGIN", "begin a transaction"));
  return Transaction(&db);
}

Transaction::Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Transaction::~Transaction() {
  if (db_ != nullptr) sqlite3_exec(db_->get(), "ROLLBACK", nullptr, nullptr, nullptr);
}

Status Transaction::Commit() {
  const Database* db = std::exchange(db_, nullptr);
  Status status = db->Exec("COMMIT", "commit");
  if (!status.ok()) sqlite3_exec(db->get(), "ROLLBACK", nullptr, nullptr, nullptr);
  return status;
}

}  // namespace aits::sqlite
