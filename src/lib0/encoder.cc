#include "lib0/encoder.h"

#include <bit>
#include <cstring>

namespace tandem::lib0 {

void Encoder::WriteVarUintSlow(uint64_t v) {
  while (v > 0x7f) {
    buf_.push_back(static_cast<uint8_t>(0x80 | (v & 0x7f)));
    v >>= 7;
  }
  buf_.push_back(static_cast<uint8_t>(v));
}

void Encoder::WriteVarInt(int64_t v) {
  const bool negative = v < 0;
  const uint64_t magnitude =
      negative ? uint64_t{0} - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  WriteVarIntSigned(negative, magnitude);
}

void Encoder::WriteVarIntSigned(bool negative, uint64_t magnitude) {
  buf_.push_back(static_cast<uint8_t>((magnitude > 0x3f ? 0x80 : 0) | (negative ? 0x40 : 0) |
                                      (magnitude & 0x3f)));
  magnitude >>= 6;
  while (magnitude > 0) {
    buf_.push_back(static_cast<uint8_t>((magnitude > 0x7f ? 0x80 : 0) | (magnitude & 0x7f)));
    magnitude >>= 7;
  }
}

void Encoder::WriteVarString(std::string_view utf8) {
  WriteVarUint(utf8.size());
  buf_.insert(buf_.end(), utf8.begin(), utf8.end());
}

void Encoder::WriteVarUint8Array(std::span<const uint8_t> bytes) {
  WriteVarUint(bytes.size());
  WriteBytes(bytes);
}

namespace {
template <typename U>
void WriteBigEndian(std::vector<uint8_t>& buf, U bits) {
  for (int shift = static_cast<int>(sizeof(U) * 8) - 8; shift >= 0; shift -= 8) {
    buf.push_back(static_cast<uint8_t>(bits >> shift));
  }
}
}  // namespace

void Encoder::WriteFloat32(float v) {
  WriteBigEndian(buf_, std::bit_cast<uint32_t>(v));
}
void Encoder::WriteFloat64(double v) {
  WriteBigEndian(buf_, std::bit_cast<uint64_t>(v));
}
void Encoder::WriteBigInt64(int64_t v) {
  WriteBigEndian(buf_, static_cast<uint64_t>(v));
}

}  // namespace tandem::lib0
