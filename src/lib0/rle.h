#pragma once
// The column encoders of Yjs update format v2 (npm lib0 `encoding.js` RleEncoder,
// UintOptRleEncoder, IntDiffOptRleEncoder, StringEncoder) and their decoders. Byte-identical to
// lib0. Decoders borrow their input and report errors through a sticky lib0::Decoder: reading
// past the end of a column is an error (lib0 silently yields 0 there), except for RleDecoder,
// whose last value legitimately repeats forever.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lib0/decoder.h"
#include "lib0/encoder.h"

namespace tandem::lib0 {

// Run-length encoding of bytes: value, then varUint(count-1) when the value changes; the last
// run's count is never written.
class RleEncoder {
 public:
  void Write(uint8_t v);
  std::vector<uint8_t> Finish() { return encoder_.Take(); }
  const std::vector<uint8_t>& data() const { return encoder_.data(); }
  // Appends the column as a varUint8Array to `out` and starts over (keeping the buffer).
  void FinishInto(Encoder& out);

 private:
  Encoder encoder_;
  int last_ = -1;
  uint64_t count_ = 0;
};

class RleDecoder {
 public:
  explicit RleDecoder(std::span<const uint8_t> data) : decoder_(data) {}
  uint8_t Read();
  const Decoder& decoder() const { return decoder_; }

 private:
  Decoder decoder_;
  uint8_t value_ = 0;
  int64_t count_ = 0;  // -1: repeat forever
};

// Runs of equal unsigned values: varInt(v) for a single value, varInt(-v) + varUint(count-2)
// for a run (so a run of zeros is written as negative zero).
class UintOptRleEncoder {
 public:
  void Write(uint64_t v);
  std::vector<uint8_t> Finish();
  void FinishInto(Encoder& out);
  // Writes the pending run; the column bytes are then complete in data().
  void Flush();
  const std::vector<uint8_t>& data() const { return encoder_.data(); }
  void Reset();

 private:
  Encoder encoder_;
  uint64_t value_ = 0;
  uint64_t count_ = 0;
};

class UintOptRleDecoder {
 public:
  explicit UintOptRleDecoder(std::span<const uint8_t> data) : decoder_(data) {}
  explicit UintOptRleDecoder(Decoder decoder) : decoder_(std::move(decoder)) {}
  uint64_t Read();
  Decoder& decoder() { return decoder_; }
  const Decoder& decoder() const { return decoder_; }

 private:
  Decoder decoder_;
  uint64_t value_ = 0;
  uint64_t count_ = 0;
};

// Runs of equal differences between consecutive values: varInt(diff*2 + has_count) and
// varUint(count-2) when has_count.
class IntDiffOptRleEncoder {
 public:
  void Write(int64_t v);
  std::vector<uint8_t> Finish();
  void FinishInto(Encoder& out);

 private:
  void Flush();
  Encoder encoder_;
  int64_t value_ = 0;
  int64_t diff_ = 0;
  uint64_t count_ = 0;
};

class IntDiffOptRleDecoder {
 public:
  explicit IntDiffOptRleDecoder(std::span<const uint8_t> data) : decoder_(data) {}
  int64_t Read();
  const Decoder& decoder() const { return decoder_; }

 private:
  Decoder decoder_;
  int64_t value_ = 0;
  int64_t diff_ = 0;
  uint64_t count_ = 0;
};

// All strings concatenated into one varString, followed by a UintOptRle column of their
// lengths in UTF-16 code units.
class StringEncoder {
 public:
  void Write(std::string_view utf8);
  std::vector<uint8_t> Finish();
  void FinishInto(Encoder& out);

 private:
  std::string text_;
  UintOptRleEncoder lengths_;
};

class StringDecoder {
 public:
  explicit StringDecoder(std::span<const uint8_t> data);
  // The next string (a view into the input when no surrogate pair is split).
  std::string_view Read();
  bool ok() const { return lengths_.decoder().ok() && error_.empty(); }
  Status status() const;

 private:
  std::string_view text_;  // declared before lengths_, whose initialisation sets it
  UintOptRleDecoder lengths_;
  size_t byte_pos_ = 0;
  std::string scratch_;
  std::string error_;
  bool pending_low_half_ = false;
};

}  // namespace tandem::lib0
