#include "base/base64.h"

#include <gtest/gtest.h>

namespace tandem {
namespace {

TEST(Base64Test, RoundTripsEveryLengthInBothAlphabets) {
  std::string bytes;
  for (int n = 0; n < 70; ++n) {
    EXPECT_EQ(*Base64Decode(Base64Encode(bytes)), bytes);
    EXPECT_EQ(*Base64Decode(Base64UrlEncode(bytes)), bytes);
    bytes.push_back(static_cast<char>(n * 37 + 250));
  }
  // RFC 4648 §10.
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64Encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(*Base64Decode("+/8="), "\xfb\xff");
  EXPECT_EQ(*Base64Decode("Zm9vYg"), "foob");  // padding is optional
}

TEST(Base64Test, RefusesWhatIsNotBase64) {
  for (const char* bad : {"Zm9v!", "Z", "Zm9vY===", "Zm=9v", "Zm9vYg=", "=="}) {
    EXPECT_FALSE(Base64Decode(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace tandem
