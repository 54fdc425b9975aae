#pragma once
// lib0's binary writer (npm lib0 `encoding.js`): the primitives every Yjs message is made of.
// Byte-for-byte what lib0 writes. Not thread-safe; one owner at a time.

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace tandem::lib0 {

// Largest integer a JS number holds exactly; lib0 readers reject larger varUints.
inline constexpr uint64_t kMaxSafeInteger = (uint64_t{1} << 53) - 1;

class Encoder {
 public:
  Encoder() = default;

  void WriteUint8(uint8_t v) { buf_.push_back(v); }
  // LEB128, 7 bits per byte. REQUIRES: v <= kMaxSafeInteger for lib0 readers to accept it.
  void WriteVarUint(uint64_t v) {
    if (v < 0x80) {
      buf_.push_back(static_cast<uint8_t>(v));
    } else {
      WriteVarUintSlow(v);
    }
  }
  // lib0 varInt: first byte holds continue bit, sign bit (0x40) and 6 bits; sign-magnitude, so
  // negative zero exists and is written by WriteVarIntSigned(true, 0).
  void WriteVarInt(int64_t v);
  void WriteVarIntSigned(bool negative, uint64_t magnitude);
  // UTF-8 bytes with a varUint length prefix. REQUIRES: valid UTF-8.
  void WriteVarString(std::string_view utf8);
  void WriteVarUint8Array(std::span<const uint8_t> bytes);
  // Raw bytes, no length prefix.
  void WriteBytes(std::span<const uint8_t> bytes) {
    buf_.insert(buf_.end(), bytes.begin(), bytes.end());
  }
  void WriteFloat32(float v);     // big-endian
  void WriteFloat64(double v);    // big-endian
  void WriteBigInt64(int64_t v);  // big-endian two's complement

  size_t size() const { return buf_.size(); }
  bool empty() const { return buf_.empty(); }
  const std::vector<uint8_t>& data() const { return buf_; }
  std::vector<uint8_t> Take() { return std::move(buf_); }
  void Clear() { buf_.clear(); }
  void Reserve(size_t n) { buf_.reserve(n); }

 private:
  void WriteVarUintSlow(uint64_t v);
  std::vector<uint8_t> buf_;
};

}  // namespace tandem::lib0
