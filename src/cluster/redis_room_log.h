#pragma once
// The room log on Redis (cluster mode, docs/CLUSTER.md): one stream per room, shared by every
// node, holding what follows the snapshot store's copy. An append is one script call (XADD plus
// the room's sequence number and its due save), acknowledged once Redis has it (with
// `appendfsync always`, once it is in the AOF on disk). Appends, from any rooms, leave together
// on ticks `append_delay` apart (aligned on the wall clock, so every node's calls of one tick
// reach Redis together): one request, and one fsync of the AOF and one push of the relayed
// entries to each node per turn of Redis's event loop. A save's acknowledgement trims the
// stream up to what the snapshot covers, never entries younger than `min_age`.
//
//   tandem:{room}:log   STREAM  s=<sequence> u=<Yjs v1 update> n=<node>
//   tandem:{room}:meta  HASH    seq (last sequence given), snap (sequence the store's copy covers)
//   tandem:due          ZSET    room -> Redis time (ms) its save is due
//
// Callbacks run on the Redis client's strand (RoomLog's contract: the log's own threads).

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "redis/redis_client.h"
#include "roomlog/room_log.h"

namespace tandem::cluster {

using roomlog::Bytes;

struct RedisRoomLogOptions {
  std::string node_id;
  // A first unsaved change makes a save due this much later: `save_interval` while anyone is
  // connected on any node, `save_debounce` when nobody is.
  std::chrono::milliseconds save_interval{30'000};
  std::chrono::milliseconds save_debounce{7'000};
  std::chrono::milliseconds min_age{60'000};  // entries younger than this are never trimmed
  // Appends leave on the next multiple of this on the wall clock (0: at once, with only those
  // that arrive before the call is sent).
  std::chrono::microseconds append_delay{0};
  // A connection for the appends made on a worker thread (TryAppendOnThisThread), on that
  // thread's executor. Unset: every append goes through the log's own client.
  std::function<std::shared_ptr<redis::RedisClient>(const boost::asio::any_io_executor&)>
      lane_client;
  // The lease epoch under which this node saves a room (0: none); a save's record is refused
  // when Redis knows a newer one. Unset: saves are not fenced.
  std::function<uint64_t(const std::string& room)> epoch_for;
};

class RedisRoomLog : public roomlog::RoomLog {
 public:
  RedisRoomLog(std::shared_ptr<redis::RedisClient> client, RedisRoomLogOptions options);
  ~RedisRoomLog() override;

  void Read(const std::string& room, ReadCallback done) override;
  void Append(const std::string& room, Bytes update, AppendCallback done) override;
  // On a worker thread: the append goes out on that thread's own connection (a lane), batched
  // with the thread's other appends until the next tick, and its answer comes back there.
  bool TryAppendOnThisThread(const std::string& room, std::span<const uint8_t> update,
                             const boost::asio::any_io_executor& executor,
                             AppendCallback&& done) override;
  // The worker threads stopped and their io_contexts are about to go: the lanes' connections
  // are closed and what they had waiting or in flight is answered with kUnavailable.
  void ForgetWorkers();
  // Replies to the lanes' commands and their total round-trip time in microseconds.
  std::pair<uint64_t, uint64_t> lane_roundtrips() const;
  // The snapshot lives in the snapshot store: nothing to fold here.
  void Compact(const std::string& room, Bytes snapshot, uint64_t through_seq,
               DoneCallback done) override;
  void MarkSaved(const std::string& room, uint64_t through_seq, DoneCallback done) override;
  void Erase(const std::string& room, EraseCallback done) override;
  Result<std::vector<std::string>> RoomsNeedingSave() override;
  Result<uint64_t> LogBytes() override;
  void Flush() override;
  std::string describe() const override;
  // Stream entries trimmed after saves by this node.
  uint64_t trimmed() const { return trimmed_.load(std::memory_order_relaxed); }
  // Updates appended, and the script calls that carried them.
  uint64_t appends() const { return appends_.load(std::memory_order_relaxed); }
  uint64_t append_calls() const { return append_calls_.load(std::memory_order_relaxed); }

  // Redis keys of a room (the room id between braces: one hash slot per room).
  // A room's save interval while anyone is connected: up to a quarter shorter, by an amount
  // fixed by its name, so rooms that started together (a restart, a class opening its documents
  // at once) do not all save in the same moment.
  static std::chrono::milliseconds SpreadSaveInterval(const std::string& room,
                                                      std::chrono::milliseconds interval);
  static std::string LogKey(const std::string& room) { return "tandem:{" + room + "}:log"; }
  static std::string MetaKey(const std::string& room) { return "tandem:{" + room + "}:meta"; }
  static std::string ConnsKey(const std::string& room) { return "tandem:{" + room + "}:conns"; }
  static std::string LeaseKey(const std::string& room) { return "tandem:{" + room + "}:lease"; }
  // The pub/sub channel the append script publishes each entry to (not a key).
  static std::string RelayChannel(const std::string& room) { return "tandem:{" + room + "}:relay"; }
  static constexpr const char* kDueKey = "tandem:due";
  static constexpr size_t kMaxBatch = 128;              // entries per script call
  static constexpr size_t kMaxBatchBytes = 256 * 1024;  // updates' bytes per script call

 private:
  struct QueuedAppend {
    std::string room;
    Bytes update;
    AppendCallback done;
  };
  // The appends of one worker thread; touched only on that thread (the list under lanes_mu_).
  struct Lane {
    explicit Lane(const boost::asio::any_io_executor& ex) : executor(ex), timer(ex) {}
    boost::asio::any_io_executor executor;
    std::thread::id thread;
    std::shared_ptr<redis::RedisClient> client;
    std::vector<QueuedAppend> batch;
    size_t bytes = 0;
    bool scheduled = false;
    boost::asio::steady_timer timer;
  };
  // On the client's strand: sends every queued append, in order.
  void SendBatch();
  // Sends `taken` on `client` (script calls of up to kMaxBatch entries), in order.
  void SendEntries(redis::RedisClient& client, std::vector<QueuedAppend> taken);
  Lane* LaneForThisThread(const boost::asio::any_io_executor& executor);
  void SendLane(Lane& lane);
  // Erases the room with a script call on `client` (after the appends sent on it before).
  void EraseOn(redis::RedisClient& client, const std::string& room, EraseCallback done);
  void ReadPage(const std::string& room, const std::shared_ptr<roomlog::LogContents>& out,
                const std::string& after, uint64_t snap, ReadCallback done);
  void Started();
  void Finished();
  // Runs a script by its SHA, loading it on NOSCRIPT.
  void Script(const char* body, std::vector<std::string> keys, std::vector<std::string> args,
              redis::RedisClient::Callback done);
  void ScriptOn(redis::RedisClient& client, const char* body, std::vector<std::string> keys,
                std::vector<std::string> args, redis::RedisClient::Callback done);

  std::shared_ptr<redis::RedisClient> client_;
  const RedisRoomLogOptions options_;
  std::mutex mu_;
  std::condition_variable idle_;
  size_t in_flight_ = 0;  // GUARDED_BY(mu_)
  std::mutex batch_mu_;
  std::vector<QueuedAppend> batch_;        // GUARDED_BY(batch_mu_)
  size_t batch_bytes_ = 0;                 // GUARDED_BY(batch_mu_)
  bool send_scheduled_ = false;            // GUARDED_BY(batch_mu_)
  bool early_send_posted_ = false;         // GUARDED_BY(batch_mu_)
  boost::asio::steady_timer batch_timer_;  // on the client's strand
  mutable std::mutex lanes_mu_;
  std::vector<std::unique_ptr<Lane>> lanes_;  // GUARDED_BY(lanes_mu_)
  bool lanes_forgotten_ = false;              // GUARDED_BY(lanes_mu_)
  std::atomic<uint64_t> trimmed_{0};
  std::atomic<uint64_t> appends_{0};
  std::atomic<uint64_t> append_calls_{0};
};

}  // namespace tandem::cluster
