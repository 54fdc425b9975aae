#include "lib0/rle.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tandem::lib0 {
namespace {

using Bytes = std::vector<uint8_t>;

TEST(RleTest, ByteRunsOmitLastCount) {
  RleEncoder e;
  for (uint8_t v : {4, 4, 4, 7}) e.Write(v);
  Bytes b = e.Finish();
  EXPECT_EQ(b, (Bytes{4, 2, 7}));
  RleDecoder d(b);
  EXPECT_EQ(d.Read(), 4);
  EXPECT_EQ(d.Read(), 4);
  EXPECT_EQ(d.Read(), 4);
  EXPECT_EQ(d.Read(), 7);
  EXPECT_EQ(d.Read(), 7);  // the last value repeats forever
  EXPECT_TRUE(d.decoder().ok());
}

TEST(RleTest, UintOptRleWritesRunsOfZeroAsNegativeZero) {
  UintOptRleEncoder e;
  for (uint64_t v : {0, 0, 0, 5, 1, 1}) e.Write(v);
  Bytes b = e.Finish();
  EXPECT_EQ(b, (Bytes{0x40, 0x01, 0x05, 0x41, 0x00}));
  UintOptRleDecoder d(b);
  for (uint64_t v : {0, 0, 0, 5, 1, 1}) EXPECT_EQ(d.Read(), v);
  EXPECT_TRUE(d.decoder().ok());
  d.Read();
  EXPECT_FALSE(d.decoder().ok());  // reading past the column is an error
}

TEST(RleTest, IntDiffOptRleHandlesNegativeDiffs) {
  IntDiffOptRleEncoder e;
  std::vector<int64_t> values = {0, 1, 2, 3, 1, -1, -3, 10};
  for (int64_t v : values) e.Write(v);
  Bytes b = e.Finish();
  IntDiffOptRleDecoder d(b);
  for (int64_t v : values) EXPECT_EQ(d.Read(), v);
  EXPECT_TRUE(d.decoder().ok());
}

TEST(RleTest, StringEncoderCountsUtf16Units) {
  StringEncoder e;
  e.Write("ab");
  e.Write("\xf0\x9f\x98\x80");  // one astral code point = 2 units
  e.Write("");
  e.Write("c");
  Bytes b = e.Finish();
  // "ab😀c" as a varString, then lengths 2, 2, 0, 1: the run of two 2s is varInt(-2) + count-2
  Bytes expected = {7, 'a', 'b', 0xf0, 0x9f, 0x98, 0x80, 'c', 0x42, 0x00, 0x00, 0x01};
  EXPECT_EQ(b, expected);
  StringDecoder d(b);
  EXPECT_EQ(d.Read(), "ab");
  EXPECT_EQ(d.Read(), "\xf0\x9f\x98\x80");
  EXPECT_EQ(d.Read(), "");
  EXPECT_EQ(d.Read(), "c");
  EXPECT_TRUE(d.ok());
}

TEST(RleTest, StringDecoderSplitsSurrogatePairsLikeJs) {
  // One string column holding "😀" but lengths 1 and 1: each half is a lone surrogate in JS.
  Bytes b = {4, 0xf0, 0x9f, 0x98, 0x80, 0x41, 0x00};
  StringDecoder d(b);
  EXPECT_EQ(d.Read(), "\xef\xbf\xbd");
  EXPECT_EQ(d.Read(), "\xef\xbf\xbd");
  EXPECT_TRUE(d.ok());
}

TEST(RleTest, StringDecoderRejectsLengthsBeyondText) {
  Bytes b = {1, 'a', 0x05};
  StringDecoder d(b);
  d.Read();
  EXPECT_FALSE(d.ok());
}

}  // namespace
}  // namespace tandem::lib0
