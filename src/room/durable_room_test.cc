// Rooms with a room log (SQLite) and a snapshot store (a fake that records requests and fails on
// command). Time is a FakeClock: the 30 s / 7 s rules and retries are driven by advancing it, so
// nothing here sleeps; the tests wait only for the log's own threads, by running the io_context.

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <sstream>

#include "protocol/close_codes.h"
#include "protocol/message.h"
#include "room/fake_clock.h"
#include "room/room.h"
#include "roomlog/sqlite_room_log.h"

namespace tandem::room {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// yjs 13.6.33: clientID 1; text 't' = "ab"; map 'm' = {k: 1}
const Bytes kUpdate = {0x01, 0x02, 0x01, 0x00, 0x04, 0x01, 0x01, 0x74, 0x02, 0x61, 0x62,
                       0x28, 0x01, 0x01, 0x6d, 0x01, 0x6b, 0x01, 0x7d, 0x01, 0x00};
// clientID 2; text 'u' = "c"
const Bytes kUpdate2 = {0x01, 0x01, 0x02, 0x00, 0x04, 0x01, 0x01, 0x75, 0x01, 0x63, 0x00};

// Connections are used on the test thread only (the io_context runs there).
class FakeConnection : public Connection {
 public:
  explicit FakeConnection(uint64_t id) : Connection(id, false, "user") {}
  void Send(SharedFrame frame) override { frames.push_back(*frame); }
  void Close(uint16_t code, std::string) override { close_code = code; }
  std::vector<Bytes> frames;
  uint16_t close_code = 0;
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
  void ListVersions(const std::string&,
                    std::function<void(Result<std::vector<snapshot::VersionInfo>>)> done) override {
    done(std::vector<snapshot::VersionInfo>{});
  }
  void LoadVersion(const std::string&, int64_t,
                   std::function<void(Result<std::optional<Bytes>>)> done) override {
    done(std::optional<Bytes>());
  }
  void Delete(const std::string& room, std::function<void(Status)> done) override {
    std::lock_guard lock(mu);
    ++deletes;
    if (fail_deletes) {
      done(UnavailableError("store down"));
      return;
    }
    stored.erase(room);
    done(Status::Ok());
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
  int deletes = 0;
  bool fail_deletes = false;
  bool fail_saves = false;
  bool fail_loads = false;
};

// A room log whose next appends fail; everything else goes to a real one.
class FlakyLog : public roomlog::RoomLog {
 public:
  explicit FlakyLog(roomlog::RoomLog& inner) : inner_(inner) {}
  void Read(const std::string& room, ReadCallback done) override {
    if (!tail_only) {
      inner_.Read(room, std::move(done));
      return;
    }
    // As a log shared by nodes reads (cluster mode): only what follows the store's copy.
    inner_.Read(room, [done = std::move(done)](Result<std::optional<roomlog::LogContents>> r) {
      if (r.ok() && r->has_value()) {
        (*r)->base_in_store = true;
        (*r)->snapshot.clear();
      }
      done(std::move(r));
    });
  }
  void Append(const std::string& room, Bytes update, AppendCallback done) override {
    ++append_calls;
    if (fail_appends > 0) {
      --fail_appends;
      done(UnavailableError("disk full"), 0);
      return;
    }
    inner_.Append(room, std::move(update), std::move(done));
  }
  void Compact(const std::string& room, Bytes snapshot, uint64_t through,
               DoneCallback done) override {
    inner_.Compact(room, std::move(snapshot), through, std::move(done));
  }
  void MarkSaved(const std::string& room, uint64_t through, DoneCallback done) override {
    inner_.MarkSaved(room, through, std::move(done));
  }
  void Erase(const std::string& room, EraseCallback done) override {
    inner_.Erase(room, std::move(done));
  }
  Result<std::vector<std::string>> RoomsNeedingSave() override { return inner_.RoomsNeedingSave(); }
  Result<uint64_t> LogBytes() override { return inner_.LogBytes(); }
  void Flush() override { inner_.Flush(); }
  std::string describe() const override { return "flaky"; }

