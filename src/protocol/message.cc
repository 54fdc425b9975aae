#include "protocol/message.h"

#include "lib0/decoder.h"
#include "lib0/encoder.h"

namespace tandem::protocol {

Result<Message> ParseMessage(std::span<const uint8_t> frame) {
  lib0::Decoder d(frame);
  Message m;
  const uint64_t type = d.ReadVarUint();
  if (!d.ok()) return d.status().WithContext("message type");
  switch (type) {
    case 0: {
      m.type = MessageType::kSync;
      const uint64_t sync = d.ReadVarUint();
      if (!d.ok()) return d.status().WithContext("sync message");
      if (sync > 2) return MalformedError("unknown sync message type " + std::to_string(sync));
      m.sync_type = static_cast<SyncType>(sync);
      m.payload = d.ReadVarUint8Array();
      if (!d.ok()) return d.status().WithContext("sync message");
      return m;
    }
    case 1:
      m.type = MessageType::kAwareness;
      m.payload = d.ReadVarUint8Array();
      if (!d.ok()) return d.status().WithContext("awareness message");
      return m;
    case 2:
      m.type = MessageType::kAuth;
      m.payload = d.ReadRest();
      return m;
    case 3: m.type = MessageType::kQueryAwareness; return m;
    default: return MalformedError("unknown message type " + std::to_string(type));
  }
}

namespace {
Bytes Frame(uint8_t type, int sync_type, std::span<const uint8_t> payload) {
  lib0::Encoder e;
  e.Reserve(payload.size() + 8);
  e.WriteVarUint(type);
  if (sync_type >= 0) e.WriteVarUint(static_cast<uint64_t>(sync_type));
  e.WriteVarUint8Array(payload);
  return e.Take();
}
}  // namespace

Bytes EncodeSyncStep1(std::span<const uint8_t> sv) {
  return Frame(0, 0, sv);
}
Bytes EncodeSyncStep2(std::span<const uint8_t> update) {
  return Frame(0, 1, update);
}
Bytes EncodeSyncUpdate(std::span<const uint8_t> update) {
  return Frame(0, 2, update);
}
Bytes EncodeAwareness(std::span<const uint8_t> awareness_update) {
  return Frame(1, -1, awareness_update);
}
Bytes EncodeQueryAwareness() {
  return Bytes{3};
}

Bytes EncodeAuthDenied(std::string_view reason) {
  lib0::Encoder e;
  e.WriteVarUint(2);
  e.WriteVarUint(0);  // permission denied
  e.WriteVarString(reason);
  return e.Take();
}

}  // namespace tandem::protocol
