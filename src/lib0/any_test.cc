#include "lib0/any.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace tandem::lib0 {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes Encode(const Any& a) {
  Encoder e;
  WriteAny(e, a);
  return e.Take();
}

Any Decode(const Bytes& b, bool* ok = nullptr) {
  Decoder d(b);
  Any a = ReadAny(d);
  if (ok != nullptr) *ok = d.ok();
  return a;
}

TEST(AnyTest, NumbersFollowLib0TypeRule) {
  EXPECT_EQ(Encode(Any(1)), (Bytes{125, 0x01}));
  EXPECT_EQ(Encode(Any(-0.0)), (Bytes{125, 0x40}));  // negative zero survives
  EXPECT_EQ(Encode(Any(2147483647.0))[0], 125);      // 2^31-1: integer
  EXPECT_EQ(Encode(Any(2147483648.0))[0], 124);      // 2^31: float32 (exact)
  EXPECT_EQ(Encode(Any(4294967296.0))[0], 124);      // 2^32: float32, as lib0 does
  EXPECT_EQ(Encode(Any(0.5))[0], 124);
  EXPECT_EQ(Encode(Any(0.1))[0], 123);  // not exact in float32
  EXPECT_EQ(Encode(Any(std::numeric_limits<double>::infinity()))[0], 124);
  EXPECT_EQ(Encode(Any(std::nan("")))[0], 123);
  EXPECT_EQ(Encode(Any(1e300))[0], 123);
}

TEST(AnyTest, AllTagsRoundTrip) {
  Any::Object obj;
  JsObjectSet(obj, "b", Any(true));
  JsObjectSet(obj, "a", Any::Null());
  Any value(Any::Array{Any::Undefined(), Any::Null(), Any(true), Any(false), Any(3), Any(0.25),
                       Any(0.1), Any::BigInt(-5), Any("x\xc3\xa9"), Any::Bytes({1, 2, 3}),
                       Any(std::move(obj))});
  Bytes b = Encode(value);
  bool ok = false;
  Any back = Decode(b, &ok);
  ASSERT_TRUE(ok);
  EXPECT_EQ(back, value);
  EXPECT_EQ(Encode(back), b);
}

TEST(AnyTest, ObjectKeysFollowJavaScriptOrder) {
  Any::Object obj;
  JsObjectSet(obj, "z", Any(1));
  JsObjectSet(obj, "10", Any(2));
  JsObjectSet(obj, "2", Any(3));
  JsObjectSet(obj, "01", Any(4));  // not an array index
  JsObjectSet(obj, "z", Any(5));   // keeps its place, takes the new value
  ASSERT_EQ(obj.size(), 4u);
  EXPECT_EQ(obj[0].first, "2");
  EXPECT_EQ(obj[1].first, "10");
  EXPECT_EQ(obj[2].first, "z");
  EXPECT_EQ(obj[2].second, Any(5));
  EXPECT_EQ(obj[3].first, "01");
}

TEST(AnyTest, RejectsUnknownTagsAndDeepNesting) {
  bool ok = true;
  Decode(Bytes{115}, &ok);
  EXPECT_FALSE(ok);
  Bytes deep(5000, 117);  // arrays of arrays of ...
  for (size_t i = 1; i < deep.size(); i += 2) deep[i] = 1;
  Decode(deep, &ok);
  EXPECT_FALSE(ok);
}

TEST(AnyTest, RejectsCountsTheInputCannotHold) {
  bool ok = true;
  Decode(Bytes{117, 0xff, 0xff, 0xff, 0x7f}, &ok);
  EXPECT_FALSE(ok);
  Decode(Bytes{118, 0x05, 0x00}, &ok);
  EXPECT_FALSE(ok);
}

}  // namespace
}  // namespace tandem::lib0
