#pragma once
// What a room needs from cluster mode (docs/CLUSTER.md), as an interface the cluster module
// implements: null in PersistenceServices means a single node. A loaded room is attached to the
// node's relay at the log position it loaded, and the relay hands it the log's later entries
// (Room::ApplyLogEntry); the room tells the cluster its connection count (the cluster-wide save
// rules) and its local clients' awareness changes (published to the other nodes). Thread-safe:
// rooms call it from their strands.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tandem::room {

class Room;

class RoomCluster {
 public:
  virtual ~RoomCluster() = default;
  // `room` is loaded as of log `position` (an opaque cursor) and sequence `seq`: relay what
  // follows. Attaching again (after a resync) moves the cursor.
  virtual void Attach(const std::shared_ptr<Room>& room, const std::string& position,
                      uint64_t seq) = 0;
  // The room object is going away (only `room` itself is forgotten, not a newer one).
  virtual void Detach(const std::string& id, const Room* room) = 0;
  // The node's connection count of a room changed.
  virtual void ConnectionsChanged(const std::string& id, size_t connections) = 0;
  // Local clients' awareness changed: `update` is an awareness update (y-protocols encoding).
  virtual void PublishAwareness(const std::string& id, std::vector<uint8_t> update) = 0;
  // Asks the other nodes for their clients' awareness states of a room this node just loaded.
  virtual void QueryAwareness(const std::string& id) = 0;
  // The room was erased here (document API DELETE): the other nodes close their clients too.
  virtual void Erased(const std::string& id) = 0;
  // This node's id (awareness bookkeeping).
  virtual const std::string& node_id() const = 0;
};

}  // namespace tandem::room