  std::atomic<bool> tail_only{false};
  std::atomic<int> fail_appends{0};
  std::atomic<int> append_calls{0};

 private:
  roomlog::RoomLog& inner_;
};

// Events as the webhooks would see them, on the test thread.
struct RecordedEvents : RoomEvents {
  struct Changed {
    std::chrono::steady_clock::time_point at;
    std::vector<std::string> types;
  };
  explicit RecordedEvents(FakeClock& fake_clock) : clock(fake_clock) {}
  void OnChanged(const std::string&, const std::vector<uint8_t>&,
                 std::vector<std::string> types) override {
    changed.push_back({clock.Now(), std::move(types)});
  }
  void OnSaved(const std::string&, size_t) override { log.push_back("saved"); }
  void OnSaveFailed(const std::string&, const std::string&) override {
    log.push_back("save_failed");
  }
  void OnEmpty(const std::string&) override { log.push_back("empty"); }
  void OnUserJoined(const std::string&, uint64_t c, const std::string& user, bool) override {
    log.push_back("joined " + std::to_string(c) + " " + user);
  }
  void OnUserLeft(const std::string&, uint64_t c, const std::string& user, bool) override {
    log.push_back("left " + std::to_string(c) + " " + user);
  }
  void OnDeleted(const std::string&) override { log.push_back("deleted"); }
  FakeClock& clock;
  std::vector<Changed> changed;
  std::vector<std::string> log;
};

class DurableRoomTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tandem-durable-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    OpenLog();
  }
  void TearDown() override {
    rooms_.clear();
    Run();
    flaky_.reset();
    log_.reset();
    fs::remove_all(dir_);
  }
  void OpenLog(roomlog::Durability durability = roomlog::Durability::kNormal) {
    log_.reset();
    log_ =
        std::move(roomlog::SqliteRoomLog::Open(dir_.string(), {.durability = durability})).value();
  }
  FlakyLog& UseFlakyLog() {
    flaky_ = std::make_unique<FlakyLog>(*log_);
    return *flaky_;
  }
  std::shared_ptr<Room> MakeRoom(const std::string& id) {
    PersistenceServices services;
    services.log = flaky_ ? static_cast<roomlog::RoomLog*>(flaky_.get()) : log_.get();
    services.snapshots = &snapshots_;
    services.clock = &clock_;
    services.options.save_policy = {
        .interval = 30s, .debounce = 7s, .retry_min = 1s, .retry_max = 4s};
    services.events = &events_;
    services.change_notify = {.quiet = 2s, .max = 30s};
    auto room = std::make_shared<Room>(id, boost::asio::make_strand(ioc_.get_executor()),
                                       RoomOptions{}, services, metrics_);
    room->Start();
    rooms_.push_back(room);
    return room;
  }
  // Runs handlers until `cond` holds; waits on the io_context (for the log's threads), never on
  // a timer: timers move only with the clock.
  template <typename F>
  bool RunUntil(F cond) {
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (!cond() && std::chrono::steady_clock::now() < give_up) {
      ioc_.restart();
      ioc_.run_one_for(50ms);
    }
    return cond();
  }
  // Runs what is ready now.
  void Run() {
    ioc_.restart();
    while (ioc_.poll() > 0) {
    }
  }
  // Advances the clock and runs what came due (and what that started, once the log answers).
  void Advance(std::chrono::milliseconds by) {
    clock_.Advance(by);
    Run();
    log_->Flush();
    Run();
  }
  std::optional<roomlog::LogContents> ReadLog(const std::string& room) {
    return std::move(log_->ReadNow(room)).value();
  }
  void Send(const std::shared_ptr<Room>& room, const std::shared_ptr<FakeConnection>& c,
            Bytes message) {
    room->Receive(c, std::make_shared<Bytes>(std::move(message)));
  }

