#include "storage/sqlite_room_store.h"

#include <sqlite3.h>

#include <filesystem>

namespace tandem::storage {

namespace {

Status SqliteError(sqlite3* db, const std::string& what) {
  return UnavailableError(what + ": " + (db != nullptr ? sqlite3_errmsg(db) : "sqlite error"));
}

// A prepared statement that finalizes itself.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  // Borrows a statement from the store's cache: reset, not finalized, when done.
  explicit Stmt(sqlite3_stmt* cached)
      : stmt_(cached), rc_(cached != nullptr ? SQLITE_OK : SQLITE_ERROR), owned_(false) {}
  ~Stmt() {
    if (owned_) {
      sqlite3_finalize(stmt_);
    } else if (stmt_ != nullptr) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return stmt_; }
  void BindText(int i, const std::string& s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void BindBlob(int i, const Bytes& b) {
    sqlite3_bind_blob(stmt_, i, b.empty() ? "" : static_cast<const void*>(b.data()),
                      static_cast<int>(b.size()), SQLITE_TRANSIENT);
  }
  void BindInt(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void BindNull(int i) { sqlite3_bind_null(stmt_, i); }
  int Step() { return sqlite3_step(stmt_); }
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Bytes ColumnBlob(int i) {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, i));
    return Bytes(p, p + sqlite3_column_bytes(stmt_, i));
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
  bool owned_ = true;
};

}  // namespace

Result<std::unique_ptr<SqliteRoomStore>> SqliteRoomStore::Open(const std::string& dir,
                                                               Durability durability) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return UnavailableError("cannot create data dir " + dir + ": " + ec.message());
  const std::string path = (std::filesystem::path(dir) / "rooms.db").string();
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    Status s = SqliteError(db, "cannot open " + path);
    sqlite3_close(db);
    return s;
  }
  std::unique_ptr<SqliteRoomStore> store(new SqliteRoomStore(db));
  sqlite3_busy_timeout(db, 5000);
  // Compaction deletes a room's log; without vacuuming, the file kept the pages of the largest
  // log it ever held. (Takes effect on a new database only.)
  TANDEM_RETURN_IF_ERROR(store->Exec("PRAGMA auto_vacuum=INCREMENTAL"));
  TANDEM_RETURN_IF_ERROR(store->Exec("PRAGMA journal_mode=WAL"));
  // A checkpoint leaves the WAL file at its largest size unless told otherwise: many small
  // commits between checkpoints grew it to ten times the data they carried.
  TANDEM_RETURN_IF_ERROR(store->Exec("PRAGMA journal_size_limit=4194304"));
  TANDEM_RETURN_IF_ERROR(store->Exec(
      durability == Durability::kFull ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
  TANDEM_RETURN_IF_ERROR(
      store->Exec("CREATE TABLE IF NOT EXISTS room_snapshot (room TEXT PRIMARY KEY, data BLOB NOT "
                  "NULL, through_seq INTEGER "
                  "NOT NULL);"
                  "CREATE TABLE IF NOT EXISTS room_update (room TEXT NOT NULL, seq INTEGER NOT "
                  "NULL, data BLOB NOT NULL, "
                  "PRIMARY KEY (room, seq)) WITHOUT ROWID;"
                  "CREATE TABLE IF NOT EXISTS room_meta (room TEXT PRIMARY KEY, next_seq INTEGER "
                  "NOT NULL DEFAULT 1, "
                  "unsaved INTEGER NOT NULL DEFAULT 0, alarm_ms INTEGER);"));
  return store;
}

SqliteRoomStore::~SqliteRoomStore() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

sqlite3_stmt* SqliteRoomStore::Cached(const char* sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK) return nullptr;
  statements_.emplace(sql, stmt);
  return stmt;
}

Status SqliteRoomStore::Run(const char* sql) {
  Stmt s(Cached(sql));
  if (!s.ok()) return SqliteError(db_, sql);
  const int rc = s.Step();
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return SqliteError(db_, sql);
  return Status::Ok();
}

