// The room log on a real redis-server (AOF on, fsync always), shared by two "nodes".

#include "cluster/redis_room_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "redis/test_redis_server.h"

namespace tandem::cluster {
namespace {

using namespace std::chrono_literals;
using roomlog::LogContents;

class RedisRoomLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!server_.Start()) GTEST_SKIP() << server_.error();
    thread_ = std::thread([this] { ioc_.run(); });
    client_ = redis::RedisClient::Create(
        ioc_.get_executor(), redis::RedisOptions{.url = *redis::ParseRedisUrl(server_.url())});
  }
  void TearDown() override {
    a_.reset();
    b_.reset();
    work_.reset();
    ioc_.stop();  // the nodes' connections keep a read pending
    if (thread_.joinable()) thread_.join();
    client_.reset();
  }
  std::unique_ptr<RedisRoomLog> Log(const std::string& node, std::chrono::milliseconds min_age,
                                    std::chrono::milliseconds append_delay = 0ms) {
    // Each node has a connection of its own.
    auto client = redis::RedisClient::Create(
        ioc_.get_executor(), redis::RedisOptions{.url = *redis::ParseRedisUrl(server_.url())});
    return std::make_unique<RedisRoomLog>(client,
                                          RedisRoomLogOptions{.node_id = node,
                                                              .save_interval = 30s,
                                                              .min_age = min_age,
                                                              .append_delay = append_delay});
  }
  // Appends without waiting; the futures give each one's sequence.
  static std::future<Result<uint64_t>> AppendAsync(RedisRoomLog& log, const std::string& room,
                                                   Bytes update) {
    auto p = std::make_shared<std::promise<Result<uint64_t>>>();
    log.Append(room, std::move(update), [p](const Status& s, uint64_t seq) {
      p->set_value(s.ok() ? Result<uint64_t>(seq) : Result<uint64_t>(s));
    });
    return p->get_future();
  }
  static Result<uint64_t> Append(RedisRoomLog& log, const std::string& room, Bytes update) {
    std::promise<Result<uint64_t>> p;
    log.Append(room, std::move(update), [&](const Status& s, uint64_t seq) {
      p.set_value(s.ok() ? Result<uint64_t>(seq) : Result<uint64_t>(s));
    });
    return p.get_future().get();
  }
  static std::optional<LogContents> Read(RedisRoomLog& log, const std::string& room) {
    std::promise<Result<std::optional<LogContents>>> p;
    log.Read(room, [&](Result<std::optional<LogContents>> r) { p.set_value(std::move(r)); });
    auto r = p.get_future().get();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : std::nullopt;
  }
  static Status Done(const std::function<void(roomlog::RoomLog::DoneCallback)>& call) {
    std::promise<Status> p;
    call([&](const Status& s) { p.set_value(s); });
    return p.get_future().get();
  }
  // Erases `room`: the connections other nodes had in it, or the error.
  static Result<size_t> Erase(RedisRoomLog& log, const std::string& room) {
    std::promise<Result<size_t>> p;
    log.Erase(room, [&](const Status& s, size_t elsewhere) {
      p.set_value(s.ok() ? Result<size_t>(elsewhere) : Result<size_t>(s));
    });
    return p.get_future().get();
  }
  // The rooms whose save is due (the cluster's persisted alarms).
  std::vector<std::string> Due() {
    std::promise<Result<redis::Reply>> p;
    client_->Command({"ZRANGE", RedisRoomLog::kDueKey, "0", "-1"},
                     [&](Result<redis::Reply> r) { p.set_value(std::move(r)); });
    Result<redis::Reply> reply = p.get_future().get();
    std::vector<std::string> rooms;
    for (const auto& e : reply->elements) rooms.push_back(e.str);
    return rooms;
  }
  Result<redis::Reply> Call(const std::vector<std::string>& args) {
    std::promise<Result<redis::Reply>> p;
    client_->Command(args, [&](Result<redis::Reply> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  int64_t Xlen(const std::string& room) {
    std::promise<Result<redis::Reply>> p;
    client_->Command({"XLEN", RedisRoomLog::LogKey(room)},
                     [&](Result<redis::Reply> r) { p.set_value(std::move(r)); });
    return p.get_future().get()->integer;
  }

  redis::TestRedisServer server_;
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      ioc_.get_executor()};
  std::thread thread_;
  std::shared_ptr<redis::RedisClient> client_;
  std::unique_ptr<RedisRoomLog> a_, b_;
};

TEST_F(RedisRoomLogTest, TwoNodesAppendToOneGapFreeSequence) {
  a_ = Log("a", 0ms);
  b_ = Log("b", 0ms);
  EXPECT_FALSE(Read(*a_, "r").has_value()) << "never logged";
  std::vector<uint64_t> seqs;
  for (uint8_t i = 1; i <= 20; ++i) seqs.push_back(*Append(i % 2 ? *a_ : *b_, "r", {i, i}));
  for (uint64_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], i + 1);
  auto read = Read(*b_, "r");
  ASSERT_TRUE(read.has_value());
  EXPECT_TRUE(read->base_in_store);
  EXPECT_TRUE(read->unsaved);
  EXPECT_TRUE(read->snapshot.empty());
  EXPECT_EQ(read->last_seq, 20u);
  ASSERT_EQ(read->updates.size(), 20u);
  EXPECT_EQ(read->updates[4], (Bytes{5, 5}));
  // Where a relay continues: the last entry read.
  auto last = Call({"XREVRANGE", RedisRoomLog::LogKey("r"), "+", "-", "COUNT", "1"});
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(read->position, last->elements.at(0).elements.at(0).str);
  EXPECT_EQ(Due(), std::vector<std::string>{"r"});
  EXPECT_TRUE(a_->RoomsNeedingSave()->empty()) << "due saves are the cluster sweeper's";
}

