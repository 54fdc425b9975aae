#pragma once
// What a room id may be, once percent-decoded: 1 to kMaxRoomIdBytes bytes of valid UTF-8
// without control characters. `/`, spaces and any other Unicode are ordinary characters. The one
// rule for every place that takes a room id (WebSocket paths, the snapshot store's roomId, the
// HTTP APIs); docs/PROTOCOL.md and docs/STORE.md state it.

#include <cstddef>
#include <string_view>

#include "base/status.h"

namespace tandem::protocol {

inline constexpr size_t kMaxRoomIdBytes = 1024;

// kInvalidArgument saying what is wrong ("room id longer than 1024 bytes").
Status ValidateRoomId(std::string_view room);

}  // namespace tandem::protocol
