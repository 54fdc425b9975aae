// The engine on both backends: versions, the merge rule, validation, concurrency.

#include "store/snapshot_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "crdt/hostile_updates.h"
#include "store/test_postgres.h"
#include "store/test_updates.h"

namespace tandem::store {
namespace {

using testing::Delete;
using testing::JsonOf;
using testing::Key;
using testing::MapHasKey;
using testing::MapSet;
using testing::Name;
using testing::Snapshot;
using testing::TextInsert;

class StoreEngineTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void TearDownTestSuite() { pg_.Stop(); }

  void SetUp() override {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : name) {
      if (c == '/') c = '-';  // "Case/sqlite": one folder, not two
    }
    dir_ = std::filesystem::temp_directory_path() /
           (std::string("tandem-store-test-") + std::to_string(getpid()) + "-" + name);
    std::filesystem::remove_all(dir_);
    room_prefix_ = std::string("t") + std::to_string(getpid()) + "-" +
                   ::testing::UnitTest::GetInstance()->current_test_info()->name() + "-";
    store_ = Open(StoreOptions{.max_snapshot_bytes = 1 << 20, .keep_versions = 3});
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<SnapshotStore> Open(StoreOptions options) {
    if (GetParam() == "postgres") {
      if (TestPostgres::FindBinDir().empty()) {
        skip_ = "PostgreSQL server binaries not installed (/usr/lib/postgresql/*/bin)";
        return nullptr;
      }
      const Status& started = pg_.Start();
      EXPECT_TRUE(started.ok()) << started.ToString();
      if (!started.ok()) return nullptr;
      auto backend = OpenPostgresBackend(pg_.url(), 4);
      EXPECT_TRUE(backend.ok()) << backend.status().ToString();
      if (!backend.ok()) return nullptr;
      return std::make_unique<SnapshotStore>(std::move(backend).value(), options);
    }
    auto backend = OpenSqliteBackend((dir_ / "snapshots.db").string());
    EXPECT_TRUE(backend.ok()) << backend.status().ToString();
    if (!backend.ok()) return nullptr;
    return std::make_unique<SnapshotStore>(std::move(backend).value(), options);
  }

  // Room names unique per test, so tests sharing one postgres do not see each other.
  std::string Room(const std::string& name) { return room_prefix_ + name; }

