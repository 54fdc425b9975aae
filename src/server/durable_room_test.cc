// Rooms with local storage and a snapshot store (a fake that records requests and fails on
// command), with short save intervals.

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <filesystem>
#include <mutex>
#include <thread>

#include "protocol/close_codes.h"
#include "protocol/message.h"
#include "server/room.h"
#include "storage/commit_log.h"
#include "storage/sqlite_room_store.h"

namespace tandem::server {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Bytes = std::vector<uint8_t>;

// yjs 13.6.33: clientID 1; text 't' = "ab"; map 'm' = {k: 1}
const Bytes kUpdate = {0x01, 0x02, 0x01, 0x00, 0x04, 0x01, 0x01, 0x74, 0x02, 0x61, 0x62,
                       0x28, 0x01, 0x01, 0x6d, 0x01, 0x6b, 0x01, 0x7d, 0x01, 0x00};

class FakeConnection : public Connection {
 public:
  explicit FakeConnection(uint64_t id) : Connection(id, false, "user") {}
  void Send(SharedFrame frame) override {
    std::lock_guard lock(mu);
    frames.push_back(*frame);
  }
  void Close(uint16_t code, std::string) override { close_code = code; }
  size_t count() {
    std::lock_guard lock(mu);
    return frames.size();
  }
  std::mutex mu;
  std::vector<Bytes> frames;
  std::atomic<uint16_t> close_code{0};
};

class FakeSnapshots : public snapshot::SnapshotClient {
 public:
  void Save(const std::string& room, Bytes bytes, std::function<void(Status)> done) override {
    std::lock_guard lock(mu);
    saves.emplace_back(room, bytes);
    if (fail_saves) {
      done(UnavailableError("store down"));
      return;
    }
    stored[room] = std::move(bytes);
    done(Status::Ok());
  }
  void Load(const std::string& room,
            std::function<void(Result<std::optional<Bytes>>)> done) override {
    std::lock_guard lock(mu);
    ++loads;
    if (fail_loads) {
      done(UnavailableError("store down"));
      return;
    }
    auto it = stored.find(room);
    done(it == stored.end() ? std::optional<Bytes>() : std::optional<Bytes>(it->second));
  }
  std::string describe() const override { return "fake"; }
  size_t save_count() {
    std::lock_guard lock(mu);
    return saves.size();
  }
  std::mutex mu;
  std::vector<std::pair<std::string, Bytes>> saves;
  std::map<std::string, Bytes> stored;
  int loads = 0;
  std::atomic<bool> fail_saves{false};
  std::atomic<bool> fail_loads{false};
};

// Room storage whose next appends fail (slowly, so later appends queue up behind them).
class FlakyStore : public storage::RoomStore {
 public:
  explicit FlakyStore(storage::RoomStore& inner) : inner_(inner) {}
  Result<std::optional<storage::StoredRoom>> Load(const std::string& room) override {
    return inner_.Load(room);
  }
  Result<std::vector<uint64_t>> AppendBatch(
      const std::vector<storage::RoomAppend>& appends) override {
    ++append_calls;
    if (fail_appends > 0) {
      --fail_appends;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      return UnavailableError("disk full");
    }
    return inner_.AppendBatch(appends);
  }
  Status Compact(const std::string& room, const Bytes& snapshot, uint64_t through) override {
    return inner_.Compact(room, snapshot, through);
  }
  Status SetUnsaved(const std::string& room, bool unsaved) override {
    return inner_.SetUnsaved(room, unsaved);
  }
  Status MarkSaved(const std::string& room, uint64_t through) override {
    return inner_.MarkSaved(room, through);
  }
  Status SetAlarm(const std::string& room, std::optional<int64_t> unix_ms) override {
    return inner_.SetAlarm(room, unix_ms);
  }
  Result<std::vector<std::string>> RoomsNeedingSave() override { return inner_.RoomsNeedingSave(); }
  Result<uint64_t> LogBytes() override { return inner_.LogBytes(); }

  std::atomic<int> fail_appends{0};
  std::atomic<int> append_calls{0};

