#include "server/room.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "protocol/close_codes.h"
#include "protocol/message.h"

namespace tandem::server {
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
  boost::asio::io_context ioc_;
  Metrics metrics_;
  std::shared_ptr<Room> room_ = std::make_shared<Room>(
      "r", boost::asio::make_strand(ioc_.get_executor()), RoomOptions{}, RoomServices{}, metrics_);
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
  EXPECT_EQ(room_->doc().EncodeStateAsUpdate(), (Bytes{0, 0}));
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
  room_ = std::make_shared<Room>("r", boost::asio::make_strand(ioc_.get_executor()),
                                 RoomOptions{.max_connections = 1}, RoomServices{}, metrics_);
  auto a = Join(1);
  auto b = Join(2);
  EXPECT_EQ(a->close_code, 0);
  EXPECT_EQ(b->close_code, protocol::kCloseTooMany);
}

}  // namespace
}  // namespace tandem::server
