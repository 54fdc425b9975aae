#include "lib0/utf.h"

#include <gtest/gtest.h>

namespace tandem::lib0 {
namespace {

const char* kMixed = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z";  // a é € 😀 z

TEST(UtfTest, Utf16LengthCountsCodeUnits) {
  EXPECT_EQ(Utf16Length(""), 0u);
  EXPECT_EQ(Utf16Length(kMixed), 6u);
}

TEST(UtfTest, SliceLikeJavaScript) {
  EXPECT_EQ(Utf16Slice(kMixed, 0, 3), "a\xc3\xa9\xe2\x82\xac");
  EXPECT_EQ(Utf16Slice(kMixed, 3, 5), "\xf0\x9f\x98\x80");
  // Cutting the pair leaves lone surrogates, which encode as U+FFFD.
  EXPECT_EQ(Utf16Slice(kMixed, 0, 4), "a\xc3\xa9\xe2\x82\xac\xef\xbf\xbd");
  EXPECT_EQ(Utf16Slice(kMixed, 4, 6), "\xef\xbf\xbdz");
  EXPECT_EQ(Utf16Slice(kMixed, 4, 5), "\xef\xbf\xbd");
}

TEST(UtfTest, ValidatesLikeFatalTextDecoder) {
  EXPECT_TRUE(IsValidUtf8(kMixed));
  EXPECT_FALSE(IsValidUtf8("\xc0\x80"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));          // truncated
}

TEST(UtfTest, Utf16ConversionsRoundTrip) {
  std::u16string u = Utf8ToUtf16(kMixed);
  EXPECT_EQ(u.size(), 6u);
  EXPECT_EQ(Utf16ToUtf8(u), kMixed);
  EXPECT_EQ(Utf16ToUtf8(u"\xd800x"), "\xef\xbf\xbdx");
}

}  // namespace
}  // namespace tandem::lib0