 private:
  storage::RoomStore& inner_;
};

class DurableRoomTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tandem-durable-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    OpenStorage();
    work_.emplace(ioc_.get_executor());
    runner_ = std::thread([this] { ioc_.run(); });
  }
  void TearDown() override {
    work_.reset();
    ioc_.stop();
    runner_.join();
    // A room's load or save may still run on the pool; it uses the store, so it must end first.
    pool_.join();
    log_.reset();
    flaky_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  void OpenStorage() {
    log_.reset();
    store_ = std::move(storage::SqliteRoomStore::Open(dir_.string(), storage::Durability::kNormal))
                 .value();
    log_ = std::make_unique<storage::CommitLog>(*store_);
  }
  // Appends go through a FlakyStore from now on.
  FlakyStore& UseFlakyStore() {
    log_.reset();
    flaky_ = std::make_unique<FlakyStore>(*store_);
    log_ = std::make_unique<storage::CommitLog>(*flaky_);
    return *flaky_;
  }
  std::shared_ptr<Room> MakeRoom(const std::string& id) {
    RoomServices services;
    services.store = store_.get();
    services.log = log_.get();
    services.snapshots = &snapshots_;
    services.io = pool_.get_executor();
    services.save_policy = {
        .interval = 300ms, .debounce = 150ms, .retry_min = 50ms, .retry_max = 200ms};
    auto room = std::make_shared<Room>(id, boost::asio::make_strand(ioc_.get_executor()),
                                       RoomOptions{}, services, metrics_);
    room->Start();
    return room;
  }
  template <typename F>
  bool WaitFor(F cond, std::chrono::milliseconds timeout = 3s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (cond()) return true;
      std::this_thread::sleep_for(5ms);
    }
    return cond();
  }

  fs::path dir_;
  boost::asio::io_context ioc_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread runner_;
  boost::asio::thread_pool pool_{2};
  Metrics metrics_;
  std::unique_ptr<storage::SqliteRoomStore> store_;
  std::unique_ptr<FlakyStore> flaky_;
  std::unique_ptr<storage::CommitLog> log_;
  FakeSnapshots snapshots_;
};

TEST_F(DurableRoomTest, UpdatesAreDurableBeforeBroadcastAndSurviveReload) {
  auto room = MakeRoom("r");
  auto a = std::make_shared<FakeConnection>(1);
  auto b = std::make_shared<FakeConnection>(2);
  room->Join(a);
  room->Join(b);
  ASSERT_TRUE(WaitFor([&] { return b->count() == 1; }));
  room->Receive(a, std::make_shared<Bytes>(protocol::EncodeSyncUpdate(kUpdate)));
  ASSERT_TRUE(WaitFor([&] { return b->count() == 2; }));
  // By the time b saw it, it is in the log.
  auto stored = store_->Load("r");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->updates.size(), 1u);
  // A fresh room (a restart) loads it from local storage, not from the snapshot store.
  auto again = MakeRoom("r");
  auto c = std::make_shared<FakeConnection>(3);
  again->Join(c);
  again->Receive(c, std::make_shared<Bytes>(protocol::EncodeSyncStep1(Bytes{0})));
  ASSERT_TRUE(WaitFor([&] { return c->count() == 2; }));
  EXPECT_EQ(c->frames[1], protocol::EncodeSyncStep2(kUpdate));
  EXPECT_EQ(snapshots_.loads, 1);  // only the first, empty cold start asked the store
}

TEST_F(DurableRoomTest, AfterAFailedAppendLaterUpdatesWaitForIt) {
  FlakyStore& flaky = UseFlakyStore();
  auto room = MakeRoom("r");
  auto a = std::make_shared<FakeConnection>(1);
  auto b = std::make_shared<FakeConnection>(2);
  room->Join(a);
  room->Join(b);
  ASSERT_TRUE(WaitFor([&] { return b->count() == 1; }));
  flaky.fail_appends = 1;
  room->Receive(a, std::make_shared<Bytes>(protocol::EncodeSyncUpdate(kUpdate)));
  ASSERT_TRUE(WaitFor([&] { return flaky.append_calls.load() == 1; }));
  // The same content by client 2: independent of the first, committed while it is retried.
  Bytes other = kUpdate;
  other[2] = 0x02;
  room->Receive(a, std::make_shared<Bytes>(protocol::EncodeSyncUpdate(other)));
  ASSERT_TRUE(WaitFor([&] { return b->count() >= 2; }));
  // Whatever b has seen is durable: the first update is in the log by now.
  auto stored = store_->Load("r");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->updates.size(), 2u);
  ASSERT_TRUE(WaitFor([&] { return b->count() == 3; }));
  EXPECT_EQ(b->frames[1], protocol::EncodeSyncUpdate(kUpdate));
}

