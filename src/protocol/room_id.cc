#include "protocol/room_id.h"

#include <string>

#include "lib0/utf.h"

namespace tandem::protocol {

Status ValidateRoomId(std::string_view room) {
  if (room.empty()) return InvalidArgumentError("empty room id");
  if (room.size() > kMaxRoomIdBytes) {
    return InvalidArgumentError("room id longer than " + std::to_string(kMaxRoomIdBytes) +
                                " bytes");
  }
  if (!lib0::IsValidUtf8(room)) return InvalidArgumentError("room id is not valid UTF-8");
  for (unsigned char c : room) {
    if (c < 0x20 || c == 0x7f) return InvalidArgumentError("control character in room id");
  }
  return Status::Ok();
}

}  // namespace tandem::protocol
