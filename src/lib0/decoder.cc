#include "lib0/decoder.h"

#include <bit>

#include "lib0/encoder.h"
#include "lib0/utf.h"

namespace tandem::lib0 {

Status Decoder::status() const {
  if (ok()) return Status::Ok();
  return MalformedError(error_ + " at byte " + std::to_string(error_pos_));
}

void Decoder::Fail(std::string_view what) {
  if (!error_.empty()) return;
  error_ = what.empty() ? "malformed input" : std::string(what);
  error_pos_ = pos_;
  pos_ = data_.size();
}

uint8_t Decoder::ReadUint8() {
  if (pos_ >= data_.size()) {
    Fail("unexpected end of input");
    return 0;
  }
  return data_[pos_++];
}

uint64_t Decoder::ReadVarUint() {
  uint64_t num = 0;
  int shift = 0;
  while (pos_ < data_.size()) {
    const uint8_t r = data_[pos_++];
    if (shift > 46 && (static_cast<uint64_t>(r & 0x7f) >> (53 - shift)) != 0) {
      Fail("integer out of range");
      return 0;
    }
    num |= static_cast<uint64_t>(r & 0x7f) << shift;
    if (r < 0x80) return num;
    shift += 7;
    if (shift > 52) {
      Fail("integer out of range");
      return 0;
    }
  }
  Fail("unexpected end of input");
  return 0;
}

uint64_t Decoder::ReadCount(size_t min_bytes_each) {
  const uint64_t n = ReadVarUint();
  if (min_bytes_each > 0 && n > remaining() / min_bytes_each) {
    Fail("count larger than the input can hold");
    return 0;
  }
  return n;
}

SignedVarInt Decoder::ReadVarIntSigned() {
  SignedVarInt out;
  if (pos_ >= data_.size()) {
    Fail("unexpected end of input");
    return out;
  }
  uint8_t r = data_[pos_++];
  out.negative = (r & 0x40) != 0;
  uint64_t num = r & 0x3f;
  if ((r & 0x80) == 0) {
    out.magnitude = num;
    return out;
  }
  int shift = 6;
  while (pos_ < data_.size()) {
    r = data_[pos_++];
    if (shift > 46 && (static_cast<uint64_t>(r & 0x7f) >> (53 - shift)) != 0) {
      Fail("integer out of range");
      return {};
    }
    num |= static_cast<uint64_t>(r & 0x7f) << shift;
    if (r < 0x80) {
      out.magnitude = num;
      return out;
    }
    shift += 7;
    if (shift > 52) {
      Fail("integer out of range");
      return {};
    }
  }
  Fail("unexpected end of input");
  return {};
}

std::span<const uint8_t> Decoder::ReadBytes(size_t n) {
  if (n > remaining()) {
    Fail("unexpected end of input");
    return {};
  }
  auto out = data_.subspan(pos_, n);
  pos_ += n;
  return out;
}

std::span<const uint8_t> Decoder::ReadVarUint8Array() {
  const uint64_t n = ReadVarUint();
  if (n > remaining()) {
    Fail("unexpected end of input");
    return {};
  }
  return ReadBytes(static_cast<size_t>(n));
}

std::string_view Decoder::ReadVarString() {
  const size_t start = pos_;
  auto bytes = ReadVarUint8Array();
  std::string_view s(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (!IsValidUtf8(s)) {
    pos_ = start;
    Fail("invalid UTF-8 in string");
    return {};
  }
  return s;
}

namespace {
template <typename U>
U ReadBigEndian(std::span<const uint8_t> b) {
  U v = 0;
  for (uint8_t byte : b) v = static_cast<U>((v << 8) | byte);
  return v;
}
}  // namespace

float Decoder::ReadFloat32() {
  auto b = ReadBytes(4);
  return b.empty() ? 0.0f : std::bit_cast<float>(ReadBigEndian<uint32_t>(b));
}

double Decoder::ReadFloat64() {
  auto b = ReadBytes(8);
  return b.empty() ? 0.0 : std::bit_cast<double>(ReadBigEndian<uint64_t>(b));
}

int64_t Decoder::ReadBigInt64() {
  auto b = ReadBytes(8);
  return b.empty() ? 0 : static_cast<int64_t>(ReadBigEndian<uint64_t>(b));
}

}  // namespace tandem::lib0
