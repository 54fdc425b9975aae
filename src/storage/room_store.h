#pragma once
// Room-local durable storage: per room, a compacted snapshot plus the log of updates accepted
// since, and the room's persistence bookkeeping (unsaved changes, pending alarm). Loading a room
// reads snapshot + log. Implementations are thread-safe; calls block on disk I/O, so rooms call
// them from a storage thread, never from their strand.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace tandem::storage {

using Bytes = std::vector<uint8_t>;

struct StoredRoom {
  Bytes snapshot;                        // v1 update, may be empty
  std::vector<Bytes> updates;            // v1 updates after the snapshot, in order
  uint64_t last_seq = 0;                 // sequence number of the last update
  bool unsaved = false;                  // changes not yet in the snapshot store
  std::optional<int64_t> alarm_unix_ms;  // a save that is due (persisted alarm)
};

struct RoomAppend {
  std::string room;
  Bytes update;
};

class RoomStore {
 public:
  virtual ~RoomStore() = default;

  // nullopt when the room has no local state at all.
  virtual Result<std::optional<StoredRoom>> Load(const std::string& room) = 0;
  // Appends several updates (of any rooms) in one durable transaction (group commit) and marks
  // those rooms unsaved. Returns each append's sequence number, in order.
  virtual Result<std::vector<uint64_t>> AppendBatch(const std::vector<RoomAppend>& appends) = 0;
  // Replaces the snapshot and drops log entries up to `through_seq` (they are in the snapshot).
  // A snapshot through an earlier sequence number than the stored one is ignored.
  virtual Status Compact(const std::string& room, const Bytes& snapshot, uint64_t through_seq) = 0;
  // Persistence bookkeeping for the snapshot-store lifecycle.
  virtual Status SetUnsaved(const std::string& room, bool unsaved) = 0;
  // Clears the unsaved mark if no update after `through_seq` was appended since (a save of the
  // document as of that update succeeded).
  virtual Status MarkSaved(const std::string& room, uint64_t through_seq) = 0;
  virtual Status SetAlarm(const std::string& room, std::optional<int64_t> unix_ms) = 0;
  // Rooms with a pending alarm or unsaved changes (to resume saves after a restart).
  virtual Result<std::vector<std::string>> RoomsNeedingSave() = 0;
  // Total bytes in update logs (metrics).
  virtual Result<uint64_t> LogBytes() = 0;
};

}  // namespace tandem::storage
