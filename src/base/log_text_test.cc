#include "base/log_text.h"

#include <gtest/gtest.h>

namespace tandem {
namespace {

TEST(LogTextTest, QuotesAndEscapesWhatCouldForgeFields) {
  EXPECT_EQ(Quoted("room-1"), "\"room-1\"");
  EXPECT_EQ(Quoted("x\" event=rolled_back y"), "\"x\\\" event=rolled_back y\"");
  EXPECT_EQ(Quoted("a\\b"), "\"a\\\\b\"");
  EXPECT_EQ(Quoted("line\nbreak"), "\"line\\x0abreak\"");
  EXPECT_EQ(Quoted("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  EXPECT_EQ(Quoted("\xff\xfe"), "\"\\xff\\xfe\"");
  EXPECT_EQ(Quoted("abcdef", 3), "\"abc...\"");
}

}  // namespace
}  // namespace tandem
