#pragma once
// The y-websocket wire protocol (y-protocols `sync.js`, `awareness.js`, y-websocket server
// `utils.js`): an outer varUint type, then the payload. Parsing borrows the input; encoding
// returns ready-to-send frames. No I/O here.

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace tandem::protocol {

using Bytes = std::vector<uint8_t>;

enum class MessageType : uint8_t { kSync = 0, kAwareness = 1, kAuth = 2, kQueryAwareness = 3 };
enum class SyncType : uint8_t { kStep1 = 0, kStep2 = 1, kUpdate = 2 };

struct Message {
  MessageType type = MessageType::kSync;
  SyncType sync_type = SyncType::kStep1;  // for kSync
  // kSync: the state vector (step 1) or update (step 2, update). kAwareness: the awareness
  // update. kAuth: the rest of the message. kQueryAwareness: empty.
  std::span<const uint8_t> payload;
};

// Fails (kMalformed) on truncated input, unknown message or sync types.
Result<Message> ParseMessage(std::span<const uint8_t> frame);

Bytes EncodeSyncStep1(std::span<const uint8_t> state_vector);
Bytes EncodeSyncStep2(std::span<const uint8_t> update);
Bytes EncodeSyncUpdate(std::span<const uint8_t> update);
Bytes EncodeAwareness(std::span<const uint8_t> awareness_update);
Bytes EncodeQueryAwareness();
// auth message "permission denied" (y-protocols auth.js).
Bytes EncodeAuthDenied(std::string_view reason);

}  // namespace tandem::protocol
