#pragma once
// SQLite, as Tandem's local stores use it: one connection (Database) with its prepared statements
// cached, and Statement, a prepared statement that binds and reads columns without the C API's
// casts, and resets or finalizes itself. Errors come back as Status (kUnavailable with SQLite's
// message). Not thread-safe: a Database belongs to whoever holds its mutex.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace tandem::sqlite {

class Statement {
 public:
  Statement() = default;
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  // Finalizes an owned statement; resets and unbinds a cached one.
  ~Statement();

  bool ok() const { return stmt_ != nullptr; }
  void BindText(int index, std::string_view text);
  void BindBlob(int index, std::span<const uint8_t> bytes);
  void BindInt(int index, int64_t value);
  void BindNull(int index);
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step();
  // Steps once and expects SQLITE_DONE.
  Status Run(std::string_view what);
  void Reset();
  int64_t ColumnInt(int index) const;
  bool ColumnIsNull(int index) const;
  std::string ColumnText(int index) const;
  std::vector<uint8_t> ColumnBlob(int index) const;

 private:
  friend class Database;
  Statement(sqlite3* db, sqlite3_stmt* stmt, bool cached) : db_(db), stmt_(stmt), cached_(cached) {}
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  bool cached_ = false;
};

class Database {
 public:
  // Opens (creating if needed) the file, with a busy timeout, then runs `setup` (pragmas,
  // schema) as one script.
  static Result<std::unique_ptr<Database>> Open(const std::string& path, std::string_view setup);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs SQL without results (several statements allowed).
  Status Exec(std::string_view sql);
  // A statement of its own (finalized when it goes).
  Statement Prepare(const char* sql);
  // The connection's cached statement for `sql`, keyed by the literal's address: preparing per
  // call cost more than a small append. At most one Statement per `sql` at a time.
  Statement Cached(const char* sql);
  // kUnavailable "<what>: <SQLite's last message>".
  Status Error(std::string_view what) const;
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int64_t Changes() const;
  // The rowid of the last INSERT.
  int64_t LastInsertRowId() const;

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

}  // namespace tandem::sqlite