TEST_F(DurableRoomTest, AJoinArrivingAfterCloseAllIsClosedToo) {
  auto room = MakeRoom("r");
  auto a = std::make_shared<FakeConnection>(1);
  room->Join(a);
  room->CloseAll(protocol::kCloseGoingAway, "server shutting down");
  auto late = std::make_shared<FakeConnection>(2);
  room->Join(late);  // its handshake completed just before the shutdown
  ASSERT_TRUE(WaitFor([&] { return late->close_code.load() == protocol::kCloseGoingAway; }));
  EXPECT_EQ(a->close_code.load(), protocol::kCloseGoingAway);
  EXPECT_EQ(late->count(), 0u);
}

TEST_F(DurableRoomTest, SavesPeriodicallyOnlyWhenChangedAndAfterLastLeave) {
  auto room = MakeRoom("r");
  auto a = std::make_shared<FakeConnection>(1);
  room->Join(a);
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(snapshots_.save_count(), 0u);  // unchanged: nothing sent
  room->Receive(a, std::make_shared<Bytes>(protocol::EncodeSyncUpdate(kUpdate)));
  ASSERT_TRUE(WaitFor([&] { return snapshots_.save_count() == 1; }, 1s));
  {
    std::lock_guard lock(snapshots_.mu);
    EXPECT_EQ(snapshots_.saves[0].second, kUpdate);
  }
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(snapshots_.save_count(), 1u);  // no change since: no second save
  EXPECT_TRUE(store_->RoomsNeedingSave()->empty());
}

TEST_F(DurableRoomTest, ColdStartHydratesFromStoreAndStoreDownGives1013) {
  snapshots_.stored["cold"] = kUpdate;
  auto room = MakeRoom("cold");
  auto a = std::make_shared<FakeConnection>(1);
  room->Join(a);
  room->Receive(a, std::make_shared<Bytes>(protocol::EncodeSyncStep1(Bytes{0})));
  ASSERT_TRUE(WaitFor([&] { return a->count() == 2; }));
  EXPECT_EQ(a->frames[1], protocol::EncodeSyncStep2(kUpdate));
  EXPECT_EQ(metrics_.cold_loads_from_store.load(), 1u);

  snapshots_.fail_loads = true;
  auto down = MakeRoom("down");
  auto b = std::make_shared<FakeConnection>(2);
  down->Join(b);
  ASSERT_TRUE(WaitFor([&] { return b->close_code.load() == protocol::kCloseTryAgain; }));
  EXPECT_EQ(b->count(), 0u);  // never served an empty document
  EXPECT_EQ(snapshots_.save_count(), 0u);
}

TEST_F(DurableRoomTest, FailedSavesRetryWithoutDisturbingClients) {
  snapshots_.fail_saves = true;
  auto room = MakeRoom("r");
  auto a = std::make_shared<FakeConnection>(1);
  auto b = std::make_shared<FakeConnection>(2);
  room->Join(a);
  room->Join(b);
  room->Receive(a, std::make_shared<Bytes>(protocol::EncodeSyncUpdate(kUpdate)));
  ASSERT_TRUE(WaitFor([&] { return snapshots_.save_count() >= 3; }, 2s));  // retried
  EXPECT_EQ(b->count(), 2u);
  EXPECT_EQ(a->close_code.load(), 0);
  snapshots_.fail_saves = false;
  ASSERT_TRUE(WaitFor(
      [&] {
        std::lock_guard lock(snapshots_.mu);
        return snapshots_.stored.count("r") > 0;
      },
      2s));
  std::lock_guard lock(snapshots_.mu);
  EXPECT_EQ(snapshots_.stored["r"], kUpdate);
  EXPECT_GE(metrics_.saves_failed.load(), 2u);
}

}  // namespace
}  // namespace tandem::server
