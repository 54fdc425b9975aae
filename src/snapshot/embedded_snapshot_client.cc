#include "snapshot/embedded_snapshot_client.h"

#include <sqlite3.h>

#include <boost/asio/post.hpp>
#include <filesystem>

namespace tandem::snapshot {

namespace {

class SqliteSnapshotStorage : public SnapshotStorage {
 public:
  explicit SqliteSnapshotStorage(sqlite3* db) : db_(db) {}
  ~SqliteSnapshotStorage() override { sqlite3_close(db_); }

  Status Put(const std::string& room, const Bytes& bytes) override {
    std::lock_guard lock(mu_);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db_,
                       "INSERT INTO snapshots (room, data, updated_ms) VALUES (?, ?, "
                       "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)) ON "
                       "CONFLICT(room) DO UPDATE SET "
                       "data = excluded.data, updated_ms = excluded.updated_ms",
                       -1, &s, nullptr);
    sqlite3_bind_text(s, 1, room.data(), static_cast<int>(room.size()), SQLITE_TRANSIENT);
    sqlite3_bind_blob(s, 2, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
    const int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
      return UnavailableError(std::string("embedded snapshot store: ") + sqlite3_errmsg(db_));
    return Status::Ok();
  }

  Result<std::optional<Bytes>> Get(const std::string& room) override {
    std::lock_guard lock(mu_);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db_, "SELECT data FROM snapshots WHERE room = ?", -1, &s, nullptr);
    sqlite3_bind_text(s, 1, room.data(), static_cast<int>(room.size()), SQLITE_TRANSIENT);
    const int rc = sqlite3_step(s);
    std::optional<Bytes> out;
    if (rc == SQLITE_ROW) {
      const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(s, 0));
      out = Bytes(p, p + sqlite3_column_bytes(s, 0));
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      return UnavailableError(std::string("embedded snapshot store: ") + sqlite3_errmsg(db_));
    }
    return out;
  }

 private:
  std::mutex mu_;
  sqlite3* db_;
};

}  // namespace

Result<std::unique_ptr<SnapshotStorage>> OpenSqliteSnapshotStorage(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::string path = (std::filesystem::path(dir) / "snapshots.db").string();
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : "cannot open";
    sqlite3_close(db);
    return UnavailableError("cannot open " + path + ": " + message);
  }
  sqlite3_busy_timeout(db, 5000);
  char* err = nullptr;
  if (sqlite3_exec(db,
                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                   "CREATE TABLE IF NOT EXISTS snapshots (room TEXT PRIMARY KEY, data BLOB NOT "
                   "NULL, updated_ms "
                   "INTEGER NOT NULL)",
                   nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = err != nullptr ? err : "sqlite error";
    sqlite3_free(err);
    sqlite3_close(db);
    return UnavailableError("cannot initialise " + path + ": " + message);
  }
  return std::unique_ptr<SnapshotStorage>(std::make_unique<SqliteSnapshotStorage>(db));
}

EmbeddedSnapshotClient::EmbeddedSnapshotClient(SnapshotStorage& storage,
                                               boost::asio::any_io_executor io,
                                               std::string description)
    : storage_(storage), io_(std::move(io)), description_(std::move(description)) {}

void EmbeddedSnapshotClient::Save(const std::string& room, Bytes snapshot,
                                  std::function<void(Status)> done) {
  boost::asio::post(io_, [this, room, snapshot = std::move(snapshot), done = std::move(done)] {
    done(storage_.Put(room, snapshot));
  });
}

void EmbeddedSnapshotClient::Load(const std::string& room,
                                  std::function<void(Result<std::optional<Bytes>>)> done) {
  boost::asio::post(io_, [this, room, done = std::move(done)] { done(storage_.Get(room)); });
}

}  // namespace tandem::snapshot
