#pragma once
// One node of a Tandem cluster (docs/CLUSTER.md): what a node does with Redis besides appending
// to the room log (cluster/redis_room_log.h).
//   - The relay: the append script publishes every entry it adds to a room's stream on the
//     room's relay channel, and a node subscribes to the channels of the rooms it has loaded, so
//     an entry reaches it without a read per entry. Each entry carries the room's sequence
//     number: an entry past the next one expected (pub/sub loses what is published while a
//     subscriber is away) and every (re)subscription make the node read the stream from the
//     room's cursor (XRANGE), so nothing in the log is missed. Every entry goes to its room
//     (Room::ApplyLogEntry).
//   - Owner leases with fencing epochs: a node saves a room only under a lease it holds and has
//     renewed in time; the epoch goes with the save to the snapshot store and with the record of
//     the save to Redis, which both refuse an older one.
//   - The due-save sweeper: saves due in the `tandem:due` sorted set (a change, the last client
//     leaving anywhere) are taken by whichever node gets the room's lease, loading the room if
//     it must. An owner that dies leaves its due saves to the others.
//   - Awareness over pub/sub (ephemeral, not logged), node liveness keys, and the count of
//     connections per node of each room (the cluster-wide save rules).
// Everything runs on the node's own thread; the RoomCluster methods may be called from any
// thread.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "redis/redis_client.h"
#include "room/room.h"
#include "room/room_cluster.h"
#include "room/room_registry.h"

