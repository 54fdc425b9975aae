#include "roomlog/sqlite_room_log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <filesystem>
#include <future>
#include <thread>

namespace tandem::roomlog {
namespace {

namespace fs = std::filesystem;

class SqliteRoomLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tandem-roomlog-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::unique_ptr<SqliteRoomLog> Open(std::chrono::microseconds commit_delay = {},
                                      size_t max_batch = 1024) {
    auto log = SqliteRoomLog::Open(
        dir_.string(),
        {.durability = Durability::kNormal, .commit_delay = commit_delay, .max_batch = max_batch});
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return std::move(log).value();
  }
  // The asynchronous calls, waited for.
  static std::optional<LogContents> Read(RoomLog& log, const std::string& room) {
    std::promise<Result<std::optional<LogContents>>> p;
    log.Read(room, [&](Result<std::optional<LogContents>> r) { p.set_value(std::move(r)); });
    auto r = p.get_future().get();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : std::nullopt;
  }
  static uint64_t Append(RoomLog& log, const std::string& room, Bytes update) {
    std::promise<uint64_t> p;
    log.Append(room, std::move(update), [&](const Status& s, uint64_t seq) {
      EXPECT_TRUE(s.ok()) << s.ToString();
      p.set_value(seq);
    });
    return p.get_future().get();
  }
  static Status Compact(RoomLog& log, const std::string& room, Bytes snapshot, uint64_t through) {
    std::promise<Status> p;
    log.Compact(room, std::move(snapshot), through, [&](const Status& s) { p.set_value(s); });
    return p.get_future().get();
  }
  static Status MarkSaved(RoomLog& log, const std::string& room, uint64_t through) {
    std::promise<Status> p;
    log.MarkSaved(room, through, [&](const Status& s) { p.set_value(s); });
    return p.get_future().get();
  }
  fs::path dir_;
};

TEST_F(SqliteRoomLogTest, UnknownRoomHasNoState) {
  auto log = Open();
  EXPECT_FALSE(Read(*log, "nope").has_value());
}

TEST_F(SqliteRoomLogTest, AppendsSurviveReopenAndCompactionDropsLog) {
  {
    auto log = Open();
    EXPECT_EQ(Append(*log, "a", {1, 2}), 1u);
    EXPECT_EQ(Append(*log, "b", {3}), 1u);
    EXPECT_EQ(Append(*log, "a", {4}), 2u);
  }
  auto log = Open();
  auto a = Read(*log, "a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->updates, (std::vector<Bytes>{{1, 2}, {4}}));
  EXPECT_EQ(a->last_seq, 2u);
  EXPECT_TRUE(a->unsaved);
  ASSERT_TRUE(Compact(*log, "a", {9, 9}, 1).ok());
  a = Read(*log, "a");
  EXPECT_EQ(a->snapshot, (Bytes{9, 9}));
  EXPECT_EQ(a->snapshot_seq, 1u);
  EXPECT_EQ(a->updates, (std::vector<Bytes>{{4}}));
  // Sequence numbers continue after compaction.
  EXPECT_EQ(Append(*log, "a", {5}), 3u);
  EXPECT_EQ(*log->LogBytes(), 3u);  // {4}, {5} in a, {3} in b
}

TEST_F(SqliteRoomLogTest, EraseForgetsARoomAfterItsQueuedAppendsAndLeavesOthers) {
  auto log = Open(std::chrono::milliseconds(20));
  Append(*log, "a", {1});
  Append(*log, "b", {2});
  ASSERT_TRUE(Compact(*log, "a", {7}, 1).ok());
  // Queued, not yet committed when the erase is asked for: it must not outlive the erase.
  std::promise<void> appended;
  log->Append("a", {3}, [&](const Status&, uint64_t) { appended.set_value(); });
  std::promise<Status> erased;
  log->Erase("a", [&](const Status& s, size_t elsewhere) {
    EXPECT_EQ(elsewhere, 0u);
    erased.set_value(s);
  });
  ASSERT_TRUE(erased.get_future().get().ok());
  appended.get_future().get();
  EXPECT_FALSE(Read(*log, "a").has_value());
  EXPECT_EQ(*log->RoomsNeedingSave(), std::vector<std::string>{"b"});
  ASSERT_TRUE(Read(*log, "b").has_value());
  // A new life of the room starts at sequence 1.
  EXPECT_EQ(Append(*log, "a", {4}), 1u);
}

TEST_F(SqliteRoomLogTest, AnOlderCompactionNeverReplacesANewerSnapshot) {
  // Compactions run on a pool, so an older one (a room's unload, say) can commit after a newer
  // one; it must not bring back a snapshot that lacks updates the newer one dropped.
  auto log = Open();
  for (uint8_t i = 1; i <= 3; ++i) Append(*log, "a", {i});
  ASSERT_TRUE(Compact(*log, "a", {7, 7, 7}, 3).ok());
  ASSERT_TRUE(Compact(*log, "a", {7}, 1).ok());
  auto a = Read(*log, "a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->snapshot, (Bytes{7, 7, 7}));
  EXPECT_TRUE(a->updates.empty());
  ASSERT_TRUE(Compact(*log, "a", {8, 8, 8}, 3).ok());  // same point: either is complete
  EXPECT_EQ(Read(*log, "a")->snapshot, (Bytes{8, 8, 8}));
}

TEST_F(SqliteRoomLogTest, UnsavedRoomsAreListedUntilMarkedSaved) {
  auto log = Open();
  Append(*log, "x", {1});
  Append(*log, "y", {1});
  EXPECT_EQ(*log->RoomsNeedingSave(), (std::vector<std::string>{"x", "y"}));
  ASSERT_TRUE(MarkSaved(*log, "x", 0).ok());  // a save older than the last append: still unsaved
  EXPECT_EQ(*log->RoomsNeedingSave(), (std::vector<std::string>{"x", "y"}));
  ASSERT_TRUE(MarkSaved(*log, "x", 1).ok());
  ASSERT_TRUE(MarkSaved(*log, "y", 1).ok());
  EXPECT_TRUE(log->RoomsNeedingSave()->empty());
  EXPECT_FALSE(Read(*log, "x")->unsaved);
}

TEST_F(SqliteRoomLogTest, ConcurrentAppendsLoseNothingAndStayInOrder) {
  auto log = Open();
  std::mutex mu;
  std::map<std::string, std::vector<uint64_t>> seqs;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const std::string room = "room" + std::to_string(t);
      for (int i = 0; i < 50; ++i) {
        log->Append(room, {static_cast<uint8_t>(i)}, [&, room](const Status& s, uint64_t seq) {
          ASSERT_TRUE(s.ok());
          std::lock_guard lock(mu);
          seqs[room].push_back(seq);
        });
      }
    });
  }
  for (auto& th : threads) th.join();
  log->Flush();
  for (int t = 0; t < 4; ++t) {
    const std::string room = "room" + std::to_string(t);
    EXPECT_EQ(Read(*log, room)->updates.size(), 50u);
    ASSERT_EQ(seqs[room].size(), 50u);
    for (size_t i = 0; i < 50; ++i) EXPECT_EQ(seqs[room][i], i + 1) << room;
  }
  EXPECT_LE(log->commits(), 200u);
}

