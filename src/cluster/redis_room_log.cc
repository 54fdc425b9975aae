#include "cluster/redis_room_log.h"

#include <openssl/sha.h>

#include <boost/asio/post.hpp>
#include <charconv>
#include <future>
#include <iterator>
#include <thread>

namespace tandem::cluster {

namespace {

using redis::Reply;

// KEYS: due, then log, meta and conns of each entry. ARGV: node, save debounce ms, then room,
// update, relay channel and save interval ms (SpreadSaveInterval) of each entry. Appends the
// entries in their order and returns each one's sequence in the room, or the error reply (a
// string) of an entry that failed (a key of the wrong type, or a full Redis: the other rooms'
// entries still go in if they can). Each entry is published to its room's relay channel (stream
// id, sequence, node, update; ClusterNode reads it). A room's first unsaved change makes its save
// due: an interval later while anyone is connected on any node, a debounce later when nobody is.
constexpr const char* kAppendScript = R"lua(
local node = ARGV[1]
local out = {}
for i = 0, (#KEYS - 1) / 3 - 1 do
  local log, meta, conns = KEYS[2 + 3 * i], KEYS[3 + 3 * i], KEYS[4 + 3 * i]
  local room, update, channel = ARGV[3 + 4 * i], ARGV[4 + 4 * i], ARGV[5 + 4 * i]
  local seq = redis.pcall('HINCRBY', meta, 'seq', 1)
  local id = type(seq) == 'number' and redis.pcall('XADD', log, '*', 's', seq, 'u', update, 'n', node)
  if type(id) ~= 'string' then
    out[#out + 1] = tostring(type(id) == 'table' and id.err or seq.err)
  else
    redis.call('PUBLISH', channel, id .. ' ' .. seq .. ' ' .. #node .. ' ' .. node .. update)
    if not redis.call('ZSCORE', KEYS[1], room) then
      local t = redis.call('TIME')
      local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      local delay = tonumber(ARGV[2])
      for _, v in ipairs(redis.call('HVALS', conns)) do
        if tonumber(v) > 0 then delay = tonumber(ARGV[6 + 4 * i]) break end
      end
      redis.call('ZADD', KEYS[1], now + delay, room)
    end
    out[#out + 1] = seq
  end
end
return out
)lua";

// KEYS: log, meta, due, conns. ARGV: through (the sequence the store's copy covers), min age
// in ms, room, epoch (0: not fenced), save interval ms (SpreadSaveInterval), save debounce ms.
// Records the save and trims what it covers, keeping entries younger than the min age; changes
// after `through` make the next save due. A save made under an older lease epoch records nothing
// and returns -1.
constexpr const char* kCommitScript = R"lua(
local epoch = tonumber(ARGV[4])
if epoch > 0 and tonumber(redis.call('HGET', KEYS[2], 'epoch') or '0') ~= epoch then
  return -1
end
local through = tonumber(ARGV[1])
local snap = tonumber(redis.call('HGET', KEYS[2], 'snap') or '0')
if through > snap then redis.call('HSET', KEYS[2], 'snap', through) end
local seq = tonumber(redis.call('HGET', KEYS[2], 'seq') or '0')
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if seq <= through then
  redis.call('ZREM', KEYS[3], ARGV[3])
else
  local delay = tonumber(ARGV[6])
  for _, v in ipairs(redis.call('HVALS', KEYS[4])) do
    if tonumber(v) > 0 then delay = tonumber(ARGV[5]) break end
  end
  redis.call('ZADD', KEYS[3], now + delay, ARGV[3])
end
local cutoff = now - tonumber(ARGV[2])
local keep = nil
local start = '-'
local seen = 0
while keep == nil do
  local page = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', 256)
  if #page == 0 then break end
  for _, e in ipairs(page) do
    local ms = tonumber(string.match(e[1], '^(%d+)-'))
    local s = 0
    for i = 1, #e[2], 2 do
      if e[2][i] == 's' then s = tonumber(e[2][i + 1]) end
    end
    if s > through or ms >= cutoff then
      keep = e[1]
      break
    end
    seen = seen + 1
  end
  start = '(' .. page[#page][1]
end
if keep ~= nil then
  return redis.call('XTRIM', KEYS[1], 'MINID', keep)
end
if seen > 0 then return redis.call('XTRIM', KEYS[1], 'MAXLEN', 0) end
return 0
)lua";

// KEYS: log, meta, due, conns. ARGV: room, node. Returns the connections live other nodes
// recorded in the room (ClusterNode keeps each node's count in the conns hash, and a liveness
// key while it runs), which the erase closes.
constexpr const char* kEraseScript = R"lua(
local elsewhere = 0
local all = redis.call('HGETALL', KEYS[4])
for i = 1, #all, 2 do
  if all[i] ~= ARGV[2] and redis.call('EXISTS', 'tandem:node:' .. all[i]) == 1 then
    elsewhere = elsewhere + (tonumber(all[i + 1]) or 0)
  end
end
redis.call('DEL', KEYS[1], KEYS[4])
redis.call('HDEL', KEYS[2], 'seq', 'snap')
redis.call('ZREM', KEYS[3], ARGV[1])
return elsewhere
)lua";

std::string Sha1Hex(const std::string& text) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : digest) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

// When a batch started now leaves: at the next multiple of `delay` on the wall clock, or the one
// after when less than a tenth of `delay` is left (a batch gets a moment to fill). Every node's
// batches leave on the same ticks, so their calls tend to reach Redis together, and one turn of
// Redis's event loop runs them all under one AOF fsync and one push to each subscriber.
std::chrono::microseconds UntilNextTick(std::chrono::microseconds delay) {
  const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  const auto left = delay - now % delay;
  return left < delay / 10 ? left + delay : left;
}

uint64_t ToU64(std::string_view s) {
  uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

}  // namespace

RedisRoomLog::RedisRoomLog(std::shared_ptr<redis::RedisClient> client, RedisRoomLogOptions options)
    : client_(std::move(client)), options_(std::move(options)), batch_timer_(client_->executor()) {}

RedisRoomLog::~RedisRoomLog() {
  Flush();
}

std::chrono::milliseconds RedisRoomLog::SpreadSaveInterval(const std::string& room,
                                                           std::chrono::milliseconds interval) {
  uint64_t hash = 14695981039346656037ull;  // FNV-1a: the same on every node
  for (const char c : room) hash = (hash ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  const auto quarter = static_cast<uint64_t>(interval.count() / 4);
  return interval - std::chrono::milliseconds(hash % (quarter + 1));
}

std::string RedisRoomLog::describe() const {
  return "redis room log (node " + options_.node_id + ")";
}

void RedisRoomLog::Started() {
  std::lock_guard lock(mu_);
  ++in_flight_;
}

void RedisRoomLog::Finished() {
  std::lock_guard lock(mu_);
  if (--in_flight_ == 0) idle_.notify_all();
}

void RedisRoomLog::Flush() {
  std::unique_lock lock(mu_);
  idle_.wait(lock, [this] { return in_flight_ == 0; });
}

void RedisRoomLog::Script(const char* body, std::vector<std::string> keys,
                          std::vector<std::string> args, redis::RedisClient::Callback done) {
  ScriptOn(*client_, body, std::move(keys), std::move(args), std::move(done));
}

void RedisRoomLog::ScriptOn(redis::RedisClient& client, const char* body,
                            std::vector<std::string> keys, std::vector<std::string> args,
                            redis::RedisClient::Callback done) {
  static const std::string kAppendSha = Sha1Hex(kAppendScript);
  static const std::string kCommitSha = Sha1Hex(kCommitScript);
  static const std::string kEraseSha = Sha1Hex(kEraseScript);
  const std::string& sha = body == kAppendScript   ? kAppendSha
                           : body == kCommitScript ? kCommitSha
                                                   : kEraseSha;
  auto command = std::make_shared<std::vector<std::string>>();
  command->reserve(3 + keys.size() + args.size());
  *command = {"EVALSHA", sha, std::to_string(keys.size())};
  command->insert(command->end(), std::make_move_iterator(keys.begin()),
                  std::make_move_iterator(keys.end()));
  command->insert(command->end(), std::make_move_iterator(args.begin()),
                  std::make_move_iterator(args.end()));
  client.Command(*command, [client = client.shared_from_this(), command, body,
                            done = std::move(done)](Result<Reply> r) mutable {
    // A Redis that restarted (or never saw the script) loads it with EVAL.
    if (!r.ok() && r.status().message().rfind("NOSCRIPT", 0) == 0) {
      (*command)[0] = "EVAL";
      (*command)[1] = body;
      client->Command(*command, std::move(done));
      return;
    }
    done(std::move(r));
  });
}

void RedisRoomLog::Append(const std::string& room, Bytes update, AppendCallback done) {
  Started();
  bool schedule = false;
  {
    std::lock_guard lock(batch_mu_);
    batch_bytes_ += update.size() + room.size();
    batch_.push_back({room, std::move(update), std::move(done)});
    schedule = !send_scheduled_;
    send_scheduled_ = true;
    if (!schedule && !early_send_posted_ &&
        (batch_.size() >= kMaxBatch || batch_bytes_ >= kMaxBatchBytes)) {
      // A full batch does not wait for the rest of the delay.
      early_send_posted_ = true;
      boost::asio::post(client_->executor(), [this] { SendBatch(); });
    }
  }
  if (!schedule) return;
  // One post per batch: the appends that arrive meanwhile (from any room's thread) ride along.
  boost::asio::post(client_->executor(), [this] {
    if (options_.append_delay.count() == 0) {
      SendBatch();
      return;
    }
    batch_timer_.expires_after(UntilNextTick(options_.append_delay));
    batch_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) SendBatch();
    });
  });
}

void RedisRoomLog::SendBatch() {
  std::vector<QueuedAppend> taken;
  {
    std::lock_guard lock(batch_mu_);
    taken.swap(batch_);
    batch_bytes_ = 0;
    send_scheduled_ = false;
    early_send_posted_ = false;
  }
  SendEntries(*client_, std::move(taken));
}

void RedisRoomLog::SendEntries(redis::RedisClient& client, std::vector<QueuedAppend> taken) {
  if (taken.empty()) return;
  appends_.fetch_add(taken.size(), std::memory_order_relaxed);
  auto entries = std::make_shared<std::vector<QueuedAppend>>(std::move(taken));
  size_t first = 0;
  while (first < entries->size()) {
    // A script call carries up to kMaxBatch entries and about kMaxBatchBytes.
    size_t end = first;
    size_t bytes = 0;
    while (end < entries->size() && end - first < kMaxBatch &&
           (end == first || bytes + (*entries)[end].update.size() <= kMaxBatchBytes)) {
      bytes += (*entries)[end].update.size();
      ++end;
    }
    std::vector<std::string> keys = {kDueKey};
    std::vector<std::string> args = {options_.node_id,
                                     std::to_string(options_.save_debounce.count())};
    keys.reserve(1 + 3 * (end - first));
    args.reserve(2 + 4 * (end - first));
    for (size_t i = first; i < end; ++i) {
      const QueuedAppend& a = (*entries)[i];
      keys.push_back(LogKey(a.room));
      keys.push_back(MetaKey(a.room));
      keys.push_back(ConnsKey(a.room));
      args.push_back(a.room);
      args.emplace_back(a.update.begin(), a.update.end());
      args.push_back(RelayChannel(a.room));
      args.push_back(std::to_string(SpreadSaveInterval(a.room, options_.save_interval).count()));
    }
    append_calls_.fetch_add(1, std::memory_order_relaxed);
    ScriptOn(client, kAppendScript, std::move(keys), std::move(args),
             [this, entries, first, end](Result<Reply> r) {
               for (size_t i = first; i < end; ++i) {
                 AppendCallback& done = (*entries)[i].done;
                 const size_t at = i - first;
                 if (!r.ok()) {
                   done(r.status().WithContext("redis append"), 0);
                 } else if (r->type != Reply::Type::kArray || r->elements.size() != end - first) {
                   done(MalformedError("redis append: unexpected reply"), 0);
                 } else if (r->elements[at].type == Reply::Type::kInteger) {
                   done(Status::Ok(), static_cast<uint64_t>(r->elements[at].integer));
                 } else {
                   // The entry's own error reply, as Redis gave it: out of memory (a full Redis
                   // under noeviction) passes, a key of the wrong type does not.
                   const std::string& error = r->elements[at].str;
                   done(Status(redis::IsTransientError(error) ? StatusCode::kUnavailable
                                                              : StatusCode::kFailedPrecondition,
                               "redis append: " + error),
                        0);
                 }
                 Finished();
               }
             });
    first = end;
  }
}

// ---------------------------------------------------------------------------------------------
// Lanes: appends made on a worker thread go out on that thread's own connection, so that the
// room's thread is not woken by a hop to the node's thread and back.

RedisRoomLog::Lane* RedisRoomLog::LaneForThisThread(const boost::asio::any_io_executor& executor) {
  if (!options_.lane_client) return nullptr;
  std::lock_guard lock(lanes_mu_);
  if (lanes_forgotten_) return nullptr;
  const auto self = std::this_thread::get_id();
  for (auto& lane : lanes_) {
    if (lane->thread == self) return lane->executor == executor ? lane.get() : nullptr;
  }
  auto lane = std::make_unique<Lane>(executor);
  lane->thread = self;
  lane->client = options_.lane_client(executor);
  lanes_.push_back(std::move(lane));
  return lanes_.back().get();
}

bool RedisRoomLog::TryAppendOnThisThread(const std::string& room, std::span<const uint8_t> update,
                                         const boost::asio::any_io_executor& executor,
                                         AppendCallback&& done) {
  Lane* lane = LaneForThisThread(executor);
  if (lane == nullptr) return false;
  Started();
  lane->bytes += update.size() + room.size();
  lane->batch.push_back({room, Bytes(update.begin(), update.end()), std::move(done)});
  if (lane->batch.size() >= kMaxBatch || lane->bytes >= kMaxBatchBytes) {
    SendLane(*lane);  // a full batch does not wait for the rest of the delay
    return true;
  }
  if (lane->scheduled) return true;
  lane->scheduled = true;
  if (options_.append_delay.count() == 0) {
    // Still after this turn's other appends: they ride along.
    boost::asio::post(lane->executor, [this, lane] { SendLane(*lane); });
    return true;
  }
  lane->timer.expires_after(UntilNextTick(options_.append_delay));
  lane->timer.async_wait([this, lane](const boost::system::error_code& ec) {
    if (!ec) SendLane(*lane);
  });
  return true;
}

void RedisRoomLog::SendLane(Lane& lane) {
  lane.scheduled = false;
  lane.bytes = 0;
  std::vector<QueuedAppend> taken;
  taken.swap(lane.batch);
  if (!taken.empty()) SendEntries(*lane.client, std::move(taken));
}

std::pair<uint64_t, uint64_t> RedisRoomLog::lane_roundtrips() const {
  std::lock_guard lock(lanes_mu_);
  std::pair<uint64_t, uint64_t> out{0, 0};
  for (const auto& lane : lanes_) {
    out.first += lane->client->replies();
    out.second += lane->client->roundtrip_micros();
  }
  return out;
}

void RedisRoomLog::ForgetWorkers() {
  std::vector<std::unique_ptr<Lane>> lanes;
  {
    std::lock_guard lock(lanes_mu_);
    lanes_forgotten_ = true;
    lanes.swap(lanes_);
  }
  for (auto& lane : lanes) {
    // Nobody runs the workers' loops any more: what waits or is in flight is answered here
    // (the answers go to rooms that are going too), so Flush() does not wait for it.
    std::vector<QueuedAppend> waiting;
    waiting.swap(lane->batch);
    for (auto& a : waiting) {
      a.done(UnavailableError("redis append: the server is stopping"), 0);
      Finished();
    }
    lane->timer.cancel();
    lane->client->Abandon();
  }
}

void RedisRoomLog::Read(const std::string& room, ReadCallback done) {
  Started();
  client_->Command({"HMGET", MetaKey(room), "seq", "snap"}, [this, room, done = std::move(done)](
                                                                Result<Reply> meta) mutable {
    if (!meta.ok() || meta->elements.size() != 2) {
      done(meta.ok() ? Status(MalformedError("redis read: unexpected reply"))
                     : meta.status().WithContext("redis read"));
      Finished();
      return;
    }
    if (meta->elements[0].is_nil()) {
      done(std::optional<roomlog::LogContents>());  // never logged
      Finished();
      return;
    }
    auto out = std::make_shared<roomlog::LogContents>();
    out->base_in_store = true;
    out->position = "0-0";  // an empty stream: a reader takes every entry added later
    out->last_seq = ToU64(meta->elements[0].str);
    const uint64_t snap = meta->elements[1].is_nil() ? 0 : ToU64(meta->elements[1].str);
    client_->Command({"ZSCORE", kDueKey, room},
                     [this, room, out, snap, done = std::move(done)](Result<Reply> due) mutable {
                       if (!due.ok()) {
                         done(due.status().WithContext("redis read"));
                         Finished();
                         return;
                       }
                       out->unsaved = !due->is_nil();
                       ReadPage(room, out, "-", snap, std::move(done));
                     });
  });
}

void RedisRoomLog::ReadPage(const std::string& room,
                            const std::shared_ptr<roomlog::LogContents>& out,
                            const std::string& after, uint64_t snap, ReadCallback done) {
  client_->Command({"XRANGE", LogKey(room), after, "+", "COUNT", "1000"},
                   [this, room, out, snap, done = std::move(done)](Result<Reply> page) mutable {
                     if (!page.ok()) {
                       done(page.status().WithContext("redis read"));
                       Finished();
                       return;
                     }
                     for (const Reply& entry : page->elements) {
                       if (entry.elements.size() != 2) continue;
                       out->position = entry.elements[0].str;
                       uint64_t seq = 0;
                       const std::string* update = nullptr;
                       const auto& fields = entry.elements[1].elements;
                       for (size_t i = 0; i + 1 < fields.size(); i += 2) {
                         if (fields[i].str == "s") seq = ToU64(fields[i + 1].str);
                         if (fields[i].str == "u") update = &fields[i + 1].str;
                       }
                       // Entries the store's copy covers (kept for their minimum age) are not
                       // needed.
                       out->last_seq = std::max(out->last_seq, seq);
                       if (update != nullptr && seq > snap)
                         out->updates.emplace_back(update->begin(), update->end());
                     }
                     if (page->elements.size() < 1000) {
                       done(std::optional<roomlog::LogContents>(std::move(*out)));
                       Finished();
                       return;
                     }
                     ReadPage(room, out, "(" + page->elements.back().elements[0].str, snap,
                              std::move(done));
                   });
}

void RedisRoomLog::Compact(const std::string&, Bytes, uint64_t, DoneCallback done) {
  if (done) done(Status::Ok());
}

void RedisRoomLog::MarkSaved(const std::string& room, uint64_t through_seq, DoneCallback done) {
  Started();
  const uint64_t epoch = options_.epoch_for ? options_.epoch_for(room) : 0;
  Script(kCommitScript, {LogKey(room), MetaKey(room), kDueKey, ConnsKey(room)},
         {std::to_string(through_seq), std::to_string(options_.min_age.count()), room,
          std::to_string(epoch),
          std::to_string(SpreadSaveInterval(room, options_.save_interval).count()),
          std::to_string(options_.save_debounce.count())},
         [this, done = std::move(done)](const Result<Reply>& r) {
           Status status = r.ok() ? Status::Ok() : r.status().WithContext("redis commit");
           if (r.ok() && r->type == Reply::Type::kInteger && r->integer < 0) {
             status = Status(StatusCode::kFailedPrecondition,
                             "redis commit: this node's lease epoch is no longer current");
           } else if (r.ok() && r->type == Reply::Type::kInteger) {
             trimmed_.fetch_add(static_cast<uint64_t>(r->integer), std::memory_order_relaxed);
           }
           if (done) done(status);
           Finished();
         });
}

void RedisRoomLog::Erase(const std::string& room, EraseCallback done) {
  Started();
  Lane* lane = nullptr;
  {
    std::lock_guard lock(lanes_mu_);
    for (auto& l : lanes_) {
      if (l->thread == std::this_thread::get_id()) lane = l.get();
    }
  }
  if (lane != nullptr) {
    // The room's appends went out on this thread's connection: the erase follows them there.
    SendLane(*lane);
    EraseOn(*lane->client, room, std::move(done));
    return;
  }
  // Appends still waiting for their batch go first: none may recreate the log after this.
  boost::asio::post(client_->executor(), [this, room, done = std::move(done)]() mutable {
    SendBatch();
    EraseOn(*client_, room, std::move(done));
  });
}

void RedisRoomLog::EraseOn(redis::RedisClient& client, const std::string& room,
                           EraseCallback done) {
  // The lease epoch stays (HDEL, not DEL, of the meta hash): epochs only grow, so the snapshot
  // store's fence keeps working for the room's next life.
  ScriptOn(client, kEraseScript, {LogKey(room), MetaKey(room), kDueKey, ConnsKey(room)},
           {room, options_.node_id}, [this, done = std::move(done)](const Result<Reply>& r) {
             if (done) {
               if (!r.ok()) {
                 done(r.status().WithContext("redis erase"), 0);
               } else {
                 const bool counted = r->type == Reply::Type::kInteger && r->integer > 0;
                 done(Status::Ok(), counted ? static_cast<size_t>(r->integer) : 0);
               }
             }
             Finished();
           });
}

Result<std::vector<std::string>> RedisRoomLog::RoomsNeedingSave() {
  // Due saves are the cluster's (cluster/cluster_node.h sweeps `tandem:due`): a starting node
  // loads none of them by itself.
  return std::vector<std::string>{};
}

Result<uint64_t> RedisRoomLog::LogBytes() {
  return uint64_t{0};  // Redis reports its own memory (INFO memory); not counted per node
}

}  // namespace tandem::cluster