  static LazyTestPostgres pg_;
  std::filesystem::path dir_;
  std::string room_prefix_;
  std::string skip_;
  std::unique_ptr<SnapshotStore> store_;
};

LazyTestPostgres StoreEngineTest::pg_;

#define REQUIRE_STORE()                        \
  do {                                         \
    if (!skip_.empty()) GTEST_SKIP() << skip_; \
    ASSERT_NE(store_, nullptr);                \
  } while (0)

TEST_P(StoreEngineTest, RoundTripAndMissingRoom) {
  REQUIRE_STORE();
  const auto snap = Snapshot({MapSet(1, 0, "a", "x")});
  auto saved = store_->Save(Room("r"), snap);
  ASSERT_TRUE(saved.ok()) << saved.status().ToString();
  EXPECT_EQ(saved->info.version, 1);
  EXPECT_FALSE(saved->merged);
  EXPECT_EQ(saved->info.checksum, Sha256Hex(snap));
  auto got = store_->Get(Room("r"));
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->data, snap);
  EXPECT_EQ((*got)->info.size, snap.size());
  auto missing = store_->Get(Room("nobody"));
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST_P(StoreEngineTest, RejectsNonYjsTruncatedOversizedAndBadRoomIds) {
  REQUIRE_STORE();
  const auto snap = Snapshot({MapSet(1, 0, "a", "x"), TextInsert(2, "hello")});
  const std::vector<uint8_t> text = {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'};
  EXPECT_EQ(store_->Save(Room("r"), text).status().code(), StatusCode::kMalformed);
  EXPECT_EQ(store_->Save(Room("r"), {}).status().code(), StatusCode::kMalformed);
  for (size_t cut = 1; cut < snap.size(); ++cut) {
    EXPECT_EQ(store_->Save(Room("r"), std::span(snap).first(cut)).status().code(),
              StatusCode::kMalformed)
        << "truncated to " << cut;
  }
  std::vector<uint8_t> big(store_->options().max_snapshot_bytes + 1, 0);
  EXPECT_EQ(store_->Save(Room("r"), big).status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(store_->Save("", snap).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Save(std::string(kMaxRoomIdBytes + 1, 'x'), snap).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Save("a\nb", snap).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Save("\xff", snap).status().code(), StatusCode::kInvalidArgument);
  auto got = store_->Get(Room("r"));
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value()) << "nothing may be stored";
  EXPECT_EQ(store_->metrics().saves.load(), 0u);
}

TEST_P(StoreEngineTest, StaleSnapshotIsMergedNotOverwriting) {
  REQUIRE_STORE();
  const auto a = MapSet(1, 0, "a", "1");
  const auto b = MapSet(2, 0, "b", "2");
  const auto c = MapSet(3, 0, "c", "3");
  ASSERT_TRUE(store_->Save(Room("r"), Snapshot({a, b})).ok());
  // A server that never saw b saves a and c.
  auto saved = store_->Save(Room("r"), Snapshot({a, c}));
  ASSERT_TRUE(saved.ok()) << saved.status().ToString();
  EXPECT_TRUE(saved->merged);
  EXPECT_TRUE(saved->info.merged);
  auto got = store_->Get(Room("r"));
  ASSERT_TRUE(got.ok() && got->has_value());
  for (const char* key : {"a", "b", "c"}) EXPECT_TRUE(MapHasKey((*got)->data, key)) << key;
  EXPECT_EQ(store_->metrics().merges.load(), 1u);
  EXPECT_EQ(store_->metrics().saves.load(), 2u);

  // An older snapshot that adds nothing writes no version, and says it was stale.
  const int64_t before = saved->info.version;
  saved = store_->Save(Room("r"), Snapshot({a}));
  ASSERT_TRUE(saved.ok());
  EXPECT_TRUE(saved->merged);
  EXPECT_TRUE(saved->unchanged);
  EXPECT_EQ(saved->info.version, before);
  saved = store_->Save(Room("r"), Snapshot({}));  // an empty document
  ASSERT_TRUE(saved.ok());
  EXPECT_TRUE(saved->unchanged);
  EXPECT_EQ(saved->info.version, before);

  // A newer snapshot (superset) is stored as sent.
  const auto newer = Snapshot({a, b, c, MapSet(4, 0, "d", "4")});
  saved = store_->Save(Room("r"), newer);
  ASSERT_TRUE(saved.ok());
  EXPECT_FALSE(saved->merged);
  got = store_->Get(Room("r"));
  EXPECT_EQ((*got)->data, newer);
}

TEST_P(StoreEngineTest, StaleSnapshotWithoutDeletionKeepsTheDeletion) {
  REQUIRE_STORE();
  const auto text = TextInsert(5, "ab");
  const auto with_delete = Snapshot({text, Delete(5, 1, 1)});
  ASSERT_EQ(JsonOf(with_delete), R"({"t":"a"})");
  ASSERT_TRUE(store_->Save(Room("r"), with_delete).ok());
  // Same structs, no deletion, plus new content: the state vector is a superset, the delete set
  // is not.
  auto saved = store_->Save(Room("r"), Snapshot({text, MapSet(6, 0, "k", "v")}));
  ASSERT_TRUE(saved.ok());
  EXPECT_TRUE(saved->merged);
  auto got = store_->Get(Room("r"));
  const std::string json = JsonOf((*got)->data);
  EXPECT_NE(json.find(R"("t":"a")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("m":{"k":"v"})"), std::string::npos) << json;
  // A snapshot that adds the deletion to what is stored is not a merge.
  ASSERT_TRUE(store_->Save(Room("r2"), Snapshot({text})).ok());
  saved = store_->Save(Room("r2"), with_delete);
  ASSERT_TRUE(saved.ok());
  EXPECT_FALSE(saved->merged);
}

TEST_P(StoreEngineTest, RejectsTrailingBytesAndV2Bodies) {
  REQUIRE_STORE();
  auto snap = Snapshot({TextInsert(2, "hello")});
  auto trailing = snap;
  trailing.push_back(0x2a);
  EXPECT_EQ(store_->Save(Room("r"), trailing).status().code(), StatusCode::kMalformed);
  crdt::Doc doc;
  ASSERT_TRUE(doc.ApplyUpdate(snap).ok());
  const auto v2 = doc.EncodeStateAsUpdateV2();
  auto saved = store_->Save(Room("r"), v2);
  EXPECT_EQ(saved.status().code(), StatusCode::kMalformed) << saved.status().ToString();
  auto got = store_->Get(Room("r"));
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value()) << "nothing may be stored";
}

TEST_P(StoreEngineTest, BareGcStructDoesNotReplaceStoredText) {
  REQUIRE_STORE();
  const auto text = Snapshot({TextInsert(42, "abcdef")});
  ASSERT_TRUE(store_->Save(Room("r"), text).ok());
  // One GC struct over client 42's clocks 0..5 and no delete set: it claims the text was
  // collected without saying it was deleted.
  const std::vector<uint8_t> bare_gc = {0x01, 0x01, 0x2a, 0x00, 0x00, 0x06, 0x00};
  auto saved = store_->Save(Room("r"), bare_gc);
  ASSERT_TRUE(saved.ok()) << saved.status().ToString();
  auto got = store_->Get(Room("r"));
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ(JsonOf((*got)->data), R"({"t":"abcdef"})");
  // With the deletion in its delete set the same struct is a real deletion: stored as sent.
  auto deleted = bare_gc;
  deleted.back() = 0x01;  // one client in the delete set
  for (uint8_t b : {0x2a, 0x01, 0x00, 0x06}) deleted.push_back(b);
  saved = store_->Save(Room("r"), deleted);
  ASSERT_TRUE(saved.ok()) << saved.status().ToString();
  EXPECT_FALSE(saved->merged);
  got = store_->Get(Room("r"));
  EXPECT_EQ(JsonOf((*got)->data), "{}");
}

TEST_P(StoreEngineTest, DeeplyNestedSnapshotsMergeWithoutCrashing) {
  REQUIRE_STORE();
  // 60,000 nested arrays, then a stale snapshot that forces a merge through a document.
  const auto deep = crdt::NestedArraysUpdate(7, 60'000);
  ASSERT_TRUE(store_->Save(Room("r"), deep).ok());
  auto saved = store_->Save(Room("r"), Snapshot({TextInsert(2, "x")}));
  ASSERT_TRUE(saved.ok()) << saved.status().ToString();
  EXPECT_TRUE(saved->merged);
  ASSERT_TRUE(store_->Save(Room("r2"), deep).ok());
  crdt::Doc doc(crdt::DocOptions{.gc = true, .client_id = 1});
  ASSERT_TRUE(doc.ApplyUpdate(deep).ok());
  ASSERT_TRUE(doc.ApplyUpdate(crdt::DeleteRangeUpdate(7, 0, 1)).ok());
  saved = store_->Save(Room("r2"), doc.EncodeStateAsUpdate());
  ASSERT_TRUE(saved.ok()) << saved.status().ToString();
}

TEST_P(StoreEngineTest, KeepsLastNVersionsAndFetchesOne) {
  REQUIRE_STORE();
  std::vector<std::vector<uint8_t>> snaps;
  std::vector<std::vector<uint8_t>> updates;
  for (int i = 0; i < 5; ++i) {
    updates.push_back(MapSet(10 + i, 0, Name("k", i), "v"));
    snaps.push_back(Snapshot(updates));
    auto saved = store_->Save(Room("r"), snaps.back());
    ASSERT_TRUE(saved.ok());
    EXPECT_EQ(saved->info.version, i + 1);
  }
  // Saving the latest bytes again writes nothing.
  auto again = store_->Save(Room("r"), snaps.back());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->unchanged);
  EXPECT_EQ(again->info.version, 5);

  auto list = store_->ListVersions(Room("r"));
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 3u);  // keep_versions = 3
  EXPECT_EQ((*list)[0].version, 5);
  EXPECT_EQ((*list)[2].version, 3);
  EXPECT_EQ((*list)[1].checksum, Sha256Hex(snaps[3]));
  EXPECT_EQ((*list)[1].size, snaps[3].size());
  EXPECT_GT((*list)[1].time_ms, 1'600'000'000'000);
  auto v4 = store_->Get(Room("r"), 4);
  ASSERT_TRUE(v4.ok() && v4->has_value());
  EXPECT_EQ((*v4)->data, snaps[3]);
  auto v1 = store_->Get(Room("r"), 1);
  ASSERT_TRUE(v1.ok());
  EXPECT_FALSE(v1->has_value()) << "pruned";
  auto rolled = store_->Rollback(Room("r"), 4);
  ASSERT_TRUE(rolled.ok()) << rolled.status().ToString();
  EXPECT_EQ(rolled->info.version, 6);
  EXPECT_FALSE(rolled->merged);
  auto latest = store_->Get(Room("r"));
  ASSERT_TRUE(latest.ok() && latest->has_value());
  EXPECT_EQ((*latest)->data, snaps[3]);
  EXPECT_EQ(store_->Rollback(Room("r"), 1).status().code(), StatusCode::kNotFound);
  auto empty = store_->ListVersions(Room("none"));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST_P(StoreEngineTest, ConcurrentSavesToOneRoomAndManyRoomsLoseNothing) {
  REQUIRE_STORE();
  constexpr int kThreads = 6;
  constexpr int kRounds = 8;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Each writer only knows its own edits: every save is stale for the others.
      std::vector<std::vector<uint8_t>> mine;
      for (int r = 0; r < kRounds; ++r) {
        mine.push_back(MapSet(100 + t, r, Key(t, r), "v"));
        if (!store_->Save(Room("shared"), Snapshot(mine)).ok()) ++failures;
        if (!store_->Save(Room("own") + std::to_string(t), Snapshot(mine)).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto got = store_->Get(Room("shared"));
  ASSERT_TRUE(got.ok() && got->has_value());
  for (int t = 0; t < kThreads; ++t) {
    for (int r = 0; r < kRounds; ++r) {
      const std::string key = Key(t, r);
      EXPECT_TRUE(MapHasKey((*got)->data, key)) << key;
    }
    auto own = store_->Get(Room("own") + std::to_string(t));
    ASSERT_TRUE(own.ok() && own->has_value());
    EXPECT_TRUE(MapHasKey((*own)->data, Key(t, kRounds - 1)));
  }
}

// Two store processes sharing one database (PostgreSQL behind several servers, or one SQLite
// file): saves of one room are serialized across them, so none is lost.
TEST_P(StoreEngineTest, TwoStoresOnOneDatabaseLoseNothing) {
  REQUIRE_STORE();
  auto other = Open(store_->options());
  ASSERT_NE(other, nullptr);
  constexpr int kThreads = 4;
  constexpr int kRounds = 6;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    SnapshotStore* target = t % 2 == 0 ? store_.get() : other.get();
    threads.emplace_back([&, t, target] {
      std::vector<std::vector<uint8_t>> mine;
      for (int r = 0; r < kRounds; ++r) {
        mine.push_back(MapSet(300 + t, r, Key(t, r), "v"));
        if (!target->Save(Room("shared"), Snapshot(mine)).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto got = other->Get(Room("shared"));
  ASSERT_TRUE(got.ok() && got->has_value());
  for (int t = 0; t < kThreads; ++t) {
    for (int r = 0; r < kRounds; ++r) EXPECT_TRUE(MapHasKey((*got)->data, Key(t, r))) << Key(t, r);
  }
  auto list = store_->ListVersions(Room("shared"));
  ASSERT_TRUE(list.ok());
  ASSERT_FALSE(list->empty());
  EXPECT_EQ((*list)[0].version, (*got)->info.version);
}

TEST_P(StoreEngineTest, ReopenedStoreKeepsVersionNumbers) {
  REQUIRE_STORE();
  ASSERT_TRUE(store_->Save(Room("r"), Snapshot({MapSet(1, 0, "a", "1")})).ok());
  ASSERT_TRUE(
      store_->Save(Room("r"), Snapshot({MapSet(1, 0, "a", "1"), MapSet(2, 0, "b", "2")})).ok());
  store_ = Open(StoreOptions{.max_snapshot_bytes = 1 << 20, .keep_versions = 1});
  ASSERT_NE(store_, nullptr);
  auto saved = store_->Save(Room("r"), Snapshot({MapSet(1, 0, "a", "1"), MapSet(2, 0, "b", "2"),
                                                 MapSet(3, 0, "c", "3")}));
  ASSERT_TRUE(saved.ok());
  EXPECT_EQ(saved->info.version, 3);
  auto list = store_->ListVersions(Room("r"));
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].version, 3);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreEngineTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& p) { return p.param; });

// Written by yjs 13.6: a (client 11) types "hello world"; b (client 22) syncs, deletes "hello ",
// pushes [1,2,3] to array "arr"; meanwhile a sets m.x = "y" and appends "!". `kStored` is b's
// state, `kStale` is a's (it lacks b's deletion and array). yjs merges them to t = "world!",
// m = {"x":"y"}, arr = [1,2,3].
const std::vector<uint8_t> kStored = {0x02, 0x01, 0x16, 0x00, 0x08, 0x01, 0x03, 0x61, 0x72, 0x72,
                                      0x03, 0x7d, 0x01, 0x7d, 0x02, 0x7d, 0x03, 0x02, 0x0b, 0x00,
                                      0x01, 0x01, 0x01, 0x74, 0x06, 0x84, 0x0b, 0x05, 0x05, 0x77,
                                      0x6f, 0x72, 0x6c, 0x64, 0x01, 0x0b, 0x01, 0x00, 0x06};
const std::vector<uint8_t> kStale = {0x01, 0x03, 0x0b, 0x00, 0x04, 0x01, 0x01, 0x74, 0x0b,
                                     0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x77, 0x6f, 0x72,
                                     0x6c, 0x64, 0x28, 0x01, 0x01, 0x6d, 0x01, 0x78, 0x01,
                                     0x77, 0x01, 0x79, 0x84, 0x0b, 0x0a, 0x01, 0x21, 0x00};

TEST_P(StoreEngineTest, YjsWrittenStaleSnapshotMergesLikeYjs) {
  REQUIRE_STORE();
  ASSERT_TRUE(store_->Save(Room("r"), kStored).ok());
  auto saved = store_->Save(Room("r"), kStale);
  ASSERT_TRUE(saved.ok()) << saved.status().ToString();
  EXPECT_TRUE(saved->merged);
  auto got = store_->Get(Room("r"));
  ASSERT_TRUE(got.ok() && got->has_value());
  const std::string json = JsonOf((*got)->data);
  EXPECT_NE(json.find(R"("t":"world!")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("m":{"x":"y"})"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("arr":[1,2,3])"), std::string::npos) << json;
  // Saving b's state again after the merge is stale too and adds nothing.
  saved = store_->Save(Room("r"), kStored);
  ASSERT_TRUE(saved.ok());
  EXPECT_TRUE(saved->merged && saved->unchanged);
}

TEST(StoreMergeTest, UpdateCoversComparesStructsAndDeletes) {
  const auto a = MapSet(1, 0, "a", "1");
  const auto b = MapSet(2, 0, "b", "2");
  EXPECT_TRUE(*UpdateCovers(Snapshot({a, b}), Snapshot({a})));
  EXPECT_FALSE(*UpdateCovers(Snapshot({a}), Snapshot({a, b})));
  const auto t = TextInsert(3, "xyz");
  EXPECT_FALSE(*UpdateCovers(Snapshot({t}), Snapshot({t, Delete(3, 0, 1)})));
  EXPECT_TRUE(*UpdateCovers(Snapshot({t, Delete(3, 0, 2)}), Snapshot({t, Delete(3, 1, 1)})));
  EXPECT_FALSE(UpdateCovers({}, Snapshot({a})).ok());
}

}  // namespace
}  // namespace tandem::store
