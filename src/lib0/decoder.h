#pragma once
// lib0's binary reader (npm lib0 `decoding.js`) over a borrowed byte span.
//
// Error style: the decoder is sticky. The first malformed or truncated read records an error
// (with its byte offset) and every later read returns a zero value without touching memory, so
// a parser reads a whole structure and checks ok() at the points where it must decide. Never
// reads out of bounds; never allocates. Counts read from input must be checked against
// remaining() by the caller before allocating (ReadCount does that).

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"

namespace tandem::lib0 {

struct SignedVarInt {
  bool negative = false;  // true for negative zero too
  uint64_t magnitude = 0;
  int64_t value() const {
    return negative ? -static_cast<int64_t>(magnitude) : static_cast<int64_t>(magnitude);
  }
};

class Decoder {
 public:
  explicit Decoder(std::span<const uint8_t> data) : data_(data) {}

  bool ok() const { return error_.empty(); }
  Status status() const;
  // Records the first error only; later reads return zero values.
  void Fail(std::string_view what);

  size_t pos() const { return pos_; }
  size_t size() const { return data_.size(); }
  size_t remaining() const { return data_.size() - pos_; }
  bool HasContent() const { return pos_ < data_.size(); }

  uint8_t ReadUint8();
  // Fails beyond 2^53-1, as lib0 does.
  uint64_t ReadVarUint();
  // A varUint that counts things each taking at least `min_bytes_each` bytes of the remaining
  // input: fails if the input cannot hold that many, so callers may reserve safely.
  uint64_t ReadCount(size_t min_bytes_each = 1);
  SignedVarInt ReadVarIntSigned();
  int64_t ReadVarInt() { return ReadVarIntSigned().value(); }
  // Validates UTF-8 as lib0's fatal TextDecoder does. The view borrows the input.
  std::string_view ReadVarString();
  std::span<const uint8_t> ReadVarUint8Array();
  std::span<const uint8_t> ReadBytes(size_t n);
  std::span<const uint8_t> ReadRest() { return ReadBytes(remaining()); }
  float ReadFloat32();
  double ReadFloat64();
  int64_t ReadBigInt64();

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
  std::string error_;
  size_t error_pos_ = 0;
};

}  // namespace tandem::lib0
