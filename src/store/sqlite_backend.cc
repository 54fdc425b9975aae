// SQLite backend: one writer connection (saves, serialized by a mutex and BEGIN IMMEDIATE, so
// other processes on the same file are excluded too) and one reader connection (WAL readers do
// not wait for the writer).

#include <sqlite3.h>

#include <filesystem>
#include <mutex>

#include "store/snapshot_store.h"

namespace tandem::store {

namespace {

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS store_rooms (room TEXT PRIMARY KEY, latest_version INTEGER NOT "
    "NULL);"
    "CREATE TABLE IF NOT EXISTS store_versions (room TEXT NOT NULL, version INTEGER NOT NULL, "
    "data BLOB NOT NULL, size INTEGER NOT NULL, checksum TEXT NOT NULL, created_ms INTEGER NOT "
    "NULL, merged INTEGER NOT NULL, PRIMARY KEY (room, version));";

// A prepared statement that finalizes itself.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool prepared() const { return rc_ == SQLITE_OK; }
  void Text(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void Int(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  void Blob(int i, const Bytes& v) {
    sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return prepared() ? sqlite3_step(s_) : rc_; }
  int64_t ColInt(int i) { return sqlite3_column_int64(s_, i); }
  std::string ColText(int i) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, i));
    return p == nullptr ? std::string() : std::string(p, sqlite3_column_bytes(s_, i));
  }
  Bytes ColBlob(int i) {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(s_, i));
    return p == nullptr ? Bytes() : Bytes(p, p + sqlite3_column_bytes(s_, i));
  }
  Status Error(std::string_view what) const {
    return UnavailableError("sqlite " + std::string(what) + ": " + sqlite3_errmsg(db_));
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  int rc_;
};

VersionInfo ReadInfo(Stmt& s, int first) {
  VersionInfo v;
  v.version = s.ColInt(first);
  v.size = static_cast<uint64_t>(s.ColInt(first + 1));
  v.time_ms = s.ColInt(first + 2);
  v.checksum = s.ColText(first + 3);
  v.merged = s.ColInt(first + 4) != 0;
  return v;
}

Result<sqlite3*> OpenConnection(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : "cannot open";
    sqlite3_close(db);
    return UnavailableError("cannot open " + path + ": " + message);
  }
  sqlite3_busy_timeout(db, 10'000);
  char* err = nullptr;
  if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA journal_size_limit=4194304;", nullptr, nullptr,
                   &err) != SQLITE_OK) {
    std::string message = err != nullptr ? err : "sqlite error";
    sqlite3_free(err);
    sqlite3_close(db);
    return UnavailableError("cannot initialise " + path + ": " + message);
  }
  return db;
}

class SqliteBackend : public Backend {
 public:
  SqliteBackend(std::string path, sqlite3* writer, sqlite3* reader)
      : path_(std::move(path)), writer_(writer), reader_(reader) {}
  ~SqliteBackend() override {
    sqlite3_close(reader_);
    sqlite3_close(writer_);
  }

  std::string describe() const override { return "sqlite " + path_; }

  Result<VersionInfo> Save(const std::string& room, const PrepareFn& prepare, int keep) override {
    std::lock_guard lock(write_mu_);
    if (sqlite3_exec(writer_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK)
      return UnavailableError(std::string("sqlite begin: ") + sqlite3_errmsg(writer_));
    auto result = SaveLocked(room, prepare, keep);
    const char* end = result.ok() ? "COMMIT" : "ROLLBACK";
    if (sqlite3_exec(writer_, end, nullptr, nullptr, nullptr) != SQLITE_OK) {
      Status s = UnavailableError(std::string("sqlite commit: ") + sqlite3_errmsg(writer_));
      sqlite3_exec(writer_, "ROLLBACK", nullptr, nullptr, nullptr);
      return s;
    }
    return result;
  }

  Result<std::optional<Snapshot>> Get(const std::string& room,
                                      std::optional<int64_t> version) override {
    std::lock_guard lock(read_mu_);
    return GetWith(reader_, room, version);
  }

  Result<std::vector<VersionInfo>> List(const std::string& room) override {
    std::lock_guard lock(read_mu_);
    Stmt s(reader_,
           "SELECT version, size, created_ms, checksum, merged FROM store_versions WHERE room = ? "
           "ORDER BY version DESC");
    s.Text(1, room);
    std::vector<VersionInfo> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) out.push_back(ReadInfo(s, 0));
    if (rc != SQLITE_DONE) return s.Error("list");
    return out;
  }

  Status Ping() override {
    std::lock_guard lock(read_mu_);
    Stmt s(reader_, "SELECT 1");
    return s.Step() == SQLITE_ROW ? Status::Ok() : s.Error("ping");
  }

 private:
  Result<std::optional<Snapshot>> GetWith(sqlite3* db, const std::string& room,
                                          std::optional<int64_t> version) {
    Stmt s(db, version.has_value()
                   ? "SELECT version, size, created_ms, checksum, merged, data FROM "
                     "store_versions WHERE room = ? AND version = ?"
                   : "SELECT version, size, created_ms, checksum, merged, data FROM "
                     "store_versions WHERE room = ? ORDER BY version DESC LIMIT 1");
    s.Text(1, room);
    if (version.has_value()) s.Int(2, *version);
    const int rc = s.Step();
    if (rc == SQLITE_DONE) return std::optional<Snapshot>();
    if (rc != SQLITE_ROW) return s.Error("get");
    Snapshot snap;
    snap.info = ReadInfo(s, 0);
    snap.data = s.ColBlob(5);
    return std::optional<Snapshot>(std::move(snap));
  }

