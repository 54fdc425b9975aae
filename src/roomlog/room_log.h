#pragma once
// A room's durable log: in Tandem's words the *log* is local to where the room runs (the
// *store* is the snapshot store service, a *snapshot* a full-state Yjs update). Every update a
// room accepts is appended here, and nothing the update reveals is sent to anyone before the
// append is durable. A compaction folds the log into a snapshot kept beside it. The log also
// remembers which rooms hold changes the snapshot store has not acknowledged, so a restart
// resumes their saves.
//
// Implementations: SQLite on local disk (roomlog/sqlite_room_log.h); cluster mode adds one on
// Redis. All are thread-safe; callbacks run on the log's own threads, never on the caller's
// strand, so callers post back.

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"

namespace tandem::roomlog {

using Bytes = std::vector<uint8_t>;

// What a read returns.
struct LogContents {
  Bytes snapshot;  // a v1 update covering everything through snapshot_seq; may be empty
  uint64_t snapshot_seq = 0;
  std::vector<Bytes> updates;  // v1 updates after it, in order
  uint64_t last_seq = 0;       // sequence number of the last update (or of the snapshot)
  bool unsaved = false;        // holds changes the snapshot store has not acknowledged
  // The log holds only what follows the snapshot store's copy (a log shared by nodes, cluster
  // mode): the room is the store's copy, then `updates`. `snapshot` is empty then.
  bool base_in_store = false;
  // Where a reader of a shared log continues after this read (opaque; a Redis stream id).
  std::string position;
};

class RoomLog {
 public:
  using ReadCallback = std::function<void(Result<std::optional<LogContents>>)>;
  using AppendCallback = std::function<void(Status status, uint64_t seq)>;
  using DoneCallback = std::function<void(Status)>;
  // `connections_elsewhere`: the clients that other servers sharing the log (cluster mode) had in
  // the room when it was erased, as they last recorded them; 0 for a log of one server.
  using EraseCallback = std::function<void(Status, size_t connections_elsewhere)>;

  virtual ~RoomLog() = default;

  // The snapshot and every update after it; nullopt when the room was never logged.
  virtual void Read(const std::string& room, ReadCallback done) = 0;
  // Appends one update (v1); `done` gets its sequence number once it is durable. Appends of
  // one room are numbered in the order they were made, without gaps.
  virtual void Append(const std::string& room, Bytes update, AppendCallback done) = 0;
  // Appends one update on the caller's thread when that needs no waiting: no fsync (the log's
  // durability does not ask for one), nothing queued, the log not busy. Returns its sequence
  // number once it is as durable as Append makes it; nullopt when the caller should use Append.
  // A room calls it only while none of its own appends is in flight, so the order is kept.
  // It saves the two thread wake-ups of Append's callback on the hot path.
  virtual std::optional<uint64_t> TryAppendNow(const std::string& room,
                                               std::span<const uint8_t> update) {
    (void)room;
    (void)update;
    return std::nullopt;
  }
  // The same for a log whose durability needs an fsync: commits on the caller's thread when the
  // log is idle, and `done` gets the sequence number (from a handler posted to `executor`, which
  // must run on the caller's thread) once it is durable. Appends committed in one turn of the
  // thread's event loop share one fsync, made on that thread at the end of the turn: a group
  // commit without a thread hop. Returns false (leaving `done` as it was) when the caller should
  // use Append. A room calls it only while none of its appends is queued in Append, so the order is
  // kept.
  virtual bool TryAppendOnThisThread(const std::string& /*room*/,
                                     std::span<const uint8_t> /*update*/,
                                     const boost::asio::any_io_executor& /*executor*/,
                                     AppendCallback&& /*done*/) {
    return false;
  }
  // Replaces the snapshot by one covering everything through `through_seq` and drops those
  // updates. A snapshot older than the one kept is ignored.
  virtual void Compact(const std::string& room, Bytes snapshot, uint64_t through_seq,
                       DoneCallback done) = 0;
  // The snapshot store acknowledged the document as of `through_seq`: unless later updates were
  // appended since, the room holds no unsaved change any more.
  virtual void MarkSaved(const std::string& room, uint64_t through_seq, DoneCallback done) = 0;
  // Removes everything the log holds of a room (the document API's DELETE), after the appends
  // made so far; a later append starts a new log at sequence 1.
  virtual void Erase(const std::string& room, EraseCallback done) = 0;
  // Rooms holding unsaved changes (blocking; a server calls it once at start).
  virtual Result<std::vector<std::string>> RoomsNeedingSave() = 0;
  // Bytes of updates not yet compacted (blocking; metrics).
  virtual Result<uint64_t> LogBytes() = 0;
  // Blocks until every append made so far is durable and, except for those committed on their
  // callers' threads (whose callbacks run there), its callback has run.
  virtual void Flush() = 0;
  virtual std::string describe() const = 0;
};

}  // namespace tandem::roomlog