TEST_F(RedisRoomLogTest, ASaveTrimsWhatItCoversAndNothingYoungerThanTheMinimumAge) {
  a_ = Log("a", 0ms);
  b_ = Log("b", 60s);
  for (uint8_t i = 1; i <= 10; ++i) ASSERT_TRUE(Append(*a_, "old", {i}).ok());
  for (uint8_t i = 1; i <= 10; ++i) ASSERT_TRUE(Append(*b_, "young", {i}).ok());
  // Covered through 6: the log keeps 7..10 (and, on a 60 s minimum age, everything).
  ASSERT_TRUE(Done([&](auto cb) { a_->MarkSaved("old", 6, cb); }).ok());
  ASSERT_TRUE(Done([&](auto cb) { b_->MarkSaved("young", 6, cb); }).ok());
  EXPECT_EQ(Xlen("old"), 4);
  EXPECT_EQ(Xlen("young"), 10);
  for (RedisRoomLog* log : {a_.get(), b_.get()}) {
    for (const char* room : {"old", "young"}) {
      auto read = Read(*log, room);
      ASSERT_TRUE(read.has_value());
      ASSERT_EQ(read->updates.size(), 4u) << room << ": what the store's copy covers is skipped";
      EXPECT_EQ(read->updates.front(), Bytes{7});
      EXPECT_TRUE(read->unsaved);
    }
  }
  // Covered through the end: nothing due, and the next change is due again.
  ASSERT_TRUE(Done([&](auto cb) { a_->MarkSaved("old", 10, cb); }).ok());
  EXPECT_EQ(Xlen("old"), 0);
  EXPECT_FALSE(Read(*a_, "old")->unsaved);
  EXPECT_EQ(Due(), std::vector<std::string>{"young"});
  EXPECT_EQ(*Append(*a_, "old", {11}), 11u);
  EXPECT_EQ(Read(*a_, "old")->updates, (std::vector<Bytes>{{11}}));
  // An older save acknowledged late never moves the mark back.
  ASSERT_TRUE(Done([&](auto cb) { a_->MarkSaved("old", 3, cb); }).ok());
  EXPECT_EQ(Read(*a_, "old")->updates.size(), 1u);
}

