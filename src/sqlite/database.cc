#include "sqlite/database.h"

#include <sqlite3.h>

#include <utility>

namespace tandem::sqlite {

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)), cached_(other.cached_) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    this->~Statement();
    db_ = other.db_;
    stmt_ = std::exchange(other.stmt_, nullptr);
    cached_ = other.cached_;
  }
  return *this;
}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  if (cached_) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  } else {
    sqlite3_finalize(stmt_);
  }
}

void Statement::BindText(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}

void Statement::BindBlob(int index, std::span<const uint8_t> bytes) {
  // A zero-length blob, not NULL, for empty input.
  sqlite3_bind_blob(stmt_, index, bytes.empty() ? "" : static_cast<const void*>(bytes.data()),
                    static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
}

void Statement::BindInt(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
}

void Statement::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
}

int Statement::Step() {
  return stmt_ != nullptr ? sqlite3_step(stmt_) : SQLITE_MISUSE;
}

Status Statement::Run(std::string_view what) {
  if (Step() == SQLITE_DONE) return Status::Ok();
  return UnavailableError(std::string(what) + ": " + sqlite3_errmsg(db_));
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Statement::ColumnInt(int index) const {
  return sqlite3_column_int64(stmt_, index);
}

bool Statement::ColumnIsNull(int index) const {
  return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}

std::string Statement::ColumnText(int index) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, index));
  return p == nullptr ? std::string() : std::string(p, sqlite3_column_bytes(stmt_, index));
}

std::vector<uint8_t> Statement::ColumnBlob(int index) const {
  const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, index));
  return p == nullptr ? std::vector<uint8_t>()
                      : std::vector<uint8_t>(p, p + sqlite3_column_bytes(stmt_, index));
}

Result<std::unique_ptr<Database>> Database::Open(const std::string& path, std::string_view setup) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    Status s = UnavailableError("cannot open " + path + ": " +
                                (db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
    sqlite3_close(db);
    return s;
  }
  std::unique_ptr<Database> database(new Database(db));
  sqlite3_busy_timeout(db, 5000);
  if (Status s = database->Exec(setup); !s.ok()) return s.WithContext(path);
  return database;
}

Database::~Database() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

Status Database::Exec(std::string_view sql) {
  const std::string text(sql);
  char* err = nullptr;
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = err != nullptr ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    return UnavailableError(message);
  }
  return Status::Ok();
}

Statement Database::Prepare(const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK)
    return Statement(db_, nullptr, false);
  return Statement(db_, stmt, false);
}

Statement Database::Cached(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return Statement(db_, it->second, true);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK)
    return Statement(db_, nullptr, true);
  cache_.emplace(sql, stmt);
  return Statement(db_, stmt, true);
}

int64_t Database::Changes() const {
  return sqlite3_changes64(db_);
}

int64_t Database::LastInsertRowId() const {
  return sqlite3_last_insert_rowid(db_);
}

Status Database::Error(std::string_view what) const {
  return UnavailableError(std::string(what) + ": " + sqlite3_errmsg(db_));
}

}  // namespace tandem::sqlite
