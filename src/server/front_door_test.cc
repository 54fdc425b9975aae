#include "server/front_door.h"

#include <gtest/gtest.h>

namespace tandem::server {
namespace {

TEST(FrontDoorTest, RoutesAndTokens) {
  EXPECT_EQ(RoomFromPath("/doc"), "doc");
  EXPECT_EQ(RoomFromPath("/parties/main/doc"), "doc");
  EXPECT_EQ(RoomFromPath("/"), "");
  EXPECT_EQ(RoomFromPath("/a/b"), "");
  EXPECT_EQ(RoomFromPath("/parties/main/doc/x"), "");
  auto t = ParseTarget("/doc?x=1&token=abc%2Bd&y");
  EXPECT_EQ(t.path, "/doc");
  EXPECT_EQ(t.token, "abc+d");
  EXPECT_EQ(ParseTarget("/doc?token=a+b").token, "a b");
}

}  // namespace
}  // namespace tandem::server
