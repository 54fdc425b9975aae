#pragma once
// The document API for the app's backend, under /api/v1/ on the serve port (docs/API.md): read a
// room as JSON or Yjs bytes, apply an update or a list of edits, erase a room. Bearer-secret
// authentication checked on the request header, before any body is read. Rooms load on demand
// as for a client join; writes answer once durable in the room log, as a client's update would
// be broadcast.

#include <cstddef>
#include <string>

#include "room/room_registry.h"
#include "server/front_door.h"

namespace tandem::api {

struct DocumentApiOptions {
  std::string secret;  // empty: the API is off (404 "api_off")
  size_t max_body_bytes = 16 << 20;
  size_t page_limit = 100;  // rooms per page by default (at most 1000)
};

// Installs the API's routes on `front_door`; `registry` outlives the server's sessions.
void InstallDocumentApi(server::FrontDoor& front_door, room::RoomRegistry& registry,
                        DocumentApiOptions options);

}  // namespace tandem::api
