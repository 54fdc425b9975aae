#pragma once
// RoomStore on SQLite in WAL mode: one database file (rooms.db) in the data directory. One
// connection guarded by a mutex: storage work runs on dedicated threads, not room strands.

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "storage/room_store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace tandem::storage {

enum class Durability {
  kFull,    // fsync at every commit: survives power loss
  kNormal,  // WAL without fsync per commit: survives a process crash (kill -9), not power loss
};

class SqliteRoomStore : public RoomStore {
 public:
  // Opens (creating if needed) `<dir>/rooms.db`.
  static Result<std::unique_ptr<SqliteRoomStore>> Open(const std::string& dir,
                                                       Durability durability);
  ~SqliteRoomStore() override;

  Result<std::optional<StoredRoom>> Load(const std::string& room) override;
  Result<std::vector<uint64_t>> AppendBatch(const std::vector<RoomAppend>& appends) override;
  Status Compact(const std::string& room, const Bytes& snapshot, uint64_t through_seq) override;
  Status SetUnsaved(const std::string& room, bool unsaved) override;
  Status MarkSaved(const std::string& room, uint64_t through_seq) override;
  Status SetAlarm(const std::string& room, std::optional<int64_t> unix_ms) override;
  Result<std::vector<std::string>> RoomsNeedingSave() override;
  Result<uint64_t> LogBytes() override;

 private:
  explicit SqliteRoomStore(sqlite3* db) : db_(db) {}
  Status Exec(const char* sql);
  // Prepared statements, kept for the store's lifetime: parsing SQL per append cost more than
  // the append. Keyed by the address of the SQL literal. REQUIRES: mu_ held.
  sqlite3_stmt* Cached(const char* sql);
  Status Run(const char* sql);  // one cached statement, stepped to completion
  std::mutex mu_;
  sqlite3* db_;                                                // GUARDED_BY(mu_)
  std::unordered_map<const char*, sqlite3_stmt*> statements_;  // GUARDED_BY(mu_)
};

}  // namespace tandem::storage