TEST_F(SqliteRoomLogTest, ABusyLogGathersSpacedAppendsIntoOneCommit) {
  auto log = Open(std::chrono::seconds(2));
  std::atomic<int> done{0};
  auto count = [&](const Status& s, uint64_t) {
    EXPECT_TRUE(s.ok());
    ++done;
  };
  // An idle log commits at once.
  log->Append("r", {0}, count);
  log->Flush();
  EXPECT_EQ(done.load(), 1);
  EXPECT_EQ(log->commits(), 1u);
  // Right after a commit the log counts as busy: appends 5 ms apart, inside the 2 s delay, share
  // one commit. Without the delay the writer, idle between them, would commit each alone.
  for (int i = 1; i < 4; ++i) {
    log->Append("r", {static_cast<uint8_t>(i)}, count);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(done.load(), 1);  // nothing acknowledged before its commit
  log->Flush();
  EXPECT_EQ(done.load(), 4);
  EXPECT_EQ(log->commits(), 2u);
  EXPECT_EQ(Read(*log, "r")->updates.size(), 4u);
}

TEST_F(SqliteRoomLogTest, AFullBatchEndsTheCommitDelayEarly) {
  const auto start = std::chrono::steady_clock::now();
  {
    auto log = Open(std::chrono::seconds(30), 3);
    log->Append("r", {0}, [](const Status&, uint64_t) {});
    log->Flush();  // the log is busy from now on: the next commit waits for company
    for (int i = 0; i < 3; ++i) log->Append("r", {1}, [](const Status&, uint64_t) {});
    log->Flush();
    EXPECT_EQ(log->commits(), 2u);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(SqliteRoomLogTest, ClosingCommitsWhatWaitsOutItsDelay) {
  const auto start = std::chrono::steady_clock::now();
  {
    auto log = Open(std::chrono::seconds(30));
    log->Append("r", {0}, [](const Status&, uint64_t) {});
    log->Flush();
    log->Append("r", {1}, [](const Status&, uint64_t) {});
  }  // the destructor does not wait out the 30 s
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(Read(*Open(), "r")->updates.size(), 2u);
}

TEST_F(SqliteRoomLogTest, IdleNormalLogAppendsOnTheCallersThreadInOrder) {
  auto log = Open();
  const Bytes first{1}, second{2};
  auto seq = log->TryAppendNow("a", first);
  ASSERT_TRUE(seq.has_value());
  EXPECT_EQ(*seq, 1u);
  EXPECT_EQ(Append(*log, "a", {3}), 2u);  // the writer's numbering goes on from it
  log->Flush();  // the writer answers before it marks itself idle: until then it is busy
  EXPECT_EQ(log->TryAppendNow("a", second), std::optional<uint64_t>(3));
  EXPECT_EQ(log->inline_appends(), 2u);
  EXPECT_EQ(log->appends(), 3u);
  auto a = Read(*log, "a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->updates, (std::vector<Bytes>{{1}, {3}, {2}}));
  EXPECT_TRUE(a->unsaved);
}

TEST_F(SqliteRoomLogTest, InlineAppendsSurviveReopen) {
  {
    auto log = Open();
    const Bytes update{7, 7};
    ASSERT_TRUE(log->TryAppendNow("a", update).has_value());
  }
  auto log = Open();
  auto a = Read(*log, "a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->updates, (std::vector<Bytes>{{7, 7}}));
}

TEST_F(SqliteRoomLogTest, FullDurabilityNeverAppendsInline) {
  auto log = SqliteRoomLog::Open(dir_.string(), {.durability = Durability::kFull});
  ASSERT_TRUE(log.ok());
  const Bytes update{1};
  EXPECT_FALSE((*log)->TryAppendNow("a", update).has_value());
  EXPECT_EQ(Append(**log, "a", {1}), 1u);
}

TEST_F(SqliteRoomLogTest, FullLogCommitsOnTheCallersThreadAndAcknowledgesAfterOneFsyncPerTurn) {
  auto log = SqliteRoomLog::Open(dir_.string(), {.durability = Durability::kFull});
  ASSERT_TRUE(log.ok());
  boost::asio::io_context ioc;
  struct Ack {
    Status status;
    uint64_t seq;
    uint64_t syncs_then;
    std::thread::id thread;
  };
  std::vector<Ack> acks;
  uint64_t syncs_before = 0;
  size_t acked_within_turn = 99;
  boost::asio::post(ioc, [&] {
    syncs_before = (*log)->wal_syncs();
    const Bytes a1{1}, a2{2}, b1{3};
    for (auto [room, update] : {std::pair{"a", &a1}, std::pair{"a", &a2}, std::pair{"b", &b1}}) {
      EXPECT_TRUE((*log)->TryAppendOnThisThread(
          room, *update, ioc.get_executor(), [&](const Status& s, uint64_t seq) {
            acks.push_back({s, seq, (*log)->wal_syncs(), std::this_thread::get_id()});
          }));
    }
    acked_within_turn = acks.size();
  });
  ioc.run();
  EXPECT_EQ(acked_within_turn, 0u);  // committed, not yet durable: nothing acknowledged
  ASSERT_EQ(acks.size(), 3u);
  const std::vector<uint64_t> seqs{1, 2, 1};
  for (size_t i = 0; i < acks.size(); ++i) {
    EXPECT_TRUE(acks[i].status.ok()) << acks[i].status.ToString();
    EXPECT_EQ(acks[i].seq, seqs[i]);
    EXPECT_EQ(acks[i].syncs_then, syncs_before + 1);  // one fsync for the turn, before any ack
    EXPECT_EQ(acks[i].thread, std::this_thread::get_id());
  }
  EXPECT_EQ((*log)->wal_syncs(), syncs_before + 1);
  EXPECT_EQ((*log)->inline_appends(), 3u);
  EXPECT_EQ(Append(**log, "a", {4}), 3u);  // the writer's numbering goes on from them
  log->reset();
  auto reopened = SqliteRoomLog::Open(dir_.string(), {.durability = Durability::kFull});
  ASSERT_TRUE(reopened.ok());
  auto a = Read(**reopened, "a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->updates, (std::vector<Bytes>{{1}, {2}, {4}}));
}

TEST_F(SqliteRoomLogTest, FullLogFsyncsTheSameWalFileThroughCheckpoints) {
  // The log fsyncs the WAL through a descriptor it opened once: SQLite must keep that file (not
  // replace it) while the database is open, through checkpoints and the journal size limit.
  auto log = SqliteRoomLog::Open(dir_.string(), {.durability = Durability::kFull});
  ASSERT_TRUE(log.ok());
  const std::string wal = (dir_ / "rooms.db-wal").string();
  EXPECT_EQ(Append(**log, "a", {1}), 1u);
  struct stat first {};
  ASSERT_EQ(::stat(wal.c_str(), &first), 0);
  const uint64_t syncs = (*log)->wal_syncs();
  EXPECT_GE(syncs, 1u);
  // About 8 MB through the WAL: several automatic checkpoints, each followed by a truncation.
  const Bytes big(16 * 1024, 7);
  for (int i = 0; i < 500; ++i) (void)Append(**log, "a", big);
  ASSERT_TRUE(Compact(**log, "a", {9}, 501).ok());
  struct stat later {};
  ASSERT_EQ(::stat(wal.c_str(), &later), 0);
  EXPECT_EQ(later.st_ino, first.st_ino);
  EXPECT_LT(later.st_size, 8 * 1024 * 1024);    // it was checkpointed and cut back meanwhile
  EXPECT_GE((*log)->wal_syncs(), syncs + 501);  // every acknowledged write had its fsync
}

TEST_F(SqliteRoomLogTest, NormalLogSyncsTheWalInTheBackgroundEverySoManyCommits) {
  // Left to the checkpoint, megabytes of unsynced WAL stalled the room that happened to commit.
  auto log = Open();
  const Bytes update{1};
  for (int i = 0; i < 63; ++i) ASSERT_TRUE(log->TryAppendNow("a", update).has_value());
  log->Flush();
  EXPECT_EQ(log->wal_syncs(), 0u);
  ASSERT_TRUE(log->TryAppendNow("a", update).has_value());
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (log->wal_syncs() == 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(log->wal_syncs(), 1u);
}

TEST_F(SqliteRoomLogTest, CompactingALargeLogGivesItsPagesBack) {
  const Bytes big(16 * 1024, 7);
  {
    auto log = Open();
    for (int i = 0; i < 400; ++i) (void)Append(*log, "a", big);  // about 6.5 MB
    ASSERT_TRUE(Compact(*log, "a", {9}, 400).ok());
  }
  // Closing checkpoints the WAL into the file, which by then has let its free pages go.
  EXPECT_LT(fs::file_size(dir_ / "rooms.db"), 1024u * 1024u);
  auto log = Open();
  auto a = Read(*log, "a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->snapshot, Bytes{9});
  EXPECT_TRUE(a->updates.empty());
}

TEST_F(SqliteRoomLogTest, BusyWriterSendsTheAppendTheQueuedWay) {
  // A long commit delay keeps the first append queued: an inline append now could land
  // before it, so the log declines.
  auto log = Open(std::chrono::milliseconds(300));
  std::promise<uint64_t> queued;
  (void)Append(*log, "warm", {0});  // the log was busy just now: the next append waits
  log->Append("a", {1}, [&](const Status&, uint64_t seq) { queued.set_value(seq); });
  const Bytes update{2};
  EXPECT_FALSE(log->TryAppendNow("b", update).has_value());
  EXPECT_EQ(queued.get_future().get(), 1u);
}

TEST_F(SqliteRoomLogTest, BusyFullLogSendsTheAppendTheQueuedWay) {
  auto log = SqliteRoomLog::Open(dir_.string(), {.durability = Durability::kFull,
                                                 .commit_delay = std::chrono::milliseconds(300)});
  ASSERT_TRUE(log.ok());
  std::promise<uint64_t> queued;
  (void)Append(**log, "warm", {0});
  (*log)->Append("a", {1}, [&](const Status&, uint64_t seq) { queued.set_value(seq); });
  boost::asio::io_context ioc;
  const Bytes update{2};
  bool called = false;
  EXPECT_FALSE((*log)->TryAppendOnThisThread("b", update, ioc.get_executor(),
                                             [&](const Status&, uint64_t) { called = true; }));
  EXPECT_EQ(queued.get_future().get(), 1u);
  ioc.run();
  EXPECT_FALSE(called);
  EXPECT_EQ((*log)->inline_appends(), 0u);
}

TEST_F(SqliteRoomLogTest, SecondOpenOfTheSameDirectoryIsRefused) {
  // The log holds its file lock for good (locking_mode=EXCLUSIVE): a second server on the same
  // data directory gets an error at start, not a shared log.
  auto log = Open();
  (void)Append(*log, "a", {1});
  auto second = SqliteRoomLog::Open(dir_.string(), {.durability = Durability::kNormal});
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("another tandem serve"), std::string::npos)
      << second.status().ToString();
}

}  // namespace
}  // namespace tandem::roomlog