TEST_F(RedisRoomLogTest, EraseForgetsTheRoom) {
  a_ = Log("a", 0ms);
  ASSERT_TRUE(Append(*a_, "r", {1}).ok());
  EXPECT_EQ(*Erase(*a_, "r"), 0u);
  EXPECT_FALSE(Read(*a_, "r").has_value());
  EXPECT_TRUE(Due().empty());
  EXPECT_EQ(*Append(*a_, "r", {2}), 1u);
}

TEST_F(RedisRoomLogTest, EraseCountsTheConnectionsOfTheOtherNodes) {
  a_ = Log("a", 0ms);
  ASSERT_TRUE(Append(*a_, "r", {1}).ok());
  // Each node records its count of the room's connections in the conns hash, and keeps a
  // liveness key while it runs (ClusterNode); d is dead, its count not yet dropped.
  ASSERT_TRUE(
      Call({"HSET", RedisRoomLog::ConnsKey("r"), "a", "2", "b", "3", "c", "1", "d", "5"}).ok());
  for (const char* node : {"a", "b", "c"}) {
    ASSERT_TRUE(Call({"SET", std::string("tandem:node:") + node, "1"}).ok());
  }
  ASSERT_TRUE(Call({"HSET", RedisRoomLog::ConnsKey("other"), "b", "7"}).ok());
  EXPECT_EQ(*Erase(*a_, "r"), 4u) << "b's 3 and c's 1; a counts its own, d is gone";
  EXPECT_EQ(Call({"EXISTS", RedisRoomLog::ConnsKey("r")})->integer, 0);
  EXPECT_EQ(Call({"HGET", RedisRoomLog::ConnsKey("other"), "b"})->str, "7");
}

TEST_F(RedisRoomLogTest, ASaveUnderAStaleLeaseEpochRecordsAndTrimsNothing) {
  uint64_t epoch = 1;
  auto client = redis::RedisClient::Create(
      ioc_.get_executor(), redis::RedisOptions{.url = *redis::ParseRedisUrl(server_.url())});
  a_ = std::make_unique<RedisRoomLog>(
      client, RedisRoomLogOptions{.node_id = "a",
                                  .min_age = 0ms,
                                  .epoch_for = [&epoch](const std::string&) { return epoch; }});
  for (uint8_t i = 1; i <= 4; ++i) ASSERT_TRUE(Append(*a_, "r", {i}).ok());
  // Another node took the lease meanwhile: the epoch in Redis moved on to 2.
  ASSERT_TRUE(Call({"HSET", RedisRoomLog::MetaKey("r"), "epoch", "2"}).ok());
  Status stale = Done([&](auto cb) { a_->MarkSaved("r", 4, cb); });
  EXPECT_EQ(stale.code(), StatusCode::kFailedPrecondition) << stale.ToString();
  EXPECT_EQ(Xlen("r"), 4);
  EXPECT_EQ(Due(), std::vector<std::string>{"r"});
  // Under the current epoch the save is recorded and trims; a change after it stays due.
  epoch = 2;
  ASSERT_TRUE(Append(*a_, "r", {5}).ok());
  ASSERT_TRUE(Done([&](auto cb) { a_->MarkSaved("r", 4, cb); }).ok());
  EXPECT_EQ(Xlen("r"), 1);
  EXPECT_EQ(Due(), std::vector<std::string>{"r"});
  EXPECT_EQ(a_->trimmed(), 4u);
}

TEST_F(RedisRoomLogTest, RedisDownRefusesAppendsAndAcknowledgedOnesSurviveItsRestart) {
  a_ = Log("a", 0ms);
  for (uint8_t i = 1; i <= 5; ++i) ASSERT_TRUE(Append(*a_, "r", {i}).ok());
  server_.Kill();
  auto refused = Append(*a_, "r", {6});
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable) << refused.status().ToString();
  ASSERT_TRUE(server_.Start()) << server_.error();
  // Restarted from its AOF (and with no scripts loaded: EVALSHA falls back to EVAL).
  EXPECT_EQ(*Append(*a_, "r", {7}), 6u);
  auto read = Read(*a_, "r");
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->updates, (std::vector<Bytes>{{1}, {2}, {3}, {4}, {5}, {7}}));
}

