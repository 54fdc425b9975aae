#include "protocol/message.h"

#include <gtest/gtest.h>

#include "protocol/awareness.h"

namespace tandem::protocol {
namespace {

TEST(MessageTest, EncodesLikeYProtocols) {
  const Bytes sv = {0x01, 0x01, 0x03};
  EXPECT_EQ(EncodeSyncStep1(sv), (Bytes{0, 0, 3, 1, 1, 3}));
  EXPECT_EQ(EncodeSyncStep2(Bytes{0, 0}), (Bytes{0, 1, 2, 0, 0}));
  EXPECT_EQ(EncodeSyncUpdate(Bytes{0, 0}), (Bytes{0, 2, 2, 0, 0}));
  EXPECT_EQ(EncodeAwareness(Bytes{0}), (Bytes{1, 1, 0}));
  EXPECT_EQ(EncodeQueryAwareness(), (Bytes{3}));
  EXPECT_EQ(EncodeAuthDenied("no"), (Bytes{2, 0, 2, 'n', 'o'}));
}

TEST(MessageTest, ParsesAndRejects) {
  auto m = ParseMessage(Bytes{0, 1, 2, 0, 0});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->type, MessageType::kSync);
  EXPECT_EQ(m->sync_type, SyncType::kStep2);
  EXPECT_EQ(m->payload.size(), 2u);
  EXPECT_EQ(ParseMessage(Bytes{3})->type, MessageType::kQueryAwareness);
  EXPECT_FALSE(ParseMessage(Bytes{}).ok());
  EXPECT_FALSE(ParseMessage(Bytes{0, 3, 0}).ok());     // unknown sync type
  EXPECT_FALSE(ParseMessage(Bytes{0, 2, 5, 0}).ok());  // truncated payload
  EXPECT_FALSE(ParseMessage(Bytes{9}).ok());           // unknown type
}

Bytes AwarenessUpdate(uint64_t client, uint64_t clock, std::string_view json) {
  Bytes b = {1};
  auto append_var = [&](uint64_t v) {
    while (v > 0x7f) {
      b.push_back(static_cast<uint8_t>(0x80 | (v & 0x7f)));
      v >>= 7;
    }
    b.push_back(static_cast<uint8_t>(v));
  };
  append_var(client);
  append_var(clock);
  append_var(json.size());
  b.insert(b.end(), json.begin(), json.end());
  return b;
}

TEST(AwarenessTest, FollowsYProtocolsRules) {
  Awareness a;
  auto c = a.Apply(AwarenessUpdate(7, 1, R"({"user":"a"})"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->added, std::vector<uint64_t>{7});
  // an older clock is ignored
  EXPECT_TRUE(a.Apply(AwarenessUpdate(7, 0, R"({"user":"b"})"))->empty());
  // a newer clock updates
  EXPECT_EQ(a.Apply(AwarenessUpdate(7, 2, R"({"user":"b"})"))->updated, std::vector<uint64_t>{7});
  EXPECT_EQ(a.Encode({7}), AwarenessUpdate(7, 2, R"({"user":"b"})"));
  // null with the same clock removes
  EXPECT_EQ(a.Apply(AwarenessUpdate(7, 2, "null"))->removed, std::vector<uint64_t>{7});
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(a.Encode({7}), AwarenessUpdate(7, 2, "null"));
  // malformed JSON changes nothing
  EXPECT_FALSE(a.Apply(AwarenessUpdate(8, 1, "{bad")).ok());
  EXPECT_FALSE(a.HasState(8));
}

TEST(AwarenessTest, RemoveKeepsClockAndOutdatedExpire) {
  Awareness a;
  auto t0 = Awareness::Clock::now();
  ASSERT_TRUE(a.Apply(AwarenessUpdate(1, 5, "{}"), t0).ok());
  ASSERT_TRUE(a.Apply(AwarenessUpdate(2, 1, "{}"), t0 + std::chrono::seconds(20)).ok());
  EXPECT_EQ(a.Remove({1, 3}).removed, std::vector<uint64_t>{1});
  EXPECT_EQ(a.Encode({1}), AwarenessUpdate(1, 5, "null"));
  auto stale = a.RemoveOutdated(t0 + std::chrono::seconds(51), std::chrono::seconds(30));
  EXPECT_EQ(stale.removed, std::vector<uint64_t>{2});
}

TEST(AwarenessTest, LimitsRefuseWholeUpdatesAndClocksOfStatelessClientsExpire) {
  Awareness a;
  AwarenessLimits limits{.max_entries = 2, .max_state_bytes = 10, .max_total_bytes = 12};
  auto two = AwarenessUpdate(1, 1, "{}");
  auto second = AwarenessUpdate(2, 1, "{}");
  two[0] = 2;  // two entries
  two.insert(two.end(), second.begin() + 1, second.end());
  ASSERT_TRUE(a.Apply(two, Awareness::Clock::now(), limits).ok());
  EXPECT_EQ(a.total_bytes(), 4u);
  // A state over 10 bytes, and one that would take the room over 12: refused, nothing changes.
  auto big = a.Apply(AwarenessUpdate(3, 1, R"({"n":12345})"), Awareness::Clock::now(), limits);
  EXPECT_EQ(big.status().code(), StatusCode::kResourceExhausted);
  auto over = a.Apply(AwarenessUpdate(3, 1, R"({"a":123})"), Awareness::Clock::now(), limits);
  EXPECT_EQ(over.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(a.size(), 2u);
  // Replacing a state counts its old size out.
  ASSERT_TRUE(a.Apply(AwarenessUpdate(1, 2, R"({"a":1})"), Awareness::Clock::now(), limits).ok());
  EXPECT_EQ(a.total_bytes(), 9u);
  // The clock of a client that has had no state for the timeout is forgotten.
  const auto t0 = Awareness::Clock::now();
  ASSERT_TRUE(a.Apply(AwarenessUpdate(9, 4, "null"), t0).ok());
  EXPECT_EQ(a.known_clients(), 3u);
  (void)a.RemoveOutdated(t0 + std::chrono::seconds(31), std::chrono::seconds(30));
  EXPECT_EQ(a.known_clients(), 2u);
}

}  // namespace
}  // namespace tandem::protocol
