#include "cluster/cluster_node.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <charconv>
#include <future>

#include "base/log_text.h"
#include "cluster/redis_room_log.h"
#include "lib0/decoder.h"
#include "lib0/encoder.h"

namespace tandem::cluster {

namespace {

using redis::Reply;
using Steady = std::chrono::steady_clock;

// KEYS: lease, meta. ARGV: node, ttl ms. Renews this node's lease or takes a free one (a new
// epoch); 0 when another node holds it.
constexpr const char* kAcquireScript = R"lua(
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(redis.call('HGET', KEYS[2], 'epoch') or '0')
end
if cur then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return redis.call('HINCRBY', KEYS[2], 'epoch', 1)
)lua";

// KEYS: lease. ARGV: node.
constexpr const char* kReleaseScript = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
)lua";

// KEYS: conns, due. ARGV: node, connections, room, save interval ms, save debounce ms.
// Records this node's connection count of a room. When the last client anywhere leaves, a due
// save comes forward to a debounce from now; when the first comes back, it goes back to an
// interval from now (the single node's rules, cluster-wide). Counts of nodes whose liveness key
// is gone are dropped.
constexpr const char* kConnectionsScript = R"lua(
local before = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local count = tonumber(ARGV[2])
if count > 0 then redis.call('HSET', KEYS[1], ARGV[1], count) else redis.call('HDEL', KEYS[1], ARGV[1]) end
local total = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if all[i] == ARGV[1] or redis.call('EXISTS', 'tandem:node:' .. all[i]) == 1 then
    total = total + tonumber(all[i + 1])
  else
    redis.call('HDEL', KEYS[1], all[i])
  end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if total == 0 then
  redis.call('ZADD', KEYS[2], 'XX', 'LT', now + tonumber(ARGV[5]), ARGV[3])
elseif total - count + before == 0 then
  redis.call('ZADD', KEYS[2], 'XX', 'GT', now + tonumber(ARGV[4]), ARGV[3])
end
return total
)lua";

int64_t NowUnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

uint64_t ToU64(std::string_view s) {
  uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

}  // namespace

ClusterNode::ClusterNode(ClusterOptions options) : options_(std::move(options)) {
  work_ =
      std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(
          ioc_.get_executor());
  control_ = redis::RedisClient::Create(ioc_.get_executor(), options_.redis);
  subscriber_ = redis::RedisClient::Create(ioc_.get_executor(), options_.redis);
  thread_ = std::thread([this] { ioc_.run(); });
}

ClusterNode::~ClusterNode() {
  try {
    Stop();
  } catch (const std::exception& e) {
    spdlog::error("cluster: cannot stop the node's thread: {}", e.what());
  }
}

void ClusterNode::ForgetServer() {
  std::promise<void> done;
  boost::asio::post(ioc_, [this, &done] {
    draining_ = true;
    registry_ = nullptr;
    done.set_value();
  });
  done.get_future().wait();
  // The workers no longer run: their relay is touched by nobody else now. Its connections go
  // before their io_contexts do (handlers still queued there are dropped with them).
  std::lock_guard lock(shards_mu_);
  for (auto& shard : shards_) {
    shard->rooms.clear();
    shard->subscriber->Abandon();
    shard->reader->Abandon();
  }
  shards_.clear();
}

void ClusterNode::Stop() {
  boost::asio::post(ioc_, [this] {
    stopped_ = true;
    heartbeat_timer_.cancel();
    lease_timer_.cancel();
    sweep_timer_.cancel();
    resubscribe_timer_.cancel();
    control_->Close();
    subscriber_->Close();
    for (auto& c : log_clients_) c->Close();
  });
  work_.reset();
  if (thread_.joinable()) {
    // The clients' pending reads hold the context; stop it once they were closed.
    boost::asio::post(ioc_, [this] { ioc_.stop(); });
    thread_.join();
  }
}

