// `tandem serve`'s embedded snapshot store is this module's engine on SQLite.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <boost/asio/thread_pool.hpp>
#include <filesystem>
#include <future>

#include "store/embedded_snapshot_client.h"
#include "store/snapshot_store.h"
#include "store/test_updates.h"

namespace tandem::store {
namespace {

using testing::MapHasKey;
using testing::MapSet;
using testing::Snapshot;

// The client's asynchronous calls, waited for.
Status SaveNow(EmbeddedSnapshotClient& client, const std::string& room, const Bytes& bytes) {
  std::promise<Status> p;
  client.Save(room, bytes, [&](const Status& s) { p.set_value(s); });
  return p.get_future().get();
}
Result<std::optional<Bytes>> LoadNow(EmbeddedSnapshotClient& client, const std::string& room) {
  std::promise<Result<std::optional<Bytes>>> p;
  client.Load(room, [&](Result<std::optional<Bytes>> r) { p.set_value(std::move(r)); });
  return p.get_future().get();
}

TEST(StoreEmbeddedTest, ServeEmbeddedStorageValidatesVersionsAndMerges) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("tandem-store-embedded-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  {
    boost::asio::thread_pool io(1);
    auto client = EmbeddedSnapshotClient::Open(dir.string(), io.get_executor());
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    const auto a = MapSet(1, 0, "a", "1");
    const auto b = MapSet(2, 0, "b", "2");
    const auto c = MapSet(3, 0, "c", "3");
    EXPECT_FALSE(SaveNow(**client, "room", {1, 2, 3}).ok()) << "not a Yjs update";
    ASSERT_TRUE(SaveNow(**client, "room", Snapshot({a, b})).ok());
    ASSERT_TRUE(SaveNow(**client, "room", Snapshot({a, c})).ok());  // stale: merged
    auto got = LoadNow(**client, "room");
    ASSERT_TRUE(got.ok() && got->has_value());
    for (const char* key : {"a", "b", "c"}) EXPECT_TRUE(MapHasKey(**got, key)) << key;
    auto none = LoadNow(**client, "other");
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->has_value());
    io.join();
  }
  // `tandem store --data-dir` on the same folder serves the same rooms and versions.
  auto backend = OpenSqliteBackend((dir / "snapshots.db").string());
  ASSERT_TRUE(backend.ok());
  auto list = (*backend)->List("room");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_TRUE((*list)[0].merged);
  std::filesystem::remove_all(dir);
}

TEST(StoreEmbeddedTest, LegacyEmbeddedSnapshotsBecomeVersionOne) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("tandem-store-legacy-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto snap = Snapshot({MapSet(1, 0, "a", "1")});
  {
    // The file as the embedded store wrote it before the store engine.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir / "snapshots.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "CREATE TABLE snapshots (room TEXT PRIMARY KEY, data BLOB NOT NULL, "
                           "updated_ms INTEGER NOT NULL)",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO snapshots VALUES ('old room', ?, 1700000000000)", -1, &s,
                       nullptr);
    sqlite3_bind_blob(s, 1, snap.data(), static_cast<int>(snap.size()), SQLITE_STATIC);
    ASSERT_EQ(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
    sqlite3_close(db);
  }
  {
    boost::asio::thread_pool io(1);
    auto client = EmbeddedSnapshotClient::Open(dir.string(), io.get_executor());
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    auto got = LoadNow(**client, "old room");
    ASSERT_TRUE(got.ok() && got->has_value());
    EXPECT_EQ(**got, snap);
    io.join();
  }
  // Opening again does not migrate twice.
  auto backend = OpenSqliteBackend((dir / "snapshots.db").string());
  ASSERT_TRUE(backend.ok());
  auto list = (*backend)->List("old room");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].version, 1);
  EXPECT_EQ((*list)[0].time_ms, 1'700'000'000'000);
  EXPECT_EQ((*list)[0].checksum, Sha256Hex(snap));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tandem::store
