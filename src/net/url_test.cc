#include "net/url.h"

#include <gtest/gtest.h>

namespace tandem::net {
namespace {

TEST(UrlTest, Parses) {
  auto u = ParseUrl("https://example.convex.site/api?x=1#frag");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "example.convex.site");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/api?x=1");
  u = ParseUrl("http://127.0.0.1:8787");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->port, 8787);
  EXPECT_EQ(u->target, "/");
  u = ParseUrl("http://[::1]:9000/p");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 9000);
  for (const char* bad : {"", "example.com", "ftp://x", "http://", "http://h:0", "http://h:99999",
                          "http://h:x", "http://u:p@h/"}) {
    EXPECT_FALSE(ParseUrl(bad).ok()) << bad;
  }
}

TEST(UrlTest, EncodesAndDecodesComponents) {
  EXPECT_EQ(UrlEncodeComponent("doc-1_a.b~c"), "doc-1_a.b~c");
  EXPECT_EQ(UrlEncodeComponent("a/b?c#d%e f"), "a%2Fb%3Fc%23d%25e%20f");
  EXPECT_EQ(UrlEncodeComponent("\xc3\xa9"), "%C3%A9");
  EXPECT_EQ(UrlEncodeComponent(""), "");
  EXPECT_EQ(*UrlDecode("a%2Fb%20c%C3%A9"), "a/b c\xc3\xa9");
  EXPECT_FALSE(UrlDecode("%").ok());
  EXPECT_FALSE(UrlDecode("%4").ok());
  EXPECT_FALSE(UrlDecode("%zz").ok());
}

}  // namespace
}  // namespace tandem::net