namespace tandem::cluster {

class RedisRoomLog;

struct ClusterOptions {
  std::string node_id;
  redis::RedisOptions redis;
  std::chrono::milliseconds lease_ttl{10'000};    // an owner's lease; renewed every third
  std::chrono::milliseconds node_ttl{3'000};      // liveness key; renewed every third
  std::chrono::milliseconds sweep_interval{500};  // how often due saves are looked for
  std::chrono::milliseconds save_interval{30'000};
  std::chrono::milliseconds save_debounce{7'000};
  std::chrono::milliseconds save_retry_min{1'000};   // a failed save is retried after this,
  std::chrono::milliseconds save_retry_max{60'000};  // doubling up to this
};

class ClusterNode : public room::RoomCluster {
 public:
  static constexpr const char* kAwarenessChannel = "tandem:awareness";
  static std::string NodeKey(const std::string& node) { return "tandem:node:" + node; }

  explicit ClusterNode(ClusterOptions options);
  ~ClusterNode() override;
  ClusterNode(const ClusterNode&) = delete;
  ClusterNode& operator=(const ClusterNode&) = delete;

  // Starts the node's thread and checks that Redis answers (kUnavailable if not in time).
  Status Connect();
  // Starts liveness, awareness, lease renewal and the sweeper on the server's rooms, and the
  // relay on the rooms' worker threads.
  void Start(room::RoomRegistry* registry);
  // Drain (SIGTERM): no more saves start here; every lease is released and the other nodes
  // drop this node's clients' awareness at once. Blocks until Redis answered (at most 2 s).
  void Drain();
  // The server's rooms, registry and worker threads are about to go: nothing is handed to them
  // any more (a relayed entry would post to a room whose io_context is gone), and the relay's
  // connections on the workers' io_contexts are closed and dropped. Blocks until the node's
  // thread has let go of them. Call after the server stopped (its workers no longer run), before
  // it is destroyed.
  void ForgetServer();
  void Stop();

  // A client for the room log, on the node's thread.
  std::shared_ptr<redis::RedisClient> NewClient();
  void set_log(const RedisRoomLog* log) { log_ = log; }
  // The lease epoch under which this node may act for `room`, or 0 (any thread).
  uint64_t EpochFor(const std::string& room) const;
  bool redis_reachable() const { return reachable_.load(std::memory_order_relaxed); }
  std::string RenderMetrics() const;

  // room::RoomCluster
  void Attach(const std::shared_ptr<room::Room>& room, const std::string& position,
              uint64_t seq) override;
  void Detach(const std::string& id, const room::Room* room) override;
  void ConnectionsChanged(const std::string& id, size_t connections) override;
  void PublishAwareness(const std::string& id, std::vector<uint8_t> update) override;
  void QueryAwareness(const std::string& id) override;
  void Erased(const std::string& id) override;
  const std::string& node_id() const override { return options_.node_id; }

 private:
  struct Subscription {
    std::weak_ptr<room::Room> room;
    const room::Room* ptr = nullptr;
    std::string cursor;  // the last stream id handed to the room
    uint64_t seq = 0;    // the sequence number of that entry
    uint64_t heard = 0;  // the highest sequence number published since
    bool subscribed = false;
    bool reading = false;  // a catch-up read is in flight
    bool read_again = false;
    int empty_reads = 0;  // reads in a row that found nothing of what was heard
  };
  // The relay of the rooms one worker thread runs, on that thread: an entry goes from the
  // socket to its room without waking another thread. Everything here is touched only there.
  struct Shard {
    boost::asio::any_io_executor executor;           // the worker thread's
    std::shared_ptr<redis::RedisClient> subscriber;  // SUBSCRIBE mode
    std::shared_ptr<redis::RedisClient> reader;      // catch-up reads (XRANGE)
    // Found by the room's name as a view into a relayed message, without a copy of it.
    struct NameHash {
      using is_transparent = void;
      size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
    };
    std::unordered_map<std::string, Subscription, NameHash, std::equal_to<>> rooms;
    std::chrono::milliseconds backoff{0};
    std::unique_ptr<boost::asio::steady_timer> retry;
  };
  struct Lease {
    uint64_t epoch = 0;
    std::chrono::steady_clock::time_point valid_until;
  };
  enum class MessageKind : uint8_t { kAwareness = 0, kQuery = 1, kErased = 2, kLeaving = 3 };

  // Relay
  Shard& ShardFor(const std::string& room);
  void SubscribeRelay(Shard& shard, const std::string& room);
  void ResubscribeRelay(Shard& shard);
  void OnRelayed(Shard& shard, const redis::RedisClient::PushMessage& message);
  // Reads the room's stream after its cursor (XRANGE) up to its end.
  void CatchUp(Shard& shard, const std::string& room);
  void OnCaughtUp(Shard& shard, const std::string& room, Result<redis::Reply> reply);
  // Hands one entry to the room and moves the cursor past it.
  void Deliver(Subscription& sub, const std::shared_ptr<room::Room>& room, std::string_view id,
               uint64_t seq, std::shared_ptr<std::vector<uint8_t>> update, bool own);
  // Pub/sub
  void Subscribe();
  void OnMessage(const redis::RedisClient::PushMessage& message);
  void Publish(MessageKind kind, const std::string& room, const std::vector<uint8_t>& payload);
  // Liveness and leases
  void Heartbeat();
  void DropNode(const std::string& node);
  void Acquire(const std::string& room, std::function<void(uint64_t epoch)> done);
  void Release(const std::string& room, std::function<void()> done);
  void RenewLeases();
  // Sweeper
  void Sweep();
  void SaveDue(const std::string& room, uint64_t epoch);
  void FinishSave(const std::string& room, const Status& status);
  void Every(boost::asio::steady_timer& timer, std::chrono::milliseconds period,
             void (ClusterNode::*fn)());
  // Runs a Lua script by EVAL (the scripts here are small and rare).
  void Script(const char* body, std::vector<std::string> keys, std::vector<std::string> args,
              redis::RedisClient::Callback done);

  const ClusterOptions options_;
  boost::asio::io_context ioc_{1};
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  std::shared_ptr<redis::RedisClient> control_;     // leases, liveness, publish, sweeper
  std::shared_ptr<redis::RedisClient> subscriber_;  // pub/sub only
  // One per worker thread, from Start() to ForgetServer(); a room's is the one of its thread.
  std::mutex shards_mu_;  // Attach and Detach (any thread) against ForgetServer
  std::vector<std::unique_ptr<Shard>> shards_;
  std::function<size_t(const std::string& room)> shard_index_;
  std::vector<std::shared_ptr<redis::RedisClient>> log_clients_;
  const RedisRoomLog* log_ = nullptr;
  room::RoomRegistry* registry_ = nullptr;
  boost::asio::steady_timer heartbeat_timer_{ioc_};
  boost::asio::steady_timer lease_timer_{ioc_};
  boost::asio::steady_timer sweep_timer_{ioc_};
  boost::asio::steady_timer resubscribe_timer_{ioc_};
  std::chrono::milliseconds resubscribe_backoff_{0};
  bool draining_ = false;
  std::atomic<bool> stopped_{false};
  std::set<std::string> known_nodes_;  // other nodes seen on the awareness channel
  std::set<std::string> saving_;       // rooms whose save this node runs now
  std::map<std::string, std::pair<std::chrono::steady_clock::time_point,
                                  std::chrono::milliseconds>>
      retry_;  // rooms whose last save failed: next attempt, backoff

  mutable std::mutex lease_mu_;
  std::unordered_map<std::string, Lease> leases_;  // GUARDED_BY(lease_mu_)

  std::atomic<bool> reachable_{false};
  std::atomic<uint64_t> leases_acquired_{0};
  std::atomic<uint64_t> leases_lost_{0};
  std::atomic<uint64_t> saves_ok_{0};
  std::atomic<uint64_t> saves_failed_{0};
  std::atomic<uint64_t> saves_not_owner_{0};
  std::atomic<uint64_t> entries_read_{0};
  std::atomic<uint64_t> catch_up_reads_{0};
  std::atomic<uint64_t> lag_micros_{0};
  std::atomic<uint64_t> nodes_dropped_{0};
};

}  // namespace tandem::cluster
