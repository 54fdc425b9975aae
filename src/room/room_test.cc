#include "room/room.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "crdt/hostile_updates.h"
#include "lib0/encoder.h"
#include "protocol/close_codes.h"
#include "protocol/message.h"

namespace tandem::room {
namespace {

using Bytes = std::vector<uint8_t>;

class FakeConnection : public Connection {
 public:
  FakeConnection(uint64_t id, bool read_only) : Connection(id, read_only, "user") {}
  void Send(SharedFrame frame) override { frames.push_back(*frame); }
  void Close(uint16_t code, std::string reason) override {
    close_code = code;
    close_reason = std::move(reason);
  }
  std::vector<Bytes> frames;
  uint16_t close_code = 0;
  std::string close_reason;
};

// A client that stops reading: its frames stay queued (the connection holds them).
class StalledConnection : public Connection {
 public:
  explicit StalledConnection(uint64_t id) : Connection(id, false, "user") {}
  void Send(SharedFrame frame) override { queued.push_back(std::move(frame)); }
  void Close(uint16_t code, std::string reason) override {
    close_code = code;
    close_reason = std::move(reason);
  }
  std::vector<SharedFrame> queued;
  uint16_t close_code = 0;
  std::string close_reason;
};

// An awareness update of `n` entries: clients first..first+n-1 at clock 1 with `json` each.
Bytes AwarenessOf(uint64_t first, size_t n, const std::string& json) {
  lib0::Encoder e;
  e.WriteVarUint(n);
  for (size_t i = 0; i < n; ++i) {
    e.WriteVarUint(first + i);
    e.WriteVarUint(1);
    e.WriteVarString(json);
  }
  return e.Take();
}

// yjs 13.6.33: clientID 1; text 't' = "ab"; map 'm' = {k: 1}
const Bytes kUpdate = {0x01, 0x02, 0x01, 0x00, 0x04, 0x01, 0x01, 0x74, 0x02, 0x61, 0x62,
                       0x28, 0x01, 0x01, 0x6d, 0x01, 0x6b, 0x01, 0x7d, 0x01, 0x00};

class RoomTest : public ::testing::Test {
 protected:
  // Runs what is ready (not the timers: the awareness check would block for seconds).
  void Run() {
    ioc_.restart();
    while (ioc_.poll() > 0) {
    }
  }
  std::shared_ptr<FakeConnection> Join(uint64_t id, bool read_only = false) {
    auto c = std::make_shared<FakeConnection>(id, read_only);
    room_->Join(c);
    Run();
    return c;
  }
  void Receive(const std::shared_ptr<FakeConnection>& c, Bytes frame) {
    room_->Receive(c, std::make_shared<Bytes>(std::move(frame)));
    Run();
  }
  // The room's document as a v1 update, read on its strand.
  Bytes DocState() {
    Bytes state;
    boost::asio::post(room_->strand(), [&] { state = room_->doc().EncodeStateAsUpdate(); });
    Run();
    return state;
  }
  boost::asio::io_context ioc_;
  Metrics metrics_;
  std::shared_ptr<Room> room_ =
      std::make_shared<Room>("r", boost::asio::make_strand(ioc_.get_executor()), RoomOptions{},
                             PersistenceServices{}, metrics_);
};

TEST_F(RoomTest, GreetsWithSyncStep1AndAnswersStep1WithStep2) {
  auto a = Join(1);
  ASSERT_EQ(a->frames.size(), 1u);
  EXPECT_EQ(a->frames[0], protocol::EncodeSyncStep1(Bytes{0}));
  Receive(a, protocol::EncodeSyncStep1(Bytes{0}));
  ASSERT_EQ(a->frames.size(), 2u);
  EXPECT_EQ(a->frames[1], protocol::EncodeSyncStep2(Bytes{0, 0}));
}

TEST_F(RoomTest, UpdatesReachOtherConnectionsOnly) {
  auto a = Join(1);
  auto b = Join(2);
  Receive(a, protocol::EncodeSyncUpdate(kUpdate));
  EXPECT_EQ(a->frames.size(), 1u);  // only its greeting
  ASSERT_EQ(b->frames.size(), 2u);
  EXPECT_EQ(b->frames[1], protocol::EncodeSyncUpdate(kUpdate));
  // a joiner gets the whole document through step 1 -> step 2
  auto c = Join(3);
  Receive(c, protocol::EncodeSyncStep1(Bytes{0}));
  EXPECT_EQ(c->frames.back(), protocol::EncodeSyncStep2(kUpdate));
  // a duplicate update changes nothing and is not broadcast
  Receive(a, protocol::EncodeSyncUpdate(kUpdate));
  EXPECT_EQ(b->frames.size(), 2u);
}

TEST_F(RoomTest, ReadOnlyUpdatesAreDropped) {
  auto reader = Join(1, /*read_only=*/true);
  auto writer = Join(2);
  Receive(reader, protocol::EncodeSyncUpdate(kUpdate));
  EXPECT_EQ(writer->frames.size(), 1u);
  EXPECT_EQ(metrics_.readonly_updates_dropped.load(), 1u);
  EXPECT_EQ(DocState(), (Bytes{0, 0}));
}

TEST_F(RoomTest, MalformedMessageClosesOnlyThatConnection) {
  auto a = Join(1);
  auto b = Join(2);
  Receive(a, Bytes{0, 2, 3, 1, 2});  // update payload that is not a Yjs update
  EXPECT_EQ(a->close_code, protocol::kCloseBadMessage);
  EXPECT_EQ(b->close_code, 0);
  Receive(b, Bytes{42});
  EXPECT_EQ(b->close_code, protocol::kCloseBadMessage);
}

TEST_F(RoomTest, AwarenessFlowsAndIsRemovedOnLeave) {
  auto a = Join(1);
  auto b = Join(2);
  const Bytes state = {1, 9, 1, 2, '{', '}'};  // client 9, clock 1, state {}
  Receive(a, protocol::EncodeAwareness(state));
  ASSERT_EQ(b->frames.size(), 2u);
  EXPECT_EQ(b->frames[1], protocol::EncodeAwareness(state));
  // a newcomer is sent the states after its greeting
  auto c = Join(3);
  ASSERT_EQ(c->frames.size(), 2u);
  EXPECT_EQ(c->frames[1], protocol::EncodeAwareness(state));
  // query-awareness is answered with all states
  Receive(c, protocol::EncodeQueryAwareness());
  EXPECT_EQ(c->frames.back(), protocol::EncodeAwareness(state));
  // when a leaves, its state is removed and the removal broadcast
  room_->Leave(a);
  Run();
  EXPECT_EQ(b->frames.back(), protocol::EncodeAwareness(Bytes{1, 9, 1, 4, 'n', 'u', 'l', 'l'}));
}

TEST_F(RoomTest, RefusesPastConnectionLimit) {
  room_ =
      std::make_shared<Room>("r", boost::asio::make_strand(ioc_.get_executor()),
                             RoomOptions{.max_connections = 1}, PersistenceServices{}, metrics_);
  auto a = Join(1);
  auto b = Join(2);
  EXPECT_EQ(a->close_code, 0);
  EXPECT_EQ(b->close_code, protocol::kCloseTooMany);
}

TEST_F(RoomTest, RepeatedRequestsWhileTheReplyIsUnsentGetNoSecondReply) {
  auto writer = Join(1);
  Receive(writer, protocol::EncodeSyncUpdate(kUpdate));
  auto stalled = std::make_shared<StalledConnection>(2);
  room_->Join(stalled);
  Run();
  // 100 step 1s (distinct state vectors, so no cache helps) and 100 query-awareness messages
  // from a client that reads nothing: one reply of each kind is held, not 100.
  for (uint64_t i = 0; i < 100; ++i) {
    room_->Receive(stalled, std::make_shared<Bytes>(protocol::EncodeSyncStep1(
                                Bytes{1, static_cast<uint8_t>(50 + (i % 50)), 0})));
    room_->Receive(stalled, std::make_shared<Bytes>(protocol::EncodeQueryAwareness()));
  }
  Run();
  EXPECT_EQ(stalled->close_code, 0);
  EXPECT_EQ(stalled->queued.size(), 1u /* greeting */ + 1u + 1u);
  EXPECT_EQ(metrics_.replies_coalesced.load(), 99u + 99u);
  // Once written (the client read them), the next request is answered again.
  stalled->queued.clear();
  room_->Receive(stalled, std::make_shared<Bytes>(protocol::EncodeSyncStep1(Bytes{0})));
  Run();
  ASSERT_EQ(stalled->queued.size(), 1u);
  EXPECT_EQ(*stalled->queued[0], protocol::EncodeSyncStep2(kUpdate));
}

TEST_F(RoomTest, AwarenessLimitsCloseWith4413AndChangeNothing) {
  auto a = Join(1);
  auto b = Join(2);
  Receive(a, protocol::EncodeAwareness(AwarenessOf(100, 17, "{}")));  // over 16 entries
  EXPECT_EQ(a->close_code, protocol::kCloseOverLimit);
  Receive(b,
          protocol::EncodeAwareness(AwarenessOf(200, 1, "\"" + std::string(70'000, 'x') + "\"")));
  EXPECT_EQ(b->close_code, protocol::kCloseOverLimit);
  auto c = Join(3);
  Receive(c, protocol::EncodeAwareness(AwarenessOf(300, 16, "{}")));
  EXPECT_EQ(c->close_code, 0);
  Receive(c, protocol::EncodeAwareness(AwarenessOf(400, 1, "{}")));  // a 17th state
  EXPECT_EQ(c->close_code, protocol::kCloseOverLimit);
  EXPECT_EQ(metrics_.refusals_4413.load(), 3u);
}

TEST_F(RoomTest, UpdatesPastTheLimitsCloseWith4413AndChangeNothing) {
  auto a = Join(1);
  Receive(a, protocol::EncodeSyncUpdate(crdt::NestedArraysUpdate(5, 300)));
  EXPECT_EQ(a->close_code, protocol::kCloseOverLimit);
  EXPECT_NE(a->close_reason.find("limit:"), std::string::npos) << a->close_reason;
  EXPECT_EQ(DocState(), (Bytes{0, 0}));
  auto b = Join(2);
  Receive(b, protocol::EncodeSyncUpdate(crdt::ManyClientsUpdate(100'001)));
  EXPECT_EQ(b->close_code, protocol::kCloseOverLimit);
  EXPECT_EQ(DocState(), (Bytes{0, 0}));
}

TEST_F(RoomTest, DocumentSizeLimitRefusesFurtherUpdates) {
  RoomOptions options;
  options.max_document_bytes = 1000;
  room_ = std::make_shared<Room>("r", boost::asio::make_strand(ioc_.get_executor()), options,
                                 PersistenceServices{}, metrics_);
  auto a = Join(1);
  Receive(a, protocol::EncodeSyncUpdate(crdt::GappedTextUpdate(7, 0, 1, 1500)));
  EXPECT_EQ(a->close_code, 0);  // the update that crosses the limit is accepted
  auto b = Join(2);
  Receive(b, protocol::EncodeSyncUpdate(kUpdate));
  EXPECT_EQ(b->close_code, protocol::kCloseOverLimit);
}

}  // namespace
}  // namespace tandem::room
