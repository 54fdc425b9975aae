#include "storage/sqlite_room_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

namespace tandem::storage {
namespace {

namespace fs = std::filesystem;

class SqliteRoomStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tandem-rooms-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::unique_ptr<SqliteRoomStore> Open() {
    auto s = SqliteRoomStore::Open(dir_.string(), Durability::kNormal);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return std::move(s).value();
  }
  fs::path dir_;
};

TEST_F(SqliteRoomStoreTest, UnknownRoomHasNoState) {
  auto store = Open();
  auto r = store->Load("nope");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

TEST_F(SqliteRoomStoreTest, AppendsSurviveReopenAndCompactionDropsLog) {
  {
    auto store = Open();
    auto seqs = store->AppendBatch({{"a", {1, 2}}, {"b", {3}}, {"a", {4}}});
    ASSERT_TRUE(seqs.ok());
    EXPECT_EQ(*seqs, (std::vector<uint64_t>{1, 1, 2}));
  }
  auto store = Open();
  auto a = store->Load("a");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->updates, (std::vector<Bytes>{{1, 2}, {4}}));
  EXPECT_EQ((*a)->last_seq, 2u);
  EXPECT_TRUE((*a)->unsaved);
  ASSERT_TRUE(store->Compact("a", {9, 9}, 1).ok());
  a = store->Load("a");
  EXPECT_EQ((*a)->snapshot, (Bytes{9, 9}));
  EXPECT_EQ((*a)->updates, (std::vector<Bytes>{{4}}));
  // sequence numbers continue after compaction
  auto more = store->AppendBatch({{"a", {5}}});
  EXPECT_EQ(*more, (std::vector<uint64_t>{3}));
  EXPECT_EQ(*store->LogBytes(), 3u);  // {4}, {5} in a, {3} in b
}

TEST_F(SqliteRoomStoreTest, AnOlderCompactionNeverReplacesANewerSnapshot) {
  // Compactions run on a pool, so an older one (e.g. a room's unload) can commit after a newer
  // one; it must not bring back a snapshot that lacks log entries the newer one dropped.
  auto store = Open();
  ASSERT_TRUE(store->AppendBatch({{"a", {1}}, {"a", {2}}, {"a", {3}}}).ok());
  ASSERT_TRUE(store->Compact("a", {7, 7, 7}, 3).ok());
  ASSERT_TRUE(store->Compact("a", {7}, 1).ok());
  auto a = store->Load("a");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->snapshot, (Bytes{7, 7, 7}));
  EXPECT_TRUE((*a)->updates.empty());
  ASSERT_TRUE(store->Compact("a", {8, 8, 8}, 3).ok());  // same point: either is complete
  EXPECT_EQ((*store->Load("a"))->snapshot, (Bytes{8, 8, 8}));
}

TEST_F(SqliteRoomStoreTest, UnsavedAndAlarmsPersist) {
  auto store = Open();
  ASSERT_TRUE(store->AppendBatch({{"x", {1}}}).ok());
  ASSERT_TRUE(store->SetAlarm("y", 12345).ok());
  EXPECT_EQ(*store->RoomsNeedingSave(), (std::vector<std::string>{"x", "y"}));
  ASSERT_TRUE(store->MarkSaved("x", 0).ok());  // a save older than the last append: still unsaved
  EXPECT_EQ(*store->RoomsNeedingSave(), (std::vector<std::string>{"x", "y"}));
  ASSERT_TRUE(store->MarkSaved("x", 1).ok());
  ASSERT_TRUE(store->SetAlarm("y", std::nullopt).ok());
  EXPECT_TRUE(store->RoomsNeedingSave()->empty());
  auto y = store->Load("y");
  ASSERT_TRUE(y.ok());
  EXPECT_FALSE(y->has_value());  // bookkeeping alone is no document state
}

TEST_F(SqliteRoomStoreTest, ConcurrentAppendsLoseNothing) {
  auto store = Open();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&store, t] {
      for (int i = 0; i < 50; ++i) {
        ASSERT_TRUE(
            store->AppendBatch({{"room" + std::to_string(t % 2), {static_cast<uint8_t>(i)}}}).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ((*store->Load("room0"))->updates.size(), 100u);
  EXPECT_EQ((*store->Load("room1"))->updates.size(), 100u);
}

}  // namespace
}  // namespace tandem::storage

#include "storage/commit_log.h"

namespace tandem::storage {
namespace {

TEST_F(SqliteRoomStoreTest, CommitLogGroupsAppendsAndCallsBackInOrder) {
  auto store = Open();
  std::mutex mu;
  std::vector<uint64_t> seqs;
  {
    CommitLog log(*store);
    for (int i = 0; i < 200; ++i) {
      log.Append("r", {static_cast<uint8_t>(i)}, [&](Status s, uint64_t seq) {
        ASSERT_TRUE(s.ok());
        std::lock_guard lock(mu);
        seqs.push_back(seq);
      });
    }
    log.Flush();
    EXPECT_EQ(log.appends(), 200u);
    EXPECT_LE(log.batches(), 200u);
  }
  ASSERT_EQ(seqs.size(), 200u);
  for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], i + 1);
  EXPECT_EQ((*store->Load("r"))->updates.size(), 200u);
}

TEST_F(SqliteRoomStoreTest, ABusyLogGathersSpacedAppendsIntoOneCommit) {
  auto store = Open();
  std::atomic<int> done{0};
  auto count = [&](Status s, uint64_t) {
    EXPECT_TRUE(s.ok());
    ++done;
  };
  CommitLog log(*store, 1024, std::chrono::seconds(2));
  // An idle log commits at once.
  log.Append("r", {0}, count);
  log.Flush();
  EXPECT_EQ(done.load(), 1);
  EXPECT_EQ(log.batches(), 1u);
  // Right after a commit the log counts as busy: appends 5 ms apart, inside the 2 s delay,
  // share one commit. Without the delay the writer, idle between them, would commit each alone.
  for (int i = 1; i < 4; ++i) {
    log.Append("r", {static_cast<uint8_t>(i)}, count);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(done.load(), 1);  // nothing acknowledged before its commit
  log.Flush();
  EXPECT_EQ(done.load(), 4);
  EXPECT_EQ(log.batches(), 2u);
  EXPECT_EQ((*store->Load("r"))->updates.size(), 4u);
}

TEST_F(SqliteRoomStoreTest, AFullBatchEndsTheCommitDelayEarly) {
  auto store = Open();
  const auto start = std::chrono::steady_clock::now();
  {
    CommitLog log(*store, 3, std::chrono::seconds(30));
    log.Append("r", {0}, [](Status, uint64_t) {});
    log.Flush();  // the log is busy from now on: the next commit waits for company
    for (int i = 0; i < 3; ++i) log.Append("r", {1}, [](Status, uint64_t) {});
    log.Flush();
    EXPECT_EQ(log.batches(), 2u);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(SqliteRoomStoreTest, StoppingACommitLogCommitsWhatWaitsOutItsDelay) {
  auto store = Open();
  const auto start = std::chrono::steady_clock::now();
  {
    CommitLog log(*store, 1024, std::chrono::seconds(30));
    log.Append("r", {0}, [](Status, uint64_t) {});
    log.Flush();
    log.Append("r", {1}, [](Status, uint64_t) {});
  }  // the destructor does not wait out the 30 s
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ((*store->Load("r"))->updates.size(), 2u);
}

}  // namespace
}  // namespace tandem::storage