  fs::path dir_;
  boost::asio::io_context ioc_;
  FakeClock clock_;
  Metrics metrics_;
  std::unique_ptr<roomlog::SqliteRoomLog> log_;
  std::unique_ptr<FlakyLog> flaky_;
  FakeSnapshots snapshots_;
  RecordedEvents events_{clock_};
  std::vector<std::shared_ptr<Room>> rooms_;
};

TEST_F(DurableRoomTest, UpdatesAreDurableBeforeBroadcastAndSurviveReload) {
  auto room = MakeRoom("r");
  auto a = std::make_shared<FakeConnection>(1);
  auto b = std::make_shared<FakeConnection>(2);
  room->Join(a);
  room->Join(b);
  ASSERT_TRUE(RunUntil([&] { return b->frames.size() == 1; }));
  Send(room, a, protocol::EncodeSyncUpdate(kUpdate));
  ASSERT_TRUE(RunUntil([&] { return b->frames.size() == 2; }));
  // By the time b saw it, it is in the log.
  auto stored = ReadLog("r");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->updates.size(), 1u);
  // A fresh room (a restart) loads it from the log, not from the snapshot store.
  auto again = MakeRoom("r");
  auto c = std::make_shared<FakeConnection>(3);
  again->Join(c);
  Send(again, c, protocol::EncodeSyncStep1(Bytes{0}));
  ASSERT_TRUE(RunUntil([&] { return c->frames.size() == 2; }));
  EXPECT_EQ(c->frames[1], protocol::EncodeSyncStep2(kUpdate));
  EXPECT_EQ(snapshots_.loads, 1);  // only the first, empty cold start asked the store
}

TEST_F(DurableRoomTest, AnIdleNormalLogTakesTheAppendOnTheRoomsThread) {
  auto room = MakeRoom("r");
  auto a = std::make_shared<FakeConnection>(1);
  auto b = std::make_shared<FakeConnection>(2);
  room->Join(a);
  room->Join(b);
  ASSERT_TRUE(RunUntil([&] { return b->frames.size() == 1; }));
  const uint64_t before = log_->inline_appends();
  Send(room, a, protocol::EncodeSyncUpdate(kUpdate));
  Run();  // the room's handlers only: no wait for the log's writer thread
  EXPECT_EQ(log_->inline_appends(), before + 1);
  ASSERT_EQ(b->frames.size(), 2u);
  EXPECT_EQ(b->frames[1], protocol::EncodeSyncUpdate(kUpdate));
  auto stored = ReadLog("r");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->updates.size(), 1u);
}

// A connection that notes how many fsyncs the log had made when each frame reached it.
class SyncWatchingConnection : public FakeConnection {
 public:
  SyncWatchingConnection(uint64_t id, const roomlog::SqliteRoomLog& log)
      : FakeConnection(id), log_(log) {}
  void Send(SharedFrame frame) override {
    syncs_at_send.push_back(log_.wal_syncs());
    FakeConnection::Send(std::move(frame));
  }
  std::vector<uint64_t> syncs_at_send;

 private:
  const roomlog::SqliteRoomLog& log_;
};