TEST_F(RedisRoomLogTest, AppendsWithinTheDelayShareOneScriptCallInTheirOrder) {
  a_ = Log("a", 0ms, 200ms);
  std::vector<std::pair<std::string, std::future<Result<uint64_t>>>> appended;
  for (uint8_t i = 1; i <= 12; ++i) {
    const std::string room = i % 3 == 0 ? "x" : i % 3 == 1 ? "y" : "z";
    appended.emplace_back(room, AppendAsync(*a_, room, {i}));
  }
  std::map<std::string, uint64_t> last;
  for (auto& [room, f] : appended) {
    Result<uint64_t> seq = f.get();
    ASSERT_TRUE(seq.ok()) << seq.status().ToString();
    EXPECT_EQ(*seq, ++last[room]) << "room " << room << ": sequences in the order appended";
  }
  EXPECT_EQ(a_->appends(), 12u);
  EXPECT_EQ(a_->append_calls(), 1u);
  auto read = Read(*a_, "x");
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->updates, (std::vector<Bytes>{{3}, {6}, {9}, {12}}));
  for (const char* room : {"x", "y", "z"}) EXPECT_EQ(Xlen(room), 4);
  auto due = Due();
  std::sort(due.begin(), due.end());
  EXPECT_EQ(due, (std::vector<std::string>{"x", "y", "z"}));
  // Without a delay an append goes at once.
  b_ = Log("b", 0ms, 0ms);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(*Append(*b_, "x", {13}), 5u);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 150ms);
}

TEST_F(RedisRoomLogTest, TwoNodesAppendsLeaveOnTheSameTickOfTheWallClock) {
  constexpr auto kTick = 300ms;
  a_ = Log("a", 0ms, kTick);
  b_ = Log("b", 0ms, kTick);
  const auto since_tick = [&] {
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch());
    return now % kTick;
  };
  while (since_tick() < 40ms || since_tick() > 60ms) std::this_thread::sleep_for(2ms);
  // Made 100 ms apart on two nodes, both leave on the next tick: Redis runs them together.
  auto first = AppendAsync(*a_, "x", {1});
  std::this_thread::sleep_for(100ms);
  auto second = AppendAsync(*b_, "y", {2});
  ASSERT_TRUE(first.get().ok());
  ASSERT_TRUE(second.get().ok());
  // The stream ids carry Redis's clock (same machine) in ms.
  std::vector<uint64_t> appended_at;
  for (const char* room : {"x", "y"}) {
    auto entries = Call({"XRANGE", RedisRoomLog::LogKey(room), "-", "+"});
    ASSERT_TRUE(entries.ok());
    ASSERT_EQ(entries->elements.size(), 1u);
    appended_at.push_back(std::stoull(entries->elements[0].elements.at(0).str));
  }
  const uint64_t tick = kTick.count();
  EXPECT_EQ(appended_at[0] / tick, appended_at[1] / tick) << "not the same tick";
  EXPECT_LT(appended_at[0] % tick, 100u) << "left well after the tick";
  EXPECT_LT(appended_at[1] % tick, 100u) << "left well after the tick";
}

