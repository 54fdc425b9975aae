#pragma once
// The snapshot store engine behind `tandem store` and the embedded store of `tandem serve`:
// validation (a decodable Yjs v1 update), a size cap, SHA-256 checksums, the last N versions per
// room, and the merge rule: a save never loses content (docs/STORE.md).
//
// Thread-safety: SnapshotStore and every Backend are safe to call from any thread. Calls block
// (disk, database): call them from a thread that may block.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "protocol/room_id.h"

namespace tandem::store {

using Bytes = std::vector<uint8_t>;

// The room-id rule is the protocol's (protocol/room_id.h).
using protocol::kMaxRoomIdBytes;
using protocol::ValidateRoomId;

struct VersionInfo {
  int64_t version = 0;  // 1, 2, 3... per room, never reused
  uint64_t size = 0;
  int64_t time_ms = 0;   // Unix epoch milliseconds of the save
  std::string checksum;  // lowercase hex SHA-256 of the stored bytes
  bool merged = false;   // the stored bytes are the merge of the incoming and previous snapshot
};

// One stored version of a room: its bytes (a snapshot, the room's full state as a Yjs v1
// update) and what the store knows of it.
struct Version {
  VersionInfo info;
  Bytes data;
};

// What a save writes, computed from the latest stored snapshot by the engine.
struct Prepared {
  Bytes data;
  VersionInfo info;  // size, time_ms, checksum, merged (version is assigned by the backend)
};
// Returns nullopt to write nothing (the latest version already holds these bytes).
using PrepareFn =
    std::function<Result<std::optional<Prepared>>(const std::optional<Version>& latest)>;

// Durable storage of versions. Save is atomic per room: it reads the latest version, calls
// `prepare` while holding the room (no other save of that room runs in between, on any process
// sharing the storage), writes version latest+1 and deletes all but the newest `keep` versions.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string describe() const = 0;
  // The stored version (the latest one when `prepare` returned nullopt).
  virtual Result<VersionInfo> Save(const std::string& room, const PrepareFn& prepare, int keep) = 0;
  // The latest version, or `version`; nullopt when there is none.
  virtual Result<std::optional<Version>> Get(const std::string& room,
                                             std::optional<int64_t> version) = 0;
  // Kept versions, newest first.
  virtual Result<std::vector<VersionInfo>> List(const std::string& room) = 0;
  // Removes every kept version of a room (atomic with saves); how many there were. Version
  // numbers are not reused: a later save continues after the last one.
  virtual Result<int64_t> Delete(const std::string& room) = 0;
  // Fencing of cluster mode's owners: records `epoch` as the room's highest and answers true,
  // or answers false (recording nothing) when a higher one is recorded. Atomic per room.
  virtual Result<bool> Fence(const std::string& room, uint64_t epoch) = 0;
  virtual Status Ping() = 0;
};

// SQLite in WAL mode with synchronous=FULL: an acknowledged save survives a crash or power loss.
Result<std::unique_ptr<Backend>> OpenSqliteBackend(const std::string& db_path);
// PostgreSQL through libpq, `pool_size` connections; `url` is a libpq connection string or URI.
Result<std::unique_ptr<Backend>> OpenPostgresBackend(const std::string& url, int pool_size = 4);

struct StoreOptions {
  size_t max_snapshot_bytes = 64 * 1024 * 1024;
  int keep_versions = 10;
};

struct SaveOutcome {
  VersionInfo info;
  // The incoming snapshot lacked stored content: the union was stored (or, when the incoming one
  // added nothing, the latest version was kept: unchanged too).
  bool merged = false;
  bool unchanged = false;  // nothing new was written; `info` is the latest version
};

struct StoreMetrics {
  std::atomic<uint64_t> saves{0};  // new versions written
  std::atomic<uint64_t> saves_unchanged{0};
  std::atomic<uint64_t> merges{0};
  std::atomic<uint64_t> rollbacks{0};
  std::atomic<uint64_t> deletes{0};
  std::atomic<uint64_t> loads_hit{0};
  std::atomic<uint64_t> loads_miss{0};
  std::atomic<uint64_t> rejected_invalid{0};  // not a Yjs update, bad room id
  std::atomic<uint64_t> rejected_too_large{0};
  std::atomic<uint64_t> rejected_stale_epoch{0};  // a cluster node saving under an old lease
  std::atomic<uint64_t> errors{0};                // storage failures
  std::atomic<uint64_t> bytes_saved{0};
  std::atomic<uint64_t> save_micros{0};  // total time spent in Save
};

class SnapshotStore {
 public:
  SnapshotStore(std::unique_ptr<Backend> backend, StoreOptions options);

  // kInvalidArgument: bad room id; kMalformed: not a Yjs update; kResourceExhausted: too large;
  // kUnavailable: storage failure; kAborted: `epoch` (a cluster owner's lease epoch; 0: none)
  // is lower than one a save of this room already carried. The fence is checked before the
  // save, not inside it: a stale save racing a newer owner's can still land, and loses nothing
  // by the merge rule.
  Result<SaveOutcome> Save(const std::string& room, std::span<const uint8_t> data,
                           uint64_t epoch = 0);
  Result<std::optional<Version>> Get(const std::string& room,
                                     std::optional<int64_t> version = std::nullopt);
  Result<std::vector<VersionInfo>> ListVersions(const std::string& room);
  // An operator's rollback: a new version holding the bytes of `version`, stored as they are
  // (the merge rule does not apply). kNotFound when that version is not kept.
  Result<SaveOutcome> Rollback(const std::string& room, int64_t version);
  // Erases a room (the document API's DELETE): every version; how many there were.
  Result<int64_t> Delete(const std::string& room);

  const StoreOptions& options() const { return options_; }
  Backend& backend() { return *backend_; }
  const StoreMetrics& metrics() const { return metrics_; }

 private:
  std::unique_ptr<Backend> backend_;
  StoreOptions options_;
  StoreMetrics metrics_;
};

std::string Sha256Hex(std::span<const uint8_t> data);

// True when every struct and deletion of `stored` is also in `incoming` (both v1 updates), i.e.
// storing `incoming` alone loses nothing. Errors when either does not decode.
Result<bool> UpdateCovers(std::span<const uint8_t> incoming, std::span<const uint8_t> stored);
// The union of two v1 updates (applied to one document, re-encoded).
Result<Bytes> MergeSnapshots(std::span<const uint8_t> a, std::span<const uint8_t> b);

}  // namespace tandem::store