TEST_F(DurableRoomTest, AFullLogTakesAppendsOnTheRoomsThreadAndSendsThemAfterOneFsync) {
  OpenLog(roomlog::Durability::kFull);
  // Two rooms on the same thread, an update arriving in each within one turn of its loop.
  std::shared_ptr<Room> rooms[2] = {MakeRoom("r"), MakeRoom("s")};
  std::shared_ptr<FakeConnection> writers[2];
  std::shared_ptr<SyncWatchingConnection> readers[2];
  for (int i = 0; i < 2; ++i) {
    writers[i] = std::make_shared<FakeConnection>(1 + 2 * i);
    readers[i] = std::make_shared<SyncWatchingConnection>(2 + 2 * i, *log_);
    rooms[i]->Join(writers[i]);
    rooms[i]->Join(readers[i]);
  }
  ASSERT_TRUE(
      RunUntil([&] { return readers[0]->frames.size() == 1 && readers[1]->frames.size() == 1; }));
  const uint64_t inline_before = log_->inline_appends();
  const uint64_t syncs_before = log_->wal_syncs();
  Send(rooms[0], writers[0], protocol::EncodeSyncUpdate(kUpdate));
  Send(rooms[1], writers[1], protocol::EncodeSyncUpdate(kUpdate2));
  Run();  // the rooms' thread only: no wait for the log's writer thread
  EXPECT_EQ(log_->inline_appends(), inline_before + 2);
  EXPECT_EQ(log_->wal_syncs(), syncs_before + 1);  // both in one turn: one fsync
  ASSERT_EQ(readers[0]->frames.size(), 2u);
  ASSERT_EQ(readers[1]->frames.size(), 2u);
  EXPECT_EQ(readers[0]->frames[1], protocol::EncodeSyncUpdate(kUpdate));
  EXPECT_EQ(readers[1]->frames[1], protocol::EncodeSyncUpdate(kUpdate2));
  // Neither was sent before the fsync that made it durable.
  EXPECT_EQ(readers[0]->syncs_at_send[1], syncs_before + 1);
  EXPECT_EQ(readers[1]->syncs_at_send[1], syncs_before + 1);
  EXPECT_EQ(ReadLog("r")->updates.size(), 1u);
  EXPECT_EQ(ReadLog("s")->updates.size(), 1u);
}

TEST_F(DurableRoomTest, AfterAFailedAppendLaterUpdatesWaitForIt) {
  FlakyLog& flaky = UseFlakyLog();
  auto room = MakeRoom("r");
  auto a = std::make_shared<FakeConnection>(1);
  auto b = std::make_shared<FakeConnection>(2);
  room->Join(a);
  room->Join(b);
  ASSERT_TRUE(RunUntil([&] { return b->frames.size() == 1; }));
  flaky.fail_appends = 1;
  Send(room, a, protocol::EncodeSyncUpdate(kUpdate));
  // The same content by client 2: independent of the first, committed while it waits to retry.
  Bytes other = kUpdate;
  other[2] = 0x02;
  Send(room, a, protocol::EncodeSyncUpdate(other));
  ASSERT_TRUE(
      RunUntil([&] { return ReadLog("r").has_value() && ReadLog("r")->updates.size() == 1; }));
  Run();
  EXPECT_EQ(b->frames.size(), 1u) << "nothing after the failed append is sent before it is durable";
  EXPECT_EQ(metrics_.log_append_failures.load(), 1u);
  // The retry comes with time (100 ms); then both reach b, in order.
  Advance(100ms);
  ASSERT_TRUE(RunUntil([&] { return b->frames.size() == 3; }));
  EXPECT_EQ(b->frames[1], protocol::EncodeSyncUpdate(kUpdate));
  EXPECT_EQ(ReadLog("r")->updates.size(), 2u);
}

// How many lines of `text` contain `what`.
size_t CountLines(const std::string& text, std::string_view what) {
  size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) n += line.find(what) != std::string::npos;
  return n;
}

