#pragma once
// Update encoders and decoders for formats v1 and v2 (yjs `src/utils/UpdateEncoder.js`,
// `UpdateDecoder.js`). The struct and delete-set code is written once against these interfaces.
//
// Decoders are sticky like lib0::Decoder: after the first error every read yields a zero value
// and status() reports the error.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "crdt/id.h"
#include "lib0/any.h"
#include "lib0/decoder.h"
#include "lib0/encoder.h"
#include "lib0/rle.h"

namespace tandem::crdt {

enum class UpdateFormat : uint8_t { kV1 = 1, kV2 = 2 };

class UpdateEncoder {
 public:
  virtual ~UpdateEncoder() = default;
  virtual UpdateFormat format() const = 0;

  // Unstructured bytes: struct counts, clocks, Skip lengths, delete sets, any/buf payloads.
  lib0::Encoder& rest() { return rest_; }

  virtual void WriteLeftId(ID id) = 0;
  virtual void WriteRightId(ID id) = 0;
  virtual void WriteClient(ClientId client) = 0;
  virtual void WriteInfo(uint8_t info) = 0;
  virtual void WriteString(std::string_view s) = 0;
  virtual void WriteParentInfo(bool is_root_key) = 0;
  virtual void WriteTypeRef(uint64_t ref) = 0;
  virtual void WriteLen(uint64_t len) = 0;
  void WriteAny(const lib0::Any& value) { lib0::WriteAny(rest_, value); }
  void WriteBuf(std::span<const uint8_t> bytes) { rest_.WriteVarUint8Array(bytes); }
  virtual void WriteJson(const lib0::Any& value) = 0;
  virtual void WriteKey(std::string_view key) = 0;

  virtual void ResetDsCurVal() = 0;
  virtual void WriteDsClock(Clock clock) = 0;
  virtual void WriteDsLen(uint64_t len) = 0;

  // Returns the update and leaves the encoder empty, ready for the next one.
  virtual std::vector<uint8_t> Finish() = 0;
  // Room for an update of about `bytes`, so a large one is not copied over and over as it grows.
  void Reserve(size_t bytes) { rest_.Reserve(bytes); }

 protected:
  lib0::Encoder rest_;
};

// A small result is copied out so the encoder keeps its buffer for the next update (the
// per-transaction case); a large one is moved out.
inline std::vector<uint8_t> TakeOrCopy(lib0::Encoder& e) {
  if (e.size() > (size_t{64} << 10)) return e.Take();
  std::vector<uint8_t> result(e.data().begin(), e.data().end());
  e.Clear();
  return result;
}

class UpdateEncoderV1 final : public UpdateEncoder {
 public:
  UpdateFormat format() const override { return UpdateFormat::kV1; }
  void WriteLeftId(ID id) override {
    rest_.WriteVarUint(id.client);
    rest_.WriteVarUint(id.clock);
  }
  void WriteRightId(ID id) override { WriteLeftId(id); }
  void WriteClient(ClientId client) override { rest_.WriteVarUint(client); }
  void WriteInfo(uint8_t info) override { rest_.WriteUint8(info); }
  void WriteString(std::string_view s) override { rest_.WriteVarString(s); }
  void WriteParentInfo(bool is_root_key) override { rest_.WriteVarUint(is_root_key ? 1 : 0); }
  void WriteTypeRef(uint64_t ref) override { rest_.WriteVarUint(ref); }
  void WriteLen(uint64_t len) override { rest_.WriteVarUint(len); }
  void WriteJson(const lib0::Any& value) override;
  void WriteKey(std::string_view key) override { rest_.WriteVarString(key); }
  void ResetDsCurVal() override {}
  void WriteDsClock(Clock clock) override { rest_.WriteVarUint(clock); }
  void WriteDsLen(uint64_t len) override { rest_.WriteVarUint(len); }
  std::vector<uint8_t> Finish() override { return TakeOrCopy(rest_); }
};

class UpdateEncoderV2 final : public UpdateEncoder {
 public:
  UpdateFormat format() const override { return UpdateFormat::kV2; }
  void WriteLeftId(ID id) override {
    client_.Write(id.client);
    left_clock_.Write(static_cast<int64_t>(id.clock));
  }
  void WriteRightId(ID id) override {
    client_.Write(id.client);
    right_clock_.Write(static_cast<int64_t>(id.clock));
  }
  void WriteClient(ClientId client) override { client_.Write(client); }
  void WriteInfo(uint8_t info) override { info_.Write(info); }
  void WriteString(std::string_view s) override { string_.Write(s); }
  void WriteParentInfo(bool is_root_key) override { parent_info_.Write(is_root_key ? 1 : 0); }
  void WriteTypeRef(uint64_t ref) override { type_ref_.Write(ref); }
  void WriteLen(uint64_t len) override { len_.Write(len); }
  void WriteJson(const lib0::Any& value) override { lib0::WriteAny(rest_, value); }
  // yjs deliberately never reuses a key (its key cache is disabled on write).
  void WriteKey(std::string_view key) override {
    key_clock_.Write(key_clock_value_++);
    string_.Write(key);
  }
  void ResetDsCurVal() override { ds_cur_val_ = 0; }
  void WriteDsClock(Clock clock) override {
    rest_.WriteVarUint(clock - ds_cur_val_);
    ds_cur_val_ = clock;
  }
  void WriteDsLen(uint64_t len) override {
    rest_.WriteVarUint(len - 1);
    ds_cur_val_ += len;
  }
  std::vector<uint8_t> Finish() override;

