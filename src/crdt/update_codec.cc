#include "crdt/update_codec.h"

#include "lib0/json.h"

namespace tandem::crdt {

void UpdateEncoderV1::WriteJson(const lib0::Any& value) {
  rest_.WriteVarString(lib0::ToJson(value));
}

std::vector<uint8_t> UpdateEncoderV2::Finish() {
  lib0::Encoder& out = out_;
  out.WriteVarUint(0);  // feature flag, always 0
  key_clock_.FinishInto(out);
  client_.FinishInto(out);
  left_clock_.FinishInto(out);
  right_clock_.FinishInto(out);
  info_.FinishInto(out);
  string_.FinishInto(out);
  parent_info_.FinishInto(out);
  type_ref_.FinishInto(out);
  len_.FinishInto(out);
  out.WriteBytes(rest_.data());
  rest_.Clear();
  key_clock_value_ = 0;
  ds_cur_val_ = 0;
  return TakeOrCopy(out);
}

std::unique_ptr<UpdateEncoder> MakeUpdateEncoder(UpdateFormat format) {
  if (format == UpdateFormat::kV2) return std::make_unique<UpdateEncoderV2>();
  return std::make_unique<UpdateEncoderV1>();
}

lib0::Any UpdateDecoderV1::ReadJson() {
  std::string_view text = rest_.ReadVarString();
  if (!rest_.ok()) return {};
  auto parsed = lib0::ParseJson(text);
  if (!parsed.ok()) {
    rest_.Fail("invalid JSON content: " + parsed.status().message());
    return {};
  }
  return std::move(parsed).value();
}

namespace {
// The v2 header: a feature flag then nine length-prefixed columns; the rest follows unprefixed.
struct V2Columns {
  std::span<const uint8_t> cols[9];
};
lib0::Decoder ReadV2Header(std::span<const uint8_t> bytes, V2Columns& c) {
  lib0::Decoder d(bytes);
  d.ReadVarUint();  // feature flag, unused
  for (auto& col : c.cols) col = d.ReadVarUint8Array();
  return d;
}
}  // namespace

UpdateDecoderV2::UpdateDecoderV2(std::span<const uint8_t> bytes)
    : UpdateDecoder(lib0::Decoder({})) {
  V2Columns c;
  rest_ = ReadV2Header(bytes, c);
  key_clock_ = std::make_unique<lib0::IntDiffOptRleDecoder>(c.cols[0]);
  client_ = std::make_unique<lib0::UintOptRleDecoder>(c.cols[1]);
  left_clock_ = std::make_unique<lib0::IntDiffOptRleDecoder>(c.cols[2]);
  right_clock_ = std::make_unique<lib0::IntDiffOptRleDecoder>(c.cols[3]);
  info_ = std::make_unique<lib0::RleDecoder>(c.cols[4]);
  string_ = std::make_unique<lib0::StringDecoder>(c.cols[5]);
  parent_info_ = std::make_unique<lib0::RleDecoder>(c.cols[6]);
  type_ref_ = std::make_unique<lib0::UintOptRleDecoder>(c.cols[7]);
  len_ = std::make_unique<lib0::UintOptRleDecoder>(c.cols[8]);
}

bool UpdateDecoderV2::ok() const {
  return rest_.ok() && key_clock_->decoder().ok() && client_->decoder().ok() &&
         left_clock_->decoder().ok() && right_clock_->decoder().ok() && info_->decoder().ok() &&
         string_->ok() && parent_info_->decoder().ok() && type_ref_->decoder().ok() &&
         len_->decoder().ok();
}

Status UpdateDecoderV2::status() const {
  if (!rest_.ok()) return rest_.status();
  if (!key_clock_->decoder().ok()) return key_clock_->decoder().status().WithContext("key column");
  if (!client_->decoder().ok()) return client_->decoder().status().WithContext("client column");
  if (!left_clock_->decoder().ok())
    return left_clock_->decoder().status().WithContext("left clock column");
  if (!right_clock_->decoder().ok())
    return right_clock_->decoder().status().WithContext("right clock column");
  if (!info_->decoder().ok()) return info_->decoder().status().WithContext("info column");
  if (!string_->ok()) return string_->status().WithContext("string column");
  if (!parent_info_->decoder().ok())
    return parent_info_->decoder().status().WithContext("parent column");
  if (!type_ref_->decoder().ok()) return type_ref_->decoder().status().WithContext("type column");
  if (!len_->decoder().ok()) return len_->decoder().status().WithContext("length column");
  return Status::Ok();
}

namespace {
Clock ToClock(int64_t v, lib0::Decoder& rest) {
  if (v < 0) {
    rest.Fail("negative clock");
    return 0;
  }
  return static_cast<Clock>(v);
}
}  // namespace

ID UpdateDecoderV2::ReadLeftId() {
  ID id;
  id.client = client_->Read();
  id.clock = ToClock(left_clock_->Read(), rest_);
  return id;
}

ID UpdateDecoderV2::ReadRightId() {
  ID id;
  id.client = client_->Read();
  id.clock = ToClock(right_clock_->Read(), rest_);
  return id;
}

std::string UpdateDecoderV2::ReadKey() {
  const int64_t key_clock = key_clock_->Read();
  if (key_clock >= 0 && static_cast<uint64_t>(key_clock) < keys_.size())
    return keys_[static_cast<size_t>(key_clock)];
  std::string key(string_->Read());
  keys_.push_back(key);
  return key;
}

std::unique_ptr<UpdateDecoder> MakeUpdateDecoder(UpdateFormat format,
                                                 std::span<const uint8_t> bytes) {
  if (format == UpdateFormat::kV2) return std::make_unique<UpdateDecoderV2>(bytes);
  return std::make_unique<UpdateDecoderV1>(bytes);
}

}  // namespace tandem::crdt