TEST_F(DurableRoomTest, ALogThatStaysDownIsLoggedOncePerIntervalNotOncePerRetry) {
  std::ostringstream out;
  // The default logger writes into `out` until the test ends, however it ends.
  struct RestoreLogger {
    std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
    ~RestoreLogger() { spdlog::set_default_logger(previous); }
  } restore;
  auto capture = std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  capture->set_level(spdlog::level::info);
  spdlog::set_default_logger(capture);
  FlakyLog& flaky = UseFlakyLog();
  auto room = MakeRoom("r");
  auto a = std::make_shared<FakeConnection>(1);
  room->Join(a);
  ASSERT_TRUE(RunUntil([&] { return !a->frames.empty(); }));
  flaky.fail_appends = 6;
  Send(room, a, protocol::EncodeSyncUpdate(kUpdate));
  // Retries after 0.1, 0.2, 0.4, 0.8 and 1.6 s fail too; the one after 3.2 s (at about 6.3 s)
  // lands, well inside the 10 s between two log lines of a room.
  for (int i = 0; i < 80 && !(ReadLog("r").has_value() && !ReadLog("r")->updates.empty()); ++i) {
    Run();
    Advance(100ms);
  }
  ASSERT_TRUE(RunUntil([&] { return ReadLog("r").has_value() && !ReadLog("r")->updates.empty(); }));
  const std::string first = out.str();
  EXPECT_EQ(metrics_.log_append_failures.load(), 6u);
  EXPECT_EQ(CountLines(first, "cannot append to the room log"), 1u) << first;
  EXPECT_EQ(CountLines(first, "appends to the room log work again (after 6 failed)"), 1u) << first;
  // Down for 25 s: a line when it starts, then one per 10 s at most (retries back off to 10 s).
  out.str("");
  flaky.fail_appends = 1000;
  Send(room, a, protocol::EncodeSyncUpdate(kUpdate2));
  for (int i = 0; i < 250; ++i) {
    Run();
    Advance(100ms);
  }
  const std::string second = out.str();
  const size_t lines = CountLines(second, "cannot append to the room log");
  EXPECT_GE(lines, 2u) << second;
  EXPECT_LE(lines, 3u) << second;
  EXPECT_GT(metrics_.log_append_failures.load() - 6, lines);
}

TEST_F(DurableRoomTest, ALogHoldingOnlyATailIsLoadedAfterTheStoresCopy) {
  FlakyLog& log = UseFlakyLog();
  log.tail_only = true;
  Bytes other = kUpdate;
  other[2] = 0x02;  // the same content by client 2: what the log holds after the store's copy
  {
    std::lock_guard lock(snapshots_.mu);
    snapshots_.stored["r"] = kUpdate;
  }
  std::promise<void> appended;
  log.Append("r", other, [&](const Status&, uint64_t) { appended.set_value(); });
  appended.get_future().get();
  auto room = MakeRoom("r");
  auto c = std::make_shared<FakeConnection>(1);
  room->Join(c);
  Send(room, c, protocol::EncodeSyncStep1(Bytes{0}));
  ASSERT_TRUE(RunUntil([&] { return c->frames.size() == 2; }));
  crdt::Doc both(crdt::DocOptions{.gc = true, .client_id = 9, .clean_up_formatting = false});
  ASSERT_TRUE(both.ApplyUpdate(kUpdate).ok());
  ASSERT_TRUE(both.ApplyUpdate(other).ok());
  EXPECT_EQ(c->frames[1], protocol::EncodeSyncStep2(both.EncodeStateAsUpdate()));
  EXPECT_EQ(snapshots_.loads, 1);

  // With the store down, the tail alone never makes the room: it fails (1013).
  snapshots_.fail_loads = true;
  log.Append("again", other, [](const Status&, uint64_t) {});
  log.Flush();
  auto failed = MakeRoom("again");
  auto d = std::make_shared<FakeConnection>(2);
  failed->Join(d);
  ASSERT_TRUE(RunUntil([&] { return d->close_code == protocol::kCloseTryAgain; }));
}

TEST_F(DurableRoomTest, AJoinArrivingAfterCloseAllIsClosedToo) {
  auto room = MakeRoom("r");
  auto a = std::make_shared<FakeConnection>(1);
  room->Join(a);
  room->CloseAll(protocol::kCloseGoingAway, "server shutting down");
  auto late = std::make_shared<FakeConnection>(2);
  room->Join(late);  // its handshake completed just before the shutdown
  ASSERT_TRUE(RunUntil([&] { return late->close_code == protocol::kCloseGoingAway; }));
  EXPECT_EQ(a->close_code, protocol::kCloseGoingAway);
  EXPECT_EQ(late->frames.size(), 0u);
}

