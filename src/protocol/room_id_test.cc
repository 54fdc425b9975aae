#include "protocol/room_id.h"

#include <gtest/gtest.h>

#include <string>

namespace tandem::protocol {
namespace {

TEST(RoomIdTest, OneRuleForEveryRoomId) {
  EXPECT_TRUE(ValidateRoomId("doc").ok());
  EXPECT_TRUE(ValidateRoomId("a/b c=d\"e").ok());
  EXPECT_TRUE(ValidateRoomId("caf\xc3\xa9").ok());
  EXPECT_TRUE(ValidateRoomId(std::string(kMaxRoomIdBytes, 'x')).ok());
  EXPECT_FALSE(ValidateRoomId(std::string(kMaxRoomIdBytes + 1, 'x')).ok());
  EXPECT_FALSE(ValidateRoomId("").ok());
  EXPECT_FALSE(ValidateRoomId("a\nb").ok());
  EXPECT_FALSE(ValidateRoomId("\x7f").ok());
  EXPECT_FALSE(ValidateRoomId("\xff").ok());
}

}  // namespace
}  // namespace tandem::protocol