  Result<VersionInfo> SaveLocked(const std::string& room, const PrepareFn& prepare, int keep) {
    int64_t latest_version = 0;
    {
      Stmt s(writer_, "SELECT latest_version FROM store_rooms WHERE room = ?");
      s.Text(1, room);
      const int rc = s.Step();
      if (rc == SQLITE_ROW) {
        latest_version = s.ColInt(0);
      } else if (rc != SQLITE_DONE) {
        return s.Error("save");
      }
    }
    TANDEM_ASSIGN_OR_RETURN(std::optional<Snapshot> latest, GetWith(writer_, room, std::nullopt));
    TANDEM_ASSIGN_OR_RETURN(std::optional<Prepared> p, prepare(latest));
    if (!p.has_value()) return latest.has_value() ? latest->info : VersionInfo{};
    p->info.version = std::max(latest_version, latest ? latest->info.version : 0) + 1;
    {
      Stmt s(writer_,
             "INSERT INTO store_versions (room, version, data, size, checksum, created_ms, merged) "
             "VALUES (?, ?, ?, ?, ?, ?, ?)");
      s.Text(1, room);
      s.Int(2, p->info.version);
      s.Blob(3, p->data);
      s.Int(4, static_cast<int64_t>(p->info.size));
      s.Text(5, p->info.checksum);
      s.Int(6, p->info.time_ms);
      s.Int(7, p->info.merged ? 1 : 0);
      if (s.Step() != SQLITE_DONE) return s.Error("insert");
    }
    {
      Stmt s(writer_,
             "INSERT INTO store_rooms (room, latest_version) VALUES (?, ?) ON CONFLICT(room) DO "
             "UPDATE SET latest_version = excluded.latest_version");
      s.Text(1, room);
      s.Int(2, p->info.version);
      if (s.Step() != SQLITE_DONE) return s.Error("update room");
    }
    {
      Stmt s(writer_, "DELETE FROM store_versions WHERE room = ? AND version <= ?");
      s.Text(1, room);
      s.Int(2, p->info.version - keep);
      if (s.Step() != SQLITE_DONE) return s.Error("prune");
    }
    return p->info;
  }

  std::string path_;
  std::mutex write_mu_;
  std::mutex read_mu_;
  sqlite3* writer_;
  sqlite3* reader_;
};

// Before the store engine, `tandem serve`'s embedded store kept one snapshot per room in table
// `snapshots(room, data, updated_ms)` of the same file. Its rows become version 1 of their rooms
// (rooms already in the store keep theirs); the old table is renamed, not dropped.
Status MigrateLegacySnapshots(sqlite3* db) {
  {
    Stmt exists(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'snapshots'");
    const int rc = exists.Step();
    if (rc == SQLITE_DONE) return Status::Ok();
    if (rc != SQLITE_ROW) return exists.Error("migrate");
  }
  if (sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK)
    return UnavailableError(std::string("sqlite migrate: ") + sqlite3_errmsg(db));
  auto migrate = [db]() -> Status {
    Stmt rows(db,
              "SELECT room, data, updated_ms FROM snapshots WHERE room NOT IN (SELECT room FROM "
              "store_rooms)");
    int rc;
    while ((rc = rows.Step()) == SQLITE_ROW) {
      const std::string room = rows.ColText(0);
      const Bytes data = rows.ColBlob(1);
      Stmt insert(db,
                  "INSERT INTO store_versions (room, version, data, size, checksum, created_ms, "
                  "merged) VALUES (?, 1, ?, ?, ?, ?, 0)");
      insert.Text(1, room);
      insert.Blob(2, data);
      insert.Int(3, static_cast<int64_t>(data.size()));
      insert.Text(4, Sha256Hex(data));
      insert.Int(5, rows.ColInt(2));
      if (insert.Step() != SQLITE_DONE) return insert.Error("migrate");
      Stmt room_row(db, "INSERT INTO store_rooms (room, latest_version) VALUES (?, 1)");
      room_row.Text(1, room);
      if (room_row.Step() != SQLITE_DONE) return room_row.Error("migrate");
    }
    if (rc != SQLITE_DONE) return rows.Error("migrate");
    if (sqlite3_exec(db, "ALTER TABLE snapshots RENAME TO snapshots_migrated", nullptr, nullptr,
                     nullptr) != SQLITE_OK)
      return UnavailableError(std::string("sqlite migrate: ") + sqlite3_errmsg(db));
    return Status::Ok();
  };
  Status s = migrate();
  if (sqlite3_exec(db, s.ok() ? "COMMIT" : "ROLLBACK", nullptr, nullptr, nullptr) != SQLITE_OK &&
      s.ok())
    s = UnavailableError(std::string("sqlite migrate: ") + sqlite3_errmsg(db));
  return s;
}

}  // namespace

Result<std::unique_ptr<Backend>> OpenSqliteBackend(const std::string& db_path) {
  std::error_code ec;
  const auto parent = std::filesystem::path(db_path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  TANDEM_ASSIGN_OR_RETURN(sqlite3 * writer, OpenConnection(db_path));
  char* err = nullptr;
  if (sqlite3_exec(writer, kSchema, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = err != nullptr ? err : "sqlite error";
    sqlite3_free(err);
    sqlite3_close(writer);
    return UnavailableError("cannot create schema in " + db_path + ": " + message);
  }
  if (Status s = MigrateLegacySnapshots(writer); !s.ok()) {
    sqlite3_close(writer);
    return s.WithContext(db_path);
  }
  auto reader = OpenConnection(db_path);
  if (!reader.ok()) {
    sqlite3_close(writer);
    return reader.status();
  }
  return std::unique_ptr<Backend>(std::make_unique<SqliteBackend>(db_path, writer, *reader));
}

}  // namespace tandem::store