TEST_F(DurableRoomTest, SavesEvery30SecondsOnlyWhenChangedAnd7SecondsAfterLastLeave) {
  auto room = MakeRoom("r");
  auto a = std::make_shared<FakeConnection>(1);
  room->Join(a);
  ASSERT_TRUE(RunUntil([&] { return a->frames.size() == 1; }));
  Advance(31s);
  EXPECT_EQ(snapshots_.save_count(), 0u);  // a tick at 30 s, but unchanged: nothing sent
  Send(room, a, protocol::EncodeSyncUpdate(kUpdate));
  ASSERT_TRUE(RunUntil([&] { return metrics_.log_appends.load() == 1; }));
  Advance(28s);
  EXPECT_EQ(snapshots_.save_count(), 0u);  // the next tick is at 60 s
  Advance(2s);
  ASSERT_TRUE(RunUntil([&] { return snapshots_.save_count() == 1; }));
  {
    std::lock_guard lock(snapshots_.mu);
    EXPECT_EQ(snapshots_.saves[0].second, kUpdate);
  }
  Advance(31s);
  EXPECT_EQ(snapshots_.save_count(), 1u);  // no change since: no second save
  // The log learns of the save on its own thread, after the store's answer.
  EXPECT_TRUE(RunUntil([&] { return log_->RoomsNeedingSave()->empty(); }));

  // The last client leaves after a change: one save 7 s later, not before.
  Bytes other = kUpdate;
  other[2] = 0x02;
  Send(room, a, protocol::EncodeSyncUpdate(other));
  ASSERT_TRUE(RunUntil([&] { return metrics_.log_appends.load() == 2; }));
  room->Leave(a);
  Run();
  Advance(6s);
  EXPECT_EQ(snapshots_.save_count(), 1u);
  Advance(2s);
  ASSERT_TRUE(RunUntil([&] { return snapshots_.save_count() == 2; }));
}

TEST_F(DurableRoomTest, ChangesAreAnnouncedAfterQuietAtMostEveryMaxWhileEditsGoOn) {
  auto room = MakeRoom("r");
  auto a = std::make_shared<FakeConnection>(1);
  room->Join(a);
  ASSERT_TRUE(RunUntil([&] { return a->frames.size() == 1; }));
  const auto start = clock_.Now();
  // One edit: one room.changed 2 s later, naming the roots it changed.
  Send(room, a, protocol::EncodeSyncUpdate(kUpdate));
  Run();
  Advance(1900ms);
  EXPECT_TRUE(events_.changed.empty());
  Advance(100ms);
  ASSERT_EQ(events_.changed.size(), 1u);
  EXPECT_EQ(events_.changed[0].at - start, 2s);
  EXPECT_EQ(events_.changed[0].types, (std::vector<std::string>{"t", "m"}));
  // Edits every second for 70 s: never 2 s of quiet, so one event every 30 s.
  for (int i = 0; i < 70; ++i) {
    Bytes next = kUpdate;
    next[2] = static_cast<uint8_t>(2 + i);  // another client id each time: a new change
    Send(room, a, protocol::EncodeSyncUpdate(next));
    Run();
    Advance(1s);
  }
  ASSERT_EQ(events_.changed.size(), 3u);
  EXPECT_EQ(events_.changed[2].at - events_.changed[1].at, 30s);
  Advance(2s);
  EXPECT_EQ(events_.changed.size(), 4u) << "the end of the burst is announced after the quiet";
  Advance(60s);
  EXPECT_EQ(events_.changed.size(), 4u) << "nothing changed: nothing announced";
}

TEST_F(DurableRoomTest, PresenceAndSaveEventsAreReported) {
  auto room = MakeRoom("r");
  auto a = std::make_shared<FakeConnection>(1);
  auto b = std::make_shared<FakeConnection>(2);
  room->Join(a);
  room->Join(b);
  Send(room, a, protocol::EncodeSyncUpdate(kUpdate));
  ASSERT_TRUE(RunUntil([&] { return metrics_.log_appends.load() == 1; }));
  room->Leave(a);
  room->Leave(b);
  Run();
  Advance(8s);
  ASSERT_TRUE(RunUntil([&] { return snapshots_.save_count() == 1; }));
  Run();
  EXPECT_EQ(events_.log, (std::vector<std::string>{"joined 1 user", "joined 2 user", "left 1 user",
                                                   "left 2 user", "empty", "saved"}));
}