 private:
  lib0::Encoder out_;
  int64_t key_clock_value_ = 0;
  Clock ds_cur_val_ = 0;
  lib0::IntDiffOptRleEncoder key_clock_;
  lib0::UintOptRleEncoder client_;
  lib0::IntDiffOptRleEncoder left_clock_;
  lib0::IntDiffOptRleEncoder right_clock_;
  lib0::RleEncoder info_;
  lib0::StringEncoder string_;
  lib0::RleEncoder parent_info_;
  lib0::UintOptRleEncoder type_ref_;
  lib0::UintOptRleEncoder len_;
};

std::unique_ptr<UpdateEncoder> MakeUpdateEncoder(UpdateFormat format);

// Calls f with `e` as its final class, so that the encoder calls inside f are not virtual.
template <typename F>
void WithFinalEncoder(UpdateEncoder& e, F&& f) {
  if (e.format() == UpdateFormat::kV1) {
    f(static_cast<UpdateEncoderV1&>(e));
  } else {
    f(static_cast<UpdateEncoderV2&>(e));
  }
}

class UpdateDecoder {
 public:
  virtual ~UpdateDecoder() = default;
  virtual UpdateFormat format() const = 0;

  lib0::Decoder& rest() { return rest_; }
  // ok() covers every column.
  virtual bool ok() const { return rest_.ok(); }
  virtual Status status() const { return rest_.status(); }
  void Fail(std::string_view what) { rest_.Fail(what); }

  virtual ID ReadLeftId() = 0;
  virtual ID ReadRightId() = 0;
  virtual ClientId ReadClient() = 0;
  virtual uint8_t ReadInfo() = 0;
  // A view into the input (or the decoder's string column), valid while the decoder lives.
  virtual std::string_view ReadString() = 0;
  virtual bool ReadParentInfo() = 0;
  virtual uint64_t ReadTypeRef() = 0;
  virtual uint64_t ReadLen() = 0;
  lib0::Any ReadAny() { return lib0::ReadAny(rest_); }
  std::span<const uint8_t> ReadBuf() { return rest_.ReadVarUint8Array(); }
  virtual lib0::Any ReadJson() = 0;
  virtual std::string ReadKey() = 0;

  virtual void ResetDsCurVal() = 0;
  virtual Clock ReadDsClock() = 0;
  virtual uint64_t ReadDsLen() = 0;

 protected:
  explicit UpdateDecoder(lib0::Decoder rest) : rest_(std::move(rest)) {}
  lib0::Decoder rest_;
};

class UpdateDecoderV1 final : public UpdateDecoder {
 public:
  explicit UpdateDecoderV1(std::span<const uint8_t> bytes) : UpdateDecoder(lib0::Decoder(bytes)) {}
  UpdateFormat format() const override { return UpdateFormat::kV1; }
  ID ReadLeftId() override {
    ID id;
    id.client = rest_.ReadVarUint();
    id.clock = rest_.ReadVarUint();
    return id;
  }
  ID ReadRightId() override { return ReadLeftId(); }
  ClientId ReadClient() override { return rest_.ReadVarUint(); }
  uint8_t ReadInfo() override { return rest_.ReadUint8(); }
  std::string_view ReadString() override { return rest_.ReadVarString(); }
  bool ReadParentInfo() override { return rest_.ReadVarUint() == 1; }
  uint64_t ReadTypeRef() override { return rest_.ReadVarUint(); }
  uint64_t ReadLen() override { return rest_.ReadVarUint(); }
  lib0::Any ReadJson() override;
  std::string ReadKey() override { return std::string(rest_.ReadVarString()); }
  void ResetDsCurVal() override {}
  Clock ReadDsClock() override { return rest_.ReadVarUint(); }
  uint64_t ReadDsLen() override { return rest_.ReadVarUint(); }
};

class UpdateDecoderV2 final : public UpdateDecoder {
 public:
  explicit UpdateDecoderV2(std::span<const uint8_t> bytes);
  UpdateFormat format() const override { return UpdateFormat::kV2; }
  bool ok() const override;
  Status status() const override;

  ID ReadLeftId() override;
  ID ReadRightId() override;
  ClientId ReadClient() override { return client_->Read(); }
  uint8_t ReadInfo() override { return info_->Read(); }
  std::string_view ReadString() override { return string_->Read(); }
  bool ReadParentInfo() override { return parent_info_->Read() == 1; }
  uint64_t ReadTypeRef() override { return type_ref_->Read(); }
  uint64_t ReadLen() override { return len_->Read(); }
  lib0::Any ReadJson() override { return lib0::ReadAny(rest_); }
  std::string ReadKey() override;
  void ResetDsCurVal() override { ds_cur_val_ = 0; }
  Clock ReadDsClock() override {
    ds_cur_val_ += rest_.ReadVarUint();
    return ds_cur_val_;
  }
  uint64_t ReadDsLen() override {
    const uint64_t len = rest_.ReadVarUint() + 1;
    ds_cur_val_ += len;
    return len;
  }

 private:
  Clock ds_cur_val_ = 0;
  std::vector<std::string> keys_;
  std::unique_ptr<lib0::IntDiffOptRleDecoder> key_clock_;
  std::unique_ptr<lib0::UintOptRleDecoder> client_;
  std::unique_ptr<lib0::IntDiffOptRleDecoder> left_clock_;
  std::unique_ptr<lib0::IntDiffOptRleDecoder> right_clock_;
  std::unique_ptr<lib0::RleDecoder> info_;
  std::unique_ptr<lib0::StringDecoder> string_;
  std::unique_ptr<lib0::RleDecoder> parent_info_;
  std::unique_ptr<lib0::UintOptRleDecoder> type_ref_;
  std::unique_ptr<lib0::UintOptRleDecoder> len_;
};

std::unique_ptr<UpdateDecoder> MakeUpdateDecoder(UpdateFormat format,
                                                 std::span<const uint8_t> bytes);

}  // namespace tandem::crdt