Status SqliteRoomStore::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = err != nullptr ? err : "sqlite error";
    sqlite3_free(err);
    return UnavailableError(message);
  }
  return Status::Ok();
}

Result<std::optional<StoredRoom>> SqliteRoomStore::Load(const std::string& room) {
  std::lock_guard lock(mu_);
  StoredRoom out;
  bool found = false;
  {
    Stmt s(Cached("SELECT data FROM room_snapshot WHERE room = ?"));
    if (!s.ok()) return SqliteError(db_, "load snapshot");
    s.BindText(1, room);
    if (s.Step() == SQLITE_ROW) {
      out.snapshot = s.ColumnBlob(0);
      found = true;
    }
  }
  {
    Stmt s(Cached("SELECT seq, data FROM room_update WHERE room = ? ORDER BY seq"));
    if (!s.ok()) return SqliteError(db_, "load updates");
    s.BindText(1, room);
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      out.last_seq = static_cast<uint64_t>(sqlite3_column_int64(s.get(), 0));
      out.updates.push_back(s.ColumnBlob(1));
      found = true;
    }
    if (rc != SQLITE_DONE) return SqliteError(db_, "load updates");
  }
  {
    Stmt s(Cached("SELECT next_seq, unsaved, alarm_ms FROM room_meta WHERE room = ?"));
    if (!s.ok()) return SqliteError(db_, "load meta");
    s.BindText(1, room);
    if (s.Step() == SQLITE_ROW) {
      out.last_seq = std::max<uint64_t>(
          out.last_seq, static_cast<uint64_t>(sqlite3_column_int64(s.get(), 0)) - 1);
      out.unsaved = sqlite3_column_int64(s.get(), 1) != 0;
      if (sqlite3_column_type(s.get(), 2) != SQLITE_NULL)
        out.alarm_unix_ms = sqlite3_column_int64(s.get(), 2);
    }
  }
  if (!found) return std::optional<StoredRoom>();
  return std::optional<StoredRoom>(std::move(out));
}

Result<std::vector<uint64_t>> SqliteRoomStore::AppendBatch(const std::vector<RoomAppend>& appends) {
  std::lock_guard lock(mu_);
  std::vector<uint64_t> seqs;
  seqs.reserve(appends.size());
  TANDEM_RETURN_IF_ERROR(Run("BEGIN IMMEDIATE"));
  auto rollback = [this](Status s) {
    (void)Run("ROLLBACK");
    return s;
  };
  Stmt next(Cached(
      "INSERT INTO room_meta (room, next_seq, unsaved) VALUES (?, 2, 1) ON CONFLICT(room) DO "
      "UPDATE SET "
      "next_seq = next_seq + 1, unsaved = 1 RETURNING next_seq - 1"));
  Stmt insert(Cached("INSERT INTO room_update (room, seq, data) VALUES (?, ?, ?)"));
  if (!next.ok() || !insert.ok()) return rollback(SqliteError(db_, "append"));
  for (const RoomAppend& a : appends) {
    next.BindText(1, a.room);
    if (next.Step() != SQLITE_ROW) return rollback(SqliteError(db_, "append: sequence"));
    const int64_t seq = sqlite3_column_int64(next.get(), 0);
    next.Reset();
    insert.BindText(1, a.room);
    insert.BindInt(2, seq);
    insert.BindBlob(3, a.update);
    if (insert.Step() != SQLITE_DONE) return rollback(SqliteError(db_, "append: insert"));
    insert.Reset();
    seqs.push_back(static_cast<uint64_t>(seq));
  }
  if (Status s = Run("COMMIT"); !s.ok()) return rollback(s);
  return seqs;
}

