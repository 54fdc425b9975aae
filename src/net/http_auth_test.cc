#include "net/http_auth.h"

#include <gtest/gtest.h>

namespace tandem::net {
namespace {

TEST(HttpAuthTest, BearerSchemeIsCaseInsensitive) {
  EXPECT_EQ(BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(BearerToken("bearer abc"), "abc");
  EXPECT_EQ(BearerToken("BEARER  abc "), "abc");
  EXPECT_EQ(BearerToken("Bearerabc"), "");
  EXPECT_EQ(BearerToken("Basic abc"), "");
  EXPECT_EQ(BearerToken("Bearer "), "");
  EXPECT_EQ(BearerToken(""), "");
}

TEST(HttpAuthTest, SecretEquals) {
  EXPECT_TRUE(SecretEquals("s3cret", "s3cret"));
  EXPECT_FALSE(SecretEquals("s3cret", "s3cre"));
  EXPECT_FALSE(SecretEquals("", "x"));
}

}  // namespace
}  // namespace tandem::net
