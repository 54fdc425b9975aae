#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "lib0/decoder.h"
#include "lib0/encoder.h"

namespace tandem::lib0 {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes VarUint(uint64_t v) {
  Encoder e;
  e.WriteVarUint(v);
  return e.Take();
}

// Vectors from lib0's own tests (testGolangBinaryEncodingCompatibility).
TEST(EncoderTest, VarUintMatchesLib0Vectors) {
  EXPECT_EQ(VarUint(0), (Bytes{0x00}));
  EXPECT_EQ(VarUint(1), (Bytes{0x01}));
  EXPECT_EQ(VarUint(128), (Bytes{0x80, 0x01}));
  EXPECT_EQ(VarUint(500), (Bytes{0xf4, 0x03}));
  EXPECT_EQ(VarUint(2147483647), (Bytes{0xff, 0xff, 0xff, 0xff, 0x07}));
  EXPECT_EQ(VarUint(4294967295), (Bytes{0xff, 0xff, 0xff, 0xff, 0x0f}));
}

TEST(EncoderTest, VarIntSignBitAndNegativeZero) {
  Encoder e;
  e.WriteVarInt(-1);
  e.WriteVarIntSigned(true, 0);
  e.WriteVarInt(63);
  e.WriteVarInt(64);
  e.WriteVarInt(-64);
  EXPECT_EQ(e.data(), (Bytes{0x41, 0x40, 0x3f, 0x80, 0x01, 0xc0, 0x01}));
  Decoder d(e.data());
  EXPECT_EQ(d.ReadVarInt(), -1);
  SignedVarInt nz = d.ReadVarIntSigned();
  EXPECT_TRUE(nz.negative);
  EXPECT_EQ(nz.magnitude, 0u);
  EXPECT_EQ(d.ReadVarInt(), 63);
  EXPECT_EQ(d.ReadVarInt(), 64);
  EXPECT_EQ(d.ReadVarInt(), -64);
  EXPECT_TRUE(d.ok());
  EXPECT_FALSE(d.HasContent());
}

TEST(DecoderTest, VarUintRoundTripsUpTo53Bits) {
  for (uint64_t v :
       {uint64_t{0}, uint64_t{127}, uint64_t{128}, uint64_t{1} << 31, kMaxSafeInteger}) {
    Bytes b = VarUint(v);
    Decoder d(b);
    EXPECT_EQ(d.ReadVarUint(), v);
    EXPECT_TRUE(d.ok());
  }
}

TEST(DecoderTest, RejectsVarUintBeyond53Bits) {
  Bytes b = VarUint(kMaxSafeInteger + 1);
  Decoder d(b);
  d.ReadVarUint();
  EXPECT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("out of range"), std::string::npos);
}

TEST(DecoderTest, TruncationIsStickyAndReportsOffset) {
  Bytes b = {0x05, 0x80};
  Decoder d(b);
  EXPECT_EQ(d.ReadVarUint(), 5u);
  EXPECT_EQ(d.ReadVarUint(), 0u);
  EXPECT_FALSE(d.ok());
  EXPECT_EQ(d.ReadUint8(), 0);  // later reads return zero values
  EXPECT_EQ(d.status().code(), StatusCode::kMalformed);
  EXPECT_NE(d.status().message().find("unexpected end of input"), std::string::npos);
}

TEST(DecoderTest, StringsAreValidatedUtf8) {
  Encoder e;
  e.WriteVarString("h\xc3\xa9llo \xf0\x9f\x98\x80");
  Decoder d(e.data());
  EXPECT_EQ(d.ReadVarString(), "h\xc3\xa9llo \xf0\x9f\x98\x80");
  EXPECT_TRUE(d.ok());

  Bytes bad = {0x02, 0xc3, 0x28};  // invalid continuation byte
  Decoder d2(bad);
  d2.ReadVarString();
  EXPECT_FALSE(d2.ok());

  Bytes surrogate = {0x03, 0xed, 0xa0, 0x80};  // UTF-8 encoded surrogate: TextDecoder rejects
  Decoder d3(surrogate);
  d3.ReadVarString();
  EXPECT_FALSE(d3.ok());
}

TEST(DecoderTest, LengthBeyondInputFailsWithoutAllocating) {
  Bytes b = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};
  Decoder d(b);
  EXPECT_TRUE(d.ReadVarUint8Array().empty());
  EXPECT_FALSE(d.ok());
  Decoder d2(b);
  d2.ReadCount();
  EXPECT_FALSE(d2.ok());
}

TEST(EncoderTest, FloatsAndBigIntsAreBigEndian) {
  Encoder e;
  e.WriteFloat32(1.5f);
  e.WriteFloat64(-2.0);
  e.WriteBigInt64(-2);
  EXPECT_EQ(e.data(), (Bytes{0x3f, 0xc0, 0,    0,    0xc0, 0,    0,    0,    0,    0,
                             0,    0,    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}));
  Decoder d(e.data());
  EXPECT_EQ(d.ReadFloat32(), 1.5f);
  EXPECT_EQ(d.ReadFloat64(), -2.0);
  EXPECT_EQ(d.ReadBigInt64(), -2);
  EXPECT_TRUE(d.ok());
}

}  // namespace
}  // namespace tandem::lib0