std::shared_ptr<redis::RedisClient> ClusterNode::NewClient() {
  auto client = redis::RedisClient::Create(ioc_.get_executor(), options_.redis);
  log_clients_.push_back(client);
  return client;
}

Status ClusterNode::Connect() {
  std::promise<Result<Reply>> answered;
  control_->Command({"PING"}, [&answered](Result<Reply> r) { answered.set_value(std::move(r)); });
  auto future = answered.get_future();
  if (future.wait_for(options_.redis.connect_timeout + std::chrono::seconds(1)) !=
      std::future_status::ready) {
    return UnavailableError("redis: no answer to PING");
  }
  auto r = future.get();
  if (!r.ok()) return r.status();
  reachable_ = true;
  return Status::Ok();
}

void ClusterNode::Start(room::RoomRegistry* registry) {
  for (const auto& executor : registry->room_executors()) {
    auto shard = std::make_unique<Shard>();
    shard->executor = executor;
    shard->subscriber = redis::RedisClient::Create(executor, options_.redis);
    shard->reader = redis::RedisClient::Create(executor, options_.redis);
    shard->retry = std::make_unique<boost::asio::steady_timer>(executor);
    Shard* raw = shard.get();
    shard->subscriber->SetPushHandler(
        [this, raw](const redis::RedisClient::PushMessage& m) { OnRelayed(*raw, m); },
        [this, raw] { ResubscribeRelay(*raw); });
    std::lock_guard lock(shards_mu_);
    shards_.push_back(std::move(shard));
  }
  shard_index_ = [registry](const std::string& room) { return registry->ExecutorIndexFor(room); };
  boost::asio::post(ioc_, [this, registry] {
    registry_ = registry;
    Heartbeat();
    Subscribe();
    Every(heartbeat_timer_, std::max(options_.node_ttl / 3, std::chrono::milliseconds(50)),
          &ClusterNode::Heartbeat);
    Every(lease_timer_, std::max(options_.lease_ttl / 3, std::chrono::milliseconds(50)),
          &ClusterNode::RenewLeases);
    Every(sweep_timer_, options_.sweep_interval, &ClusterNode::Sweep);
  });
}

void ClusterNode::Every(boost::asio::steady_timer& timer, std::chrono::milliseconds period,
                        void (ClusterNode::*fn)()) {
  timer.expires_after(period);
  timer.async_wait([this, &timer, period, fn](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    (this->*fn)();
    Every(timer, period, fn);
  });
}

void ClusterNode::Script(const char* body, std::vector<std::string> keys,
                         std::vector<std::string> args, redis::RedisClient::Callback done) {
  std::vector<std::string> command = {"EVAL", body, std::to_string(keys.size())};
  for (auto& k : keys) command.push_back(std::move(k));
  for (auto& a : args) command.push_back(std::move(a));
  control_->Command(command, std::move(done));
}

// ---------------------------------------------------------------------------------------------
// Relay

ClusterNode::Shard& ClusterNode::ShardFor(const std::string& room) {
  return *shards_[shard_index_(room)];
}

void ClusterNode::Attach(const std::shared_ptr<room::Room>& room, const std::string& position,
                         uint64_t seq) {
  std::lock_guard lock(shards_mu_);
  if (shards_.empty()) return;  // not started, or the server is gone
  Shard& shard = ShardFor(room->id());
  boost::asio::post(shard.executor, [this, &shard, weak = std::weak_ptr<room::Room>(room),
                                     ptr = room.get(), id = room->id(), position, seq] {
    Subscription& sub = shard.rooms[id];
    sub.room = weak;
    sub.ptr = ptr;
    sub.cursor = position.empty() ? "0-0" : position;
    sub.seq = seq;
    spdlog::debug("room={} relayed from stream id {} (sequence {})", Quoted(id), sub.cursor, seq);
    if (sub.subscribed) {
      CatchUp(shard, id);  // a resync: what came after its new position
    } else {
      SubscribeRelay(shard, id);
    }
  });
}

