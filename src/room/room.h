#pragma once
// A room: one shared document, its awareness states and its connections. A room is a
// single-threaded unit (like a Durable Object): every member below is touched only on strand_
// (checked in debug builds). Public methods may be called from any thread; they post to the
// strand. Owned by the RoomRegistry (shared_ptr) and kept alive by pending handlers.
//
// The room answers the y-websocket protocol (sync steps, updates, awareness, query-awareness)
// and keeps the outbox: frames wait there until what they reveal is durable in the room log.
// Everything durable (loading, appends, saves, compaction) is RoomPersistence's, which the room
// owns when it has a log or a snapshot store.

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "crdt/doc.h"
#include "protocol/awareness.h"
#include "room/clock.h"
#include "room/connection.h"
#include "room/metrics.h"
#include "room/room_persistence.h"

namespace tandem::room {

struct RoomOptions {
  size_t max_connections = 2'000;
  std::chrono::milliseconds awareness_timeout{30'000};
  // Limits on what clients send (docs/PROTOCOL.md, "Limits"); passing one closes with 4413.
  crdt::UpdateLimits update_limits{
      .max_nesting_depth = 256, .max_clients = 10'000, .max_pending_bytes = 4 << 20};
  size_t max_document_bytes = 64 << 20;   // updates are refused once the document is this large
  size_t max_awareness_states = 16;       // awareness clients one connection may hold a state for
  size_t max_awareness_bytes = 64 << 10;  // JSON bytes of one awareness state
  size_t max_awareness_room_bytes = 16 << 20;  // JSON bytes of every awareness state of the room
  // Replies (sync step 2) waiting in the outbox for one connection; past it the connection is
  // closed with 1008 (as a client whose send queue overflows).
  size_t max_queued_reply_bytes = 32 << 20;
};

class Room : public std::enable_shared_from_this<Room>, private RoomPersistence::Listener {
 public:
  using Strand = boost::asio::strand<boost::asio::any_io_executor>;
  enum class State { kLoading, kReady, kFailed, kDeleted };

  // `strand` runs the room and, in the server, its connections' socket I/O too, so a broadcast
  // hands frames to the sessions without a thread hop. With neither a log nor a snapshot store
  // in `persistence`, the room lives in memory only (tests).
  Room(std::string id, Strand strand, RoomOptions options, PersistenceServices persistence,
       Metrics& metrics);
  ~Room() override;

  const std::string& id() const { return id_; }
  Strand& strand() { return strand_; }

  // Loads the room (its log, else the snapshot store); joins and messages wait meanwhile.
  void Start();
  // Adds a connection: greets it with sync step 1 and the awareness states. Refuses (closes
  // with 4429) past the per-room limit, and with 1013 if the room could not be loaded.
  void Join(std::shared_ptr<Connection> conn);
  void Leave(std::shared_ptr<Connection> conn);
  void Receive(std::shared_ptr<Connection> conn, std::shared_ptr<std::vector<uint8_t>> frame);
  // Closes every connection, and every later join, with this code (shutdown).
  void CloseAll(uint16_t code, std::string reason);
  // Saves what is unsaved, then calls `done` on the strand (RoomPersistence::SaveForShutdown).
  void SaveForShutdown(std::function<void()> done);
  // Compacts the log into a snapshot (before unloading), then calls `done`.
  void CompactForUnload(std::function<void()> done);
  // Schedules a save of changes a previous run left unsaved.
  void ResumeSaves();
  // Runs `fn` on the strand once the room is loaded (or failed to load): the HTTP APIs read and
  // edit rooms through it. The room stays loaded until then.
  void Visit(std::function<void(Room&)> fn);

  void set_on_empty(std::function<void()> f) { on_empty_ = std::move(f); }
  void set_on_join_done(std::function<void(Room&)> f) { on_join_done_ = std::move(f); }
  void set_on_failed(std::function<void()> f) { on_failed_ = std::move(f); }

  // Strand only (the registry's unload timer, tests through the strand).
  State state() const;
  size_t connection_count() const;
  bool CanUnload() const;
  const crdt::Doc& doc() const;
  // Strand only: what the operator's console and the document API read.
  const protocol::Awareness& awareness() const;
  // Calls `fn` with each connection (id, user, read-only).
  void ForEachConnection(const std::function<void(const Connection&)>& fn) const;
  size_t document_bytes() const;
  const RoomPersistence* persistence() const { return persistence_.get(); }
  // Strand only: edits the document as the server (restoring a version, the document API): the
  // edits are logged and broadcast like a client's. `edit` returns what it did.
  Status ApplyEdit(const std::function<Status(crdt::Doc&)>& edit);
  // Strand only: applies an update as if a client (read-write) had sent it; kResourceExhausted
  // or kMalformed when refused (nothing changes then).
  Status ApplyUpdate(std::span<const uint8_t> update, crdt::UpdateFormat format);
  // Strand only: saves now if anything is unsaved; `done` runs on the strand once the store has
  // acknowledged (or refused).
  void SaveNow(std::function<void(Status)> done);
  // Strand only: runs `fn` on the strand once every change made so far is durable in the log
  // (at once for a room without one): what the document API waits for before it answers.
  void WhenDurable(std::function<void()> fn);
  // Strand only, a ready room: erases it (the document API's DELETE). Incoming messages and
  // joins wait meanwhile; the snapshot store's versions and the log are removed; then every
  // connection is closed with 4410 and the room is kDeleted (the registry drops it, and the
  // next join starts an empty room). On an error nothing is erased and the room goes on.
  // `done` gets the number of connections closed: this server's, plus those other nodes of a
  // cluster recorded in the room (they close theirs when they hear of the erase).
  void Erase(std::function<void(Status, size_t closed)> done);
  // Unix ms of the oldest change not yet in the snapshot store, or 0 (any thread).
  int64_t unsaved_since_unix_ms() const {
    return persistence_ ? persistence_->unsaved_since_unix_ms() : 0;
  }

  // Cluster mode (docs/CLUSTER.md). Any thread: an entry of the shared log, read by the relay;
  // `own`: appended by this node, so already in the document. Entries the room covers are
  // skipped; a gap (entries trimmed before this node read them) resyncs the room from the store
  // and the log. An entry that does not decode is skipped: it harms this room only.
  void ApplyLogEntry(uint64_t seq, std::shared_ptr<const Bytes> update, bool own);
  // Any thread: awareness states of another node's clients.
  void ApplyRemoteAwareness(std::string node, std::shared_ptr<const Bytes> update);
  // Any thread: a node left or died; its clients' awareness states go at once.
  void DropNodeAwareness(std::string node);
  // Any thread: another node asked for this node's clients' awareness states.
  void RepublishAwareness();
  // Any thread: another node erased this room; closes like a local erase, then `done` (strand).
  void CloseErased(std::function<void()> done);
  // Strand only: the log sequence number through which every entry is in the document.
  uint64_t covered_log_seq() const { return covered_log_seq_; }

 private:
  struct ConnState {
    std::shared_ptr<Connection> conn;
    std::vector<uint64_t> awareness_clients;
    // The last sync step 2 and awareness reply sent to this connection, as tokens that expire
    // once the connection has written them: while one is alive, a repeated request is already
    // answered by it (plus the broadcasts that follow it), so no new reply is made.
    std::weak_ptr<const std::vector<uint8_t>> step2_in_flight;
    std::weak_ptr<const std::vector<uint8_t>> awareness_in_flight;
    size_t outbox_bytes = 0;  // bytes of replies to this connection waiting in the outbox
  };
  struct Outgoing {
    uint64_t required_seq;           // local append sequence that must be durable first
    SharedFrame frame;               // null: `then` only
    std::shared_ptr<Connection> to;  // one recipient, or null: broadcast
    const Connection* except = nullptr;
    std::function<void()> then;  // run once durable (WhenDurable)
  };
  struct Waiting {                                // work that arrived while loading
    std::shared_ptr<Connection> conn;             // null: a visit
    std::shared_ptr<std::vector<uint8_t>> frame;  // null: a join (or a visit)
    std::function<void(Room&)> visit;
  };

  // RoomPersistence::Listener
  Status OnLoaded(const std::vector<Bytes>& parts, size_t from_store) override;
  void OnLoadFailed(const std::string& why) override;
  void OnDurable(uint64_t seq) override;
  Bytes EncodeState() override;
  void OnLogUnavailable(const std::string& why) override;
  uint64_t CoveredLogSeq() override { return covered_log_seq_; }

  // Cluster mode: reloads the store's copy and the log's tail and applies what is missing.
  void Resync();
  // Applies a resync's parts as other nodes' changes; attaches to the relay where they end.
  void FinishResync(const std::vector<Bytes>& parts);
  // The state change and closes of an erased room (4410), here or on another node.
  void CloseAsDeleted();
  void BecomeReady();
  // Runs what waited while the room was loading or being erased.
  void RunWaiting();
  void InstallUpdateObserver();
  // Webhooks: notes the roots a transaction changed and (re)arms the room.changed timer.
  void NoteChange(const crdt::Transaction& t);
  void OnChangeTimer();
  void FinishErase(Status s, size_t connections_elsewhere,
                   const std::function<void(Status, size_t)>& done);
  void DoJoin(std::shared_ptr<Connection> conn);
  void DoLeave(const std::shared_ptr<Connection>& conn);
  void ReceiveOnStrand(const std::shared_ptr<Connection>& conn,
                       std::shared_ptr<std::vector<uint8_t>> frame);
  void DoReceive(const std::shared_ptr<Connection>& conn, const std::vector<uint8_t>& frame);
  void HandleSyncStep1(const std::shared_ptr<Connection>& conn, std::span<const uint8_t> sv);
  void HandleUpdate(const std::shared_ptr<Connection>& conn, std::span<const uint8_t> update);
  void HandleAwareness(const std::shared_ptr<Connection>& conn, std::span<const uint8_t> update);
  void HandleQueryAwareness(const std::shared_ptr<Connection>& conn);
  // Sends awareness states to this node's clients (but `except`) and, for this node's own
  // clients, to the other nodes.
  void BroadcastAwareness(const std::vector<uint64_t>& clients, const Connection* except);
  void SendAwarenessLocally(const std::vector<uint64_t>& clients, const Connection* except);
  void SendNow(const Outgoing& out);
  // Sends once everything appended so far is durable.
  void SendWhenDurable(SharedFrame frame, std::shared_ptr<Connection> to, const Connection* except);
  void OnUpdateApplied(const std::vector<uint8_t>& update);
  void FlushOutbox();
  void ScheduleAwarenessCheck();
  void OnAwarenessCheck();
  SharedFrame SyncStep2For(std::span<const uint8_t> sv);
  // Closes `conn` for a limit it passed (4413) and counts it.
  void CloseOverLimit(const std::shared_ptr<Connection>& conn, const std::string& why);
  uint64_t appended() const { return persistence_ ? persistence_->appended() : 0; }
  uint64_t durable() const { return persistence_ ? persistence_->durable() : 0; }

  const std::string id_;
  Strand strand_;
  RoomOptions options_;
  Metrics& metrics_;
  Clock& clock_;
  State state_;
  // A relay: it stores and forwards what clients send and never authors changes itself.
  crdt::Doc doc_{crdt::DocOptions{.gc = true, .client_id = 0, .clean_up_formatting = false}};
  std::unique_ptr<RoomPersistence> persistence_;  // null: in memory only
  protocol::Awareness awareness_;
  std::unordered_map<const Connection*, ConnState> conns_;
  std::deque<Waiting> pending_;
  std::deque<Outgoing> outbox_;
  const Connection* applying_from_ = nullptr;
  SharedFrame cached_full_step2_;
  // Step 2 replies by the state vector they answer, while the document is unchanged (joins of
  // clients that are in sync send the same state vector).
  std::vector<std::pair<std::vector<uint8_t>, SharedFrame>> step2_by_sv_;
  SharedFrame cached_awareness_all_;  // [1, every state], while awareness is unchanged
  // Roughly the size of the document's encoding: exact after each full encoding, plus the
  // updates applied since (docs/PROTOCOL.md, --max-document-size).
  size_t document_bytes_ = 0;
  std::unique_ptr<Timer> awareness_timer_;
  bool awareness_timer_running_ = false;
  // room.changed notifications (null events_: none): the roots changed since the last one, the
  // start of the burst and the last change.
  RoomEvents* events_;
  ChangeNotifyOptions change_notify_;
  std::unique_ptr<Timer> change_timer_;
  std::vector<std::string> changed_roots_;
  std::optional<Clock::TimePoint> burst_started_;
  Clock::TimePoint last_change_;
  bool erasing_ = false;           // joins and messages wait in pending_
  uint16_t close_joins_code_ = 0;  // set by CloseAll: later joins are closed too
  std::string close_joins_reason_;
  // Cluster mode (null: a single node).
  RoomCluster* cluster_;
  uint64_t covered_log_seq_ = 0;
  bool attached_ = false;         // the relay knows this room
  bool resyncing_ = false;        // log entries are ignored until the resync reattaches
  bool applying_remote_ = false;  // applying another node's change: not appended again
  bool log_unavailable_ = false;  // an append failed: joins get 1013 until it is durable
  std::unique_ptr<Timer> resync_timer_;
  std::unordered_map<uint64_t, std::string> remote_awareness_;  // awareness client -> node
  std::function<void()> on_empty_;
  std::function<void(Room&)> on_join_done_;
  std::function<void()> on_failed_;
};

}  // namespace tandem::room
