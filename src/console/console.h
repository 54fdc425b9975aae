#pragma once
// What `tandem serve` shows in a browser: the workspace (the pages at / and /w/{room}, from the
// embedded bundle of web/) and the operator's console (/console and its JSON API under
// /console/api/, docs/PROTOCOL.md "Console API"), as HTTP handlers of the FrontDoor. The console
// reads rooms on their strands (RoomRegistry::Visit) and the store's versions through the
// snapshot store client; a restore edits the live room (crdt::ReplaceContent) and saves it.

#include <chrono>
#include <string>

#include "room/metrics.h"
#include "room/room_registry.h"
#include "server/front_door.h"
#include "snapshot/snapshot_client.h"

namespace tandem::console {

struct ConsoleOptions {
  // Bearer token the console API requires. Empty: the console answers only when the server
  // listens on loopback (otherwise 403 says how to turn it on).
  std::string admin_token;
  bool loopback_only_bind = true;
  std::string node_id;
  std::string version;
};

// The pages and assets of the embedded bundle (GET and HEAD; ETag, 304, immutable caching of
// content-hashed assets).
void InstallWebPages(server::FrontDoor& front_door);

// The console's JSON API. Every object outlives the server's sessions.
void InstallConsoleApi(server::FrontDoor& front_door, room::RoomRegistry& registry,
                       room::Metrics& metrics, snapshot::SnapshotClient* snapshots,
                       ConsoleOptions options);

}  // namespace tandem::console
