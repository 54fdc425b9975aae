#pragma once
// Whether a WebSocket upgrade is admitted, and as whom: the FrontDoor's answer, which the
// WebSocket session acts on (join the room, or close at once with the code).

#include <cstdint>
#include <string>

namespace tandem::server {

struct UpgradeDecision {
  std::string room_id;       // empty when refused before a room was known
  uint16_t refuse_code = 0;  // 0: admitted; otherwise the close code (docs/PROTOCOL.md)
  std::string reason;
  bool read_only = false;
  std::string user_id;

  bool admitted() const { return refuse_code == 0; }
  static UpgradeDecision Refuse(std::string room, uint16_t code, std::string reason) {
    return {std::move(room), code, std::move(reason), false, {}};
  }
};

}  // namespace tandem::server