void ClusterNode::Detach(const std::string& id, const room::Room* room) {
  std::lock_guard lock(shards_mu_);
  if (shards_.empty()) return;
  Shard& shard = ShardFor(id);
  boost::asio::post(shard.executor, [this, &shard, id, room] {
    auto it = shard.rooms.find(id);
    if (it == shard.rooms.end() || it->second.ptr != room) return;
    shard.rooms.erase(it);
    if (!stopped_) {
      shard.subscriber->Command({"UNSUBSCRIBE", RedisRoomLog::RelayChannel(id)},
                                [](const Result<Reply>&) {});
    }
  });
}

void ClusterNode::SubscribeRelay(Shard& shard, const std::string& room) {
  if (stopped_) return;
  shard.subscriber->Command({"SUBSCRIBE", RedisRoomLog::RelayChannel(room)},
                            [this, &shard, room](const Result<Reply>& r) {
                              auto it = shard.rooms.find(room);
                              if (it == shard.rooms.end()) return;
                              if (!r.ok())
                                return;  // the connection failed: its loss runs ResubscribeRelay
                              shard.backoff = std::chrono::milliseconds(0);
                              it->second.subscribed = true;
                              // Entries appended before the subscription took effect were published
                              // to nobody here.
                              CatchUp(shard, room);
                            });
}

