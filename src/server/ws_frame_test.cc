#include "server/ws_frame.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tandem::server {
namespace {

using Bytes = std::vector<uint8_t>;

// A client frame: masked with `mask`, with the length encoding the size asks for.
Bytes ClientFrame(uint8_t first_byte, const Bytes& payload, uint32_t mask = 0x37fa213d) {
  Bytes out{first_byte};
  const uint8_t m[4] = {static_cast<uint8_t>(mask >> 24), static_cast<uint8_t>(mask >> 16),
                        static_cast<uint8_t>(mask >> 8), static_cast<uint8_t>(mask)};
  if (payload.size() < 126) {
    out.push_back(static_cast<uint8_t>(0x80 | payload.size()));
  } else if (payload.size() <= 0xFFFF) {
    out.push_back(0x80 | 126);
    out.push_back(static_cast<uint8_t>(payload.size() >> 8));
    out.push_back(static_cast<uint8_t>(payload.size()));
  } else {
    out.push_back(0x80 | 127);
    for (int i = 0; i < 8; ++i)
      out.push_back(static_cast<uint8_t>(uint64_t{payload.size()} >> (56 - 8 * i)));
  }
  out.insert(out.end(), m, m + 4);
  for (size_t i = 0; i < payload.size(); ++i) out.push_back(payload[i] ^ m[i & 3]);
  return out;
}

struct Collected {
  std::vector<WsEvent> events;
  std::function<void(WsEvent&&)> sink() {
    return [this](WsEvent&& e) { events.push_back(std::move(e)); };
  }
};

TEST(WsFrameTest, ServerHeadersUseTheShortestLength) {
  uint8_t h[kMaxWsHeaderBytes];
  EXPECT_EQ(WriteWsFrameHeader(WsOpcode::kBinary, 5, h), 2u);
  EXPECT_EQ(h[0], 0x82);
  EXPECT_EQ(h[1], 5);
  EXPECT_EQ(WriteWsFrameHeader(WsOpcode::kBinary, 300, h), 4u);
  EXPECT_EQ(h[1], 126);
  EXPECT_EQ((h[2] << 8) | h[3], 300);
  EXPECT_EQ(WriteWsFrameHeader(WsOpcode::kClose, 70000, h), 10u);
  EXPECT_EQ(h[0], 0x88);
  EXPECT_EQ(h[1], 127);
  EXPECT_EQ((h[7] << 16) | (h[8] << 8) | h[9], 70000);
}

TEST(WsFrameTest, UnmasksMessagesOfEverySizeFedByteByByte) {
  for (size_t size : {0u, 1u, 125u, 126u, 65535u, 65536u, 100000u}) {
    Bytes payload(size);
    for (size_t i = 0; i < size; ++i) payload[i] = static_cast<uint8_t>(i * 7);
    const Bytes frame = ClientFrame(0x82, payload);
    WsFrameParser parser(1 << 20);
    Collected c;
    // Whole, then split at every position of the header and a few in the payload.
    ASSERT_TRUE(parser.Feed(frame, c.sink()));
    for (size_t split : {1u, 2u, 3u, 5u, 9u, 13u}) {
      if (split >= frame.size()) continue;
      ASSERT_TRUE(parser.Feed({frame.data(), split}, c.sink()));
      ASSERT_TRUE(parser.Feed({frame.data() + split, frame.size() - split}, c.sink()));
    }
    ASSERT_FALSE(c.events.empty());
    for (const auto& e : c.events) {
      ASSERT_EQ(e.kind, WsEvent::Kind::kMessage);
      ASSERT_EQ(e.payload, payload) << size;
    }
  }
}

TEST(WsFrameTest, JoinsFragmentsAndHandlesControlFramesBetweenThem) {
  Bytes stream;
  for (const Bytes& part : {ClientFrame(0x02, {1, 2}), ClientFrame(0x89, {9}),
                            ClientFrame(0x00, {3}), ClientFrame(0x80, {4, 5})})
    stream.insert(stream.end(), part.begin(), part.end());
  WsFrameParser parser(100);
  Collected c;
  ASSERT_TRUE(parser.Feed(stream, c.sink()));
  ASSERT_EQ(c.events.size(), 2u);
  EXPECT_EQ(c.events[0].kind, WsEvent::Kind::kPing);
  EXPECT_EQ(c.events[0].payload, Bytes{9});
  EXPECT_EQ(c.events[1].kind, WsEvent::Kind::kMessage);
  EXPECT_EQ(c.events[1].payload, (Bytes{1, 2, 3, 4, 5}));
}

TEST(WsFrameTest, CloseFramesCarryCodeAndReason) {
  Bytes payload{0x03, 0xE8, 'b', 'y', 'e'};
  WsFrameParser parser(100);
  Collected c;
  ASSERT_TRUE(parser.Feed(ClientFrame(0x88, payload), c.sink()));
  ASSERT_TRUE(parser.Feed(ClientFrame(0x88, {}), c.sink()));
  ASSERT_EQ(c.events.size(), 2u);
  EXPECT_EQ(c.events[0].code, 1000);
  EXPECT_EQ(c.events[0].reason, "bye");
  EXPECT_EQ(c.events[1].code, 1005);
  EXPECT_EQ(WsClosePayload(4401, "no"), (Bytes{0x11, 0x31, 'n', 'o'}));
}

TEST(WsFrameTest, ViolationsGiveTheirCloseCodeAndStopTheParser) {
  struct Case {
    Bytes bytes;
    uint16_t code;
  };
  Bytes unmasked{0x82, 0x01, 0x00};
  Bytes long_ping = ClientFrame(0x89, Bytes(126));
  std::vector<Case> cases = {
      {unmasked, 1002},
      {ClientFrame(0xC2, {1}), 1002},         // RSV1 without an extension
      {ClientFrame(0x83, {1}), 1002},         // reserved opcode
      {ClientFrame(0x09, {1}), 1002},         // fragmented ping
      {long_ping, 1002},                      // control frame too long
      {ClientFrame(0x80, {1}), 1002},         // continuation without a message
      {ClientFrame(0x81, {'h', 'i'}), 1003},  // text
      {ClientFrame(0x82, Bytes(101)), 1009},  // over the limit in one frame
      {ClientFrame(0x88, {0x03}), 1002},      // 1-byte close payload
  };
  Bytes over_in_fragments = ClientFrame(0x02, Bytes(60));
  Bytes second = ClientFrame(0x80, Bytes(41));
  over_in_fragments.insert(over_in_fragments.end(), second.begin(), second.end());
  cases.push_back({over_in_fragments, 1009});
  Bytes interleaved = ClientFrame(0x02, {1});
  Bytes again = ClientFrame(0x82, {2});
  interleaved.insert(interleaved.end(), again.begin(), again.end());
  cases.push_back({interleaved, 1002});
  for (const auto& tc : cases) {
    WsFrameParser parser(100);
    Collected c;
    EXPECT_FALSE(parser.Feed(tc.bytes, c.sink()));
    ASSERT_FALSE(c.events.empty());
    EXPECT_EQ(c.events.back().kind, WsEvent::Kind::kError);
    EXPECT_EQ(c.events.back().code, tc.code) << c.events.back().reason;
    EXPECT_FALSE(c.events.back().reason.empty());
    EXPECT_TRUE(parser.failed());
    // Nothing is parsed after a violation.
    EXPECT_FALSE(parser.Feed(ClientFrame(0x82, {1}), c.sink()));
  }
}

}  // namespace
}  // namespace tandem::server
