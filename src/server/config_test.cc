#include "server/config.h"

#include <gtest/gtest.h>

#include "server/http_session.h"

namespace tandem::server {
namespace {

TEST(ConfigTest, ParsesDurations) {
  EXPECT_EQ(*ParseDuration("300ms"), std::chrono::milliseconds(300));
  EXPECT_EQ(*ParseDuration("30s"), std::chrono::milliseconds(30'000));
  EXPECT_EQ(*ParseDuration("5m"), std::chrono::milliseconds(300'000));
  EXPECT_EQ(*ParseDuration("7"), std::chrono::milliseconds(7'000));
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("fast").ok());
  EXPECT_FALSE(ParseDuration("3 days").ok());
}

TEST(ConfigTest, ParsesSizes) {
  EXPECT_EQ(*ParseByteSize("65536"), 65536u);
  EXPECT_EQ(*ParseByteSize("64KiB"), 65536u);
  EXPECT_EQ(*ParseByteSize("16MiB"), 16u << 20);
  EXPECT_FALSE(ParseByteSize("lots").ok());
  EXPECT_FALSE(ParseByteSize("3PB").ok());
}

TEST(ConfigTest, RoomIdsAreDecodedAndBounded) {
  EXPECT_EQ(*DecodeRoomId("doc-1"), "doc-1");
  EXPECT_EQ(*DecodeRoomId("a%2Fb%20c"), "a/b c");
  EXPECT_EQ(*DecodeRoomId("%E2%9C%93"), "\xe2\x9c\x93");
  EXPECT_FALSE(DecodeRoomId("").ok());
  EXPECT_FALSE(DecodeRoomId(std::string(257, 'x')).ok());
  EXPECT_TRUE(DecodeRoomId(std::string(256, 'x')).ok());
  EXPECT_FALSE(DecodeRoomId("%zz").ok());
  EXPECT_FALSE(DecodeRoomId("%ff").ok());    // not UTF-8
  EXPECT_FALSE(DecodeRoomId("a%0Ab").ok());  // control character
}

TEST(ConfigTest, RoutesAndTokens) {
  EXPECT_EQ(RoomFromPath("/doc"), "doc");
  EXPECT_EQ(RoomFromPath("/parties/main/doc"), "doc");
  EXPECT_EQ(RoomFromPath("/"), "");
  EXPECT_EQ(RoomFromPath("/a/b"), "");
  EXPECT_EQ(RoomFromPath("/parties/main/doc/x"), "");
  auto t = ParseTarget("/doc?x=1&token=abc%2Bd&y");
  EXPECT_EQ(t.path, "/doc");
  EXPECT_EQ(t.token, "abc+d");
}

}  // namespace
}  // namespace tandem::server