void ClusterNode::ResubscribeRelay(Shard& shard) {
  if (stopped_) return;
  for (auto& [id, sub] : shard.rooms) sub.subscribed = false;
  shard.backoff = std::min(std::max(shard.backoff * 2, std::chrono::milliseconds(100)),
                           std::chrono::milliseconds(2'000));
  spdlog::warn("cluster relay: connection to Redis lost; subscribing again in {} ms",
               shard.backoff.count());
  shard.retry->expires_after(shard.backoff);
  shard.retry->async_wait([this, &shard](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    for (auto& [id, sub] : shard.rooms) SubscribeRelay(shard, id);
  });
}

void ClusterNode::OnRelayed(Shard& shard, const redis::RedisClient::PushMessage& message) {
  // channel tandem:{room}:relay, payload "<stream id> <seq> <node length> <node><update>"
  const std::string_view channel = message.channel;
  const std::string_view payload = message.payload;
  const size_t open = channel.find('{');
  const size_t close = channel.rfind('}');
  if (open == std::string::npos || close == std::string::npos || close < open) return;
  auto it = shard.rooms.find(channel.substr(open + 1, close - open - 1));
  if (it == shard.rooms.end()) return;
  Subscription& sub = it->second;
  const size_t a = payload.find(' ');
  const size_t b = a == std::string::npos ? a : payload.find(' ', a + 1);
  const size_t c = b == std::string::npos ? b : payload.find(' ', b + 1);
  if (c == std::string::npos) return;
  const uint64_t seq = ToU64(payload.substr(a + 1, b - a - 1));
  const size_t node_len = ToU64(payload.substr(b + 1, c - b - 1));
  if (seq == 0 || c + 1 + node_len > payload.size()) return;
  sub.heard = std::max(sub.heard, seq);
  if (seq <= sub.seq) return;  // read already
  if (seq != sub.seq + 1) {
    // Something was published while this node was not listening: read the log.
    CatchUp(shard, it->first);
    return;
  }
  auto room = sub.room.lock();
  if (!room) {
    Detach(it->first, sub.ptr);
    return;
  }
  const bool own = payload.substr(c + 1, node_len) == options_.node_id;
  const auto* update = payload.data() + c + 1 + node_len;
  Deliver(sub, room, payload.substr(0, a), seq,
          std::make_shared<std::vector<uint8_t>>(update, payload.data() + payload.size()), own);
}

namespace {
// Stream ids ("<ms>-<n>") in their order.
bool StreamIdLess(std::string_view a, std::string_view b) {
  const size_t da = a.find('-');
  const size_t db = b.find('-');
  const uint64_t ma = ToU64(a.substr(0, da));
  const uint64_t mb = ToU64(b.substr(0, db));
  if (ma != mb) return ma < mb;
  return ToU64(da == std::string_view::npos ? "0" : a.substr(da + 1)) <
         ToU64(db == std::string_view::npos ? "0" : b.substr(db + 1));
}
}  // namespace

void ClusterNode::Deliver(Subscription& sub, const std::shared_ptr<room::Room>& room,
                          std::string_view id, uint64_t seq,
                          std::shared_ptr<std::vector<uint8_t>> update, bool own) {
  if (StreamIdLess(sub.cursor, id)) sub.cursor = id;
  sub.seq = std::max(sub.seq, seq);
  const int64_t entry_ms = static_cast<int64_t>(ToU64(id));  // "ms-n": ms first
  const int64_t now_ms = NowUnixMillis();
  entries_read_.fetch_add(1, std::memory_order_relaxed);
  if (!own && entry_ms > 0 && now_ms >= entry_ms) {
    lag_micros_.fetch_add(static_cast<uint64_t>(now_ms - entry_ms) * 1000,
                          std::memory_order_relaxed);
  }
  room->ApplyLogEntry(seq, std::move(update), own);
}

void ClusterNode::CatchUp(Shard& shard, const std::string& room) {
  auto it = shard.rooms.find(room);
  if (it == shard.rooms.end() || stopped_) return;
  Subscription& sub = it->second;
  if (sub.reading) {
    sub.read_again = true;
    return;
  }
  sub.reading = true;
  sub.read_again = false;
  catch_up_reads_.fetch_add(1, std::memory_order_relaxed);
  shard.reader->Command(
      {"XRANGE", RedisRoomLog::LogKey(room), "(" + sub.cursor, "+", "COUNT", "512"},
      [this, &shard, room](Result<Reply> r) { OnCaughtUp(shard, room, std::move(r)); });
}

void ClusterNode::OnCaughtUp(Shard& shard, const std::string& room, Result<Reply> reply) {
  auto it = shard.rooms.find(room);
  if (it == shard.rooms.end() || stopped_) return;
  Subscription& sub = it->second;
  sub.reading = false;
  if (!reply.ok()) {
    // Redis away: the subscription's loss resubscribes, and that reads again. A read that
    // failed on its own is retried with the relay's backoff.
    spdlog::warn("cluster relay: reading room={}: {}", Quoted(room),
                 Quoted(reply.status().message()));
    auto timer = std::make_shared<boost::asio::steady_timer>(shard.executor);
    timer->expires_after(std::max(shard.backoff, std::chrono::milliseconds(200)));
    timer->async_wait([this, &shard, room, timer](const boost::system::error_code& ec) {
      if (!ec) CatchUp(shard, room);
    });
    return;
  }
  auto target = sub.room.lock();
  bool progressed = false;
  for (const Reply& entry : reply->elements) {
    if (entry.elements.size() != 2) continue;
    const std::string& id = entry.elements[0].str;
    uint64_t seq = 0;
    auto update = std::make_shared<std::vector<uint8_t>>();
    bool own = false;
    const auto& fields = entry.elements[1].elements;
    for (size_t i = 0; i + 1 < fields.size(); i += 2) {
      const std::string& name = fields[i].str;
      const std::string& value = fields[i + 1].str;
      if (name == "s") seq = ToU64(value);
      if (name == "u") update->assign(value.begin(), value.end());
      if (name == "n") own = value == options_.node_id;
    }
    if (!target || (seq != 0 && seq <= sub.seq)) {
      // Gone, or relayed while this read was on its way.
      if (StreamIdLess(sub.cursor, id)) sub.cursor = id;
      continue;
    }
    progressed = true;
    Deliver(sub, target, id, seq, std::move(update), own);
  }
  if (!target) {
    Detach(room, sub.ptr);
    return;
  }
  // An entry heard past what the log gave: published means logged, but the push can overtake
  // this read's reply (another connection), so read again. When reads keep finding nothing, the
  // entry left the log (trimmed after a save before this node read it): the room reloads (the
  // store's copy plus the log) on a gap.
  const bool missing = sub.heard > sub.seq;
  sub.empty_reads = missing && !progressed ? sub.empty_reads + 1 : 0;
  if (sub.empty_reads > 3) {
    sub.empty_reads = 0;
    sub.seq = sub.heard;
    target->ApplyLogEntry(sub.heard, std::make_shared<std::vector<uint8_t>>(), false);
    return;
  }
  // More to read (a full page), something missing, or a read asked for meanwhile (a resync).
  if (reply->elements.size() == 512 || missing || sub.read_again) CatchUp(shard, room);
}

// ---------------------------------------------------------------------------------------------
// Awareness over pub/sub

void ClusterNode::Subscribe() {
  if (stopped_) return;
  subscriber_->SetPushHandler(
      [this](const redis::RedisClient::PushMessage& message) { OnMessage(message); },
      [this] {
        if (stopped_) return;
        resubscribe_backoff_ =
            std::min(std::max(resubscribe_backoff_ * 2, std::chrono::milliseconds(200)),
                     std::chrono::milliseconds(5'000));
        resubscribe_timer_.expires_after(resubscribe_backoff_);
        resubscribe_timer_.async_wait([this](const boost::system::error_code& ec) {
          if (!ec) Subscribe();
        });
      });
  subscriber_->Command({"SUBSCRIBE", kAwarenessChannel}, [this](const Result<Reply>& r) {
    if (r.ok()) {
      resubscribe_backoff_ = std::chrono::milliseconds(0);
    } else if (resubscribe_backoff_ < std::chrono::milliseconds(5'000)) {
      spdlog::warn("cluster: cannot subscribe to awareness: {}", r.status().message());
    }
  });
}

void ClusterNode::Publish(MessageKind kind, const std::string& room,
                          const std::vector<uint8_t>& payload) {
  lib0::Encoder e;
  e.WriteVarString(options_.node_id);
  e.WriteVarUint(static_cast<uint8_t>(kind));
  e.WriteVarString(room);
  e.WriteVarUint8Array(payload);
  std::vector<uint8_t> bytes = e.Take();
  control_->Command({"PUBLISH", kAwarenessChannel, std::string(bytes.begin(), bytes.end())},
                    [](const Result<Reply>&) {});
}

void ClusterNode::OnMessage(const redis::RedisClient::PushMessage& message) {
  if (registry_ == nullptr) return;
  const std::string_view data = message.payload;
  lib0::Decoder d(std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
  std::string node(d.ReadVarString());
  const uint64_t kind = d.ReadVarUint();
  std::string room(d.ReadVarString());
  auto payload = d.ReadVarUint8Array();
  if (!d.ok() || node == options_.node_id) return;
  if (kind == static_cast<uint64_t>(MessageKind::kLeaving)) {
    DropNode(node);
    return;
  }
  known_nodes_.insert(node);
  auto target = registry_->Find(room);
  if (kind == static_cast<uint64_t>(MessageKind::kErased)) {
    registry_->ForgetErased(room);
    return;
  }
  if (!target) return;
  if (kind == static_cast<uint64_t>(MessageKind::kAwareness)) {
    target->ApplyRemoteAwareness(
        node, std::make_shared<std::vector<uint8_t>>(payload.begin(), payload.end()));
  } else if (kind == static_cast<uint64_t>(MessageKind::kQuery)) {
    target->RepublishAwareness();
  }
}

void ClusterNode::PublishAwareness(const std::string& id, std::vector<uint8_t> update) {
  boost::asio::post(ioc_, [this, id, update = std::move(update)] {
    if (!stopped_) Publish(MessageKind::kAwareness, id, update);
  });
}

void ClusterNode::QueryAwareness(const std::string& id) {
  boost::asio::post(ioc_, [this, id] {
    if (!stopped_) Publish(MessageKind::kQuery, id, {});
  });
}

void ClusterNode::Erased(const std::string& id) {
  boost::asio::post(ioc_, [this, id] {
    if (!stopped_) Publish(MessageKind::kErased, id, {});
  });
}

// ---------------------------------------------------------------------------------------------
// Liveness

void ClusterNode::Heartbeat() {
  control_->Command({"SET", NodeKey(options_.node_id), std::to_string(NowUnixMillis()), "PX",
                     std::to_string(options_.node_ttl.count())},
                    [this](const Result<Reply>& r) {
                      const bool was = reachable_.exchange(r.ok());
                      if (was && !r.ok()) {
                        spdlog::error("cluster: Redis unreachable: {}", r.status().message());
                      } else if (!was && r.ok()) {
                        spdlog::info("cluster: Redis reachable");
                      }
                    });
  for (const std::string& node : known_nodes_) {
    control_->Command({"EXISTS", NodeKey(node)}, [this, node](const Result<Reply>& r) {
      if (r.ok() && r->type == Reply::Type::kInteger && r->integer == 0) DropNode(node);
    });
  }
}

void ClusterNode::DropNode(const std::string& node) {
  if (known_nodes_.erase(node) == 0 && registry_ == nullptr) return;
  ++nodes_dropped_;
  spdlog::info("cluster: node {} is gone; dropping its clients' awareness", Quoted(node));
  if (registry_ == nullptr) return;
  for (const auto& room : registry_->Rooms()) room->DropNodeAwareness(node);
}

void ClusterNode::ConnectionsChanged(const std::string& id, size_t connections) {
  boost::asio::post(ioc_, [this, id, connections] {
    if (stopped_) return;
    Script(kConnectionsScript, {RedisRoomLog::ConnsKey(id), RedisRoomLog::kDueKey},
           {options_.node_id, std::to_string(connections), id,
            std::to_string(RedisRoomLog::SpreadSaveInterval(id, options_.save_interval).count()),
            std::to_string(options_.save_debounce.count())},
           [id](const Result<Reply>& r) {
             if (!r.ok()) {
               spdlog::warn("room={} cannot record its connections in Redis: {}", Quoted(id),
                            r.status().message());
             }
           });
  });
}

// ---------------------------------------------------------------------------------------------
// Leases

uint64_t ClusterNode::EpochFor(const std::string& room) const {
  std::lock_guard lock(lease_mu_);
  auto it = leases_.find(room);
  if (it == leases_.end() || Steady::now() >= it->second.valid_until) return 0;
  return it->second.epoch;
}

void ClusterNode::Acquire(const std::string& room, std::function<void(uint64_t)> done) {
  const auto sent = Steady::now();
  Script(kAcquireScript, {RedisRoomLog::LeaseKey(room), RedisRoomLog::MetaKey(room)},
         {options_.node_id, std::to_string(options_.lease_ttl.count())},
         [this, room, sent, done = std::move(done)](const Result<Reply>& r) {
           uint64_t epoch = 0;
           if (r.ok() && r->type == Reply::Type::kInteger && r->integer > 0) {
             epoch = static_cast<uint64_t>(r->integer);
           }
           bool lost = false;
           bool gained = false;
           {
             std::lock_guard lock(lease_mu_);
             auto it = leases_.find(room);
             if (epoch > 0) {
               gained = it == leases_.end() || it->second.epoch != epoch;
               // Counted from when the request left: the lease may have started then. A fifth
               // of it is kept as a margin against clock drift and a late reply.
               leases_[room] = Lease{epoch, sent + options_.lease_ttl * 4 / 5};
             } else if (r.ok() && it != leases_.end()) {
               leases_.erase(it);
               lost = true;
             }
           }
           if (gained) {
             ++leases_acquired_;
             spdlog::info("room={} owned by this node (epoch {})", Quoted(room), epoch);
           }
           if (lost) {
             ++leases_lost_;
             spdlog::warn("room={} lease lost to another node", Quoted(room));
           }
           if (done) done(epoch);
         });
}

void ClusterNode::Release(const std::string& room, std::function<void()> done) {
  {
    std::lock_guard lock(lease_mu_);
    leases_.erase(room);
  }
  Script(kReleaseScript, {RedisRoomLog::LeaseKey(room)}, {options_.node_id},
         [done = std::move(done)](const Result<Reply>&) {
           if (done) done();
         });
}

void ClusterNode::RenewLeases() {
  if (draining_) return;
  std::vector<std::string> rooms;
  {
    std::lock_guard lock(lease_mu_);
    for (const auto& [room, lease] : leases_) rooms.push_back(room);
  }
  for (const std::string& room : rooms) {
    // A room no longer loaded here (unloaded after its save) needs no owner here.
    if (registry_ != nullptr && !registry_->Find(room) && saving_.count(room) == 0) {
      Release(room, nullptr);
    } else {
      Acquire(room, nullptr);
    }
  }
}

void ClusterNode::Drain() {
  std::promise<void> released;
  boost::asio::post(ioc_, [this, &released] {
    draining_ = true;
    sweep_timer_.cancel();
    std::vector<std::string> rooms;
    {
      std::lock_guard lock(lease_mu_);
      for (const auto& [room, lease] : leases_) rooms.push_back(room);
    }
    Publish(MessageKind::kLeaving, "", {});
    auto remaining = std::make_shared<size_t>(rooms.size() + 1);
    auto one_done = [remaining, &released] {
      if (--*remaining == 0) released.set_value();
    };
    for (const std::string& room : rooms) Release(room, one_done);
    control_->Command({"DEL", NodeKey(options_.node_id)},
                      [one_done](const Result<Reply>&) { one_done(); });
    spdlog::info("cluster: draining; released {} lease(s)", rooms.size());
  });
  released.get_future().wait_for(std::chrono::seconds(2));
}

// ---------------------------------------------------------------------------------------------
// Due saves

void ClusterNode::Sweep() {
  if (draining_ || registry_ == nullptr) return;
  control_->Command({"ZRANGEBYSCORE", RedisRoomLog::kDueKey, "-inf",
                     std::to_string(NowUnixMillis()), "LIMIT", "0", "64"},
                    [this](const Result<Reply>& r) {
                      if (!r.ok() || draining_) return;
                      const auto now = Steady::now();
                      for (const Reply& e : r->elements) {
                        const std::string& room = e.str;
                        if (saving_.count(room) > 0) continue;
                        if (auto it = retry_.find(room);
                            it != retry_.end() && now < it->second.first)
                          continue;
                        saving_.insert(room);  // until the lease answers: one attempt at a time
                        Acquire(room, [this, room](uint64_t epoch) {
                          if (epoch == 0 || draining_) {
                            saving_.erase(room);
                            return;
                          }
                          SaveDue(room, epoch);
                        });
                      }
                    });
}

void ClusterNode::SaveDue(const std::string& room, uint64_t epoch) {
  spdlog::debug("room={} save due; saving under epoch {}", Quoted(room), epoch);
  registry_->Visit(room, [this, room](room::Room& r) {
    auto finish = [this, room](Status s) {
      boost::asio::post(ioc_, [this, room, s = std::move(s)] { FinishSave(room, s); });
    };
    if (r.state() != room::Room::State::kReady) {
      finish(UnavailableError("the room could not be loaded"));
      return;
    }
    r.SaveNow(finish);
  });
}

void ClusterNode::FinishSave(const std::string& room, const Status& status) {
  saving_.erase(room);
  if (status.ok()) {
    ++saves_ok_;
    retry_.erase(room);
    return;
  }
  if (status.code() == StatusCode::kFailedPrecondition) {
    ++saves_not_owner_;
  } else {
    ++saves_failed_;
  }
  auto& [at, backoff] = retry_[room];
  backoff = std::min(std::max(backoff * 2, options_.save_retry_min), options_.save_retry_max);
  at = Steady::now() + backoff;
  spdlog::warn("room={} save failed: {}; next attempt in {} ms", Quoted(room),
               Quoted(status.message(), 256), backoff.count());
}

// ---------------------------------------------------------------------------------------------
// Metrics

std::string ClusterNode::RenderMetrics() const {
  std::string o;
  auto metric = [&o](const char* name, const char* type, const char* help, const std::string& v) {
    o += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
         name + " " + v + "\n";
  };
  uint64_t replies = control_->replies();
  uint64_t micros = control_->roundtrip_micros();
  for (const auto& c : log_clients_) {
    replies += c->replies();
    micros += c->roundtrip_micros();
  }
  if (log_ != nullptr) {
    const auto [lane_replies, lane_micros] = log_->lane_roundtrips();
    replies += lane_replies;
    micros += lane_micros;
  }
  size_t owned = 0;
  {
    std::lock_guard lock(lease_mu_);
    const auto now = Steady::now();
    for (const auto& [room, lease] : leases_) owned += now < lease.valid_until ? 1 : 0;
  }
  metric("tandem_cluster_redis_up", "gauge", "Whether Redis answered the last heartbeat.",
         reachable_ ? "1" : "0");
  metric("tandem_cluster_redis_roundtrip_seconds_sum", "counter",
         "Round-trip time of Redis commands (appends, leases, liveness; not blocking reads).",
         std::to_string(static_cast<double>(micros) / 1e6));
  metric("tandem_cluster_redis_roundtrip_seconds_count", "counter", "Redis commands timed.",
         std::to_string(replies));
  metric("tandem_cluster_stream_entries_read_total", "counter",
         "Stream entries this node's relay read (its own included).",
         std::to_string(entries_read_.load()));
  metric("tandem_cluster_relay_catch_up_reads_total", "counter",
         "Reads of a room's stream after a gap in what was published, or a (re)subscription.",
         std::to_string(catch_up_reads_.load()));
  metric("tandem_cluster_stream_lag_seconds_sum", "counter",
         "Sum over other nodes' entries of the time from their append to their read here.",
         std::to_string(static_cast<double>(lag_micros_.load()) / 1e6));
  metric("tandem_cluster_leases_owned", "gauge", "Rooms whose owner lease this node holds.",
         std::to_string(owned));
  metric("tandem_cluster_leases_acquired_total", "counter", "Owner leases taken by this node.",
         std::to_string(leases_acquired_.load()));
  metric("tandem_cluster_leases_lost_total", "counter",
         "Owner leases found held by another node at renewal.",
         std::to_string(leases_lost_.load()));
  o += "# HELP tandem_cluster_saves_total Due saves run by this node as the owner, by outcome.\n"
       "# TYPE tandem_cluster_saves_total counter\n";
  o += "tandem_cluster_saves_total{result=\"ok\"} " + std::to_string(saves_ok_.load()) + "\n";
  o += "tandem_cluster_saves_total{result=\"failed\"} " + std::to_string(saves_failed_.load()) +
       "\n";
  o += "tandem_cluster_saves_total{result=\"not_owner\"} " +
       std::to_string(saves_not_owner_.load()) + "\n";
  metric("tandem_cluster_trimmed_entries_total", "counter",
         "Stream entries trimmed after this node's saves.",
         std::to_string(log_ != nullptr ? log_->trimmed() : 0));
  metric("tandem_cluster_appends_total", "counter", "Updates this node appended to room logs.",
         std::to_string(log_ != nullptr ? log_->appends() : 0));
  metric("tandem_cluster_append_calls_total", "counter",
         "Script calls that carried them (appends close in time share one).",
         std::to_string(log_ != nullptr ? log_->append_calls() : 0));
  metric("tandem_cluster_nodes_dropped_total", "counter",
         "Other nodes found gone (their clients' awareness dropped).",
         std::to_string(nodes_dropped_.load()));
  return o;
}

}  // namespace tandem::cluster
