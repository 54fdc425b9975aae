#pragma once
// WebSocket close codes Tandem uses (docs/PROTOCOL.md has the table). Application codes are
// 4000 + the matching HTTP status, as Hocuspocus does.

#include <cstdint>

namespace tandem::protocol {

enum CloseCode : uint16_t {
  kCloseNormal = 1000,
  kCloseGoingAway = 1001,       // server shutting down
  kClosePolicy = 1008,          // client too slow: its outgoing queue overflowed
  kCloseTooBig = 1009,          // message larger than --max-message-size
  kCloseInternal = 1011,        // unexpected server error
  kCloseServiceRestart = 1012,  // a cluster node draining: reconnect (to another node)
  kCloseTryAgain = 1013,        // a dependency (auth service, snapshot store) is unavailable
  kCloseBadMessage = 4400,      // malformed message
  kCloseUnauthorized = 4401,    // missing, invalid or expired token
  kCloseForbidden = 4403,       // token valid but no access to this room
  kCloseBadRoom = 4404,         // room id invalid
  kCloseRoomDeleted = 4410,     // the room was deleted (document API): do not reconnect
  kCloseOverLimit = 4413,       // a message or the document passed a configured limit
  kCloseTooMany = 4429,         // too many connections (server or room)
};

}  // namespace tandem::protocol
