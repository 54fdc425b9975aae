#include "lib0/rle.h"

#include "lib0/utf.h"

namespace tandem::lib0 {

void RleEncoder::Write(uint8_t v) {
  if (last_ == v) {
    ++count_;
    return;
  }
  if (count_ > 0) encoder_.WriteVarUint(count_ - 1);
  count_ = 1;
  encoder_.WriteUint8(v);
  last_ = v;
}

void RleEncoder::FinishInto(Encoder& out) {
  if (encoder_.empty()) {
    out.WriteUint8(0);  // an empty column
    return;
  }
  out.WriteVarUint8Array(encoder_.data());
  encoder_.Clear();
  last_ = -1;
  count_ = 0;
}

uint8_t RleDecoder::Read() {
  if (count_ == 0) {
    value_ = decoder_.ReadUint8();
    if (decoder_.HasContent()) {
      const uint64_t c = decoder_.ReadVarUint();
      count_ = c >= (uint64_t{1} << 52) ? (int64_t{1} << 52) : static_cast<int64_t>(c) + 1;
    } else {
      count_ = -1;
    }
  }
  if (count_ > 0) --count_;
  return value_;
}

void UintOptRleEncoder::Write(uint64_t v) {
  if (value_ == v) {
    ++count_;
    return;
  }
  Flush();
  count_ = 1;
  value_ = v;
}

void UintOptRleEncoder::Flush() {
  if (count_ == 0) return;
  encoder_.WriteVarIntSigned(count_ != 1, value_);
  if (count_ > 1) encoder_.WriteVarUint(count_ - 2);
}

std::vector<uint8_t> UintOptRleEncoder::Finish() {
  Flush();
  count_ = 0;
  return encoder_.Take();
}

void UintOptRleEncoder::FinishInto(Encoder& out) {
  if (count_ == 0 && encoder_.empty()) {
    out.WriteUint8(0);
    value_ = 0;
    return;
  }
  Flush();
  out.WriteVarUint8Array(encoder_.data());
  Reset();
}

void UintOptRleEncoder::Reset() {
  encoder_.Clear();
  value_ = 0;
  count_ = 0;
}

uint64_t UintOptRleDecoder::Read() {
  if (count_ == 0) {
    const SignedVarInt v = decoder_.ReadVarIntSigned();
    value_ = v.magnitude;
    count_ = 1;
    if (v.negative) count_ = decoder_.ReadVarUint() + 2;
  }
  --count_;
  return value_;
}

void IntDiffOptRleEncoder::Write(int64_t v) {
  if (diff_ == v - value_) {
    value_ = v;
    ++count_;
    return;
  }
  Flush();
  count_ = 1;
  diff_ = v - value_;
  value_ = v;
}

void IntDiffOptRleEncoder::Flush() {
  if (count_ == 0) return;
  encoder_.WriteVarInt(diff_ * 2 + (count_ == 1 ? 0 : 1));
  if (count_ > 1) encoder_.WriteVarUint(count_ - 2);
}

std::vector<uint8_t> IntDiffOptRleEncoder::Finish() {
  Flush();
  count_ = 0;
  return encoder_.Take();
}

void IntDiffOptRleEncoder::FinishInto(Encoder& out) {
  if (count_ == 0 && encoder_.empty()) {
    out.WriteUint8(0);
    value_ = 0;
    diff_ = 0;
    return;
  }
  Flush();
  out.WriteVarUint8Array(encoder_.data());
  encoder_.Clear();
  value_ = 0;
  diff_ = 0;
  count_ = 0;
}

int64_t IntDiffOptRleDecoder::Read() {
  if (count_ == 0) {
    const int64_t d = decoder_.ReadVarInt();
    const bool has_count = (d & 1) != 0;
    // floor(d / 2), also for negative d
    diff_ = d >= 0 ? d / 2 : -((-d + 1) / 2);
    count_ = 1;
    if (has_count) count_ = decoder_.ReadVarUint() + 2;
  }
  value_ += diff_;
  --count_;
  return value_;
}

void StringEncoder::Write(std::string_view utf8) {
  text_.append(utf8);
  lengths_.Write(Utf16Length(utf8));
}

void StringEncoder::FinishInto(Encoder& out) {
  lengths_.Flush();
  // The column: varString(all strings), then the lengths column, as one varUint8Array.
  size_t prefix = 1;
  for (uint64_t n = text_.size(); n > 0x7f; n >>= 7) ++prefix;
  out.WriteVarUint(prefix + text_.size() + lengths_.data().size());
  out.WriteVarString(text_);
  out.WriteBytes(lengths_.data());
  lengths_.Reset();
  text_.clear();
}

std::vector<uint8_t> StringEncoder::Finish() {
  Encoder out;
  out.WriteVarString(text_);
  auto lengths = lengths_.Finish();
  out.WriteBytes(lengths);
  text_.clear();
  return out.Take();
}

namespace {
Decoder DecoderAfterString(std::span<const uint8_t> data, std::string_view& text) {
  Decoder d(data);
  text = d.ReadVarString();
  return d;
}
}  // namespace

StringDecoder::StringDecoder(std::span<const uint8_t> data)
    : lengths_(DecoderAfterString(data, text_)) {}

Status StringDecoder::status() const {
  if (!lengths_.decoder().ok()) return lengths_.decoder().status();
  if (!error_.empty()) return MalformedError(error_);
  return Status::Ok();
}

std::string_view StringDecoder::Read() {
  const uint64_t units = lengths_.Read();
  if (!ok()) return {};
  // Walk `units` UTF-16 code units forward from byte_pos_.
  const auto* p = reinterpret_cast<const unsigned char*>(text_.data());
  uint64_t seen = 0;
  const bool starts_with_low_half = pending_low_half_ && units > 0;
  if (starts_with_low_half) {
    pending_low_half_ = false;
    seen = 1;
  }
  size_t i = byte_pos_;
  while (seen < units && i < text_.size()) {
    const unsigned char c = p[i];
    const size_t len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    const uint64_t u = len == 4 ? 2 : 1;
    if (seen + u > units) break;  // the string ends inside a surrogate pair
    seen += u;
    i += len;
  }
  const bool ends_with_high_half = seen < units && i < text_.size();
  if (seen < units && !ends_with_high_half) {
    error_ = "string column shorter than its lengths";
    return {};
  }
  if (!starts_with_low_half && !ends_with_high_half) {
    std::string_view out = text_.substr(byte_pos_, i - byte_pos_);
    byte_pos_ = i;
    return out;
  }
  // A surrogate pair split between two strings: each half is a lone surrogate in JS, which
  // becomes U+FFFD when encoded again.
  scratch_.clear();
  if (starts_with_low_half) AppendUtf8(scratch_, 0xfffd);
  scratch_.append(text_.substr(byte_pos_, i - byte_pos_));
  byte_pos_ = i;
  if (ends_with_high_half) {
    AppendUtf8(scratch_, 0xfffd);
    byte_pos_ = i + 4;
    pending_low_half_ = true;
  }
  return scratch_;
}

}  // namespace tandem::lib0
