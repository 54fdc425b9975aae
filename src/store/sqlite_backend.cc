// SQLite backend: one writer connection (saves, serialized by a mutex and BEGIN IMMEDIATE, so
// other processes on the same file are excluded too) and one reader connection (WAL readers do
// not wait for the writer).

#include <sqlite3.h>

#include <filesystem>
#include <mutex>

#include "sqlite/database.h"
#include "store/snapshot_store.h"

namespace tandem::store {

namespace {

using sqlite::Database;
using sqlite::Statement;

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS store_rooms (room TEXT PRIMARY KEY, latest_version INTEGER NOT "
    "NULL);"
    "CREATE TABLE IF NOT EXISTS store_versions (room TEXT NOT NULL, version INTEGER NOT NULL, "
    "data BLOB NOT NULL, size INTEGER NOT NULL, checksum TEXT NOT NULL, created_ms INTEGER NOT "
    "NULL, merged INTEGER NOT NULL, PRIMARY KEY (room, version));"
    "CREATE TABLE IF NOT EXISTS store_epochs (room TEXT PRIMARY KEY, epoch INTEGER NOT NULL);";

constexpr const char* kPragmas =
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA journal_size_limit=4194304;";

VersionInfo ReadInfo(const Statement& s, int first) {
  VersionInfo v;
  v.version = s.ColumnInt(first);
  v.size = static_cast<uint64_t>(s.ColumnInt(first + 1));
  v.time_ms = s.ColumnInt(first + 2);
  v.checksum = s.ColumnText(first + 3);
  v.merged = s.ColumnInt(first + 4) != 0;
  return v;
}

class SqliteBackend : public Backend {
 public:
  SqliteBackend(std::string path, std::unique_ptr<Database> writer,
                std::unique_ptr<Database> reader)
      : path_(std::move(path)), writer_(std::move(writer)), reader_(std::move(reader)) {}

  std::string describe() const override { return "sqlite " + path_; }

  Result<VersionInfo> Save(const std::string& room, const PrepareFn& prepare, int keep) override {
    std::lock_guard lock(write_mu_);
    if (Status s = writer_->Exec("BEGIN IMMEDIATE"); !s.ok()) return s.WithContext("sqlite begin");
    auto result = SaveLocked(room, prepare, keep);
    if (Status s = writer_->Exec(result.ok() ? "COMMIT" : "ROLLBACK"); !s.ok()) {
      (void)writer_->Exec("ROLLBACK");
      return s.WithContext("sqlite commit");
    }
    return result;
  }

  Result<std::optional<Version>> Get(const std::string& room,
                                     std::optional<int64_t> version) override {
    std::lock_guard lock(read_mu_);
    return GetWith(*reader_, room, version);
  }

  Result<std::vector<VersionInfo>> List(const std::string& room) override {
    std::lock_guard lock(read_mu_);
    Statement s = reader_->Cached(
        "SELECT version, size, created_ms, checksum, merged FROM store_versions WHERE room = ? "
        "ORDER BY version DESC");
    s.BindText(1, room);
    std::vector<VersionInfo> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) out.push_back(ReadInfo(s, 0));
    if (rc != SQLITE_DONE) return reader_->Error("sqlite list");
    return out;
  }

  Result<int64_t> Delete(const std::string& room) override {
    std::lock_guard lock(write_mu_);
    Statement s = writer_->Cached("DELETE FROM store_versions WHERE room = ?");
    s.BindText(1, room);
    TANDEM_RETURN_IF_ERROR(s.Run("sqlite delete"));
    return writer_->Changes();
  }

  Result<bool> Fence(const std::string& room, uint64_t epoch) override {
    std::lock_guard lock(write_mu_);
    Statement s = writer_->Cached(
        "INSERT INTO store_epochs (room, epoch) VALUES (?, ?) ON CONFLICT (room) DO UPDATE SET "
        "epoch = excluded.epoch WHERE excluded.epoch >= store_epochs.epoch");
    s.BindText(1, room);
    s.BindInt(2, static_cast<int64_t>(epoch));
    TANDEM_RETURN_IF_ERROR(s.Run("sqlite fence"));
    return writer_->Changes() == 1;
  }

  Status Ping() override {
    std::lock_guard lock(read_mu_);
    Statement s = reader_->Cached("SELECT 1");
    return s.Step() == SQLITE_ROW ? Status::Ok() : reader_->Error("sqlite ping");
  }

 private:
  Result<std::optional<Version>> GetWith(Database& db, const std::string& room,
                                         std::optional<int64_t> version) {
    Statement s = db.Cached(version.has_value()
                                ? "SELECT version, size, created_ms, checksum, merged, data FROM "
                                  "store_versions WHERE room = ? AND version = ?"
                                : "SELECT version, size, created_ms, checksum, merged, data FROM "
                                  "store_versions WHERE room = ? ORDER BY version DESC LIMIT 1");
    s.BindText(1, room);
    if (version.has_value()) s.BindInt(2, *version);
    const int rc = s.Step();
    if (rc == SQLITE_DONE) return std::optional<Version>();
    if (rc != SQLITE_ROW) return db.Error("sqlite get");
    Version v;
    v.info = ReadInfo(s, 0);
    v.data = s.ColumnBlob(5);
    return std::optional<Version>(std::move(v));
  }

  Result<VersionInfo> SaveLocked(const std::string& room, const PrepareFn& prepare, int keep) {
    int64_t latest_version = 0;
    {
      Statement s = writer_->Cached("SELECT latest_version FROM store_rooms WHERE room = ?");
      s.BindText(1, room);
      const int rc = s.Step();
      if (rc == SQLITE_ROW) {
        latest_version = s.ColumnInt(0);
      } else if (rc != SQLITE_DONE) {
        return writer_->Error("sqlite save");
      }
    }
    TANDEM_ASSIGN_OR_RETURN(std::optional<Version> latest, GetWith(*writer_, room, std::nullopt));
    TANDEM_ASSIGN_OR_RETURN(std::optional<Prepared> p, prepare(latest));
    if (!p.has_value()) return latest.has_value() ? latest->info : VersionInfo{};
    p->info.version = std::max(latest_version, latest ? latest->info.version : 0) + 1;
    {
      Statement s = writer_->Cached(
          "INSERT INTO store_versions (room, version, data, size, checksum, created_ms, merged) "
          "VALUES (?, ?, ?, ?, ?, ?, ?)");
      s.BindText(1, room);
      s.BindInt(2, p->info.version);
      s.BindBlob(3, p->data);
      s.BindInt(4, static_cast<int64_t>(p->info.size));
      s.BindText(5, p->info.checksum);
      s.BindInt(6, p->info.time_ms);
      s.BindInt(7, p->info.merged ? 1 : 0);
      TANDEM_RETURN_IF_ERROR(s.Run("sqlite insert"));
    }
    {
      Statement s = writer_->Cached(
          "INSERT INTO store_rooms (room, latest_version) VALUES (?, ?) ON CONFLICT(room) DO "
          "UPDATE SET latest_version = excluded.latest_version");
      s.BindText(1, room);
      s.BindInt(2, p->info.version);
      TANDEM_RETURN_IF_ERROR(s.Run("sqlite update room"));
    }
    {
      Statement s = writer_->Cached("DELETE FROM store_versions WHERE room = ? AND version <= ?");
      s.BindText(1, room);
      s.BindInt(2, p->info.version - keep);
      TANDEM_RETURN_IF_ERROR(s.Run("sqlite prune"));
    }
    return p->info;
  }

  std::string path_;
  std::mutex write_mu_;
  std::mutex read_mu_;
  std::unique_ptr<Database> writer_;  // GUARDED_BY(write_mu_)
  std::unique_ptr<Database> reader_;  // GUARDED_BY(read_mu_)
};

// Before the store engine, `tandem serve`'s embedded store kept one snapshot per room in table
// `snapshots(room, data, updated_ms)` of the same file. Its rows become version 1 of their rooms
// (rooms already in the store keep theirs); the old table is renamed, not dropped.
Status MigrateLegacySnapshots(Database& db) {
  {
    Statement exists =
        db.Prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'snapshots'");
    const int rc = exists.Step();
    if (rc == SQLITE_DONE) return Status::Ok();
    if (rc != SQLITE_ROW) return db.Error("sqlite migrate");
  }
  TANDEM_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  auto migrate = [&db]() -> Status {
    Statement rows = db.Prepare(
        "SELECT room, data, updated_ms FROM snapshots WHERE room NOT IN (SELECT room FROM "
        "store_rooms)");
    int rc;
    while ((rc = rows.Step()) == SQLITE_ROW) {
      const std::string room = rows.ColumnText(0);
      const Bytes data = rows.ColumnBlob(1);
      Statement insert = db.Prepare(
          "INSERT INTO store_versions (room, version, data, size, checksum, created_ms, "
          "merged) VALUES (?, 1, ?, ?, ?, ?, 0)");
      insert.BindText(1, room);
      insert.BindBlob(2, data);
      insert.BindInt(3, static_cast<int64_t>(data.size()));
      insert.BindText(4, Sha256Hex(data));
      insert.BindInt(5, rows.ColumnInt(2));
      TANDEM_RETURN_IF_ERROR(insert.Run("sqlite migrate"));
      Statement room_row =
          db.Prepare("INSERT INTO store_rooms (room, latest_version) VALUES (?, 1)");
      room_row.BindText(1, room);
      TANDEM_RETURN_IF_ERROR(room_row.Run("sqlite migrate"));
    }
    if (rc != SQLITE_DONE) return db.Error("sqlite migrate");
    return db.Exec("ALTER TABLE snapshots RENAME TO snapshots_migrated");
  };
  Status s = migrate();
  Status end = db.Exec(s.ok() ? "COMMIT" : "ROLLBACK");
  return s.ok() ? end : s;
}

}  // namespace

Result<std::unique_ptr<Backend>> OpenSqliteBackend(const std::string& db_path) {
  std::error_code ec;
  const auto parent = std::filesystem::path(db_path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  auto writer = Database::Open(db_path, std::string(kPragmas) + kSchema);
  if (!writer.ok()) return writer.status();
  if (Status s = MigrateLegacySnapshots(**writer); !s.ok()) return s.WithContext(db_path);
  auto reader = Database::Open(db_path, kPragmas);
  if (!reader.ok()) return reader.status();
  return std::unique_ptr<Backend>(std::make_unique<SqliteBackend>(
      db_path, std::move(writer).value(), std::move(reader).value()));
}

}  // namespace tandem::store