Status SqliteRoomStore::Compact(const std::string& room, const Bytes& snapshot,
                                uint64_t through_seq) {
  std::lock_guard lock(mu_);
  TANDEM_RETURN_IF_ERROR(Run("BEGIN IMMEDIATE"));
  Stmt put(db_,
           "INSERT INTO room_snapshot (room, data, through_seq) VALUES (?, ?, ?) ON CONFLICT(room) "
           "DO UPDATE SET data = excluded.data, through_seq = excluded.through_seq "
           // Compactions may commit out of order: never go back to an older snapshot.
           "WHERE excluded.through_seq >= room_snapshot.through_seq");
  Stmt drop(Cached("DELETE FROM room_update WHERE room = ? AND seq <= ?"));
  if (!put.ok() || !drop.ok()) {
    (void)Run("ROLLBACK");
    return SqliteError(db_, "compact");
  }
  put.BindText(1, room);
  put.BindBlob(2, snapshot);
  put.BindInt(3, static_cast<int64_t>(through_seq));
  drop.BindText(1, room);
  drop.BindInt(2, static_cast<int64_t>(through_seq));
  if (put.Step() != SQLITE_DONE || drop.Step() != SQLITE_DONE) {
    Status s = SqliteError(db_, "compact");
    (void)Run("ROLLBACK");
    return s;
  }
  TANDEM_RETURN_IF_ERROR(Run("COMMIT"));
  // Give the pages of the dropped log back to the file system.
  return Exec("PRAGMA incremental_vacuum");
}

Status SqliteRoomStore::SetUnsaved(const std::string& room, bool unsaved) {
  std::lock_guard lock(mu_);
  Stmt s(
      Cached("INSERT INTO room_meta (room, unsaved) VALUES (?, ?) ON CONFLICT(room) DO UPDATE SET "
             "unsaved = "
             "excluded.unsaved"));
  if (!s.ok()) return SqliteError(db_, "set unsaved");
  s.BindText(1, room);
  s.BindInt(2, unsaved ? 1 : 0);
  return s.Step() == SQLITE_DONE ? Status::Ok() : SqliteError(db_, "set unsaved");
}

Status SqliteRoomStore::MarkSaved(const std::string& room, uint64_t through_seq) {
  std::lock_guard lock(mu_);
  Stmt s(Cached("UPDATE room_meta SET unsaved = 0 WHERE room = ? AND next_seq - 1 <= ?"));
  if (!s.ok()) return SqliteError(db_, "mark saved");
  s.BindText(1, room);
  s.BindInt(2, static_cast<int64_t>(through_seq));
  return s.Step() == SQLITE_DONE ? Status::Ok() : SqliteError(db_, "mark saved");
}

Status SqliteRoomStore::SetAlarm(const std::string& room, std::optional<int64_t> unix_ms) {
  std::lock_guard lock(mu_);
  Stmt s(
      Cached("INSERT INTO room_meta (room, alarm_ms) VALUES (?, ?) ON CONFLICT(room) DO UPDATE SET "
             "alarm_ms = "
             "excluded.alarm_ms"));
  if (!s.ok()) return SqliteError(db_, "set alarm");
  s.BindText(1, room);
  if (unix_ms) {
    s.BindInt(2, *unix_ms);
  } else {
    s.BindNull(2);
  }
  return s.Step() == SQLITE_DONE ? Status::Ok() : SqliteError(db_, "set alarm");
}

Result<std::vector<std::string>> SqliteRoomStore::RoomsNeedingSave() {
  std::lock_guard lock(mu_);
  Stmt s(
      Cached("SELECT room FROM room_meta WHERE unsaved = 1 OR alarm_ms IS NOT NULL ORDER BY room"));
  if (!s.ok()) return SqliteError(db_, "rooms needing save");
  std::vector<std::string> rooms;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    rooms.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s.get(), 0)),
                       static_cast<size_t>(sqlite3_column_bytes(s.get(), 0)));
  }
  if (rc != SQLITE_DONE) return SqliteError(db_, "rooms needing save");
  return rooms;
}

Result<uint64_t> SqliteRoomStore::LogBytes() {
  std::lock_guard lock(mu_);
  Stmt s(Cached("SELECT COALESCE(SUM(LENGTH(data)), 0) FROM room_update"));
  if (!s.ok() || s.Step() != SQLITE_ROW) return SqliteError(db_, "log bytes");
  return static_cast<uint64_t>(sqlite3_column_int64(s.get(), 0));
}

}  // namespace tandem::storage