TEST_F(RedisRoomLogTest, RoomsChangedTogetherAreDueForSavesSpreadOverAQuarterOfTheInterval) {
  a_ = Log("a", 0ms, 50ms);  // Log() gives a 30 s save interval
  const auto now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const int64_t before = now_ms();
  std::vector<std::future<Result<uint64_t>>> appended;
  for (int i = 0; i < 20; ++i) {
    const std::string room = "class-" + std::to_string(i);
    ASSERT_TRUE(Call({"HSET", RedisRoomLog::ConnsKey(room), "a", "1"}).ok());  // connected
    appended.push_back(AppendAsync(*a_, room, {1}));
  }
  for (auto& f : appended) ASSERT_TRUE(f.get().ok());
  const int64_t after = now_ms();
  std::set<int64_t> due_at;
  for (int i = 0; i < 20; ++i) {
    const std::string room = "class-" + std::to_string(i);
    auto score = Call({"ZSCORE", RedisRoomLog::kDueKey, room});
    ASSERT_TRUE(score.ok());
    const int64_t at = std::stoll(score->str);
    EXPECT_GE(at, before + 22'500) << room << ": more than a quarter sooner";
    EXPECT_LE(at, after + 30'000) << room << ": later than the interval";
    due_at.insert(at / 100);
  }
  EXPECT_GE(due_at.size(), 10u) << "the saves of rooms changed together are not spread";
}

TEST_F(RedisRoomLogTest, AFullBatchDoesNotWaitOutTheDelay) {
  a_ = Log("a", 0ms, 60s);
  std::vector<std::future<Result<uint64_t>>> appended;
  for (size_t i = 0; i < RedisRoomLog::kMaxBatch; ++i)
    appended.push_back(AppendAsync(*a_, "r", {static_cast<uint8_t>(i)}));
  for (auto& f : appended) {
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready) << "a full batch waited for the delay";
    EXPECT_TRUE(f.get().ok());
  }
  EXPECT_EQ(Xlen("r"), static_cast<int64_t>(RedisRoomLog::kMaxBatch));
}

TEST_F(RedisRoomLogTest, ABrokenRoomFailsOnlyItsOwnAppendsInASharedCall) {
  a_ = Log("a", 0ms, 200ms);
  // Not a hash: HINCRBY on it fails (WRONGTYPE).
  ASSERT_TRUE(Call({"SET", RedisRoomLog::MetaKey("broken"), "x"}).ok());
  auto before = AppendAsync(*a_, "fine", {1});
  auto broken = AppendAsync(*a_, "broken", {2});
  auto after = AppendAsync(*a_, "fine", {3});
  EXPECT_EQ(*before.get(), 1u);
  Result<uint64_t> refused = broken.get();
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("WRONGTYPE"), std::string::npos)
      << refused.status().ToString();
  EXPECT_EQ(*after.get(), 2u);
  EXPECT_EQ(a_->append_calls(), 1u);
  EXPECT_EQ(Xlen("fine"), 2);
  EXPECT_EQ(Xlen("broken"), 0);
}

TEST_F(RedisRoomLogTest, AFullRedisRefusesAppendsAsUnavailableAndTakesThemOnceItHasRoom) {
  a_ = Log("a", 0ms);
  ASSERT_EQ(*Append(*a_, "r", {1}), 1u);
  // Under noeviction, a Redis at its memory limit refuses every write.
  ASSERT_TRUE(Call({"CONFIG", "SET", "maxmemory", "1"}).ok());
  auto refused = Append(*a_, "r", {2});
  ASSERT_FALSE(refused.ok());
  // Unavailable, as when Redis is down: the room closes its clients with 1013 and they send the
  // change again on reconnect. (Not the failure of one room's data, which resyncs the room.)
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("OOM"), std::string::npos)
      << refused.status().ToString();
  ASSERT_TRUE(Call({"CONFIG", "SET", "maxmemory", "0"}).ok());
  EXPECT_EQ(*Append(*a_, "r", {3}), 2u);
  auto read = Read(*a_, "r");
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->updates, (std::vector<Bytes>{{1}, {3}}));
}