TEST_F(DurableRoomTest, EraseDeletesTheStoreCopyAndTheLogThenClosesEveryoneWith4410) {
  auto room = MakeRoom("r");
  auto a = std::make_shared<FakeConnection>(1);
  room->Join(a);
  Send(room, a, protocol::EncodeSyncUpdate(kUpdate));
  ASSERT_TRUE(RunUntil([&] { return metrics_.log_appends.load() == 1; }));
  std::lock_guard<std::mutex>(snapshots_.mu), snapshots_.stored["r"] = kUpdate;
  std::optional<Status> result;
  size_t closed = 0;
  boost::asio::post(room->strand(), [&] {
    room->Erase([&](const Status& s, size_t n) {
      result = s;
      closed = n;
    });
  });
  ASSERT_TRUE(RunUntil([&] { return result.has_value(); }));
  ASSERT_TRUE(result->ok()) << result->ToString();
  EXPECT_EQ(closed, 1u);
  EXPECT_EQ(a->close_code, protocol::kCloseRoomDeleted);
  EXPECT_EQ(snapshots_.deletes, 1);
  EXPECT_EQ(snapshots_.stored.count("r"), 0u);
  EXPECT_FALSE(ReadLog("r").has_value());
  EXPECT_EQ(events_.log.back(), "deleted");
  // This room object is done: a late join is closed, and no timer saves it again.
  auto late = std::make_shared<FakeConnection>(2);
  room->Join(late);
  ASSERT_TRUE(RunUntil([&] { return late->close_code == protocol::kCloseRoomDeleted; }));
  Advance(60s);
  EXPECT_EQ(snapshots_.save_count(), 0u);
  EXPECT_FALSE(ReadLog("r").has_value());
  // A new room of that name starts empty.
  auto again = MakeRoom("r");
  auto c = std::make_shared<FakeConnection>(3);
  again->Join(c);
  Send(again, c, protocol::EncodeSyncStep1(Bytes{0}));
  ASSERT_TRUE(RunUntil([&] { return c->frames.size() == 2; }));
  EXPECT_EQ(c->frames[1], protocol::EncodeSyncStep2(Bytes{0, 0}));
}

TEST_F(DurableRoomTest, AFailedEraseChangesNothingAndWhatWaitedGoesOn) {
  auto room = MakeRoom("r");
  auto a = std::make_shared<FakeConnection>(1);
  auto b = std::make_shared<FakeConnection>(2);
  room->Join(a);
  room->Join(b);
  ASSERT_TRUE(RunUntil([&] { return b->frames.size() == 1; }));
  snapshots_.fail_deletes = true;
  std::optional<Status> result;
  boost::asio::post(room->strand(),
                    [&] { room->Erase([&](const Status& s, size_t) { result = s; }); });
  // An update sent while the erase runs waits, then goes through.
  Send(room, a, protocol::EncodeSyncUpdate(kUpdate));
  ASSERT_TRUE(RunUntil([&] { return result.has_value(); }));
  EXPECT_EQ(result->code(), StatusCode::kUnavailable);
  ASSERT_TRUE(RunUntil([&] { return b->frames.size() == 2; }));
  EXPECT_EQ(a->close_code, 0);
  ASSERT_TRUE(ReadLog("r").has_value());
  EXPECT_EQ(ReadLog("r")->updates.size(), 1u);
}

