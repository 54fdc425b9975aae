#pragma once
// The durable side of one room: loading its state, appending every accepted update to the room
// log (retrying failures, keeping the durable sequence gap-free), scheduling snapshot saves by
// the save policy (30 s while connected, 7 s after the last leave), the shutdown save and the
// compaction of the log. Owned by its Room; every member runs on the room's strand (checked in
// debug builds). It reports to the room through Listener, and takes time from a Clock.

#include <boost/asio/strand.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "room/clock.h"
#include "room/metrics.h"
#include "room/room_cluster.h"
#include "room/room_events.h"
#include "roomlog/room_log.h"
#include "snapshot/save_policy.h"
#include "snapshot/snapshot_client.h"

namespace tandem::room {

using Bytes = std::vector<uint8_t>;

struct PersistenceOptions {
  snapshot::SavePolicyOptions save_policy;
  size_t compact_after_updates = 2'000;  // updates in the log before it is folded into a snapshot
};

// What rooms share: the room log, the snapshot store client (either may be null: a room without
// them lives in memory), the clock, and where rooms report events (null: nowhere). They outlive
// every room.
struct PersistenceServices {
  roomlog::RoomLog* log = nullptr;
  snapshot::SnapshotClient* snapshots = nullptr;
  Clock* clock = nullptr;  // null: SystemClock
  PersistenceOptions options;
  RoomEvents* events = nullptr;
  ChangeNotifyOptions change_notify;
  // Cluster mode (null: a single node): the log is shared by every node and saves are the
  // room's owner's, when the cluster's due set says (SaveCovering); no local save timers.
  RoomCluster* cluster = nullptr;
};

class RoomPersistence {
 public:
  using Strand = boost::asio::strand<boost::asio::any_io_executor>;

  class Listener {
   public:
    virtual ~Listener() = default;
    // The room's state to start from (v1 updates to apply in order: a snapshot, then what was
    // logged after it). The first `from_store` parts came from the snapshot store and must
    // decode; a log entry that does not is skipped.
    virtual Status OnLoaded(const std::vector<Bytes>& parts, size_t from_store) = 0;
    virtual void OnLoadFailed(const std::string& why) = 0;
    // Every append up to local sequence number `seq` is durable.
    virtual void OnDurable(uint64_t seq) = 0;
    // The document's full state (v1), for a save or a compaction.
    virtual Bytes EncodeState() = 0;
    // Cluster mode: an append failed (Redis unreachable); it is being retried.
    virtual void OnLogUnavailable(const std::string& /*why*/) {}
    // Cluster mode: the log sequence number through which every entry is in the document.
    virtual uint64_t CoveredLogSeq() { return 0; }
  };

  RoomPersistence(std::string room, Strand strand, PersistenceServices services, Metrics& metrics,
                  Listener& listener);
  ~RoomPersistence();
  RoomPersistence(const RoomPersistence&) = delete;
  RoomPersistence& operator=(const RoomPersistence&) = delete;

  // Asynchronous work keeps `owner` (the room) alive until its callback has run on the strand.
  void set_owner(std::weak_ptr<void> owner) { owner_ = std::move(owner); }
  // Reads the room's log, or (none) the snapshot store's copy; answers through the listener.
  void Load();
  // Appends an update to the log; returns its local sequence number (1, 2, ...). OnDurable
  // follows once it and everything before it are durable; a failed append is retried.
  uint64_t Append(std::span<const uint8_t> update);
  // The room's connection count changed (the save policy's 30 s / 7 s rules).
  void OnConnectionsChanged(size_t connections);
  // A restart found unsaved changes of this room in the log: save them.
  void ResumeSaves();
  // Saves what is unsaved (again after a save in flight; failed saves are retried) and calls
  // `done` once everything appended is durable and saved. Without an answer the caller's
  // shutdown timeout ends the wait.
  void SaveForShutdown(std::function<void()> done);
  // Saves now if anything is unsaved; `done` gets the store's answer (Ok at once when nothing is
  // unsaved). A save in flight is waited for; changes made meanwhile are saved too.
  void SaveNow(std::function<void(Status)> done);
  // Changes not yet in the snapshot store (0: saved).
  uint64_t unsaved_changes() const { return policy_.unsaved_changes(); }
  // Folds the log into a snapshot (before the room unloads), then calls `done`.
  void CompactForUnload(std::function<void()> done);
  // Cluster mode, the room's owner: saves the document, which holds every log entry through
  // `through_seq`, and once the store has acknowledged records the save in the log (which trims
  // what it covers). `done` gets the store's or the log's error.
  void SaveCovering(uint64_t through_seq, std::function<void(Status)> done);
  // Where the last load left the log: an opaque cursor and the sequence number it had reached.
  const std::string& log_position() const { return log_position_; }
  uint64_t log_seq() const { return log_seq_; }
  // Erases the room (the document API's DELETE): no save starts any more; once a save in
  // flight has answered, the snapshot store's versions are deleted, then the log. `done` runs on
  // the strand; on an error saves resume and nothing else is erased. After success this object
  // never writes again. `done` also gets the connections other servers sharing the log had in
  // the room (cluster mode), as the log reports them.
  using EraseDone = roomlog::RoomLog::EraseCallback;
  void Erase(EraseDone done);

