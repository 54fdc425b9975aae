#include "lib0/json.h"

#include <gtest/gtest.h>

#include <cmath>

namespace tandem::lib0 {
namespace {

TEST(JsonTest, NumbersFormatLikeJavaScript) {
  EXPECT_EQ(JsNumberToString(0), "0");
  EXPECT_EQ(JsNumberToString(-0.0), "0");
  EXPECT_EQ(JsNumberToString(5), "5");
  EXPECT_EQ(JsNumberToString(-1.5), "-1.5");
  EXPECT_EQ(JsNumberToString(0.1), "0.1");
  EXPECT_EQ(JsNumberToString(1e21), "1e+21");
  EXPECT_EQ(JsNumberToString(1e20), "100000000000000000000");
  EXPECT_EQ(JsNumberToString(123456789012345680000.0), "123456789012345680000");
  EXPECT_EQ(JsNumberToString(1e-7), "1e-7");
  EXPECT_EQ(JsNumberToString(0.000001), "0.000001");
  EXPECT_EQ(JsNumberToString(1.2345e-10), "1.2345e-10");
  EXPECT_EQ(JsNumberToString(5e-324), "5e-324");
  EXPECT_EQ(JsNumberToString(1.7976931348623157e308), "1.7976931348623157e+308");
}

TEST(JsonTest, StringifyEscapesLikeJsonStringify) {
  EXPECT_EQ(ToJson(Any("a\"b\\c\n\x01/\xe2\x80\xa8")), "\"a\\\"b\\\\c\\n\\u0001/\xe2\x80\xa8\"");
  Any::Object obj;
  JsObjectSet(obj, "u", Any::Undefined());
  JsObjectSet(obj, "n", Any(std::nan("")));
  JsObjectSet(obj, "a", Any(Any::Array{Any::Undefined(), Any(1)}));
  EXPECT_EQ(ToJson(Any(std::move(obj))), "{\"n\":null,\"a\":[null,1]}");
  EXPECT_EQ(ToJson(Any::Undefined()), "undefined");
  EXPECT_EQ(ToJson(Any::Bytes({7, 8})), "{\"0\":7,\"1\":8}");
}

TEST(JsonTest, ParseRoundTrips) {
  const char* text = R"({"b":[1,-2.5e3,true,false,null,"x\u00e9\ud83d\ude00"],"2":{},"a":""})";
  auto v = ParseJson(text);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  // integer-like key "2" moves first, as in JS
  EXPECT_EQ(ToJson(*v), R"({"2":{},"b":[1,-2500,true,false,null,"xé😀"],"a":""})");
  EXPECT_TRUE(ParseJson("undefined")->is_undefined());
  EXPECT_EQ(ParseJson("1e999")->as_number(), HUGE_VAL);
}

TEST(JsonTest, ParseRejectsMalformed) {
  for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "01", "\"abc", "tru", "1 2", "\"\x01\""}) {
    EXPECT_FALSE(ParseJson(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace tandem::lib0