TEST_F(DurableRoomTest, AReconnectInsideTheDebounceWindowCancelsTheSave) {
  auto room = MakeRoom("r");
  auto a = std::make_shared<FakeConnection>(1);
  room->Join(a);
  Send(room, a, protocol::EncodeSyncUpdate(kUpdate));
  ASSERT_TRUE(RunUntil([&] { return metrics_.log_appends.load() == 1; }));
  room->Leave(a);
  Run();
  Advance(5s);
  auto back = std::make_shared<FakeConnection>(2);
  room->Join(back);  // back within 7 s
  Run();
  Advance(5s);
  EXPECT_EQ(snapshots_.save_count(), 0u);  // no debounce save; periodic ones again, 30 s on
  Advance(21s);
  EXPECT_EQ(snapshots_.save_count(), 0u);
  Advance(5s);
  ASSERT_TRUE(RunUntil([&] { return snapshots_.save_count() == 1; }));
}

TEST_F(DurableRoomTest, ColdStartHydratesFromStoreAndStoreDownGives1013) {
  snapshots_.stored["cold"] = kUpdate;
  auto room = MakeRoom("cold");
  auto a = std::make_shared<FakeConnection>(1);
  room->Join(a);
  Send(room, a, protocol::EncodeSyncStep1(Bytes{0}));
  ASSERT_TRUE(RunUntil([&] { return a->frames.size() == 2; }));
  EXPECT_EQ(a->frames[1], protocol::EncodeSyncStep2(kUpdate));
  EXPECT_EQ(metrics_.cold_loads_from_store.load(), 1u);
  // It is kept locally: the next load does not ask the store.
  ASSERT_TRUE(RunUntil([&] { return ReadLog("cold").has_value(); }));

  snapshots_.fail_loads = true;
  auto down = MakeRoom("down");
  auto b = std::make_shared<FakeConnection>(2);
  down->Join(b);
  ASSERT_TRUE(RunUntil([&] { return b->close_code == protocol::kCloseTryAgain; }));
  EXPECT_EQ(b->frames.size(), 0u);  // never served an empty document
  EXPECT_EQ(snapshots_.save_count(), 0u);
}

TEST_F(DurableRoomTest, FailedSavesRetryWithBackoffWithoutDisturbingClients) {
  snapshots_.fail_saves = true;
  auto room = MakeRoom("r");
  auto a = std::make_shared<FakeConnection>(1);
  auto b = std::make_shared<FakeConnection>(2);
  room->Join(a);
  room->Join(b);
  Send(room, a, protocol::EncodeSyncUpdate(kUpdate));
  ASSERT_TRUE(RunUntil([&] { return b->frames.size() == 2; }));
  Advance(30s);
  ASSERT_TRUE(RunUntil([&] { return snapshots_.save_count() == 1; }));
  // Retries: 1 s, then doubling (with jitter) up to 4 s.
  for (int i = 0; i < 4; ++i) Advance(5s);
  EXPECT_GE(snapshots_.save_count(), 4u);
  EXPECT_EQ(b->frames.size(), 2u);
  EXPECT_EQ(a->close_code, 0);
  snapshots_.fail_saves = false;
  Advance(5s);
  ASSERT_TRUE(RunUntil([&] {
    std::lock_guard lock(snapshots_.mu);
    return snapshots_.stored.count("r") > 0;
  }));
  std::lock_guard lock(snapshots_.mu);
  EXPECT_EQ(snapshots_.stored["r"], kUpdate);
  EXPECT_GE(metrics_.saves_failed.load(), 4u);
}

TEST_F(DurableRoomTest, ShutdownSaveWaitsForTheLogAndTheStore) {
  auto room = MakeRoom("r");
  auto a = std::make_shared<FakeConnection>(1);
  room->Join(a);
  ASSERT_TRUE(RunUntil([&] { return a->frames.size() == 1; }));  // loaded
  Send(room, a, protocol::EncodeSyncUpdate(kUpdate));
  bool saved = false;
  room->SaveForShutdown([&] { saved = true; });
  ASSERT_TRUE(RunUntil([&] { return saved; }));
  std::lock_guard lock(snapshots_.mu);
  EXPECT_EQ(snapshots_.stored["r"], kUpdate);
}

}  // namespace
}  // namespace tandem::room