  uint64_t appended() const { return appended_; }
  uint64_t durable() const { return durable_; }
  bool all_durable() const { return durable_ == appended_; }
  bool CanUnload() const;
  const snapshot::SavePolicy& save_policy() const { return policy_; }
  // Unix ms of the oldest change not yet in the snapshot store, or 0 (any thread).
  int64_t unsaved_since_unix_ms() const {
    return unsaved_since_unix_ms_.load(std::memory_order_relaxed);
  }
  // Unix ms and outcome of the last save attempt (0: none yet), and its error (strand only).
  int64_t last_save_unix_ms() const { return last_save_unix_ms_; }
  bool last_save_ok() const { return last_save_ok_; }
  const std::string& last_error() const { return last_error_; }

 private:
  void OnRead(Result<std::optional<roomlog::LogContents>> read);
  // `tail`: what the log holds after the store's copy (a shared log, cluster mode).
  void OnStoreLoaded(Result<std::optional<Bytes>> loaded,
                     std::optional<roomlog::LogContents> tail = std::nullopt);
  void DoAppend(Bytes update, uint64_t local_seq);
  // The bookkeeping of an append the log made durable (log_seq: its number in the log).
  void OnDurableAppend(uint64_t log_seq);
  void OnAppended(const Status& status, uint64_t local_seq, uint64_t log_seq, Bytes update);
  void Compact(std::function<void()> done);
  void MaybeCompact();
  void ScheduleSaveCheck();
  void OnSaveTimer();
  void StartSave();
  void OnSaved(const Status& status, uint64_t through_seq, size_t bytes, Clock::TimePoint started);
  // The bookkeeping of a save's outcome (policy, metrics, events, log lines).
  void RecordSave(const Status& status, size_t bytes, Clock::TimePoint started);
  void MaybeFinishShutdownSave();
  void DoErase(EraseDone done);
  void UpdateUnsavedGauge();
  // What the log calls once an append is durable (or failed): OnAppended on the strand. `queued`:
  // the append went through the log's queue (counted in queued_appends_).
  roomlog::RoomLog::AppendCallback AppendDone(Bytes update, uint64_t local_seq, bool queued);
  // options.compact_after_updates, up to a quarter less at random.
  size_t JitteredCompactAfter() const;
  // Runs `fn` on the strand, keeping the owner alive until it has run.
  std::function<void(std::function<void()>)> OnStrand();

  const std::string room_;
  Strand strand_;
  PersistenceServices services_;
  Clock& clock_;
  Metrics& metrics_;
  Listener& listener_;
  std::weak_ptr<void> owner_;

  // Local sequence numbers of appends handed to the log, and the highest one durable with all
  // before it. After a failed append (being retried) later ones may commit first: they wait in
  // durable_ahead_ until the gap closes.
  uint64_t appended_ = 0;
  uint64_t durable_ = 0;
  std::set<uint64_t> durable_ahead_;
  // Appends handed to the log's queue (RoomLog::Append) whose outcome has not come back.
  size_t queued_appends_ = 0;
  uint64_t durable_log_seq_ = 0;  // the log's sequence number of the last durable append
  uint64_t updates_since_compaction_ = 0;
  size_t compact_after_ = 0;  // updates_since_compaction_ that starts the next compaction
  std::chrono::milliseconds append_retry_{100};
  // Failed appends since the last durable one, and when the last of them was logged: a log that
  // stays down is logged once per interval per room, not once per retry and re-sent change.
  uint64_t append_failures_ = 0;
  Clock::TimePoint append_failure_logged_{};

  snapshot::SavePolicy policy_;
  std::unique_ptr<Timer> save_timer_;
  std::optional<Clock::TimePoint> save_timer_at_;
  std::vector<std::function<void()>> after_save_;      // shutdown saves waiting
  std::vector<std::function<void(Status)>> save_now_;  // SaveNow callers waiting
  std::atomic<int64_t> unsaved_since_unix_ms_{0};
  int64_t last_save_unix_ms_ = 0;
  bool last_save_ok_ = false;
  std::string last_error_;
  Clock::TimePoint load_started_;
  bool erasing_ = false;
  bool erased_ = false;
  std::string log_position_;
  uint64_t log_seq_ = 0;
  bool cluster_save_in_flight_ = false;
  EraseDone erase_after_save_;
};

}  // namespace tandem::room