TEST_F(RedisRoomLogTest, EraseSendsTheRoomsWaitingAppendsFirst) {
  a_ = Log("a", 0ms, 60s);
  auto appended = AppendAsync(*a_, "r", {1});
  // The append waits for its batch; the erase must not be overtaken by it.
  ASSERT_TRUE(Erase(*a_, "r").ok());
  ASSERT_EQ(appended.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(*appended.get(), 1u);
  EXPECT_FALSE(Read(*a_, "r").has_value()) << "the append came back after the erase";
  EXPECT_EQ(Xlen("r"), 0);
}

TEST_F(RedisRoomLogTest, AWorkersAppendsGoOutOnItsOwnConnectionAndAreAnsweredThere) {
  boost::asio::io_context worker;
  auto worker_work = boost::asio::make_work_guard(worker);
  std::thread worker_thread([&] { worker.run(); });
  const auto options = redis::RedisOptions{.url = *redis::ParseRedisUrl(server_.url())};
  std::atomic<int> lanes_made{0};
  a_ = std::make_unique<RedisRoomLog>(
      redis::RedisClient::Create(ioc_.get_executor(), options),
      RedisRoomLogOptions{.node_id = "a",
                          .min_age = 0ms,
                          .append_delay = 100ms,
                          .lane_client = [&](const boost::asio::any_io_executor& executor) {
                            ++lanes_made;
                            return redis::RedisClient::Create(executor, options);
                          }});
  // Appends made in one handler on the worker: one lane, one script call, answered on the worker.
  std::mutex mu;
  std::vector<uint64_t> seqs;
  std::vector<std::thread::id> answered_on;
  std::promise<void> all_answered;
  auto append_on_worker = [&](uint8_t value) {
    return a_->TryAppendOnThisThread("r", Bytes{value}, worker.get_executor(),
                                     [&](const Status& s, uint64_t seq) {
                                       EXPECT_TRUE(s.ok()) << s.ToString();
                                       std::lock_guard lock(mu);
                                       seqs.push_back(seq);
                                       answered_on.push_back(std::this_thread::get_id());
                                       if (seqs.size() == 5) all_answered.set_value();
                                     });
  };
  boost::asio::post(worker, [&] {
    for (uint8_t i = 1; i <= 5; ++i) EXPECT_TRUE(append_on_worker(i));
  });
  ASSERT_EQ(all_answered.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  for (const auto& id : answered_on) EXPECT_EQ(id, worker_thread.get_id());
  EXPECT_EQ(lanes_made.load(), 1);
  EXPECT_EQ(a_->append_calls(), 1u);
  EXPECT_EQ(Xlen("r"), 5);
  // An erase made on the worker follows the appends still waiting in its lane.
  std::promise<Result<uint64_t>> last;
  std::promise<Status> erased;
  boost::asio::post(worker, [&] {
    a_->TryAppendOnThisThread(
        "r", Bytes{6}, worker.get_executor(), [&](const Status& s, uint64_t seq) {
          last.set_value(s.ok() ? Result<uint64_t>(seq) : Result<uint64_t>(s));
        });
    a_->Erase("r", [&](const Status& s, size_t) { erased.set_value(s); });
  });
  EXPECT_EQ(*last.get_future().get(), 6u);
  EXPECT_TRUE(erased.get_future().get().ok());
  EXPECT_EQ(Xlen("r"), 0) << "an append waiting in the lane landed after the erase";
  // The worker stops with an append waiting: forgetting the workers answers it.
  std::promise<Status> abandoned;
  a_ = std::make_unique<RedisRoomLog>(
      redis::RedisClient::Create(ioc_.get_executor(), options),
      RedisRoomLogOptions{.node_id = "a",
                          .append_delay = 60s,
                          .lane_client = [&](const boost::asio::any_io_executor& executor) {
                            return redis::RedisClient::Create(executor, options);
                          }});
  std::promise<void> queued;
  boost::asio::post(worker, [&] {
    EXPECT_TRUE(
        a_->TryAppendOnThisThread("q", Bytes{1}, worker.get_executor(),
                                  [&](const Status& s, uint64_t) { abandoned.set_value(s); }));
    queued.set_value();
  });
  queued.get_future().wait();
  worker_work.reset();
  worker.stop();
  worker_thread.join();
  a_->ForgetWorkers();
  EXPECT_EQ(abandoned.get_future().get().code(), StatusCode::kUnavailable);
  EXPECT_EQ(Xlen("q"), 0);
  a_.reset();  // Flush() does not wait for the abandoned append
}

}  // namespace
}  // namespace tandem::cluster
