#include "base/status.h"

#include <gtest/gtest.h>

#include <string>

#include "base/result.h"

namespace tandem {
namespace {

Result<int> ParsePositive(int v) {
  if (v <= 0) return InvalidArgumentError("not positive: " + std::to_string(v));
  return v;
}

Result<int> Doubled(int v) {
  TANDEM_ASSIGN_OR_RETURN(int parsed, ParsePositive(v));
  return parsed * 2;
}

Status CheckBoth(int a, int b) {
  TANDEM_RETURN_IF_ERROR(ParsePositive(a).status());
  TANDEM_RETURN_IF_ERROR(ParsePositive(b).status());
  return Status::Ok();
}

TEST(StatusTest, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(StatusTest, CarriesCodeAndMessage) {
  Status s = MalformedError("unexpected end of input at byte 3");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kMalformed);
  EXPECT_EQ(s.ToString(), "malformed: unexpected end of input at byte 3");
  EXPECT_EQ(s.WithContext("update").message(), "update: unexpected end of input at byte 3");
}

TEST(ResultTest, ValueAndErrorPropagate) {
  EXPECT_EQ(*Doubled(4), 8);
  Result<int> bad = Doubled(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckBoth(1, 2).ok());
  EXPECT_EQ(CheckBoth(1, 0).message(), "not positive: 0");
}

}  // namespace
}  // namespace tandem
